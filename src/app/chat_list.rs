//! The list of saved chats: open one, rename it, delete it. A full-screen overlay with its
//! own keys (shown in its footer); the files are read and written by the event loop.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::input::InputEditor;
use super::{Effect, State};
use crate::chats::{meta_of, to_conversation, ChatSummary, LoadedChat};

/// The open chat list.
#[derive(Debug, Default)]
pub struct ChatList {
    pub chats: Vec<ChatSummary>,
    /// Files that could not be read (one line each, with the path).
    pub problems: Vec<String>,
    pub selected: usize,
    /// The new title being typed.
    pub renaming: Option<InputEditor>,
    /// Delete was pressed once; `y` confirms.
    pub confirm_delete: bool,
    /// False until the first listing arrived.
    pub loaded: bool,
}

impl ChatList {
    fn selected_chat(&self) -> Option<&ChatSummary> {
        self.chats.get(self.selected)
    }
}

/// What a key does while the list is open.
pub fn key_action(list: &ChatList, key: KeyEvent) -> Option<ListKey> {
    use KeyCode::*;
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == Char('c') {
        return Some(ListKey::Close);
    }
    if list.renaming.is_some() {
        return Some(match key.code {
            Enter => ListKey::Confirm,
            Esc => ListKey::Close,
            Backspace => ListKey::Backspace,
            Char(c) => ListKey::Type(c),
            _ => return None,
        });
    }
    if list.confirm_delete {
        return Some(match key.code {
            Char('y') | Char('Y') => ListKey::Confirm,
            _ => ListKey::Close,
        });
    }
    Some(match key.code {
        Up | Char('k') => ListKey::Up,
        Down | Char('j') => ListKey::Down,
        Enter => ListKey::Open,
        Char('r') => ListKey::Rename,
        Char('d') | Delete => ListKey::Delete,
        Esc | Char('q') => ListKey::Close,
        _ => return None,
    })
}

/// A key of the chat list, resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum ListKey {
    Up,
    Down,
    Open,
    Rename,
    Delete,
    /// Enter while renaming, `y` while confirming a delete.
    Confirm,
    /// Esc: cancel the rename or delete, else close the list.
    Close,
    Type(char),
    Backspace,
}

/// The keys the list's footer shows.
pub const LIST_KEYS: &str = "↑/↓ select · Enter open · r rename · d delete · Esc close";

impl State {
    pub(super) fn open_chat_list(&mut self) -> Vec<Effect> {
        self.chat_list = Some(ChatList::default());
        vec![Effect::ListChats]
    }

    pub(super) fn on_chats_listed(&mut self, chats: Vec<ChatSummary>, problems: Vec<String>) {
        if let Some(list) = self.chat_list.as_mut() {
            let current = list.selected_chat().map(|c| c.id.clone());
            list.chats = chats;
            list.problems = problems;
            list.loaded = true;
            list.selected = current
                .and_then(|id| list.chats.iter().position(|c| c.id == id))
                .unwrap_or(0)
                .min(list.chats.len().saturating_sub(1));
        }
    }

