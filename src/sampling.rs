//! Sampling settings: what the user controls about how an answer is generated.
//!
//! Every setting has one name, one allowed range and one parser, shared by the command line,
//! (later) the `/set` command and the settings panel, so a value refused in one place is refused
//! everywhere with the same message.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How the next answer is sampled. Defaults follow the article: sampling on, temperature 0.2,
/// up to 1024 new tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplingSettings {
    /// Sampling on; off means greedy decoding (always the most likely token).
    pub do_sample: bool,
    /// Softmax temperature; 0 behaves as greedy.
    pub temperature: f64,
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches this. 1 = off.
    pub top_p: f64,
    /// Keep only the k most likely tokens. 0 = off.
    pub top_k: usize,
    /// Drop tokens whose probability is below this fraction of the most likely one. 0 = off.
    pub min_p: f64,
    /// Upper bound on generated tokens.
    pub max_new_tokens: usize,
    /// Penalise tokens already in the context (as in transformers). 1 = off.
    pub repetition_penalty: f32,
    /// Seed of the sampler; `None` draws a fresh one per answer (recorded with the answer).
    pub seed: Option<u64>,
}

impl Default for SamplingSettings {
    fn default() -> Self {
        Self {
            do_sample: true,
            temperature: 0.2,
            top_p: 1.0,
            top_k: 0,
            min_p: 0.0,
            max_new_tokens: 1024,
            repetition_penalty: 1.0,
            seed: None,
        }
    }
}

/// A value that was refused, with a message that says what is allowed.
#[derive(Debug, Error, PartialEq)]
pub enum SettingError {
    #[error("unknown setting '{0}' (known: {known})", known = SETTING_NAMES.join(", "))]
    UnknownName(String),
    #[error("{name} must be {allowed} (got '{value}')")]
    OutOfRange {
        name: &'static str,
        allowed: &'static str,
        value: String,
    },
}

/// Names accepted by [`SamplingSettings::set`], in display order.
pub const SETTING_NAMES: &[&str] = &[
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "max_tokens",
    "repetition_penalty",
    "seed",
    "sampling",
];

/// The allowed range of each setting, as shown to the user.
pub fn allowed_range(name: &str) -> Option<&'static str> {
    Some(match name {
        "temperature" => "a number from 0 to 5",
        "top_p" => "a number above 0 and at most 1",
        "top_k" => "a whole number from 0 (off) to 1000000",
        "min_p" => "a number from 0 to 1",
        "max_tokens" => "a whole number from 1 to 1000000",
        "repetition_penalty" => "a number from 0.01 to 10 (1 = off)",
        "seed" => "a whole number from 0 to 18446744073709551615, or 'random'",
        "sampling" => "on or off",
        _ => return None,
    })
}

