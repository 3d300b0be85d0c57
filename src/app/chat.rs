//! What the chat pane shows, derived from the chat's one record: the conversation's turns,
//! vchat's notes tied to the turn they follow, and the answer streaming for the running request.
//! Nothing here is a second copy of the chat: entries borrow their text from the record, and
//! the laid-out lines are a cache that checks the text it was made from.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::{Generation, State};
use crate::conversation::{AnswerStats, ChatImage, Conversation, Turn};
use crate::text::sanitize;
use crate::ui::markdown::StyledLine;
use crate::ui::wrap::WrapCache;

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

/// A message from vchat in the chat pane, shown after the first `after_turns` turns of the
/// conversation (and above an answer that is still streaming). Text is sanitised on the way
/// in, so drawing never sees an escape sequence.
#[derive(Debug, Clone)]
pub struct Note {
    pub after_turns: usize,
    pub kind: EntryKind,
    pub text: String,
    wrap: Rc<WrapCache>,
}

impl Note {
    /// A note shown after the first `after_turns` turns.
    pub fn new(after_turns: usize, kind: EntryKind, text: &str) -> Self {
        Self {
            after_turns,
            kind,
            text: sanitize(text),
            wrap: Rc::default(),
        }
    }
}

/// One block of the chat pane as a frame sees it: borrowed from the record.
#[derive(Debug, Clone)]
pub struct ChatEntry<'a> {
    pub kind: EntryKind,
    pub text: &'a str,
    /// The images this user turn carries.
    pub images: &'a [ChatImage],
    /// The answer's stats once it is done.
    pub stats: Option<&'a AnswerStats>,
    /// Which of its kind this turn is (your N-th message, the N-th answer): the number that
    /// `/edit N` and `/copy N` take. None for notes, and while a chat's earlier turns are
    /// still being read (the count would be wrong).
    pub number: Option<usize>,
    /// The answer of the running request, still growing.
    pub streaming: bool,
    /// Which version of this turn is shown and how many there are (from 1), when several.
    pub version: Option<(usize, usize)>,
    wrap: Rc<WrapCache>,
}

/// An entry's content, owned: what the chat pane shows, for tests and comparisons.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownEntry {
    pub kind: EntryKind,
    pub text: String,
    /// The labels of the turn's images.
    pub image_labels: Vec<String>,
    pub stats: Option<AnswerStats>,
    pub number: Option<usize>,
    pub streaming: bool,
}

impl ChatEntry<'_> {
    /// The entry's content, owned; the text as it is drawn (control characters dropped).
    pub fn shown(&self) -> ShownEntry {
        ShownEntry {
            kind: self.kind,
            text: sanitize(self.text),
            image_labels: self.images.iter().map(|i| i.label.clone()).collect(),
            stats: self.stats.cloned(),
            number: self.number,
            streaming: self.streaming,
        }
    }

    /// The body laid out at `width` (answers as Markdown), cached.
    pub fn body_lines(&self, width: u16) -> Rc<Vec<StyledLine>> {
        self.wrap
            .lines(self.text, width, self.kind == EntryKind::Assistant)
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

/// Laid-out lines per turn position, and the turn counts that number the entries. A cache
/// only: each [`WrapCache`] checks the text it is given against the text it laid out, and the
/// counts are keyed by the revision of the turns (every [`State::touch`] moves it), so neither
/// can go stale.
#[derive(Debug, Default)]
pub struct ChatLayout {
    turns: RefCell<Vec<Rc<WrapCache>>>,
    counts: Cell<Option<TurnCounts>>,
}

/// How many user turns and answers the chat has, and the context they use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TurnCounts {
    revision: u64,
    turns: usize,
    pub users: usize,
    pub answers: usize,
    /// The last measured prompt (images included) and what followed it: answers' tokens and
    /// user text at about four characters a token.
    pub tokens: usize,
}

impl ChatLayout {
    /// The cache for the turn at `index` (the streaming answer uses the index it will have).
    fn turn(&self, index: usize) -> Rc<WrapCache> {
        let mut turns = self.turns.borrow_mut();
        if turns.len() <= index {
            turns.resize_with(index + 1, Rc::default);
        }
        Rc::clone(&turns[index])
    }

    /// Drops the caches of turns from `len` on (a shorter chat), to free their lines.
    pub fn forget_from(&self, len: usize) {
        self.turns.borrow_mut().truncate(len);
    }

