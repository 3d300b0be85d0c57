//! What can go wrong talking to a remote server, each as one readable line. Server messages
//! are quoted (shortened, control characters removed) and never carry the API key.

use std::error::Error as _;
use std::time::Duration;

use thiserror::Error;

use super::options::ApiKey;
use crate::text::one_line;

/// Longest server message quoted in an error line.
const MAX_QUOTE: usize = 200;

/// A failure of a request to the server.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum RemoteError {
    #[error("{0}")]
    Config(String),
    #[error("cannot connect to {host}: connection refused (is the server running?)")]
    Refused { host: String },
    #[error("cannot find the server {host} (DNS lookup failed)")]
    Dns { host: String },
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: String },
    #[error("cannot connect to {host} within {} s (connect timeout)", secs(*.timeout))]
    ConnectTimeout { host: String, timeout: Duration },
    #[error("cannot connect to {host}: {reason}")]
    Connect { host: String, reason: String },
    #[error("{host} refused the API key (HTTP {status}){}; set it with --api-key or VCHAT_API_KEY", quoted(.message))]
    Auth {
        host: String,
        status: u16,
        message: Option<String>,
    },
    #[error("{host} does not serve model '{model}' (HTTP 404){}", quoted_or_hint(.message))]
    ModelNotFound {
        host: String,
        model: String,
        message: Option<String>,
    },
    #[error("{host} is busy: too many requests (HTTP 429){}; try again later", quoted(.message))]
    RateLimited {
        host: String,
        message: Option<String>,
    },
    #[error("{host} failed (HTTP {status}){}", quoted(.message))]
    Server {
        host: String,
        status: u16,
        message: Option<String>,
    },
    #[error("{host} refused the request (HTTP {status}){}", quoted(.message))]
    Rejected {
        host: String,
        status: u16,
        message: Option<String>,
    },
    #[error("no answer from {host} for {} s (idle timeout){}", secs(*.timeout), partial_note(*.partial))]
    IdleTimeout {
        host: String,
        timeout: Duration,
        partial: bool,
    },
    #[error("the connection to {host} broke: {reason}{}", partial_note(*.partial))]
    Broken {
        host: String,
        reason: String,
        partial: bool,
    },
    #[error("{host} closed the stream before the answer ended{}", partial_note(*.partial))]
    Truncated { host: String, partial: bool },
    #[error("{host} sent a malformed stream ({reason}){}", partial_note(*.partial))]
    Malformed {
        host: String,
        reason: String,
        partial: bool,
    },
    #[error("{host} reported an error: {message}{}", partial_note(*.partial))]
    InStream {
        host: String,
        message: String,
        partial: bool,
    },
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
}

fn quoted(message: &Option<String>) -> String {
    match message.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => format!(": {m}"),
        None => String::new(),
    }
}

/// The server's message, or what to check when it sent none (a 404 without a body usually
/// means a URL without the API base path).
fn quoted_or_hint(message: &Option<String>) -> String {
    match message.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => format!(": {m}"),
        None => "; check --model, and that --url is the API base (e.g. http://host:8000/v1)".into(),
    }
}

fn partial_note(partial: bool) -> &'static str {
    if partial {
        " (partial answer kept)"
    } else {
        ""
    }
}

impl RemoteError {
    /// Whether the answer had started (its text is kept).
    pub fn with_partial(mut self, started: bool) -> Self {
        match &mut self {
            Self::IdleTimeout { partial, .. }
            | Self::Broken { partial, .. }
            | Self::Truncated { partial, .. }
            | Self::Malformed { partial, .. }
            | Self::InStream { partial, .. } => *partial = started,
            _ => {}
        }
        self
    }
}

/// The message a server put in an error body: OpenAI's `{"error": {"message": …}}`, or
/// `{"error": "…"}`, `{"message": …}`, `{"detail": …}` (FastAPI), or short plain text.
/// One line, shortened, with the API key blanked out.
pub fn server_message(body: &str, key: Option<&ApiKey>) -> Option<String> {
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(json) => {
            let candidates = [
                json.pointer("/error/message"),
                json.get("error"),
                json.get("message"),
                json.pointer("/detail/0/msg"),
                json.get("detail"),
            ];
            candidates
                .into_iter()
                .flatten()
                .find_map(|v| v.as_str().map(str::to_string))?
        }
        // Plain text, but not an HTML error page.
        Err(_) if !body.trim_start().starts_with('<') => body.to_string(),
        Err(_) => return None,
    };
    let line = shorten(&redact(&one_line(&text), key));
    (!line.is_empty()).then_some(line)
}

