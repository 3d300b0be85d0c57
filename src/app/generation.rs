//! Answers: sending a message, starting a generation, and following the engine's events
//! until the answer is done, stopped or failed.

use std::time::Instant;

use super::{Effect, EntryKind, Generation, ModelStatus, State};
use crate::conversation::{AnswerStats, AssistantTurn, Conversation, FinishReason};
use crate::engine::{EngineEvent, RequestId};
use crate::text::{one_line, sanitize};

impl State {
    pub(super) fn send_message(&mut self) -> Vec<Effect> {
        if let Some(why) = self.why_turns_are_locked() {
            self.input_error = Some(why.into());
            return vec![];
        }
        if self.image_loading.is_some() {
            // Sent now, the message would go without the image still loading, which would
            // then attach to the next one: the message stays in the input until it is in.
            self.send_when_images_ready = true;
            self.notify("the message goes once the image is loaded", false);
            return vec![];
        }
        if self.parked_clip.is_some() {
            // The clip's form (frames or contact sheet) waits for the model: so does the
            // message.
            self.send_when_images_ready = true;
            self.notify("the message goes once the model is loaded", false);
            return vec![];
        }
        let text = self.input.take();
        let images = std::mem::take(&mut self.pending_images);
        self.conversation.push_user(text, images);
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
                let note = format!("no model loaded: {reason}");
                self.add_note(EntryKind::Notice, &note);
                vec![]
            }
        }
    }

    /// Asks for an answer to the conversation as it stands.
    pub(super) fn start_generation(&mut self) -> Vec<Effect> {
        self.begin_generation(self.conversation.clone(), String::new())
    }

    /// Asks for an answer to `conversation`, streamed after `text_so_far` (the stopped answer
    /// that `/continue` goes on with, else empty).
    pub(super) fn begin_generation(
        &mut self,
        conversation: Conversation,
        text_so_far: String,
    ) -> Vec<Effect> {
        self.generation = Generation::Running {
            request: None,
            settings: self.settings.clone(),
            stop_requested: false,
            text: text_so_far,
            tokens: 0,
        };
        self.generation_started_at = Some(Instant::now());
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
                if let Some(warning) = info.unverified_warning() {
                    self.add_note(EntryKind::Notice, &warning);
                }
                self.model = ModelStatus::Ready(info);
                let mut effects = vec![];
                if self.generation == Generation::Queued {
                    effects = self.start_generation();
                }
                effects.extend(self.release_parked_clip());
                effects
            }
            EngineEvent::LoadFailed { message, .. } => {
                let message = one_line(&message);
                self.add_note(
                    EntryKind::Notice,
                    &format!("the model could not be loaded: {message}"),
                );
                self.model = ModelStatus::Failed(message);
                if self.generation == Generation::Queued {
                    self.generation = Generation::Idle;
                }
                // A parked clip is attached as its frames: nothing the user chose is lost.
                self.release_parked_clip()
            }
            EngineEvent::Prompt { request, text } => {
                // Only the prompt view asked last is shown (not one of a chat left since).
                if self.prompt_request == Some(request) {
                    self.prompt_request = None;
                    let text = match self.last_prompt_size() {
                        Some(size) => format!(
                            "{text}\n\n[the last answer's prompt, as the model ran it: {}]",
                            size.describe()
                        ),
                        None => text,
                    };
                    self.add_note(EntryKind::Prompt, &text);
                    self.scroll = 0;
                }
                vec![]
            }
            // Events for other (stale) requests are dropped here.
            event if Some(event.request()) != self.running_request() => vec![],
            EngineEvent::Token { text: chunk, .. } => {
                self.on_token(&chunk);
                vec![]
            }
            EngineEvent::Done { stats, .. } => {
                self.finish_answer(stats);
                self.take_switch_when_idle()
            }
            EngineEvent::Error { message, .. } => {
                let stats = AnswerStats {
                    finish: FinishReason::Error,
                    tokens: self.streamed_tokens(),
                    time_to_first_token: Default::default(),
                    tokens_per_second: 0.0,
                    seed: None,
                    prompt: None,
                };
                self.finish_answer(stats);
                self.add_note(EntryKind::Notice, &format!("error: {}", one_line(&message)));
                self.take_switch_when_idle()
            }
        }
    }

    /// A token of the running answer: it joins the answer of its request, wherever the chat
    /// pane's last entry is.
    fn on_token(&mut self, chunk: &str) {
        let scrolled = self.scroll > 0;
        let before = if scrolled { self.streaming_height() } else { 0 };
        if let Generation::Running { text, tokens, .. } = &mut self.generation {
            *tokens += 1;
            text.push_str(&sanitize(chunk));
        }
        self.touch_answer();
        if scrolled {
            // Keep the lines the user scrolled to in place while text arrives.
            self.scroll += self.streaming_height().saturating_sub(before);
        }
    }

    /// Lines the streaming answer takes in the chat pane now.
    fn streaming_height(&self) -> usize {
        let (width, _) = self.chat_viewport.get();
        self.entries_from_bottom()
            .next()
            .filter(|e| e.streaming)
            .map_or(0, |e| e.height(width))
    }

    /// Ends the running answer: its text, as streamed, becomes the conversation's last turn.
    fn finish_answer(&mut self, stats: AnswerStats) {
        let Generation::Running { settings, text, .. } =
            std::mem::replace(&mut self.generation, Generation::Idle)
        else {
            return;
        };
        self.conversation.push_assistant(AssistantTurn {
            text,
            settings,
            stats: Some(stats.clone()),
            answered_by: self.answered_by(),
        });
        self.touch();
        self.generation_started_at = None;
        if stats.finish != FinishReason::Error {
            self.last_stats = Some(stats);
        }
    }
}