    pub(super) fn on_list_key(&mut self, key: ListKey) -> Vec<Effect> {
        let Some(list) = self.chat_list.as_mut() else {
            return vec![];
        };
        match key {
            ListKey::Up => list.selected = list.selected.saturating_sub(1),
            ListKey::Down => {
                list.selected = (list.selected + 1).min(list.chats.len().saturating_sub(1))
            }
            ListKey::Open => {
                if let Some(chat) = list.selected_chat() {
                    let id = chat.id.clone();
                    self.chat_list = None;
                    return self.open_chat(id);
                }
            }
            ListKey::Rename => {
                if let Some(chat) = list.selected_chat() {
                    let mut editor = InputEditor::default();
                    editor.set_text(&chat.title);
                    list.renaming = Some(editor);
                }
            }
            ListKey::Delete => list.confirm_delete = list.selected_chat().is_some(),
            ListKey::Type(c) => {
                if let Some(editor) = list.renaming.as_mut() {
                    editor.insert(&crate::text::sanitize(&c.to_string()));
                }
            }
            ListKey::Backspace => {
                if let Some(editor) = list.renaming.as_mut() {
                    editor.backspace();
                }
            }
            ListKey::Confirm => {
                let Some(chat) = list.selected_chat() else {
                    return vec![];
                };
                let id = chat.id.clone();
                if let Some(editor) = list.renaming.take() {
                    let title = crate::text::one_line(&editor.text());
                    if id == self.chat.id {
                        // The open chat's file has one writer, its autosave: the new title
                        // goes with the next save (now), not through a second write.
                        self.chat.title = Some(title);
                        self.touch();
                        self.notify("chat renamed", false);
                        return vec![Effect::ListChats];
                    }
                    let ticket = self.ticket();
                    return vec![Effect::RenameChat { ticket, id, title }, Effect::ListChats];
                }
                if std::mem::take(&mut list.confirm_delete) {
                    if id == self.chat.id {
                        // The open chat stays on screen; it is saved again under a new id
                        // only if it changes.
                        self.chat = crate::chats::ChatMeta::new_chat();
                    }
                    let ticket = self.ticket();
                    return vec![Effect::DeleteChat { ticket, id }, Effect::ListChats];
                }
            }
            ListKey::Close => {
                if list.renaming.take().is_none() && !std::mem::take(&mut list.confirm_delete) {
                    self.chat_list = None;
                }
            }
        }
        vec![]
    }

    /// Opens saved chat `id` in place of the current one (which is saved already).
    pub(super) fn open_chat(&mut self, id: String) -> Vec<Effect> {
        if self.is_busy() && !self.earlier_turns_loading {
            self.notify("an answer is running: Esc stops it first", true);
            return vec![];
        }
        self.notify(
            format!("opening chat {}", crate::text::one_line(&id)),
            false,
        );
        let ticket = self.ticket();
        self.opening = Some(ticket);
        vec![Effect::OpenChat { ticket, id }]
    }

    /// Shows a chat read from disk.
    pub fn show_loaded_chat(&mut self, loaded: LoadedChat) {
        self.conversation = to_conversation(&loaded.file, &loaded.images);
        self.chat = meta_of(&loaded.file);
        // The entries are numbered only when the whole chat is here.
        self.earlier_turns_loading = loaded.first_turn > 0;
        self.notes.clear();
        // Not touched: opening a chat is no change to save. The layout (and the turn counts
        // it keeps by revision) starts afresh instead.
        self.layout = super::ChatLayout::default();
        if self.earlier_turns_loading {
            self.notes.push(super::Note::new(
                0,
                super::EntryKind::Notice,
                &format!("reading {} earlier turns…", loaded.first_turn),
            ));
        }
        for problem in &loaded.problems {
            self.add_note(
                super::EntryKind::Notice,
                &format!("could not load {problem}"),
            );
        }
        self.shown_image =
            self.conversation
                .latest_image_turn()
                .and_then(|i| match &self.conversation.turns[i] {
                    crate::conversation::Turn::User(u) => u.images.last().cloned(),
                    _ => None,
                });
        self.pending_images.clear();
        self.scroll = 0;
        self.one_image_noted = self.conversation.image_count() > 1;
        let title = loaded.file.title.clone();
        self.notify(format!("chat opened: {title}"), false);
    }

    pub(super) fn on_chat_opened(&mut self, result: Result<Box<LoadedChat>, String>) {
        match result {
            Ok(loaded) => self.show_loaded_chat(*loaded),
            Err(message) if self.earlier_turns_loading => self.notify(
                format!("{message}; this chat is read-only (not saved) until reopened"),
                true,
            ),
            Err(message) => self.notify(message, true),
        }
    }
}
