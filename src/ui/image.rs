//! The image pane: the chat's current image, encoded off the UI thread by ratatui-image.

use ratatui::layout::Rect;
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use ratatui_image::thread::ThreadProtocol;
use ratatui_image::{Resize, StatefulImage};

use super::{pane, Theme};
use crate::app::{Focus, State};
use crate::text::one_line;

/// Draws the pane into `area`.
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    theme: &Theme,
    image: Option<&mut ThreadProtocol>,
) {
    let title = match &state.shown_image {
        Some(shown) => format!(" Image: {} ", super::short_model_name(&shown.label)),
        None => " Image ".to_string(),
    };
    let block = pane(title, state.focus == Focus::Image, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if let Some((_, source)) = &state.image_loading {
        let text = format!("loading {}…", one_line(source));
        frame.render_widget(Paragraph::new(text).style(theme.dim), inner);
        return;
    }
    match (&state.shown_image, image) {
        (Some(_), Some(protocol)) => {
            // Fit keeps the aspect ratio; the encoding happens on the resize thread.
            frame.render_stateful_widget(
                StatefulImage::<ThreadProtocol>::default().resize(Resize::Fit(None)),
                inner,
                protocol,
            );
        }
        (Some(shown), None) => {
            let (w, h) = (shown.pixels.width(), shown.pixels.height());
            frame.render_widget(
                Paragraph::new(format!("{w}×{h} image")).style(theme.dim),
                inner,
            );
        }
        (None, _) => frame.render_widget(
            Paragraph::new("No image. Attach one with /image PATH or URL.")
                .style(theme.dim)
                .wrap(ratatui::widgets::Wrap { trim: true }),
            inner,
        ),
    }
}
