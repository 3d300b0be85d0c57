//! Downloading an image over http(s), with a timeout and a size cap.

use futures_util::StreamExt;

use super::{MediaError, MediaOptions};

/// Fetches the body of `url`, refusing non-success statuses and bodies over the size cap.
pub async fn fetch_bytes(url: &str, options: &MediaOptions) -> Result<Vec<u8>, MediaError> {
    let fail = |reason: String| MediaError::Fetch {
        url: url.to_string(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(options.fetch_timeout)
        .connect_timeout(options.fetch_timeout)
        .user_agent(concat!("vchat/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| fail(describe(&e, options)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(fail(format!("the server answered HTTP {status}")));
    }
    if let Some(len) = response.content_length() {
        if len > options.max_download_bytes {
            return Err(fail(too_big(options.max_download_bytes)));
        }
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| fail(describe(&e, options)))?;
        if body.len() as u64 + chunk.len() as u64 > options.max_download_bytes {
            return Err(fail(too_big(options.max_download_bytes)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_big(limit: u64) -> String {
    format!("the download is larger than {} MiB", limit / (1024 * 1024))
}

/// A short reason for a failed request; reqwest's own messages nest several layers deep.
fn describe(error: &reqwest::Error, options: &MediaOptions) -> String {
    if error.is_timeout() {
        return format!(
            "no answer within {} s (timed out)",
            options.fetch_timeout.as_secs_f64()
        );
    }
    let chain = error_chain(error);
    if error.is_connect() {
        let lower = chain.to_ascii_lowercase();
        if lower.contains("dns") || lower.contains("resolve") || lower.contains("lookup") {
            return "the host name could not be resolved (DNS)".into();
        }
        if lower.contains("refused") {
            return "connection refused".into();
        }
        return format!("cannot connect ({chain})");
    }
    chain
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    crate::text::one_line(&parts.join(": "))
}
