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
    let (label, label_style) = state_label(state, theme);
    let mut spans = vec![Span::styled(format!(" {label} "), label_style)];
    if let Some(notice) = &state.notice {
        let style = if notice.is_error {
            theme.status.patch(theme.error)
        } else {
            theme.status
        };
        spans.push(Span::styled(format!("│ {} ", notice.text), style));
    }
    // Settings first: they change with the panel and must stay visible on narrow screens.
    let mut facts = vec![
        settings_brief(state),
        format!("{model} · {device} · {quantization}"),
    ];
    if let Some(stats) = &state.last_stats {
        facts.push(format!(
            "first token {:.2} s · {:.1} tok/s",
            stats.time_to_first_token.as_secs_f64(),
            stats.tokens_per_second
        ));
    }
    facts.push(format!("ctx ≈{} tok", state.context_tokens()));
    spans.push(Span::styled(
        format!("│ {} ", facts.join(" │ ")),
        theme.status,
    ));
    frame.render_widget(Paragraph::new(Line::from(spans)).style(theme.status), area);
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