impl SamplingSettings {
    /// Sets one setting from text, as typed by the user, and returns its canonical name. The
    /// name may use `-` or `_`, and the names of transformers and Ollama are understood too
    /// (`max_new_tokens`, `do_sample`, `num_predict`, `repeat_penalty`).
    pub fn set(&mut self, name: &str, value: &str) -> Result<&'static str, SettingError> {
        let canonical =
            canonical_name(name).ok_or_else(|| SettingError::UnknownName(name.into()))?;
        let value = value.trim();
        let refuse = || SettingError::OutOfRange {
            name: canonical,
            allowed: allowed_range(canonical).unwrap_or(""),
            value: value.to_string(),
        };
        match canonical {
            "temperature" => self.temperature = parse_in(value, 0.0, 5.0).ok_or_else(refuse)?,
            "top_p" => {
                let v = parse_in(value, 0.0, 1.0).ok_or_else(refuse)?;
                if v <= 0.0 {
                    return Err(refuse());
                }
                self.top_p = v;
            }
            "top_k" => self.top_k = parse_whole(value, 0, 1_000_000).ok_or_else(refuse)? as usize,
            "min_p" => self.min_p = parse_in(value, 0.0, 1.0).ok_or_else(refuse)?,
            "max_tokens" => {
                self.max_new_tokens = parse_whole(value, 1, 1_000_000).ok_or_else(refuse)? as usize
            }
            "repetition_penalty" => {
                self.repetition_penalty = parse_in(value, 0.01, 10.0).ok_or_else(refuse)? as f32
            }
            "seed" => {
                self.seed = if value.eq_ignore_ascii_case("random") {
                    None
                } else {
                    Some(value.parse::<u64>().map_err(|_| refuse())?)
                }
            }
            "sampling" => {
                self.do_sample = match value.to_ascii_lowercase().as_str() {
                    "on" | "true" | "yes" | "1" => true,
                    "off" | "false" | "no" | "0" => false,
                    _ => return Err(refuse()),
                }
            }
            _ => unreachable!("canonical_name only returns known names"),
        }
        Ok(canonical)
    }

    /// The value of a setting as text, in the form [`SamplingSettings::set`] accepts.
    pub fn get(&self, name: &str) -> Option<String> {
        Some(match canonical_name(name)? {
            "temperature" => format!("{}", self.temperature),
            "top_p" => format!("{}", self.top_p),
            "top_k" => format!("{}", self.top_k),
            "min_p" => format!("{}", self.min_p),
            "max_tokens" => format!("{}", self.max_new_tokens),
            "repetition_penalty" => format!("{}", self.repetition_penalty),
            "seed" => self
                .seed
                .map_or_else(|| "random".to_string(), |s| s.to_string()),
            "sampling" => (if self.do_sample { "on" } else { "off" }).to_string(),
            _ => return None,
        })
    }

    /// True when the answer is the argmax at every step: sampling off, or a zero temperature.
    pub fn is_greedy(&self) -> bool {
        !self.do_sample || self.temperature <= 0.0
    }

    /// One line describing the settings, for stats lines and answer metadata.
    pub fn summary(&self) -> String {
        if self.is_greedy() {
            format!(
                "greedy · max_tokens {} · repetition_penalty {}",
                self.max_new_tokens, self.repetition_penalty
            )
        } else {
            format!(
                "temperature {} · top_p {} · top_k {} · min_p {} · max_tokens {} · repetition_penalty {} · seed {}",
                self.temperature,
                self.top_p,
                self.top_k,
                self.min_p,
                self.max_new_tokens,
                self.repetition_penalty,
                self.get("seed").unwrap_or_default()
            )
        }
    }
}

fn canonical_name(name: &str) -> Option<&'static str> {
    let normalised = name.trim().to_ascii_lowercase().replace('-', "_");
    let alias = match normalised.as_str() {
        // transformers' names (the article's) and Ollama's.
        "max_new_tokens" | "num_predict" => "max_tokens",
        "do_sample" => "sampling",
        "temp" => "temperature",
        "repeat_penalty" => "repetition_penalty",
        other => other,
    };
    SETTING_NAMES.iter().copied().find(|n| *n == alias)
}

fn parse_in(value: &str, min: f64, max: f64) -> Option<f64> {
    let v: f64 = value.parse().ok()?;
    (v.is_finite() && (min..=max).contains(&v)).then_some(v)
}

fn parse_whole(value: &str, min: u64, max: u64) -> Option<u64> {
    let v: u64 = value.parse().ok()?;
    (min..=max).contains(&v).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_article() {
        let s = SamplingSettings::default();
        assert!(s.do_sample);
        assert_eq!(s.temperature, 0.2);
        assert_eq!(s.max_new_tokens, 1024);
    }

    #[test]
    fn negative_temperature_is_refused_with_the_range() {
        let mut s = SamplingSettings::default();
        let err = s.set("temperature", "-1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "temperature must be a number from 0 to 5 (got '-1')"
        );
        assert_eq!(s.temperature, 0.2, "a refused value changes nothing");
    }

    #[test]
    fn names_accept_dashes_and_aliases() {
        let mut s = SamplingSettings::default();
        s.set("max-new-tokens", "16").unwrap();
        s.set("do_sample", "off").unwrap();
        s.set("seed", "7").unwrap();
        assert_eq!(s.max_new_tokens, 16);
        assert!(s.is_greedy());
        assert_eq!(
            s.set("num_predict", "32"),
            Ok("max_tokens"),
            "Ollama's name"
        );
        assert_eq!(s.max_new_tokens, 32);
        assert_eq!(s.set("repeat_penalty", "1.1"), Ok("repetition_penalty"));
        assert_eq!(s.repetition_penalty, 1.1);
        assert_eq!(s.get("seed").as_deref(), Some("7"));
        assert!(matches!(
            s.set("nope", "1"),
            Err(SettingError::UnknownName(_))
        ));
    }

    #[test]
    fn edges_of_ranges() {
        let mut s = SamplingSettings::default();
        assert!(s.set("top_p", "0").is_err());
        assert!(s.set("top_p", "1").is_ok());
        assert!(s.set("max_tokens", "0").is_err());
        assert!(s.set("temperature", "NaN").is_err());
        assert!(s.set("top_k", "1.5").is_err());
    }
}
