//! One key with its modifiers: matching terminal key events, parsing the config file's key
//! names and printing them for the help.

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A key and its modifiers. Shift is ignored for characters (`G` arrives with or without it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key(pub KeyCode, pub KeyModifiers);

impl Key {
    pub(super) fn matches(&self, event: &KeyEvent) -> bool {
        let mut mods = event.modifiers;
        if matches!(event.code, KeyCode::Char(_) | KeyCode::BackTab) {
            mods.remove(KeyModifiers::SHIFT);
        }
        self.0 == event.code && self.1 == mods
    }

    /// Parses `ctrl-c`, `alt-enter`, `f1`, `pageup`, `shift-tab`, `?`, `G`, …
    pub fn parse(text: &str) -> Result<Key, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (flag, len) = if lower.starts_with("ctrl-") {
                (KeyModifiers::CONTROL, 5)
            } else if lower.starts_with("alt-") {
                (KeyModifiers::ALT, 4)
            } else {
                break;
            };
            mods |= flag;
            rest = &rest[len..];
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "shift-tab" | "backtab" => KeyCode::BackTab,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "space" => KeyCode::Char(' '),
            f if f.len() > 1 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            _ if rest.chars().count() == 1 => KeyCode::Char(rest.chars().next().unwrap_or(' ')),
            _ => return Err(format!("unknown key '{text}'")),
        };
        // Terminals report Ctrl-C as a lower-case `c` with the Ctrl modifier.
        let code = match code {
            KeyCode::Char(c) if !mods.is_empty() => KeyCode::Char(c.to_ascii_lowercase()),
            other => other,
        };
        Ok(Key(code, mods))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1.contains(KeyModifiers::CONTROL) {
            write!(f, "Ctrl-")?;
        }
        if self.1.contains(KeyModifiers::ALT) {
            write!(f, "Alt-")?;
        }
        match self.0 {
            KeyCode::Char(' ') => write!(f, "Space"),
            KeyCode::Char(c) if self.1.contains(KeyModifiers::CONTROL) => {
                write!(f, "{}", c.to_ascii_uppercase())
            }
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::BackTab => write!(f, "Shift-Tab"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_print() {
        for text in ["ctrl-c", "alt-enter", "f1", "pageup", "shift-tab", "?", "G"] {
            let key = Key::parse(text).unwrap();
            assert_eq!(Key::parse(&key.to_string()).unwrap(), key);
        }
        assert!(Key::parse("hyper-x").is_err());
    }
}
