//! Answers: sending a message, starting a generation, and following the engine's events
//! until the answer is done, stopped or failed.

use std::time::Instant;

use super::{ChatEntry, Effect, EntryKind, Generation, ModelStatus, State};
use crate::conversation::{AnswerStats, AssistantTurn, Conversation, FinishReason};
use crate::engine::{EngineEvent, RequestId};
use crate::text::one_line;

impl State {
    pub(super) fn send_message(&mut self) -> Vec<Effect> {
        if let Some(why) = self.why_turns_are_locked() {
            self.input_error = Some(why.into());
            return vec![];
        }
        let text = self.input.take();
        let image = self.pending_image.take();
        let mut entry = ChatEntry::new(EntryKind::User, &text);
        entry.image_label = image.as_ref().map(|i| i.label.clone());
        entry.number = Some(self.conversation.user_turn_count() + 1);
        self.entries.push(entry);
        self.used_tokens += text.chars().count() / 4;
        self.conversation.push_user(text, image);
        self.scroll = 0;
        self.touch();
        match self.model {
            ModelStatus::Ready(_) => self.start_generation(),
            ModelStatus::Loading { .. } => {
                self.generation = Generation::Queued;
                self.notify("queued: the answer starts when the model is loaded", false);
                vec![]
            }
            ModelStatus::Failed(ref reason) => {
                let reason = reason.clone();
                self.entries.push(ChatEntry::new(
                    EntryKind::Notice,
                    &format!("no model loaded: {reason}"),
                ));
                vec![]
            }
        }
    }

    pub(super) fn start_generation(&mut self) -> Vec<Effect> {
        let mut entry = ChatEntry::new(EntryKind::Assistant, "");
        entry.number = Some(self.conversation.answer_count() + 1);
        self.entries.push(entry);
        self.begin_generation(self.conversation.clone())
    }

    /// Asks for an answer to `conversation`, streamed into the last chat entry.
    pub(super) fn begin_generation(&mut self, conversation: Conversation) -> Vec<Effect> {
        self.generation = Generation::Running {
            request: None,
            settings: self.settings.clone(),
            stop_requested: false,
        };
        self.generation_started_at = Some(Instant::now());
        self.streamed_tokens = 0;
        vec![Effect::Generate {
            conversation,
            settings: self.settings.clone(),
        }]
    }

    fn running_request(&self) -> Option<RequestId> {
        match &self.generation {
            Generation::Running { request, .. } => *request,
            _ => None,
        }
    }

    pub(super) fn on_engine(&mut self, event: EngineEvent) -> Vec<Effect> {
        match event {
            EngineEvent::Loading {
                stage, fraction, ..
            } => {
                if matches!(self.model, ModelStatus::Loading { .. }) {
                    self.model = ModelStatus::Loading { stage, fraction };
                }
                vec![]
            }
            EngineEvent::Ready { info, .. } => {
                // A start-up problem stays in the status bar until something else happens.
                if !self.notice.as_ref().is_some_and(|n| n.is_error) {
                    self.notify(format!("model ready: {}", info.model), false);
                }
                self.model = ModelStatus::Ready(info);
                if self.generation == Generation::Queued {
                    return self.start_generation();
                }
                vec![]
            }
            EngineEvent::LoadFailed { message, .. } => {
                let message = one_line(&message);
                self.entries.push(ChatEntry::new(
                    EntryKind::Notice,
                    &format!("the model could not be loaded: {message}"),
                ));
                self.model = ModelStatus::Failed(message);
                self.generation = Generation::Idle;
                vec![]
            }
            // Only the prompt view asks for prompts.
            EngineEvent::Prompt { text, .. } => {
                self.on_prompt(&text);
                vec![]
            }
            // Events for other (stale) requests are dropped here.
            event if Some(event.request()) != self.running_request() => vec![],
            EngineEvent::Token { text, .. } => {
                self.streamed_tokens += 1;
                self.touch();
                let (width, _) = self.chat_viewport.get();
                if let Some(entry) = self.entries.last_mut() {
                    let before = if self.scroll > 0 {
                        entry.height(width)
                    } else {
                        0
                    };
                    entry.append(&text);
                    if self.scroll > 0 {
                        // Keep the lines the user scrolled to in place while text arrives.
                        self.scroll += entry.height(width).saturating_sub(before);
                    }
                }
                vec![]
            }
            EngineEvent::Done { stats, .. } => {
                self.finish_answer(stats);
                vec![]
            }
            EngineEvent::Error { message, .. } => {
                let stats = AnswerStats {
                    finish: FinishReason::Error,
                    tokens: self.streamed_tokens,
                    time_to_first_token: Default::default(),
                    tokens_per_second: 0.0,
                    seed: None,
                };
                self.finish_answer(stats);
                self.entries.push(ChatEntry::new(
                    EntryKind::Notice,
                    &format!("error: {}", one_line(&message)),
                ));
                vec![]
            }
        }
    }

    fn finish_answer(&mut self, stats: AnswerStats) {
        let settings = match std::mem::replace(&mut self.generation, Generation::Idle) {
            Generation::Running { settings, .. } => settings,
            _ => self.settings.clone(),
        };
        let text = match self.entries.last_mut() {
            Some(entry) if entry.kind == EntryKind::Assistant => {
                entry.stats = Some(stats.clone());
                entry.text.clone()
            }
            _ => String::new(),
        };
        self.conversation.push_assistant(AssistantTurn {
            text,
            settings,
            stats: Some(stats.clone()),
            answered_by: self.answered_by(),
        });
        self.touch();
        self.used_tokens += stats.tokens;
        self.streamed_tokens = 0;
        self.generation_started_at = None;
        if stats.finish != FinishReason::Error {
            self.last_stats = Some(stats);
        }
    }
}
