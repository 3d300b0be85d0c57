//! Chat entries as shown on screen, and the arithmetic of scrolling them from the bottom.

use std::rc::Rc;

use crate::conversation::AnswerStats;
use crate::markdown::StyledLine;
use crate::text::sanitize;
use crate::wrap::WrapCache;

/// Who an entry is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    User,
    Assistant,
    /// A message from vchat itself (an error, a loaded image, a new chat).
    Notice,
    /// The conversation as the model sees it (the prompt view), shown verbatim.
    Prompt,
}

/// One block of the chat pane. Text is sanitised on the way in, so drawing never sees an
/// escape sequence.
#[derive(Debug, Clone)]
pub struct ChatEntry {
    pub kind: EntryKind,
    /// Only grows ([`ChatEntry::append`]): the laid-out lines are cached on that basis.
    pub text: String,
    /// The image this user turn carries (its label).
    pub image_label: Option<String>,
    /// The answer's stats once it is done.
    pub stats: Option<AnswerStats>,
    /// Which of its kind this turn is (your N-th message, the N-th answer): the number that
    /// `/edit N` and `/copy N` take. None for notices, and while a chat's earlier turns are
    /// still being read (the count would be wrong).
    pub number: Option<usize>,
    wrap: WrapCache,
}

impl ChatEntry {
    /// A new entry; `text` is sanitised.
    pub fn new(kind: EntryKind, text: &str) -> Self {
        Self {
            kind,
            text: sanitize(text),
            image_label: None,
            stats: None,
            number: None,
            wrap: WrapCache::default(),
        }
    }

    /// Appends streamed text (sanitised). The wrap cache notices that the text grew and lays
    /// out only its last line again.
    pub fn append(&mut self, text: &str) {
        self.text.push_str(&sanitize(text));
    }

    /// The body laid out at `width` (answers as Markdown), cached.
    pub fn body_lines(&self, width: u16) -> Rc<Vec<StyledLine>> {
        self.wrap
            .lines(&self.text, width, self.kind == EntryKind::Assistant)
    }

    /// True when wrapped lines are cached (a frame looked at this entry).
    pub fn is_wrapped(&self) -> bool {
        self.wrap.is_filled()
    }

    /// Lines the entry takes at `width`: a header, the body, the stats line when done, and
    /// a blank line after it.
    pub fn height(&self, width: u16) -> usize {
        2 + self.body_lines(width).len() + usize::from(self.stats.is_some())
    }
}

/// Lines of the chat at `width`, counted from the last entry backwards and stopping once
/// `cap` is reached, so that the cost follows what is looked at, not the history's length.
pub fn lines_up_to(entries: &[ChatEntry], width: u16, cap: usize) -> usize {
    let mut total = 0;
    for entry in entries.iter().rev() {
        total += entry.height(width);
        if total >= cap {
            return cap;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_lines_stops_at_the_cap() {
        let entries: Vec<ChatEntry> = (0..10_000)
            .map(|i| ChatEntry::new(EntryKind::User, &format!("message {i}")))
            .collect();
        assert_eq!(lines_up_to(&entries, 40, 30), 30);
        assert!(entries[9_999].is_wrapped());
        assert!(!entries[0].is_wrapped(), "old entries are not wrapped");
    }
}
