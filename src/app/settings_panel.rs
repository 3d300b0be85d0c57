//! The settings panel's state: which row is selected, stepping values, typing an exact value.
//! Values go through [`SamplingSettings::set`], so the panel, `/set` and the command line
//! accept and refuse the same things with the same messages.

use super::input::InputEditor;
use crate::sampling::{allowed_range, SamplingSettings, SETTING_NAMES};

/// The row that edits the system prompt, after the sampling settings.
pub const SYSTEM_ROW: &str = "system prompt";

/// The row that switches the model (as `/model` does), after the system prompt.
pub const MODEL_ROW: &str = "model";

/// All rows of the panel, in order.
pub fn rows() -> impl Iterator<Item = &'static str> {
    SETTING_NAMES.iter().copied().chain([SYSTEM_ROW, MODEL_ROW])
}

/// Number of rows.
pub fn row_count() -> usize {
    SETTING_NAMES.len() + 2
}

/// The panel's own state.
#[derive(Debug, Clone, Default)]
pub struct SettingsPanel {
    /// Index into [`rows`].
    pub selected: usize,
    /// Some while an exact value is being typed (after Enter).
    pub editing: Option<InputEditor>,
    /// The last refusal, shown under the panel until the next change.
    pub error: Option<String>,
}

impl SettingsPanel {
    /// The selected row's name.
    pub fn selected_name(&self) -> &'static str {
        rows().nth(self.selected).unwrap_or(SYSTEM_ROW)
    }

    /// Moves the selection, wrapping around.
    pub fn move_by(&mut self, delta: isize) {
        let n = row_count() as isize;
        self.selected = (self.selected as isize + delta).rem_euclid(n) as usize;
        self.error = None;
    }
}

/// The value one step up (`up`) or down from the current one, as text for `set`. Steps are
/// chosen so that a few presses make a visible difference.
pub fn stepped_value(settings: &SamplingSettings, name: &str, up: bool) -> Option<String> {
    let sign = if up { 1.0 } else { -1.0 };
    let round = |v: f64| format!("{}", (v * 100.0).round() / 100.0);
    Some(match name {
        "temperature" => round(settings.temperature + sign * 0.1),
        "top_p" => round(settings.top_p + sign * 0.05),
        "min_p" => round(settings.min_p + sign * 0.01),
        "repetition_penalty" => round(f64::from(settings.repetition_penalty) + sign * 0.05),
        "top_k" => step_whole(settings.top_k as i64, 1, up),
        "max_tokens" => {
            // Doubling and halving reach both 16 and 4096 in a few presses.
            let v = settings.max_new_tokens as i64;
            if up {
                (v * 2).to_string()
            } else {
                (v / 2).to_string()
            }
        }
        "seed" => match (settings.seed, up) {
            (None, _) => "0".into(),
            (Some(0), false) => "random".into(),
            (Some(s), true) => s.saturating_add(1).to_string(),
            (Some(s), false) => (s - 1).to_string(),
        },
        "sampling" => (if settings.do_sample { "off" } else { "on" }).into(),
        _ => return None,
    })
}

fn step_whole(value: i64, step: i64, up: bool) -> String {
    (if up { value + step } else { value - step }).to_string()
}

/// The panel's text for a row's value.
pub fn value_text(
    settings: &SamplingSettings,
    system: Option<&str>,
    model: &str,
    name: &str,
) -> String {
    match name {
        SYSTEM_ROW => system.unwrap_or("(none)").to_string(),
        MODEL_ROW => model.to_string(),
        _ => settings.get(name).unwrap_or_default(),
    }
}

/// The allowed range of a row, for hints.
pub fn hint(name: &str) -> &'static str {
    match name {
        MODEL_ROW => "a hub id or a folder: Enter loads it, the chat goes on",
        _ => allowed_range(name).unwrap_or("any text; empty clears it"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_and_toggle() {
        let s = SamplingSettings::default();
        assert_eq!(stepped_value(&s, "temperature", true).unwrap(), "0.3");
        assert_eq!(stepped_value(&s, "sampling", true).unwrap(), "off");
        assert_eq!(stepped_value(&s, "seed", false).unwrap(), "0");
        assert_eq!(stepped_value(&s, "max_tokens", false).unwrap(), "512");
    }

    #[test]
    fn selection_wraps() {
        let mut p = SettingsPanel::default();
        p.move_by(-1);
        assert_eq!(p.selected_name(), MODEL_ROW);
        p.move_by(-1);
        assert_eq!(p.selected_name(), SYSTEM_ROW);
    }
}
