//! The chat pane: turns and streaming answers, drawn from the bottom up so that a frame only
//! wraps the entries it shows.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::markdown::Mark;
use super::{pane, Theme};
use crate::app::{ChatEntry, EntryKind, Focus, ModelStatus, State};
use crate::text::one_line;

/// Draws the chat into `area`.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let title = if state.scroll > 0 {
        format!(" Chat (scrolled up {} lines; End returns) ", state.scroll)
    } else {
        " Chat ".to_string()
    };
    let block = pane(title, state.focus == Focus::Chat, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    state.chat_viewport.set((inner.width, inner.height));
    if state.chat_is_empty() {
        frame.render_widget(
            Paragraph::new(empty_hint(state))
                .style(theme.dim)
                .wrap(ratatui::widgets::Wrap { trim: true }),
            inner,
        );
        return;
    }
    let lines = visible_lines(state, inner.width, usize::from(inner.height), theme);
    frame.render_widget(Paragraph::new(lines), inner);
}

fn empty_hint(state: &State) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if let ModelStatus::Loading { stage, fraction } = &state.model {
        lines.push(Line::from(format!(
            "Loading the model ({:.0}%): {}. You can type already; the message waits.",
            fraction * 100.0,
            one_line(stage)
        )));
    }
    lines.push(Line::from("Ask something about the image and press Enter."));
    if state.pending_images.is_empty() {
        lines.push(Line::from("Attach an image with /image PATH or URL."));
    }
    lines.push(Line::from("Tab moves between panes; F1 shows every key."));
    lines
}

/// The lines on screen: `height` lines ending `state.scroll` lines above the bottom.
fn visible_lines(state: &State, width: u16, height: usize, theme: &Theme) -> Vec<Line<'static>> {
    let wanted = height + state.scroll;
    let mut reversed: Vec<Line<'static>> = Vec::with_capacity(wanted);
    for entry in state.entries_from_bottom() {
        let needed = wanted - reversed.len();
        let mut lines = entry_lines(&entry, width, theme, needed);
        lines.reverse();
        reversed.extend(lines);
        if reversed.len() >= wanted {
            break;
        }
    }
    // Drop the lines below the window, then keep `height` lines.
    let below = state.scroll.min(reversed.len());
    let mut shown: Vec<Line<'static>> = reversed.into_iter().skip(below).take(height).collect();
    shown.reverse();
    shown
}

/// The last `needed` (at least one) screen lines of an entry: a header, the body, the stats
/// line when done, and a blank line. Only those are styled: a long answer that streams is
/// mostly above the window.
fn entry_lines(entry: &ChatEntry, width: u16, theme: &Theme, needed: usize) -> Vec<Line<'static>> {
    let body = entry.body_lines(width);
    let total = 2 + body.len() + usize::from(entry.stats.is_some());
    // Lines above the window: the header is line 0, the body starts at line 1.
    let skip = total.saturating_sub(needed);
    let mut lines = Vec::with_capacity(total - skip);
    if skip == 0 {
        lines.push(entry_header(entry, theme));
    }
    let body_style = if entry.kind == EntryKind::Notice {
        theme.notice
    } else {
        theme.text
    };
    let shown_body = &body[skip.saturating_sub(1).min(body.len())..];
    lines.extend(shown_body.iter().map(|line| {
        Line::from(
            line.iter()
                .map(|seg| Span::styled(seg.text.clone(), mark_style(seg.mark, body_style, theme)))
                .collect::<Vec<_>>(),
        )
    }));
    if let Some(stats) = entry.stats {
        if skip <= 1 + body.len() {
            lines.push(Line::styled(stats.summary(), theme.dim));
        }
    }
    lines.push(Line::default());
    lines
}

/// `You #2  [image: cat.png]`, `Assistant #2  …` while it streams.
fn entry_header(entry: &ChatEntry, theme: &Theme) -> Line<'static> {
    let (name, style) = match entry.kind {
        EntryKind::User => ("You", theme.user),
        EntryKind::Assistant => ("Assistant", theme.assistant),
        EntryKind::Notice => ("vchat", theme.notice),
        EntryKind::Prompt => ("Prompt, as the model sees it", theme.dim),
    };
    let mut header = vec![Span::styled(name.to_string(), style)];
    if let Some(number) = entry.number {
        // The number that /edit N and /copy N take.
        header.push(Span::styled(format!(" #{number}"), theme.dim));
    }
    if let Some((shown, versions)) = entry.version {
        // Another version is a key away (Alt-Left/Alt-Right).
        header.push(Span::styled(format!(" ‹{shown}/{versions}›"), theme.title));
    }
    let labels: Vec<String> = entry.images.iter().map(|i| one_line(&i.label)).collect();
    match labels.as_slice() {
        [] => {}
        [label] => header.push(Span::styled(format!("  [image: {label}]"), theme.dim)),
        several => header.push(Span::styled(
            format!("  [images: {}]", several.join(", ")),
            theme.dim,
        )),
    }
    if entry.streaming {
        header.push(Span::styled("  …".to_string(), theme.dim));
    }
    Line::from(header)
}

/// The style of a Markdown mark, on top of the entry's body style.
fn mark_style(mark: Mark, body: Style, theme: &Theme) -> Style {
    match mark {
        Mark::Plain => body,
        Mark::Bold => body.add_modifier(Modifier::BOLD),
        Mark::Italic => body.add_modifier(Modifier::ITALIC),
        Mark::Code | Mark::CodeBlock => theme.code,
        Mark::ListMarker => theme.assistant,
    }
}
