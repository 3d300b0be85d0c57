//! The one place that says which key does what. Key handling and the help overlay both read
//! the [`Keymap`], so the help never drifts from the behaviour; `[keys]` in the config file
//! replaces the keys of a binding by its name.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

pub use super::key::Key;
use super::{Action, Focus, State};

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everywhere.
    Global,
    /// The input editor (and the settings value being typed).
    Input,
    /// The chat pane.
    Chat,
    /// The settings panel.
    Settings,
    /// The image pane.
    Image,
}

impl Scope {
    /// A heading for the help overlay.
    pub fn title(self) -> &'static str {
        match self {
            Self::Global => "Everywhere",
            Self::Input => "Input",
            Self::Chat => "Chat pane",
            Self::Settings => "Settings panel",
            Self::Image => "Image pane",
        }
    }
}

/// One entry of the keymap.
#[derive(Debug, Clone)]
pub struct Binding {
    /// The name used in the config file's `[keys]` table.
    pub name: &'static str,
    pub scope: Scope,
    pub description: &'static str,
    pub keys: Vec<Key>,
    pub action: Action,
}

impl Binding {
    /// The keys as the help shows them.
    pub fn label(&self) -> String {
        let keys: Vec<String> = self.keys.iter().map(Key::to_string).collect();
        keys.join(" / ")
    }
}

/// Every key binding, in the order the help shows them.
#[derive(Debug, Clone)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;
const ALT: KeyModifiers = KeyModifiers::ALT;

impl Default for Keymap {
    fn default() -> Self {
        use KeyCode::*;
        use Scope::*;
        let b = |name, scope, description, keys: &[(KeyCode, KeyModifiers)], action| Binding {
            name,
            scope,
            description,
            keys: keys.iter().map(|&(c, m)| Key(c, m)).collect(),
            action,
        };
        let bindings = vec![
            b(
                "interrupt",
                Global,
                "stop the answer; press twice to quit",
                &[(Char('c'), CTRL)],
                Action::Interrupt,
            ),
            b(
                "stop",
                Global,
                "stop the answer (keeps the text) / close",
                &[(Esc, NONE)],
                Action::Stop,
            ),
            b(
                "focus_next",
                Global,
                "next pane (after /image: complete the path)",
                &[(Tab, NONE)],
                Action::FocusNext,
            ),
            b(
                "focus_prev",
                Global,
                "previous pane",
                &[(BackTab, NONE)],
                Action::FocusPrev,
            ),
            b(
                "help",
                Global,
                "show or hide this help (? outside the input)",
                &[(F(1), NONE), (Char('?'), NONE)],
                Action::ToggleHelp,
            ),
            b(
                "regenerate",
                Global,
                "answer the last question again (current settings)",
                &[(Char('r'), CTRL)],
                Action::Regenerate,
            ),
            b(
                "new_chat",
                Global,
                "start a new chat (keeps the image)",
                &[(Char('n'), CTRL)],
                Action::NewChat,
            ),
            b(
                "prompt_view",
                Global,
                "show the conversation as the model sees it",
                &[(F(2), NONE)],
                Action::ShowPrompt,
            ),
            b(
                "chats",
                Global,
                "saved chats: open, rename, delete",
                &[(F(3), NONE), (Char('o'), CTRL)],
                Action::OpenChatList,
            ),
            b(
                "copy",
                Global,
                "copy the last answer to the clipboard (OSC 52)",
                &[(Char('y'), CTRL)],
                Action::CopyAnswer,
            ),
            b(
                "version_prev_anywhere",
                Global,
                "previous version of the last turn that has several",
                &[(Left, ALT)],
                Action::VersionPrev,
            ),
            b(
                "version_next_anywhere",
                Global,
                "next version of that turn",
                &[(Right, ALT)],
                Action::VersionNext,
            ),
            b(
                "paste_image",
                Global,
                "attach the image on the clipboard (Wayland, X11, ssh -X, macOS)",
                &[(Char('v'), CTRL)],
                Action::PasteImage,
            ),
            b(
                "page_up",
                Global,
                "scroll the chat up a page",
                &[(PageUp, NONE)],
                Action::PageUp,
            ),
            b(
                "page_down",
                Global,
                "scroll the chat down a page",
                &[(PageDown, NONE)],
                Action::PageDown,
            ),
            b(
                "send",
                Input,
                "send the message or run the command",
                &[(Enter, NONE)],
                Action::Submit,
            ),
            b(
                "newline",
                Input,
                "new line",
                &[(Enter, ALT), (Char('j'), CTRL)],
                Action::Newline,
            ),
            b(
                "up",
                Input,
                "line up; on the first line: older prompt",
                &[(Up, NONE)],
                Action::Up,
            ),
            b(
                "down",
                Input,
                "line down; on the last line: newer prompt",
                &[(Down, NONE)],
                Action::Down,
            ),
            b("left", Input, "cursor left", &[(Left, NONE)], Action::Left),
            b(
                "right",
                Input,
                "cursor right",
                &[(Right, NONE)],
                Action::Right,
            ),
            b(
                "home",
                Input,
                "start of line",
                &[(Home, NONE), (Char('a'), CTRL)],
                Action::Home,
            ),
            b(
                "end",
                Input,
                "end of line",
                &[(End, NONE), (Char('e'), CTRL)],
                Action::End,
            ),
            b(
                "backspace",
                Input,
                "delete the character before the cursor",
                &[(Backspace, NONE)],
                Action::Backspace,
            ),
            b(
                "delete",
                Input,
                "delete the character under the cursor",
                &[(Delete, NONE)],
                Action::Delete,
            ),
            b(
                "kill_line",
                Input,
                "delete to the start of the line",
                &[(Char('u'), CTRL)],
                Action::KillToStart,
            ),
            b(
                "delete_word",
                Input,
                "delete the word before the cursor",
                &[(Char('w'), CTRL), (Backspace, ALT)],
                Action::DeleteWord,
            ),
            b(
                "scroll_up",
                Chat,
                "scroll up a line",
                &[(Char('k'), NONE), (Up, NONE)],
                Action::ScrollUp(1),
            ),
            b(
                "scroll_down",
                Chat,
                "scroll down a line",
                &[(Char('j'), NONE), (Down, NONE)],
                Action::ScrollDown(1),
            ),
            b(
                "follow",
                Chat,
                "back to the end; follow the answer",
                &[(Char('G'), NONE), (End, NONE)],
                Action::ScrollToBottom,
            ),
            b(
                "version_prev",
                Chat,
                "previous version of the last turn that has several (‹1/2›)",
                &[(Left, NONE), (Char('h'), NONE)],
                Action::VersionPrev,
            ),
            b(
                "version_next",
                Chat,
                "next version of that turn",
                &[(Right, NONE), (Char('l'), NONE)],
                Action::VersionNext,
            ),
            b(
                "setting_prev",
                Settings,
                "previous setting",
                &[(Up, NONE), (Char('k'), NONE)],
                Action::SettingPrev,
            ),
            b(
                "setting_next",
                Settings,
                "next setting",
                &[(Down, NONE), (Char('j'), NONE)],
                Action::SettingNext,
            ),
            b(
                "decrease",
                Settings,
                "value a step down",
                &[(Left, NONE), (Char('-'), NONE), (Char('h'), NONE)],
                Action::SettingDecrease,
            ),
            b(
                "increase",
                Settings,
                "value a step up",
                &[
                    (Right, NONE),
                    (Char('+'), NONE),
                    (Char('='), NONE),
                    (Char('l'), NONE),
                ],
                Action::SettingIncrease,
            ),
            b(
                "image_prev",
                Image,
                "previous image of the chat",
                &[(Left, NONE), (Char('h'), NONE)],
                Action::ImagePrev,
            ),
            b(
                "image_next",
                Image,
                "next image of the chat",
                &[(Right, NONE), (Char('l'), NONE)],
                Action::ImageNext,
            ),
            b(
                "image_play",
                Image,
                "play or pause the last clip's frames at their sampled pace",
                &[(Char(' '), NONE), (Char('p'), NONE)],
                Action::ImagePlay,
            ),
            b(
                "edit",
                Settings,
                "type an exact value (Enter applies, Esc cancels)",
                &[(Enter, NONE)],
                Action::SettingEdit,
            ),
        ];
        Keymap { bindings }
    }
}

