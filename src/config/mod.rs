//! The user's configuration: `config.toml` in the platform config directory (or
//! `VCHAT_CONFIG_DIR`), on top of defaults compiled in. A bad file never stops vchat: each
//! unknown key or bad value becomes a [`Problem`] shown in the app, and the default stays.

mod remote;
pub mod theme;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::app::keymap::Keymap;
use crate::cli::ImageProtocol;
use crate::engine::IsqChoice;
use crate::sampling::SamplingSettings;
use crate::ui::Theme;
pub use remote::RemoteConfig;

/// The defaults, compiled in; also what `config.toml` may contain.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// Something wrong in a config or theme file, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub file: String,
    pub key: String,
    pub reason: String,
}

impl Problem {
    fn new(file: &str, key: &str, reason: impl Into<String>) -> Self {
        Self {
            file: file.to_string(),
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.reason)
        }
    }
}

/// The settled configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The model used when `--model` is not given.
    pub model: Option<String>,
    /// Quantization used when `--isq` is not given.
    pub quantization: Option<IsqChoice>,
    /// Image protocol used when `--image-protocol` is not given.
    pub image_protocol: ImageProtocol,
    /// Sampling defaults; command-line flags apply on top.
    pub sampling: SamplingSettings,
    pub theme: Theme,
    /// Key bindings: the defaults with `[keys]` applied.
    pub keymap: Keymap,
    /// `backend` and `[remote]`: the remote server, when one answers.
    pub remote: RemoteConfig,
    /// Everything that was wrong, for the app to show.
    pub problems: Vec<Problem>,
}

/// The directory holding `config.toml` and `themes/`.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("VCHAT_CONFIG_DIR") {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "vchat").map(|d| d.config_dir().to_path_buf())
}

/// Loads the defaults, then `config.toml` from `dir` if it exists.
pub fn load(dir: Option<&Path>) -> Config {
    let mut problems = Vec::new();
    let mut config = Config {
        model: None,
        quantization: None,
        image_protocol: ImageProtocol::Auto,
        sampling: SamplingSettings::default(),
        theme: Theme::default(),
        keymap: Keymap::default(),
        remote: RemoteConfig::default(),
        problems: Vec::new(),
    };
    let mut theme_name = "dark".to_string();
    apply(
        DEFAULT_CONFIG,
        "built-in defaults",
        &mut config,
        &mut theme_name,
        &mut problems,
    );
    if let Some(path) = dir.map(|d| d.join("config.toml")).filter(|p| p.is_file()) {
        let file = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => apply(&text, &file, &mut config, &mut theme_name, &mut problems),
            Err(e) => problems.push(Problem::new(&file, "", format!("cannot read: {e}"))),
        }
    }
    config.theme = theme::load(&theme_name, dir, &mut problems);
    config.problems = problems;
    config
}

fn apply(
    text: &str,
    file: &str,
    config: &mut Config,
    theme_name: &mut String,
    problems: &mut Vec<Problem>,
) {
    let table = match toml::from_str::<toml::Table>(text) {
        Ok(table) => table,
        Err(e) => {
            let reason = crate::text::one_line(&e.to_string());
            problems.push(Problem::new(
                file,
                "",
                format!("{reason}; using the defaults"),
            ));
            return;
        }
    };
    for (key, value) in &table {
        let text = value.as_str();
        let result: Result<(), String> = match (key.as_str(), text) {
            ("model", Some(model)) => {
                config.model = Some(model.to_string());
                Ok(())
            }
            ("quantization", Some(q)) => q.parse().map(|q| config.quantization = Some(q)),
            ("image_protocol", Some(p)) => <ImageProtocol as clap::ValueEnum>::from_str(p, true)
                .map(|p| config.image_protocol = p)
                .map_err(|_| {
                    format!("unknown image protocol '{p}' (auto, halfblocks, sixel, kitty, iterm2)")
                }),
            ("theme", Some(name)) => {
                *theme_name = name.to_string();
                Ok(())
            }
            ("sampling", _) => {
                apply_sampling(value, file, &mut config.sampling, problems);
                Ok(())
            }
            ("keys", _) => {
                apply_keys(value, file, &mut config.keymap, problems);
                Ok(())
            }
            ("backend", Some(backend)) => remote::apply_backend(backend, &mut config.remote),
            ("remote", _) => {
                remote::apply_remote(value, file, &mut config.remote, problems);
                Ok(())
            }
            ("model" | "quantization" | "image_protocol" | "theme" | "backend", None) => {
                Err("expected a string".into())
            }
            _ => Err("unknown key".into()),
        };
        if let Err(reason) = result {
            problems.push(Problem::new(file, key, reason));
        }
    }
}

