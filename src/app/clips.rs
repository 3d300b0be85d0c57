//! Clips in the app. A sampled clip attaches as its frames or, for a model that sees one image
//! per request (LLaVA-1.5), as their contact sheet; either way with a note, the line that says
//! which frames at which times, put at the start of the message being typed where the user sees
//! it and the model reads it. Which form depends on the model, so a clip sampled before the
//! model is loaded is parked until it is, and a message sent meanwhile waits for it.
//!
//! `/frame N` asks about one moment in detail: frame N of the clip sampled last, read again
//! from the clip at the clip's own resolution (the sampled frames are at most
//! [`FRAME_EDGE`](crate::media::video::FRAME_EDGE) a side), attached as an image.

use super::{Effect, ModelStatus, State};
use crate::conversation::ChatImage;
use crate::media::video::format_time;
use crate::media::video::ClipForModels;
use crate::text::one_line;

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

    /// `/frame [N]`: frame N of the last clip (1-based), or the frame shown in the image pane,
    /// at full size for the next message.
    pub(super) fn attach_full_frame(&mut self, number: Option<usize>) -> Vec<Effect> {
        let Some(clip) = &self.last_clip else {
            self.notify(
                "no clip in this session: /video PATH|URL samples one, then /frame N",
                true,
            );
            return vec![];
        };
        let count = clip.times.len();
        let index = match number {
            Some(n) if (1..=count).contains(&n) => n - 1,
            Some(n) => {
                self.notify(format!("no frame {n}: the clip has frames 1–{count}"), true);
                return vec![];
            }
            None => {
                let shown = self.shown_image.as_ref();
                match clip
                    .frames
                    .iter()
                    .position(|f| shown.is_some_and(|s| s.same_as(f)))
                {
                    Some(index) => index,
                    None => {
                        self.notify(
                            format!(
                                "which frame? /frame N (1–{count}), or show one in the image pane"
                            ),
                            true,
                        );
                        return vec![];
                    }
                }
            }
        };
        if self.image_loading.is_some() {
            self.notify("an image is still loading: /frame once it is in", true);
            return vec![];
        }
        let (source, time) = (clip.source.clone(), clip.times[index]);
        let note = format!(
            "[frame {} of {} at {} s, full size]",
            index + 1,
            one_line(&source),
            format_time(time)
        );
        let typed = self.input.text();
        self.input.set_text(&format!("{note}\n{typed}"));
        let ticket = self.ticket();
        self.image_loading = Some((ticket, source.clone()));
        self.notify(format!("reading frame {} at full size", index + 1), false);
        vec![Effect::LoadFrame {
            ticket,
            source,
            time,
        }]
    }

    /// Space in the image pane: plays the last clip's frames from the one shown (or the
    /// first), one per sampled interval, or pauses them.
    pub(super) fn play_or_pause(&mut self) -> Vec<Effect> {
        if self.playing.take().is_some() {
            self.notify("paused", false);
            return vec![];
        }
        let Some(clip) = &self.last_clip else {
            self.notify("no clip to play: /video PATH|URL samples one", true);
            return vec![];
        };
        let shown = self.shown_frame().filter(|&i| i + 1 < clip.frames.len());
        let first = clip.frames[shown.unwrap_or(0)].clone();
        self.shown_image = Some(first);
        self.notify("playing the clip's frames (Space pauses)", false);
        self.wake_for_next_frame()
    }

    /// The next frame of the clip playing, or the end of it.
    pub(super) fn play_next_frame(&mut self, ticket: super::Ticket) -> Vec<Effect> {
        if self.playing != Some(ticket) {
            return vec![]; // paused, or played again since
        }
        let next = self.shown_frame().map_or(0, |i| i + 1);
        let Some(frame) = self.last_clip.as_ref().and_then(|c| c.frames.get(next)) else {
            self.playing = None;
            return vec![];
        };
        self.shown_image = Some(frame.clone());
        self.wake_for_next_frame()
    }

    /// Which frame of the last clip the image pane shows, if one.
    fn shown_frame(&self) -> Option<usize> {
        let (clip, shown) = (self.last_clip.as_ref()?, self.shown_image.as_ref()?);
        clip.frames.iter().position(|f| f.same_as(shown))
    }

    fn wake_for_next_frame(&mut self) -> Vec<Effect> {
        let Some(clip) = &self.last_clip else {
            return vec![];
        };
        // The frames are evenly spread: one interval is the clip's pace.
        let interval = match clip.times.as_slice() {
            [first, second, ..] => second - first,
            _ => 1.0,
        };
        let ticket = self.ticket();
        self.playing = Some(ticket);
        vec![Effect::WakeAfter {
            ticket,
            after: std::time::Duration::from_secs_f64(interval.clamp(0.05, 10.0)),
        }]
    }

    fn attach_clip(&mut self, clip: ClipForModels) {
        self.last_clip = Some(clip.clone());
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
