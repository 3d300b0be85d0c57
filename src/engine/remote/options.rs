//! How to reach a remote OpenAI-compatible server: its URL, the API key (kept secret), the
//! model, timeouts and how images are sent.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Default time allowed for the TCP (and TLS) connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default silence allowed between two pieces of an answer (also before the first one: a big
/// model on a busy server can take a while to read a long prompt with an image).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// An API key. It is only ever written into the `Authorization` header: its `Debug` and
/// `Display` print `***`, so it cannot reach a log line, an error message or a session file
/// by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A key; `None` when blank.
    pub fn new(key: impl Into<String>) -> Option<Self> {
        let key = key.into().trim().to_string();
        (!key.is_empty()).then_some(Self(key))
    }

    /// The key itself, for the `Authorization` header and for redacting server messages.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl FromStr for ApiKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s).ok_or_else(|| "the API key is empty".to_string())
    }
}

/// Which images of the history go to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RemoteImages {
    /// Only the most recent image; older ones are named in their turn's text. LLaVA-1.5 (and
    /// mistral.rs serving it) accepts one image per request.
    #[default]
    Latest,
    /// Every image of the history, as OpenAI servers of multi-image models expect.
    All,
}

impl FromStr for RemoteImages {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "latest" => Ok(Self::Latest),
            "all" => Ok(Self::All),
            _ => Err(format!("unknown image policy '{s}' (use latest or all)")),
        }
    }
}

/// Everything needed to talk to a remote server.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteOptions {
    /// The API base, e.g. `http://gpu:8000/v1` (requests go to `{url}/chat/completions`).
    pub url: String,
    pub api_key: Option<ApiKey>,
    /// The model to ask for; `None` picks the server's only model (from `/models`).
    pub model: Option<String>,
    pub connect_timeout: Duration,
    /// Longest silence allowed while waiting for the answer to start or continue.
    pub idle_timeout: Duration,
    pub images: RemoteImages,
    /// Send images that came from an http(s) URL as that URL instead of their pixels.
    pub send_image_urls: bool,
}

impl RemoteOptions {
    /// Options for a server with everything else at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            api_key: None,
            model: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            images: RemoteImages::Latest,
            send_image_urls: false,
        }
    }

    /// The base URL without a trailing slash, checked: http or https, a host, no credentials.
    pub fn base_url(&self) -> Result<reqwest::Url, String> {
        let text = self.url.trim().trim_end_matches('/');
        if text.is_empty() {
            return Err(
                "the remote backend needs the server's URL: --url http://HOST:PORT/v1 (or url in [remote] of config.toml)"
                    .into(),
            );
        }
        let url = reqwest::Url::parse(text).map_err(|e| {
            format!(
                "'{}' is not a server URL ({e}); expected e.g. http://host:8000/v1",
                crate::text::one_line(text)
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "'{}' is not an http(s) server URL; expected e.g. http://host:8000/v1",
                display_url(&url)
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("put the API key in --api-key or VCHAT_API_KEY, not in the URL".into());
        }
        Ok(url)
    }

    /// `host:port` of the server, for the status line and messages.
    pub fn host(&self) -> String {
        self.base_url()
            .map(|url| host_of(&url))
            .unwrap_or_else(|_| "the server".into())
    }
}

/// `host:port` (or `host`) of a URL.
pub fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        _ => "the server".into(),
    }
}

/// A URL as shown to the user: never with credentials.
pub fn display_url(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string().trim_end_matches('/').to_string()
}

/// Parses a timeout in seconds (as the command line and config file give it).
pub fn parse_seconds(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "must be a number of seconds above 0 and at most 86400 (got '{s}')"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_prints() {
        let key = ApiKey::new("sk-secret-123").unwrap();
        let mut options = RemoteOptions::new("http://h:1/v1");
        options.api_key = Some(key.clone());
        assert!(!format!("{options:?}").contains("sk-secret"));
        assert_eq!(key.to_string(), "***");
        assert_eq!(key.expose(), "sk-secret-123");
        assert!(ApiKey::new("  ").is_none());
    }

    #[test]
    fn urls_are_checked() {
        let ok = RemoteOptions::new("http://gpu:8000/v1/");
        assert_eq!(ok.base_url().unwrap().as_str(), "http://gpu:8000/v1");
        assert_eq!(ok.host(), "gpu:8000");
        assert!(RemoteOptions::new("gpu:8000").base_url().is_err());
        assert!(RemoteOptions::new("ftp://gpu/v1").base_url().is_err());
        let with_key = RemoteOptions::new("http://u:sk-1@gpu/v1").base_url();
        assert!(!with_key.unwrap_err().contains("sk-1"));
    }

    #[test]
    fn seconds_parse() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("x").is_err());
    }
}
