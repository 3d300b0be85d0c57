//! The saved-chats overlay: one line per chat (title, turns, last saved), the selected one
//! highlighted; rename and delete prompts in its footer.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::{pane, Theme};
use crate::app::chat_list::{ChatList, LIST_KEYS};
use crate::text::one_line;

/// Draws the list over `area`.
pub fn draw(frame: &mut Frame, area: Rect, list: &ChatList, current_id: &str, theme: &Theme) {
    frame.render_widget(Clear, area);
    let block = pane(" Saved chats ", true, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [body, footer] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(2)]).areas(inner);

    let mut lines: Vec<Line> = list
        .problems
        .iter()
        .map(|p| Line::styled(one_line(p), theme.error))
        .collect();
    if !list.loaded {
        lines.push(Line::styled("reading…", theme.dim));
    } else if list.chats.is_empty() {
        lines.push(Line::styled(
            "No saved chats yet: every chat is saved as soon as it has a message.",
            theme.dim,
        ));
    }
    // Keep the selected line in view.
    let rows = usize::from(body.height).saturating_sub(lines.len()).max(1);
    let first = list.selected.saturating_sub(rows - 1);
    for (index, chat) in list.chats.iter().enumerate().skip(first).take(rows) {
        let updated = chat.last_saved();
        let marker = if chat.id == current_id { "●" } else { " " };
        let text = format!(
            "{marker} {updated}  {:>5} turns  {}  ({})",
            chat.turn_count,
            one_line(&chat.title),
            chat.id
        );
        let style = if index == list.selected {
            theme.selected
        } else {
            theme.text
        };
        lines.push(Line::styled(text, style));
    }
    frame.render_widget(Paragraph::new(lines), body);

    let prompt = if let Some(editor) = &list.renaming {
        Line::from(vec![
            Span::styled("New title: ", theme.title),
            Span::raw(one_line(&editor.text())),
            Span::styled("▏  Enter renames, Esc cancels", theme.dim),
        ])
    } else if list.confirm_delete {
        Line::styled(
            "Delete this chat? y deletes, any other key keeps it",
            theme.error,
        )
    } else {
        Line::styled(LIST_KEYS, theme.dim)
    };
    frame.render_widget(Paragraph::new(vec![Line::default(), prompt]), footer);
}
