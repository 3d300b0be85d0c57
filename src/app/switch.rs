//! `/model ID|PATH`: another model is loaded in the background while the chat goes on with
//! the current one; once it is ready (and no answer is running) the chat continues with it.
//! Each answer records the model that gave it. If the new model cannot be loaded, the chat
//! keeps the current one and says why in one line.
//!
//! Both models are in memory while the new one loads: on a GPU that holds only one, quit and
//! start again with `--model` instead.

use super::{Effect, EntryKind, Generation, ModelStatus, State};
use crate::engine::{EngineEvent, ModelInfo};
use crate::text::one_line;

/// A model being loaded to take over the chat.
#[derive(Debug, Clone, PartialEq)]
pub struct Switch {
    /// As the user named it.
    pub model: String,
    /// Ready, and waiting for the running answer to end.
    pub ready: Option<ModelInfo>,
}

impl State {
    /// The model the chat uses (or is loading at start-up), as it was named.
    pub fn model_in_use(&self) -> String {
        match &self.model {
            ModelStatus::Ready(info) => info.model.clone(),
            _ => self.start.model.clone(),
        }
    }

    /// `/model`: names the model in use; `/model ID|PATH` starts loading another.
    pub(super) fn switch_model(&mut self, model: &str) -> Vec<Effect> {
        let current = self
            .answered_by()
            .unwrap_or_else(|| self.start.model.clone());
        if model.is_empty() {
            self.notify(
                format!("answering with {current}; /model ID|PATH loads another"),
                false,
            );
            return vec![];
        }
        self.switching = Some(Switch {
            model: model.to_string(),
            ready: None,
        });
        self.notify(
            format!("loading {model} in the background; the chat goes on with {current}"),
            false,
        );
        vec![Effect::SwitchModel(model.to_string())]
    }

    /// An event of the engine loading the next model.
    pub(super) fn on_next_engine(&mut self, event: EngineEvent) -> Vec<Effect> {
        let Some(switch) = &mut self.switching else {
            return vec![];
        };
        let model = switch.model.clone();
        match event {
            EngineEvent::Loading {
                stage, fraction, ..
            } => {
                self.notify(
                    format!(
                        "loading {model} {:.0}%: {}",
                        fraction * 100.0,
                        one_line(&stage)
                    ),
                    false,
                );
                vec![]
            }
            EngineEvent::LoadFailed { message, .. } => {
                self.switching = None;
                let text = format!(
                    "{model} could not be loaded ({}); the chat stays with the model it had",
                    one_line(&message)
                );
                self.add_note(EntryKind::Notice, &text);
                self.notify(text, true);
                vec![Effect::DropNextEngine]
            }
            EngineEvent::Ready { info, .. } => {
                switch.ready = Some(info);
                self.take_switch_when_idle()
            }
            _ => vec![],
        }
    }

    /// Moves the chat to the next model once it is ready and no answer is running (an answer
    /// that is running ends with the model that began it).
    pub(super) fn take_switch_when_idle(&mut self) -> Vec<Effect> {
        if matches!(self.generation, Generation::Running { .. }) {
            return vec![];
        }
        let Some(info) = self.switching.as_mut().and_then(|s| s.ready.take()) else {
            return vec![];
        };
        self.switching = None;
        let text = format!("now answering with {}", info.answered_by());
        self.add_note(EntryKind::Notice, &text);
        self.notify(text, false);
        if let Some(warning) = info.unverified_warning() {
            self.add_note(EntryKind::Notice, &warning);
        }
        // Whether earlier images are named in the text depends on the model: say it again.
        self.one_image_noted = false;
        self.model = ModelStatus::Ready(info);
        let mut effects = vec![Effect::UseNextEngine];
        if self.generation == Generation::Queued {
            effects.extend(self.start_generation());
        }
        effects.extend(self.release_parked_clip());
        effects
    }
}
