//! The one place that says which key does what. Key handling and the help overlay both read
//! [`BINDINGS`], so the help never drifts from the behaviour.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

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
}

impl Scope {
    /// A heading for the help overlay.
    pub fn title(self) -> &'static str {
        match self {
            Self::Global => "Everywhere",
            Self::Input => "Input",
            Self::Chat => "Chat pane",
            Self::Settings => "Settings panel",
        }
    }
}

/// A key and its modifiers.
#[derive(Debug, Clone, Copy)]
pub struct Key(pub KeyCode, pub KeyModifiers);

const NONE: KeyModifiers = KeyModifiers::NONE;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;
const ALT: KeyModifiers = KeyModifiers::ALT;

/// One entry of the keymap.
#[derive(Debug, Clone)]
pub struct Binding {
    pub scope: Scope,
    /// How the keys are written in the help.
    pub label: &'static str,
    pub description: &'static str,
    pub keys: &'static [Key],
    pub action: fn() -> Action,
}

macro_rules! bind {
    ($scope:ident, $label:expr, $desc:expr, [$($code:expr, $mods:expr);+], $action:expr) => {
        Binding {
            scope: Scope::$scope,
            label: $label,
            description: $desc,
            keys: &[$(Key($code, $mods)),+],
            action: || $action,
        }
    };
}

use KeyCode::*;

/// Every key binding, in the order the help shows them.
pub const BINDINGS: &[Binding] = &[
    bind!(
        Global,
        "Ctrl-C",
        "stop the answer; press twice to quit",
        [Char('c'), CTRL],
        Action::Interrupt
    ),
    bind!(
        Global,
        "Esc",
        "stop the answer (keeps the text) / close",
        [Esc, NONE],
        Action::Stop
    ),
    bind!(Global, "Tab / Shift-Tab", "next / previous pane (after /image: complete the path)", [Tab, NONE; BackTab, KeyModifiers::SHIFT; BackTab, NONE], Action::FocusNext),
    bind!(
        Global,
        "F1, ? (outside the input)",
        "show or hide this help",
        [F(1), NONE],
        Action::ToggleHelp
    ),
    bind!(
        Global,
        "PageUp / PageDown",
        "scroll the chat a page",
        [PageUp, NONE],
        Action::PageUp
    ),
    bind!(Global, "", "", [PageDown, NONE], Action::PageDown),
    bind!(
        Input,
        "Enter",
        "send the message or run the command",
        [Enter, NONE],
        Action::Submit
    ),
    bind!(Input, "Alt-Enter / Ctrl-J", "new line", [Enter, ALT; Char('j'), CTRL; Enter, KeyModifiers::SHIFT], Action::Newline),
    bind!(
        Input,
        "Up / Down",
        "move between lines; on the first/last line: prompt history",
        [Up, NONE],
        Action::Up
    ),
    bind!(Input, "", "", [Down, NONE], Action::Down),
    bind!(
        Input,
        "Left / Right",
        "move the cursor",
        [Left, NONE],
        Action::Left
    ),
    bind!(Input, "", "", [Right, NONE], Action::Right),
    bind!(Input, "Home / Ctrl-A", "start of line", [Home, NONE; Char('a'), CTRL], Action::Home),
    bind!(Input, "End / Ctrl-E", "end of line", [End, NONE; Char('e'), CTRL], Action::End),
    bind!(
        Input,
        "Backspace / Delete",
        "delete a character",
        [Backspace, NONE],
        Action::Backspace
    ),
    bind!(Input, "", "", [Delete, NONE], Action::Delete),
    bind!(
        Input,
        "Ctrl-U",
        "delete to the start of the line",
        [Char('u'), CTRL],
        Action::KillToStart
    ),
    bind!(Input, "Ctrl-W", "delete the word before the cursor", [Char('w'), CTRL; Backspace, ALT], Action::DeleteWord),
    bind!(Chat, "k / Up", "scroll up a line", [Char('k'), NONE; Up, NONE], Action::ScrollUp(1)),
    bind!(Chat, "j / Down", "scroll down a line", [Char('j'), NONE; Down, NONE], Action::ScrollDown(1)),
    bind!(Chat, "G / End", "back to the end; follow the answer", [Char('G'), NONE; Char('G'), KeyModifiers::SHIFT; End, NONE], Action::ScrollToBottom),
    bind!(Settings, "Up / Down, k / j", "select a setting", [Up, NONE; Char('k'), NONE], Action::SettingPrev),
    bind!(Settings, "", "", [Down, NONE; Char('j'), NONE], Action::SettingNext),
    bind!(Settings, "Left / Right, - / +", "change the value a step", [Left, NONE; Char('-'), NONE; Char('h'), NONE], Action::SettingDecrease),
    bind!(Settings, "", "", [Right, NONE; Char('+'), NONE; Char('+'), KeyModifiers::SHIFT; Char('='), NONE; Char('l'), NONE], Action::SettingIncrease),
    bind!(
        Settings,
        "Enter",
        "type an exact value (Enter applies, Esc cancels)",
        [Enter, NONE],
        Action::SettingEdit
    ),
];

fn matches(binding: &Binding, key: &KeyEvent) -> bool {
    binding
        .keys
        .iter()
        .any(|k| k.0 == key.code && k.1 == key.modifiers)
}

fn lookup(scope: Scope, key: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|b| b.scope == scope)
        .find(|b| matches(b, key))
        .map(|b| (b.action)())
}

/// The action for a key press in the current state, if any.
pub fn resolve(state: &State, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if state.help_open {
        // Any key closes the help, but Ctrl-C keeps its meaning.
        return Some(lookup(Scope::Global, &key).unwrap_or(Action::ToggleHelp)).map(|a| match a {
            Action::Interrupt => a,
            _ => Action::ToggleHelp,
        });
    }
    if key.code == BackTab {
        return Some(Action::FocusPrev);
    }
    if let Some(action) = lookup(Scope::Global, &key) {
        return Some(action);
    }
    let typing = state.focus == Focus::Input || state.panel.editing.is_some();
    if typing {
        if let Some(action) = lookup(Scope::Input, &key) {
            return Some(action);
        }
        return match key.code {
            Char(c) if !key.modifiers.intersects(CTRL | ALT) => Some(Action::Insert(c.to_string())),
            _ => None,
        };
    }
    if key.code == Char('?') {
        return Some(Action::ToggleHelp);
    }
    match state.focus {
        Focus::Chat => lookup(Scope::Chat, &key),
        Focus::Settings => lookup(Scope::Settings, &key),
        Focus::Image | Focus::Input => None,
    }
}
