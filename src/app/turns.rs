//! Working on the chat's turns: regenerate the last answer, edit and resend an earlier
//! message, the prompt view, copying an answer, flipping through the chat's images, and the
//! answer in progress as it would be saved.

use super::{Effect, EntryKind, Generation, ModelStatus, State};
use crate::conversation::{AnswerStats, AssistantTurn, ChatImage, FinishReason, Turn};

impl State {
    /// Who answers now, as recorded with each answer.
    pub(super) fn answered_by(&self) -> Option<String> {
        match &self.model {
            ModelStatus::Ready(info) => Some(info.answered_by()),
            _ => None,
        }
    }

    /// The answer streaming now, as it would be saved if vchat ended at this moment.
    pub fn partial_answer(&self) -> Option<AssistantTurn> {
        let Generation::Running {
            settings,
            text,
            tokens,
            ..
        } = &self.generation
        else {
            return None;
        };
        Some(AssistantTurn {
            text: text.clone(),
            settings: settings.clone(),
            stats: Some(AnswerStats {
                finish: FinishReason::Interrupted,
                tokens: *tokens,
                time_to_first_token: Default::default(),
                tokens_per_second: 0.0,
                seed: settings.seed,
                prompt: None,
            }),
            answered_by: self.answered_by(),
        })
    }

    /// Asks the last question again with the current settings; the answer it replaces stays
    /// as another version of that turn. Every condition is checked before anything changes: a
    /// refused regenerate keeps the answer on screen.
    pub(super) fn regenerate(&mut self) -> Vec<Effect> {
        if let Some(why) = self.why_turns_are_locked() {
            self.notify(why, true);
            return vec![];
        }
        if self.conversation.turns.is_empty() {
            self.notify("nothing to regenerate yet", true);
            return vec![];
        }
        if !matches!(self.model, ModelStatus::Ready(_)) {
            self.notify("the model is not ready: the answer is kept", true);
            return vec![];
        }
        // The last question got no answer (an error) when the last turn is the user's: it is
        // asked again as it is.
        if let Some(Turn::Assistant(_)) = self.conversation.turns.last() {
            let last = self.conversation.turns.len() - 1;
            self.conversation.versions().fork(last);
        }
        self.forget_after_turns();
        self.scroll = 0;
        self.touch();
        self.start_generation()
    }

    /// Lets the model go on with the last answer when it was stopped, cut off by the token
    /// limit, interrupted or broken by an error: the new text joins the old in one answer.
    pub(super) fn continue_answer(&mut self) -> Vec<Effect> {
        if let Some(why) = self.why_turns_are_locked() {
            self.notify(why, true);
            return vec![];
        }
        let supported = matches!(&self.model, ModelStatus::Ready(info)
            if info.backend == "local" && info.architecture == "LlavaForConditionalGeneration");
        if !supported {
            self.notify(
                "continuing an answer works with LLaVA-1.5 on the local engine (use /regen)",
                true,
            );
            return vec![];
        }
        let Some(Turn::Assistant(last)) = self.conversation.turns.last() else {
            self.notify("no answer to continue", true);
            return vec![];
        };
        if last
            .stats
            .as_ref()
            .is_some_and(|s| s.finish == FinishReason::Stop)
        {
            self.notify("the last answer is complete (use /regen for another)", true);
            return vec![];
        }
        if last.text.is_empty() {
            return self.regenerate();
        }
        // The stopped answer becomes the start of the running one: it stays on screen, and
        // is saved with whatever the model adds (or as it was, if nothing comes).
        let Some(Turn::Assistant(partial)) = self.conversation.turns.pop() else {
            return vec![];
        };
        self.forget_after_turns();
        let mut conversation = self.conversation.clone();
        let text_so_far = partial.text.clone();
        conversation.push_assistant(partial);
        self.scroll = 0;
        self.touch();
        self.begin_generation(conversation, text_so_far)
    }

    /// Shows the version `step` places before (negative) or after the one on screen, at the
    /// last turn that has several (Alt-Left/Alt-Right; Left/Right in the chat pane).
    pub(super) fn show_other_version(&mut self, step: isize) {
        if let Some(why) = self.why_turns_are_locked() {
            self.notify(why, true);
            return;
        }
        let Some(at) = self.conversation.branches.last_fork() else {
            self.notify("no other versions: /regen and /edit make them", true);
            return;
        };
        if !self.conversation.versions().show_version(at, step) {
            let end = if step < 0 { "first" } else { "last" };
            self.notify(format!("this is the {end} version"), true);
            return;
        }
        // vchat's notes and the laid-out lines after the fork belonged to the other version.
        self.notes.retain(|n| n.after_turns <= at);
        self.layout.forget_from(at);
        self.scroll = 0;
        self.touch();
        match self.conversation.branches.version_at(at) {
            Some((k, n)) => self.notify(format!("version {k} of {n}"), false),
            None => self.notify("the edit not sent is gone", false),
        }
    }

    /// Puts user message `number` (1-based; `None` = the last) back in the input for
    /// editing; it and everything after it become another version of the chat, to go back to.
    /// Sending the input asks again.
    pub(super) fn edit_message(&mut self, number: Option<usize>) -> Vec<Effect> {
        if let Some(why) = self.why_turns_are_locked() {
            self.input_error = Some(why.into());
            return vec![];
        }
        let users: Vec<usize> = self
            .conversation
            .turns
            .iter()
            .enumerate()
            .filter(|(_, t)| matches!(t, Turn::User(_)))
            .map(|(i, _)| i)
            .collect();
        let Some(&turn_index) = nth_or_last(&users, number) else {
            self.input_error = Some(format!(
                "no message {} to edit (this chat has {})",
                number.unwrap_or(0),
                users.len()
            ));
            return vec![];
        };
        if let Some(Turn::User(user)) = self.conversation.turns.get(turn_index).cloned() {
            self.input.set_text(&user.text);
            self.pending_images = user.images;
        }
        self.conversation.versions().fork(turn_index);
        self.forget_after_turns();
        self.scroll = 0;
        self.touch();
        self.notify("editing: Enter sends the message again", false);
        vec![]
    }

