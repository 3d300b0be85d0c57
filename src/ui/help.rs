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

/// Draws the overlay centred in `area`: one column when it fits the height, else two
/// (split at a heading), so that every key and command stays visible on a normal terminal.
pub fn draw(frame: &mut Frame, area: Rect, keymap: &Keymap, theme: &Theme) {
    let rows = help_rows(keymap);
    let max_height = usize::from(area.height.saturating_sub(4));
    let two_columns = rows.len() > max_height && area.width >= 110;
    let columns: Vec<&[(String, String)]> = if two_columns {
        let split = split_at_heading(&rows);
        vec![&rows[..split], &rows[split..]]
    } else {
        vec![&rows[..]]
    };
    let width = if two_columns {
        area.width.saturating_sub(4)
    } else {
        area.width.saturating_sub(4).min(100)
    };
    let column_width = width.saturating_sub(2) / columns.len() as u16;
    let columns: Vec<Vec<Line>> = columns
        .iter()
        .map(|rows| column_lines(rows, column_width, theme))
        .collect();
    let tallest = columns.iter().map(Vec::len).max().unwrap_or(0);
    let height = (tallest as u16 + 2).min(area.height.saturating_sub(2));
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(popup);
    frame.render_widget(Clear, popup);
    let block = pane(" Help — any key closes ", true, theme);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let areas = Layout::horizontal(vec![Constraint::Fill(1); columns.len()]).split(inner);
    for (lines, column_area) in columns.into_iter().zip(areas.iter()) {
        frame.render_widget(Paragraph::new(lines), *column_area);
    }
}

/// The index of the heading closest to the middle of `rows`.
fn split_at_heading(rows: &[(String, String)]) -> usize {
    let middle = rows.len() / 2;
    rows.iter()
        .enumerate()
        .filter(|(_, (_, description))| description.is_empty())
        .map(|(i, _)| i)
        .min_by_key(|&i| i.abs_diff(middle))
        .unwrap_or(middle)
}

fn column_lines(rows: &[(String, String)], width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let key_width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(10)
        + 2;
    // Descriptions wrap under themselves (a hanging indent), so nothing is cut off.
    let text_width = usize::from(width).saturating_sub(key_width + 2).max(12);
    let mut lines = Vec::new();
    for (key, description) in rows {
        if description.is_empty() {
            lines.push(Line::styled(key.clone(), theme.title));
            continue;
        }
        for (i, part) in word_wrap(description, text_width).into_iter().enumerate() {
            let key = if i == 0 { key.as_str() } else { "" };
            lines.push(Line::from(vec![
                Span::styled(format!("  {key:<key_width$}"), theme.user),
                Span::raw(part),
            ]));
        }
    }
    lines
}

/// Greedy word wrap at `width` characters (a word longer than that gets a line of its own).
fn word_wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}
