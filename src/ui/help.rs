//! The help overlay, generated from the keymap and the command list.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::{pane, Theme};
use crate::app::commands::COMMANDS;
use crate::app::keymap::{Keymap, Scope};

/// The help text as (key, description) rows under headings; also used for the README.
pub fn help_rows(keymap: &Keymap) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for scope in [
        Scope::Global,
        Scope::Input,
        Scope::Chat,
        Scope::Settings,
        Scope::Image,
    ] {
        rows.push((scope.title().to_string(), String::new()));
        for binding in keymap.bindings.iter().filter(|b| b.scope == scope) {
            rows.push((binding.label(), binding.description.to_string()));
        }
    }
    rows.push(("Commands".to_string(), String::new()));
    for (command, description) in COMMANDS {
        rows.push((command.to_string(), description.to_string()));
    }
    rows
}

/// The keys and commands as a Markdown table, for the README (a test keeps them in step).
pub fn keys_markdown(keymap: &Keymap) -> String {
    let mut out = String::from("| keys | what they do |\n|---|---|\n");
    for (key, description) in help_rows(keymap) {
        if description.is_empty() {
            out.push_str(&format!("| **{key}** | |\n"));
        } else {
            let key = key.replace('|', "\\|");
            out.push_str(&format!("| `{key}` | {description} |\n"));
        }
    }
    out
}

/// Draws the overlay centred in `area`.
pub fn draw(frame: &mut Frame, area: Rect, keymap: &Keymap, theme: &Theme) {
    let rows = help_rows(keymap);
    let key_width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(10) + 2;
    let lines: Vec<Line> = rows
        .into_iter()
        .map(|(key, description)| {
            if description.is_empty() {
                Line::styled(key, theme.title)
            } else {
                Line::from(vec![
                    Span::styled(format!("  {key:<key_width$}"), theme.user),
                    Span::raw(description),
                ])
            }
        })
        .collect();
    let width = area.width.saturating_sub(4).min(100);
    let height = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(popup);
    frame.render_widget(Clear, popup);
    let block = pane(" Help — any key closes ", true, theme);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
