//! The status bar: model, state, the last answer's speed, context used, current settings and
//! the latest notice.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::Theme;
use crate::app::{Generation, ModelStatus, State};
use crate::text::one_line;

/// Draws the bar into `area` (one row).
pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let (model, device, quantization) = match &state.model {
        ModelStatus::Ready(info) => (&info.model, &info.device, &info.quantization),
        _ => (
            &state.start.model,
            &state.start.device,
            &state.start.quantization,
        ),
    };
    let model = super::short_model_name(model);
    let width = usize::from(area.width);
    let (label, label_style) = state_label(state, theme);
    // The state comes first and goes last: a long one (a download's progress) is cut at a
    // word only when nothing else is left to drop.
    let label = fit_words(&label, width.saturating_sub(2));
    let label = Span::styled(format!(" {label} "), label_style);
    // The facts in the order shown, each with the rank at which it goes when the bar is too
    // narrow (highest first): the settings change with the panel and stay longest.
    let mut facts = vec![(1, settings_brief(state))];
    facts.push((3, format!("{model} · {device} · {quantization}")));
    if let Some(stats) = &state.last_stats {
        facts.push((
            4,
            format!(
                "first token {:.2} s · {:.1} tok/s",
                stats.time_to_first_token.as_secs_f64(),
                stats.tokens_per_second
            ),
        ));
    }
    facts.push((2, format!("ctx ≈{} tok", state.context_tokens())));

    let facts_text = |facts: &[(u8, String)]| {
        let shown: Vec<&str> = facts.iter().map(|(_, text)| text.as_str()).collect();
        if shown.is_empty() {
            String::new()
        } else {
            format!("│ {} ", shown.join(" │ "))
        }
    };
    let notice_width = state
        .notice
        .as_ref()
        .map_or(0, |n| Span::raw(format!("│ {} ", n.text)).width());
    while !facts.is_empty()
        && label.width() + notice_width + Span::raw(facts_text(&facts)).width() > width
    {
        let dropped = facts
            .iter()
            .enumerate()
            .max_by_key(|(_, (rank, _))| *rank)
            .map(|(i, _)| i)
            .unwrap_or(0);
        facts.remove(dropped);
    }

    let label_width = label.width();
    let mut spans = vec![label];
    if let Some(notice) = &state.notice {
        let style = if notice.is_error {
            theme.status.patch(theme.error)
        } else {
            theme.status
        };
        // A notice longer than the room left is cut at a word, with an ellipsis.
        // The room left after the label and the notice's "│ " and trailing space.
        let room = width.saturating_sub(label_width + 3);
        spans.push(Span::styled(
            format!("│ {} ", fit_words(&notice.text, room)),
            style,
        ));
    }
    spans.push(Span::styled(facts_text(&facts), theme.status));
    frame.render_widget(Paragraph::new(Line::from(spans)).style(theme.status), area);
}

/// `text` if it fits in `width` columns, else its words up to the last one that fits with "…".
fn fit_words(text: &str, width: usize) -> String {
    if Span::raw(text).width() <= width {
        return text.to_string();
    }
    let mut fitted = String::new();
    for word in text.split(' ') {
        let candidate = if fitted.is_empty() {
            word.to_string()
        } else {
            format!("{fitted} {word}")
        };
        if Span::raw(format!("{candidate}…")).width() > width {
            break;
        }
        fitted = candidate;
    }
    format!("{fitted}…")
}

fn state_label(state: &State, theme: &Theme) -> (String, ratatui::style::Style) {
    let busy = theme.status.patch(theme.notice);
    match (&state.model, &state.generation) {
        (ModelStatus::Failed(_), _) => (
            "error: model not loaded".into(),
            theme.status.patch(theme.error),
        ),
        (ModelStatus::Loading { stage, fraction }, _) => (
            format!("loading {:>3.0}% {}", fraction * 100.0, one_line(stage)),
            busy,
        ),
        (_, Generation::Running { .. }) => {
            (format!("generating {} tok", state.streamed_tokens()), busy)
        }
        _ => ("ready".into(), theme.status),
    }
}

/// The settings that most change an answer, compactly.
fn settings_brief(state: &State) -> String {
    let s = &state.settings;
    if s.is_greedy() {
        format!("greedy · max {}", s.max_new_tokens)
    } else {
        format!(
            "temp {} · top_p {} · max {}",
            s.temperature, s.top_p, s.max_new_tokens
        )
    }
}
