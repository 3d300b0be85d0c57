//! The settings panel: sampling settings and the system prompt (editable), and what was loaded
//! (read-only).

use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{pane, Theme};
use crate::app::settings_panel::{self, row_count, rows};
use crate::app::{Focus, ModelStatus, State};
use crate::text::one_line;

/// Rows the panel wants: borders, the settings, a gap, three read-only facts, a hint line.
pub fn height() -> u16 {
    (row_count() + 2 + 1 + 3 + 3) as u16
}

/// Draws the panel into `area`.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let focused = state.focus == Focus::Settings;
    let block = pane(" Settings ", focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let label_width = 20;
    let mut lines: Vec<Line> = Vec::new();
    let mut cursor = None;
    for (index, name) in rows().enumerate() {
        let selected = focused && index == state.panel.selected;
        // A marker as well as the colour, so the selection shows on any theme.
        let marker = if selected { '›' } else { ' ' };
        let label = format!("{marker}{name:<w$}", w = label_width - 1);
        let value = match (&state.panel.editing, selected) {
            (Some(editor), true) => {
                let (_, col) = editor.cursor();
                cursor = Some((label_width + col, index));
                editor.text()
            }
            _ if name == settings_panel::MODEL_ROW => {
                super::short_model_name(&state.model_in_use())
            }
            _ => one_line(&settings_panel::value_text(
                &state.settings,
                state.conversation.system_prompt.as_deref(),
                &state.model_in_use(),
                name,
            )),
        };
        let style = if selected { theme.selected } else { theme.text };
        lines.push(Line::from(vec![
            Span::styled(label, theme.dim),
            Span::styled(value, style),
        ]));
    }
    lines.push(Line::default());
    for (label, value) in read_only_facts(state) {
        lines.push(Line::from(vec![
            Span::styled(format!(" {label:<w$}", w = label_width - 1), theme.dim),
            Span::styled(one_line(&value), theme.dim),
        ]));
    }
    if let Some(error) = &state.panel.error {
        lines.push(Line::styled(error.clone(), theme.error));
    } else if focused {
        let name = state.panel.selected_name();
        lines.push(Line::styled(settings_panel::hint(name), theme.dim));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    if let (Some((x, y)), true) = (cursor, !state.help_open) {
        if x < usize::from(inner.width) && y < usize::from(inner.height) {
            frame.set_cursor_position(Position::new(inner.x + x as u16, inner.y + y as u16));
        }
    }
}

fn read_only_facts(state: &State) -> Vec<(&'static str, String)> {
    match &state.model {
        ModelStatus::Ready(info) => vec![
            ("device", info.device.clone()),
            ("dtype", info.dtype.clone()),
            ("quantization", info.quantization.clone()),
        ],
        _ => vec![
            ("device", state.start.device.clone()),
            ("dtype", state.start.dtype.clone()),
            ("quantization", state.start.quantization.clone()),
        ],
    }
}