/// `[keys]`: `name = "key"` or `name = ["key", "key"]` replaces a binding's keys.
fn apply_keys(value: &toml::Value, file: &str, keymap: &mut Keymap, problems: &mut Vec<Problem>) {
    let Some(table) = value.as_table() else {
        problems.push(Problem::new(file, "keys", "expected a [keys] table"));
        return;
    };
    for (name, value) in table {
        let keys: Option<Vec<String>> = match value {
            toml::Value::String(s) => Some(vec![s.clone()]),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect(),
            _ => None,
        };
        let result = keys
            .ok_or_else(|| "expected a key or a list of keys".to_string())
            .and_then(|keys| keymap.rebind(name, &keys));
        if let Err(reason) = result {
            problems.push(Problem::new(file, &format!("keys.{name}"), reason));
        }
    }
}

/// `[sampling]` goes through the same validation as `/set` and the command line.
fn apply_sampling(
    value: &toml::Value,
    file: &str,
    sampling: &mut SamplingSettings,
    problems: &mut Vec<Problem>,
) {
    let Some(table) = value.as_table() else {
        problems.push(Problem::new(
            file,
            "sampling",
            "expected a [sampling] table",
        ));
        return;
    };
    for (name, value) in table {
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Boolean(b) => (if *b { "on" } else { "off" }).to_string(),
            other => other.to_string(),
        };
        if let Err(e) = sampling.set(name, &text) {
            problems.push(Problem::new(
                file,
                &format!("sampling.{name}"),
                e.to_string(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_without_problems() {
        let dir = tempfile::tempdir().unwrap();
        let config = load(Some(dir.path()));
        assert!(config.problems.is_empty(), "{:?}", config.problems);
        assert_eq!(config.sampling, SamplingSettings::default());
    }

    #[test]
    fn bad_values_are_reported_with_file_and_key_and_fall_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "colour = 1\ntheme = \"light\"\n[sampling]\ntemperature = 9\nmax_tokens = 64\n\
             [keys]\nstop = \"ctrl-g\"\nnope = \"x\"\n",
        )
        .unwrap();
        let config = load(Some(dir.path()));
        let problems: Vec<String> = config.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        let has = |text: &str| problems.iter().any(|p| p.contains(text));
        assert!(has("config.toml: colour: unknown key"));
        assert!(has("config.toml: keys.nope: unknown action 'nope'"));
        assert!(has("sampling.temperature"));
        assert_eq!(config.sampling.temperature, 0.2);
        assert_eq!(config.sampling.max_new_tokens, 64);
        assert_ne!(config.theme, Theme::default(), "the light theme");
    }

    #[test]
    fn the_remote_backend_is_configured_in_its_table() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "backend = \"remote\"\n[remote]\nurl = \"http://gpu:8000/v1\"\napi_key = \"sk-1\"\n\
             model = \"llava\"\nconnect_timeout = 5\nidle_timeout = 300.5\nimages = \"all\"\n\
             send_image_urls = true\nport = 1\n",
        )
        .unwrap();
        let config = load(Some(dir.path()));
        let problems: Vec<String> = config.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].ends_with("remote.port: unknown key"));
        let remote = &config.remote;
        assert!(remote.enabled);
        assert_eq!(remote.url.as_deref(), Some("http://gpu:8000/v1"));
        assert_eq!(remote.api_key.as_ref().map(|k| k.expose()), Some("sk-1"));
        assert_eq!(remote.model.as_deref(), Some("llava"));
        assert_eq!(
            remote.connect_timeout,
            Some(std::time::Duration::from_secs(5))
        );
        assert_eq!(
            remote.idle_timeout,
            Some(std::time::Duration::from_secs_f64(300.5))
        );
        assert_eq!(
            remote.images,
            Some(crate::engine::remote::RemoteImages::All)
        );
        assert_eq!(remote.send_image_urls, Some(true));
        assert!(
            !format!("{config:?}").contains("sk-1"),
            "the key never prints"
        );
    }

    #[test]
    fn a_broken_file_falls_back_to_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), "this is = = not toml").unwrap();
        let config = load(Some(dir.path()));
        assert_eq!(config.problems.len(), 1);
        assert_eq!(config.sampling, SamplingSettings::default());
    }
}
