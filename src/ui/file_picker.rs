//! The file picker over the chat pane: the folder, its entries (folders end in `/`), the
//! selected one highlighted; the image pane beside it previews the selected image.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::{pane, Theme};
use crate::app::file_picker::{FilePicker, PICKER_KEYS};
use crate::text::one_line;

/// Draws the picker over `area`.
pub fn draw(frame: &mut Frame, area: Rect, picker: &FilePicker, theme: &Theme) {
    frame.render_widget(Clear, area);
    let title = format!(" Attach: {} ", one_line(&picker.dir.display().to_string()));
    let block = pane(title, true, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [body, footer] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(2)]).areas(inner);

    let mut lines: Vec<Line> = Vec::new();
    if let Some(error) = &picker.error {
        lines.push(Line::styled(one_line(error), theme.error));
    }
    if picker.listing.is_some() {
        lines.push(Line::styled("reading…", theme.dim));
    } else if picker.entries.iter().all(|e| e.name == "..") {
        lines.push(Line::styled(
            "No images or clips here (← for the folder above).",
            theme.dim,
        ));
    }
    // Keep the selected line in view.
    let rows = usize::from(body.height).saturating_sub(lines.len()).max(1);
    let first = picker.selected.saturating_sub(rows - 1);
    for (index, entry) in picker.entries.iter().enumerate().skip(first).take(rows) {
        let name = one_line(&entry.name);
        let text = if entry.is_dir {
            format!(" {name}/")
        } else {
            format!(" {name}")
        };
        let style = if index == picker.selected {
            theme.selected
        } else if entry.is_dir {
            theme.dim
        } else {
            theme.text
        };
        lines.push(Line::styled(text, style));
    }
    frame.render_widget(Paragraph::new(lines), body);
    frame.render_widget(
        Paragraph::new(vec![Line::default(), Line::styled(PICKER_KEYS, theme.dim)]),
        footer,
    );
}
