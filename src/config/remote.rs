//! `backend = "remote"` and the `[remote]` table: which server answers, with which key, model,
//! timeouts and image policy. Command-line flags (and `VCHAT_API_KEY`) win over these.

use std::time::Duration;

use super::Problem;
use crate::engine::remote::{parse_seconds, ApiKey, RemoteImages};

/// The remote-backend part of the configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteConfig {
    /// `backend = "remote"`: use the server even without `--backend remote`.
    pub enabled: bool,
    pub url: Option<String>,
    pub api_key: Option<ApiKey>,
    pub model: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub images: Option<RemoteImages>,
    pub send_image_urls: Option<bool>,
}

/// The top-level `backend` key.
pub(super) fn apply_backend(value: &str, remote: &mut RemoteConfig) -> Result<(), String> {
    match value.to_ascii_lowercase().as_str() {
        "local" => remote.enabled = false,
        "remote" => remote.enabled = true,
        _ => return Err(format!("unknown backend '{value}' (local or remote)")),
    }
    Ok(())
}

/// The `[remote]` table; each bad entry becomes a problem and leaves its default.
pub(super) fn apply_remote(
    value: &toml::Value,
    file: &str,
    remote: &mut RemoteConfig,
    problems: &mut Vec<Problem>,
) {
    let Some(table) = value.as_table() else {
        problems.push(Problem::new(file, "remote", "expected a [remote] table"));
        return;
    };
    for (name, value) in table {
        let text = match value {
            toml::Value::String(s) => Some(s.clone()),
            toml::Value::Integer(_) | toml::Value::Float(_) => Some(value.to_string()),
            _ => None,
        };
        let result = match (name.as_str(), text) {
            ("url", Some(url)) => {
                remote.url = Some(url);
                Ok(())
            }
            ("api_key", Some(key)) => {
                remote.api_key = ApiKey::new(key);
                Ok(())
            }
            ("model", Some(model)) => {
                remote.model = Some(model);
                Ok(())
            }
            ("connect_timeout", Some(s)) => {
                parse_seconds(&s).map(|d| remote.connect_timeout = Some(d))
            }
            ("idle_timeout", Some(s)) => parse_seconds(&s).map(|d| remote.idle_timeout = Some(d)),
            ("images", Some(s)) => s.parse().map(|i| remote.images = Some(i)),
            ("send_image_urls", _) => match value.as_bool() {
                Some(b) => {
                    remote.send_image_urls = Some(b);
                    Ok(())
                }
                None => Err("expected true or false".into()),
            },
            ("url" | "api_key" | "model" | "connect_timeout" | "idle_timeout" | "images", None) => {
                Err("expected a string or a number".into())
            }
            _ => Err("unknown key".into()),
        };
        if let Err(reason) = result {
            problems.push(Problem::new(file, &format!("remote.{name}"), reason));
        }
    }
}