    fn counts(&self, conversation: &Conversation, revision: u64) -> TurnCounts {
        let turns = conversation.turns.len();
        if let Some(counts) = self
            .counts
            .get()
            .filter(|c| c.revision == revision && c.turns == turns)
        {
            return counts;
        }
        let mut counts = TurnCounts {
            revision,
            turns,
            users: 0,
            answers: 0,
            tokens: 0,
        };
        for turn in &conversation.turns {
            match turn {
                Turn::User(user) => {
                    counts.users += 1;
                    counts.tokens += user.text.chars().count() / 4;
                }
                Turn::Assistant(answer) => {
                    counts.answers += 1;
                    let stats = answer.stats.as_ref();
                    // A measured prompt covers everything before the answer, images included.
                    if let Some(prompt) = stats.and_then(|s| s.prompt) {
                        counts.tokens = prompt.tokens;
                    }
                    counts.tokens += stats.map_or(0, |s| s.tokens);
                }
            }
        }
        self.counts.set(Some(counts));
        counts
    }
}

impl State {
    /// User turns and answers in the chat, and the context they use.
    pub fn turn_counts(&self) -> TurnCounts {
        self.layout.counts(&self.conversation, self.turns_revision)
    }

    /// The chat pane's entries from the bottom up: the streaming answer, then each turn with
    /// the notes after it. Lazy, so a frame only touches what it shows.
    pub fn entries_from_bottom(&self) -> impl Iterator<Item = ChatEntry<'_>> + '_ {
        let counts = self.turn_counts();
        let numbered = !self.earlier_turns_loading;
        let turns = &self.conversation.turns;
        let streaming = match &self.generation {
            Generation::Running { text, .. } => Some(ChatEntry {
                kind: EntryKind::Assistant,
                text,
                images: &[],
                stats: None,
                number: numbered.then_some(counts.answers + 1),
                streaming: true,
                version: self.conversation.branches.version_at(turns.len()),
                wrap: self.layout.turn(turns.len()),
            }),
            _ => None,
        };
        // Notes are kept in order of `after_turns`; walking both lists backwards interleaves
        // them without looking at anything above the window.
        let mut notes = self.notes.iter().rev().peekable();
        let (mut users_left, mut answers_left) = (counts.users, counts.answers);
        let mut index = turns.len();
        let rest = std::iter::from_fn(move || {
            if let Some(note) = notes.next_if(|n| n.after_turns >= index) {
                return Some(ChatEntry {
                    kind: note.kind,
                    text: &note.text,
                    images: &[],
                    stats: None,
                    number: None,
                    streaming: false,
                    version: None,
                    wrap: Rc::clone(&note.wrap),
                });
            }
            index = index.checked_sub(1)?;
            let wrap = self.layout.turn(index);
            let version = self.conversation.branches.version_at(index);
            Some(match &turns[index] {
                Turn::User(user) => {
                    let number = numbered.then_some(users_left);
                    users_left -= 1;
                    ChatEntry {
                        kind: EntryKind::User,
                        text: &user.text,
                        images: &user.images,
                        stats: None,
                        number,
                        streaming: false,
                        version,
                        wrap,
                    }
                }
                Turn::Assistant(answer) => {
                    let number = numbered.then_some(answers_left);
                    answers_left -= 1;
                    ChatEntry {
                        kind: EntryKind::Assistant,
                        text: &answer.text,
                        images: &[],
                        stats: answer.stats.as_ref(),
                        number,
                        streaming: false,
                        version,
                        wrap,
                    }
                }
            })
        });
        streaming.into_iter().chain(rest)
    }

    /// The chat pane's entries from the top (all of them: for tests and small chats).
    pub fn entries(&self) -> Vec<ChatEntry<'_>> {
        let mut entries: Vec<ChatEntry<'_>> = self.entries_from_bottom().collect();
        entries.reverse();
        entries
    }

    /// The chat pane's entries from the top, owned.
    pub fn shown_entries(&self) -> Vec<ShownEntry> {
        self.entries().iter().map(ChatEntry::shown).collect()
    }

    /// True when the chat pane has nothing to show.
    pub fn chat_is_empty(&self) -> bool {
        self.conversation.turns.is_empty()
            && self.notes.is_empty()
            && !matches!(self.generation, Generation::Running { .. })
    }

    /// Adds a note after the turns there are now.
    pub(super) fn add_note(&mut self, kind: EntryKind, text: &str) {
        self.notes
            .push(Note::new(self.conversation.turns.len(), kind, text));
    }

    /// Forgets the notes tied to turns that are gone (after an edit, a regenerate, a withdrawn
    /// message) and the lines laid out for those turns.
    pub(super) fn forget_after_turns(&mut self) {
        let len = self.conversation.turns.len();
        self.notes.retain(|n| n.after_turns <= len);
        self.layout.forget_from(len);
    }
}

/// Lines of the chat at `width`, counted from the bottom and stopping once `cap` is reached,
/// so that the cost follows what is looked at, not the history's length.
pub fn lines_up_to(state: &State, width: u16, cap: usize) -> usize {
    let mut total = 0;
    for entry in state.entries_from_bottom() {
        total += entry.height(width);
        if total >= cap {
            return cap;
        }
    }
    total
}