impl Keymap {
    /// Replaces the keys of the binding called `name` with `keys` (config `[keys]`).
    pub fn rebind(&mut self, name: &str, keys: &[String]) -> Result<(), String> {
        let parsed = keys
            .iter()
            .map(|k| Key::parse(k))
            .collect::<Result<Vec<_>, _>>()?;
        let binding = self
            .bindings
            .iter_mut()
            .find(|b| b.name == name)
            .ok_or_else(|| format!("unknown action '{name}'"))?;
        binding.keys = parsed;
        Ok(())
    }

    fn lookup(&self, scope: Scope, key: &KeyEvent, typing: bool) -> Option<Action> {
        self.bindings
            .iter()
            .filter(|b| b.scope == scope)
            .find(|b| {
                b.keys.iter().any(|k| {
                    // While typing, plain characters are text, never commands.
                    let plain_char = matches!(k.0, KeyCode::Char(_)) && k.1 == NONE;
                    k.matches(key) && !(typing && plain_char)
                })
            })
            .map(|b| b.action.clone())
    }
}

/// The action for a key press in the current state, if any.
pub fn resolve(state: &State, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if let Some(list) = &state.chat_list {
        return super::chat_list::key_action(list, key).map(Action::ChatListKey);
    }
    if state.file_picker.is_some() {
        return super::file_picker::key_action(key).map(Action::PickerKey);
    }
    let keymap = &state.keymap;
    let typing = state.focus == Focus::Input || state.panel.editing.is_some();
    if state.help_open {
        // Any key closes the help, but Ctrl-C keeps its meaning.
        return match keymap.lookup(Scope::Global, &key, false) {
            Some(Action::Interrupt) => Some(Action::Interrupt),
            _ => Some(Action::ToggleHelp),
        };
    }
    if let Some(action) = keymap.lookup(Scope::Global, &key, typing) {
        return Some(action);
    }
    if typing {
        if let Some(action) = keymap.lookup(Scope::Input, &key, true) {
            return Some(action);
        }
        return match key.code {
            KeyCode::Char(c) if !key.modifiers.intersects(CTRL | ALT) => {
                Some(Action::Insert(c.to_string()))
            }
            _ => None,
        };
    }
    match state.focus {
        Focus::Chat => keymap.lookup(Scope::Chat, &key, false),
        Focus::Settings => keymap.lookup(Scope::Settings, &key, false),
        Focus::Image => keymap.lookup(Scope::Image, &key, false),
        Focus::Input => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebinding_changes_the_keys_and_the_help_label() {
        let mut keymap = Keymap::default();
        keymap.rebind("stop", &["ctrl-g".into()]).unwrap();
        let stop = keymap.bindings.iter().find(|b| b.name == "stop").unwrap();
        assert_eq!(stop.label(), "Ctrl-G");
        assert!(keymap.rebind("frobnicate", &[]).is_err());
    }
}