/// Replaces the API key wherever a server echoes it.
pub fn redact(text: &str, key: Option<&ApiKey>) -> String {
    match key {
        Some(key) if !key.expose().is_empty() => text.replace(key.expose(), "***"),
        _ => text.to_string(),
    }
}

/// At most [`MAX_QUOTE`] characters.
pub fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTE {
        return text.to_string();
    }
    let mut short: String = text.chars().take(MAX_QUOTE).collect();
    short.push('…');
    short
}

/// The error for an HTTP status that is not a success.
pub fn from_status(host: &str, status: u16, model: &str, message: Option<String>) -> RemoteError {
    let host = host.to_string();
    match status {
        401 | 403 => RemoteError::Auth {
            host,
            status,
            message,
        },
        404 => RemoteError::ModelNotFound {
            host,
            model: model.to_string(),
            message,
        },
        429 => RemoteError::RateLimited { host, message },
        500..=599 => RemoteError::Server {
            host,
            status,
            message,
        },
        _ => RemoteError::Rejected {
            host,
            status,
            message,
        },
    }
}

/// Classifies a reqwest failure before any answer arrived (connecting, sending). `https`: a
/// connection failure that is neither DNS, refusal nor timeout is then the TLS handshake.
pub fn from_reqwest(
    host: &str,
    error: &reqwest::Error,
    connect_timeout: Duration,
    https: bool,
) -> RemoteError {
    let host = host.to_string();
    let chain = error_chain(error);
    let lower = chain.to_lowercase();
    if error.is_timeout() && error.is_connect() {
        return RemoteError::ConnectTimeout {
            host,
            timeout: connect_timeout,
        };
    }
    if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
        || lower.contains("no such host")
    {
        return RemoteError::Dns { host };
    }
    if lower.contains("connection refused") {
        return RemoteError::Refused { host };
    }
    let tls_words = [
        "certificate",
        "tls",
        "handshake",
        "invalid peer",
        "corrupt message",
    ];
    if tls_words.iter().any(|w| lower.contains(w))
        || (https && error.is_connect() && !error.is_timeout())
    {
        return RemoteError::Tls {
            host,
            reason: shorten(&innermost(error)),
        };
    }
    if error.is_timeout() {
        return RemoteError::ConnectTimeout {
            host,
            timeout: connect_timeout,
        };
    }
    RemoteError::Connect {
        host,
        reason: shorten(&innermost(error)),
    }
}

/// Every message in the error's source chain, joined (for classification only: reqwest's
/// own message names the URL).
fn error_chain(error: &reqwest::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        parts.push(e.to_string());
        source = e.source();
    }
    parts.join(": ")
}

/// The deepest cause: the most specific message, without reqwest's URL.
pub fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        message = e.to_string();
        source = e.source();
    }
    one_line(&message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_are_found_in_the_usual_shapes() {
        let openai = r#"{"error":{"message":"The model `x` does not exist.","type":"invalid_request_error"}}"#;
        assert_eq!(
            server_message(openai, None).as_deref(),
            Some("The model `x` does not exist.")
        );
        assert_eq!(
            server_message(r#"{"error":"busy"}"#, None).as_deref(),
            Some("busy")
        );
        assert_eq!(
            server_message(r#"{"message":"nope"}"#, None).as_deref(),
            Some("nope")
        );
        assert_eq!(
            server_message(r#"{"detail":"Not Found"}"#, None).as_deref(),
            Some("Not Found")
        );
        assert_eq!(
            server_message("overloaded\nline 2", None).as_deref(),
            Some("overloaded")
        );
        assert_eq!(server_message("<html><body>502</body></html>", None), None);
        assert_eq!(server_message("", None), None);
    }

    #[test]
    fn an_echoed_key_is_blanked() {
        let key = ApiKey::new("sk-123").unwrap();
        let message = server_message(r#"{"error":{"message":"bad key sk-123"}}"#, Some(&key));
        assert_eq!(message.as_deref(), Some("bad key ***"));
    }

    #[test]
    fn statuses_read_as_one_line() {
        let auth = from_status("h:1", 401, "m", Some("invalid key".into())).to_string();
        assert_eq!(
            auth,
            "h:1 refused the API key (HTTP 401): invalid key; set it with --api-key or VCHAT_API_KEY"
        );
        assert!(from_status("h:1", 404, "llava", None)
            .to_string()
            .contains("does not serve model 'llava'"));
        assert!(from_status("h:1", 503, "m", Some("overloaded".into()))
            .to_string()
            .ends_with("failed (HTTP 503): overloaded"));
        let cut = RemoteError::Truncated {
            host: "h:1".into(),
            partial: false,
        }
        .with_partial(true);
        assert!(cut.to_string().ends_with("(partial answer kept)"));
    }
}
