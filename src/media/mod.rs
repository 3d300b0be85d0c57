//! Images from local paths and http(s) URLs, decoded under limits and downscaled when huge.

mod decode;
mod fetch;

use std::path::Path;
use std::time::Duration;

use thiserror::Error;

use crate::conversation::ChatImage;
pub use decode::{check_complete, decode_image, DecodeLimits, MAX_MODEL_EDGE};

/// Why an image could not be used. Each message is one line meant for the user.
#[derive(Debug, Error)]
pub enum MediaError {
    #[error("image not found: {0}")]
    NotFound(String),
    #[error("cannot read image {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("not an image (or a format vchat cannot read): {0}")]
    NotAnImage(String),
    #[error("corrupt or truncated image: {source_name} ({reason})")]
    Corrupt { source_name: String, reason: String },
    #[error(
        "image too large: {source_name} is {width}×{height}; the limit is {limit} pixels a side"
    )]
    TooLarge {
        source_name: String,
        width: u32,
        height: u32,
        limit: u32,
    },
    #[error("image needs more memory to decode than allowed ({source_name}): {reason}")]
    TooMuchMemory { source_name: String, reason: String },
    #[error("cannot fetch {url}: {reason}")]
    Fetch { url: String, reason: String },
}

/// Limits and timeouts for loading images.
#[derive(Debug, Clone)]
pub struct MediaOptions {
    /// Whole-request timeout for URLs (connect, headers and body).
    pub fetch_timeout: Duration,
    /// Largest download accepted, in bytes.
    pub max_download_bytes: u64,
    pub limits: DecodeLimits,
}

impl Default for MediaOptions {
    fn default() -> Self {
        Self {
            fetch_timeout: Duration::from_secs(30),
            max_download_bytes: 64 * 1024 * 1024,
            limits: DecodeLimits::default(),
        }
    }
}

/// True when `source` is an http(s) URL rather than a path.
pub fn is_url(source: &str) -> bool {
    let lower = source.trim_start().to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Loads an image from a path or an http(s) URL, ready to attach to a chat.
pub async fn load_image(source: &str, options: &MediaOptions) -> Result<ChatImage, MediaError> {
    let bytes = if is_url(source) {
        fetch::fetch_bytes(source, options).await?
    } else {
        read_file(source).await?
    };
    let label = source.to_string();
    let limits = options.limits.clone();
    // Decoding a large JPEG takes a while: keep it off the async workers.
    tokio::task::spawn_blocking(move || {
        let pixels = decode_image(&bytes, &label, &limits)?;
        check_complete(&bytes, &label)?;
        Ok(ChatImage::new(label, bytes, pixels))
    })
    .await
    .map_err(|e| MediaError::Corrupt {
        source_name: source.to_string(),
        reason: e.to_string(),
    })?
}

async fn read_file(source: &str) -> Result<Vec<u8>, MediaError> {
    let path = Path::new(source);
    if path.is_dir() {
        return Err(MediaError::Unreadable {
            path: source.into(),
            reason: "it is a directory".into(),
        });
    }
    tokio::fs::read(path).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => MediaError::NotFound(source.into()),
        std::io::ErrorKind::PermissionDenied => MediaError::Unreadable {
            path: source.into(),
            reason: "permission denied".into(),
        },
        _ => MediaError::Unreadable {
            path: source.into(),
            reason: e.to_string(),
        },
    })
}
