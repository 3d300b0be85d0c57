//! Clips in the app. A sampled clip attaches as its frames or, for a model that sees one image
//! per request (LLaVA-1.5), as their contact sheet; either way with a note, the line that says
//! which frames at which times, put at the start of the message being typed where the user sees
//! it and the model reads it. Which form depends on the model, so a clip sampled before the
//! model is loaded is parked until it is, and a message sent meanwhile waits for it.

use super::{Effect, ModelStatus, State};
use crate::conversation::ChatImage;
use crate::media::video::ClipForModels;

/// What an image load gave.
pub enum Loaded {
    Image(ChatImage),
    Clip(ClipForModels),
}

impl State {
    /// A clip was sampled: attached now if the model is known, else parked.
    pub(super) fn on_clip_sampled(&mut self, clip: ClipForModels) {
        if matches!(self.model, ModelStatus::Loading { .. }) {
            let frames = clip.frames.len();
            self.shown_image = clip.frames.first().cloned();
            self.parked_clip = Some(clip);
            self.notify(
                format!("video ready: {frames} frames, attached when the model is loaded"),
                false,
            );
        } else {
            self.attach_clip(clip);
        }
    }

    /// Attaches a parked clip once the model is loaded (or could not be); sends the message
    /// that waited for it.
    pub(super) fn release_parked_clip(&mut self) -> Vec<Effect> {
        let Some(clip) = self.parked_clip.take() else {
            return vec![];
        };
        self.attach_clip(clip);
        if self.image_loading.is_none() && std::mem::take(&mut self.send_when_images_ready) {
            return self.send_message();
        }
        vec![]
    }

    fn attach_clip(&mut self, clip: ClipForModels) {
        let (images, note) = clip.pick(self.one_image_per_request());
        self.shown_image = images.first().cloned();
        for image in images {
            self.attach(image);
        }
        let typed = self.input.text();
        self.input.set_text(&format!("{note}\n{typed}"));
        let form = if self.one_image_per_request() {
            "as one contact sheet"
        } else {
            "as frames"
        };
        self.notify(
            format!(
                "video ready: {} frames {form} ({} images attached to the next message)",
                clip.frames.len(),
                self.pending_images.len()
            ),
            false,
        );
    }
}
