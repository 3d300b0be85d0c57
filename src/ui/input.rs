//! The input editor at the bottom of the chat.

use ratatui::layout::{Position, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{pane, Theme};
use crate::app::{Focus, Generation, State};
use crate::ui::wrap::width;

/// Most text lines shown before the editor scrolls.
const MAX_LINES: usize = 6;

/// Rows the input pane takes (borders included), given the rows available.
pub fn height(state: &State, available: u16) -> u16 {
    let lines = state.input.lines().len().clamp(1, MAX_LINES) as u16;
    (lines + 2).min(available / 2)
}

/// Draws the input into `area` and places the terminal cursor in it when focused.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let focused = state.focus == Focus::Input && state.panel.editing.is_none();
    let title = match (&state.generation, state.pending_images.as_slice()) {
        (Generation::Queued, _) => " Message (queued until the model is loaded) ".to_string(),
        (_, []) => " Message ".to_string(),
        (_, [image]) => format!(
            " Message (with image {}) ",
            super::short_model_name(&image.label)
        ),
        (_, [.., last]) => format!(
            " Message (with {} images, the last {}) ",
            state.pending_images.len(),
            super::short_model_name(&last.label)
        ),
    };
    let mut block = pane(title, focused, theme);
    if let Some(error) = &state.input_error {
        block = block.title_bottom(Line::styled(format!(" {error} "), theme.error));
    } else if focused {
        block = block.title_bottom(Line::styled(
            " Enter send · Alt-Enter newline · /help ",
            theme.dim,
        ));
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let (row, col) = state.input.cursor();
    let visible = usize::from(inner.height);
    let first = (row + 1).saturating_sub(visible);
    if state.input.is_empty() && !focused {
        frame.render_widget(Paragraph::new("Tab here to type").style(theme.dim), inner);
        return;
    }
    let line = &state.input.lines()[row];
    let before: String = line.chars().take(col).collect();
    let cursor_x = width(&before);
    // Long lines scroll horizontally so the cursor stays visible.
    let shift = (cursor_x + 1).saturating_sub(usize::from(inner.width));
    let lines: Vec<Line> = state.input.lines()[first..]
        .iter()
        .take(visible)
        .map(|l| Line::raw(crate::text::sanitize(l)))
        .collect();
    frame.render_widget(Paragraph::new(lines).scroll((0, shift as u16)), inner);
    if focused && !state.help_open {
        frame.set_cursor_position(Position::new(
            inner.x + (cursor_x - shift) as u16,
            inner.y + (row - first) as u16,
        ));
    }
}
