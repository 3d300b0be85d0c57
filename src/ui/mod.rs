//! Drawing: the whole screen is a function of the [`State`] (plus the image pane's encoded
//! picture, which ratatui-image keeps outside the state). One widget per file.

mod chat;
mod chat_list;
mod file_picker;
pub mod help;
mod image;
mod input;
pub mod markdown;
mod settings;
mod status;
pub mod theme;
pub mod wrap;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;
use ratatui_image::thread::ThreadProtocol;

use crate::app::{Focus, State};
pub use theme::Theme;

/// Below this size the layout does not fit; a notice is drawn instead.
pub const MIN_WIDTH: u16 = 40;
/// See [`MIN_WIDTH`].
pub const MIN_HEIGHT: u16 = 10;
/// From this width on, the image and settings panes sit beside the chat.
const SIDEBAR_MIN_WIDTH: u16 = 90;
const SIDEBAR_WIDTH: u16 = 38;

/// Draws one frame. `image` is the encoded picture of the image pane, if any.
pub fn draw(frame: &mut Frame, state: &State, theme: &Theme, image: Option<&mut ThreadProtocol>) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(frame, area, theme);
        return;
    }
    let [main, status_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    let input_height = input::height(state, main.height);
    let (left, sidebar) = if main.width >= SIDEBAR_MIN_WIDTH {
        let [left, side] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(SIDEBAR_WIDTH)])
                .areas(main);
        (left, Some(side))
    } else {
        (main, None)
    };
    let [upper, input_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(input_height)]).areas(left);

    match sidebar {
        Some(side) => {
            let settings_height = settings::height().min(side.height / 2 + 4);
            let [image_area, settings_area] =
                Layout::vertical([Constraint::Fill(1), Constraint::Length(settings_height)])
                    .areas(side);
            chat::draw(frame, upper, state, theme);
            image::draw(frame, image_area, state, theme, image);
            settings::draw(frame, settings_area, state, theme);
        }
        // Narrow: the focused side pane takes the chat's place.
        None => match state.focus {
            Focus::Settings => settings::draw(frame, upper, state, theme),
            Focus::Image => image::draw(frame, upper, state, theme, image),
            Focus::Input | Focus::Chat => chat::draw(frame, upper, state, theme),
        },
    }
    input::draw(frame, input_area, state, theme);
    status::draw(frame, status_area, state, theme);
    if let Some(picker) = &state.file_picker {
        // Over the chat pane, so that the image pane beside it shows the preview.
        file_picker::draw(frame, left, picker, theme);
    }
    if let Some(list) = &state.chat_list {
        chat_list::draw(frame, main, list, &state.chat.id, theme);
    }
    if state.help_open {
        help::draw(frame, area, &state.keymap, theme);
    }
}

/// A bordered block, highlighted when its pane has the focus.
fn pane<'a>(title: impl Into<Line<'a>>, focused: bool, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .title(title.into().style(theme.title))
        .border_style(if focused {
            theme.border_focused
        } else {
            theme.border
        })
}

fn draw_too_small(frame: &mut Frame, area: Rect, theme: &Theme) {
    let text = format!(
        "Terminal too small: vchat needs at least {MIN_WIDTH}×{MIN_HEIGHT} (now {}×{}). \
         Enlarge the window; Ctrl-C twice quits.",
        area.width, area.height
    );
    frame.render_widget(
        Paragraph::new(text)
            .style(theme.notice)
            .wrap(Wrap { trim: true })
            .block(Block::new().style(Style::new())),
        area,
    );
}

/// The last part of a path, URL or hub id: `llava-hf/llava-1.5-7b-hf` → `llava-1.5-7b-hf`;
/// short enough for titles and the status bar.
pub(crate) fn short_model_name(model: &str) -> String {
    let trimmed = model.trim_end_matches('/');
    crate::text::one_line(trimmed.rsplit('/').next().unwrap_or(trimmed))
}