    /// Asks the engine for the prompt of the chat as it stands (with the message being typed,
    /// if any, as the next question).
    pub(super) fn show_prompt(&mut self) -> Vec<Effect> {
        if !matches!(self.model, ModelStatus::Ready(_)) {
            self.notify("the prompt view needs the model loaded", true);
            return vec![];
        }
        let mut conversation = self.conversation.clone();
        let typed = self.input.text();
        if !typed.trim().is_empty() && !typed.starts_with('/') {
            conversation.push_user(typed, self.pending_images.clone());
        } else if !self.pending_images.is_empty() {
            conversation.push_user("", self.pending_images.clone());
        }
        vec![Effect::RenderPrompt(conversation)]
    }

    /// Copies answer `number` (1-based; none = the last), or with `code` its last code block.
    pub(super) fn copy_answer(&mut self, number: Option<usize>, code: bool) -> Vec<Effect> {
        if number.is_some() && self.earlier_turns_loading {
            // Only the chat's last turns are in memory yet: answer N could not be found.
            self.notify(super::EARLIER_TURNS_LOADING, true);
            return vec![];
        }
        let answers: Vec<&str> = self
            .conversation
            .turns
            .iter()
            .filter_map(|t| match t {
                Turn::Assistant(a) => Some(a.text.as_str()),
                _ => None,
            })
            .collect();
        let Some(answer) = nth_or_last(&answers, number).map(|a| a.to_string()) else {
            let problem = match number {
                Some(n) if !answers.is_empty() => {
                    format!("there is no answer {n} (answers so far: {})", answers.len())
                }
                _ => "no answer to copy yet".to_string(),
            };
            self.notify(problem, true);
            return vec![];
        };
        let text = if code {
            match last_code_block(&answer) {
                Some(block) => block,
                None => {
                    self.notify("that answer has no code block", true);
                    return vec![];
                }
            }
        } else {
            answer
        };
        // What the user saw: no control characters from the model reach the clipboard.
        vec![Effect::Copy(crate::text::sanitize(&text))]
    }

    /// The chat's images in order, the image of the message being prepared last.
    fn chat_images(&self) -> Vec<ChatImage> {
        let mut images: Vec<ChatImage> = self.conversation.images().cloned().collect();
        for pending in &self.pending_images {
            if !images.iter().any(|i| i.same_as(pending)) {
                images.push(pending.clone());
            }
        }
        images
    }

    /// Shows the image `step` places before (negative) or after the one shown.
    pub(super) fn flip_image(&mut self, step: isize) {
        let images = self.chat_images();
        if images.is_empty() {
            self.notify("this chat has no images", true);
            return;
        }
        let current = self
            .shown_image
            .as_ref()
            .and_then(|shown| images.iter().position(|i| i.same_as(shown)))
            .unwrap_or(images.len() - 1);
        let next = current.saturating_add_signed(step).min(images.len() - 1);
        self.shown_image = Some(images[next].clone());
        self.notify(
            format!(
                "image {} of {}: {}",
                next + 1,
                images.len(),
                images[next].label
            ),
            false,
        );
    }

    /// Whether the loaded model sees one image per request (unknown while loading: no).
    pub(super) fn one_image_per_request(&self) -> bool {
        matches!(&self.model, ModelStatus::Ready(info) if info.one_image_per_request)
    }

    /// Attaches a loaded image to the next message: added to those attached already when the
    /// model takes several images, in place of them when it takes one.
    pub(super) fn attach(&mut self, image: ChatImage) {
        if self.one_image_per_request() {
            self.pending_images.clear();
        }
        if !self.pending_images.iter().any(|i| i.same_as(&image)) {
            self.pending_images.push(image);
        }
    }

    /// When a chat gets its second image and the model sees one per request, say so once.
    pub(super) fn note_one_image_per_request(&mut self) {
        let one_image = self.one_image_per_request();
        if one_image && !self.one_image_noted && self.conversation.image_count() >= 1 {
            self.one_image_noted = true;
            self.add_note(
                EntryKind::Notice,
                "this model sees one image per request: the newest image goes to the model; \
                 earlier ones are named in the text instead",
            );
        }
    }
}

/// Item `number` of `items`, counted from 1 as `/edit N` and `/copy N` count; the last one
/// when no number is given.
fn nth_or_last<T>(items: &[T], number: Option<usize>) -> Option<&T> {
    match number {
        Some(n) => items.get(n.checked_sub(1)?),
        None => items.last(),
    }
}

/// The text of the last fenced code block in `text`, without its fences.
fn last_code_block(text: &str) -> Option<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            match current.take() {
                Some(lines) => blocks.push(lines.join("\n")),
                None => current = Some(Vec::new()),
            }
        } else if let Some(lines) = current.as_mut() {
            lines.push(line);
        }
    }
    // An unclosed block (a stopped answer) still counts.
    if let Some(lines) = current {
        blocks.push(lines.join("\n"));
    }
    blocks.pop()
}

#[cfg(test)]
mod tests {
    use super::last_code_block;

    #[test]
    fn finds_the_last_code_block() {
        let text = "a\n```rust\nfn a() {}\n```\nb\n```\nlet x = 1;\nlet y = 2;\n```\n";
        assert_eq!(last_code_block(text).unwrap(), "let x = 1;\nlet y = 2;");
        assert_eq!(last_code_block("no code"), None);
    }
}
