//! Images and video clips from local paths and http(s) URLs, decoded under limits and
//! downscaled when huge.

mod decode;
mod fetch;
pub mod video;

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
    #[error("cannot use video {source_name}: {reason}")]
    Video { source_name: String, reason: String },
    #[error("video needs the {0} program, which is not on the PATH: install ffmpeg (apt install ffmpeg, dnf install ffmpeg, brew install ffmpeg)")]
    MissingTool(String),
}

/// Limits and timeouts for loading images.
#[derive(Debug, Clone)]
pub struct MediaOptions {
    /// Whole-request timeout for URLs (connect, headers and body).
    pub fetch_timeout: Duration,
    /// Largest download accepted, in bytes.
    pub max_download_bytes: u64,
    pub limits: DecodeLimits,
    /// How many frames a clip gives.
    pub frame_sampling: video::FrameSampling,
}

impl Default for MediaOptions {
    fn default() -> Self {
        Self {
            fetch_timeout: Duration::from_secs(30),
            max_download_bytes: 64 * 1024 * 1024,
            limits: DecodeLimits::default(),
            frame_sampling: video::FrameSampling::default(),
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
    let bytes = read_source(source, options).await?;
    let label = source.to_string();
    let limits = options.limits.clone();
    // Decoding a large JPEG takes a while: keep it off the async workers.
    tokio::task::spawn_blocking(move || still_image(bytes, label, &limits))
        .await
        .map_err(|e| join_error(source, e))?
}

/// What a path or URL names, loaded once.
pub enum Attachment {
    Image(ChatImage),
    /// Sampled with the options' `frame_sampling`.
    Clip(video::Clip),
}

/// Loads a still image or a clip, whichever `source` holds: a container video by its name, an
/// animated GIF, APNG or WebP by its content (read once, and sampled from those bytes).
pub async fn load_attachment(
    source: &str,
    options: &MediaOptions,
) -> Result<Attachment, MediaError> {
    if video::is_container_video(source) {
        return load_clip(source, options, options.frame_sampling)
            .await
            .map(Attachment::Clip);
    }
    let bytes = read_source(source, options).await?;
    let label = source.to_string();
    let (limits, sampling) = (options.limits.clone(), options.frame_sampling);
    tokio::task::spawn_blocking(move || {
        // An image that does not read as an animation is a still image, with the still
        // image's errors.
        match video::clip_from_animation(&bytes, &label, sampling, &limits) {
            Ok(Some(clip)) => Ok(Attachment::Clip(clip)),
            _ => still_image(bytes, label, &limits).map(Attachment::Image),
        }
    })
    .await
    .map_err(|e| join_error(source, e))?
}

/// The bytes at a path or an http(s) URL (fetched under the options' limits).
async fn read_source(source: &str, options: &MediaOptions) -> Result<Vec<u8>, MediaError> {
    if is_url(source) {
        fetch::fetch_bytes(source, options).await
    } else {
        read_file(source).await
    }
}

/// An image from bytes already in memory (the clipboard's), checked and decoded as a file's.
pub async fn image_from_bytes(
    bytes: Vec<u8>,
    label: &str,
    options: &MediaOptions,
) -> Result<ChatImage, MediaError> {
    let (label, limits) = (label.to_string(), options.limits.clone());
    let source = label.clone();
    tokio::task::spawn_blocking(move || still_image(bytes, label, &limits))
        .await
        .map_err(|e| join_error(&source, e))?
}

fn still_image(
    bytes: Vec<u8>,
    label: String,
    limits: &DecodeLimits,
) -> Result<ChatImage, MediaError> {
    let pixels = decode_image(&bytes, &label, limits)?;
    check_complete(&bytes, &label)?;
    Ok(ChatImage::new(label, bytes, pixels))
}

/// Samples a clip (container video or animated image) from a path or an http(s) URL.
pub async fn load_clip(
    source: &str,
    options: &MediaOptions,
    sampling: video::FrameSampling,
) -> Result<video::Clip, MediaError> {
    let limits = options.limits.clone();
    let label = source.to_string();
    if !video::is_container_video(source) {
        let bytes = read_source(source, options).await?;
        return tokio::task::spawn_blocking(move || {
            video::clip_from_animation(&bytes, &label, sampling, &limits)?.ok_or_else(|| {
                MediaError::Video {
                    source_name: label.clone(),
                    reason: "it is a still image, not a clip (use /image)".into(),
                }
            })
        })
        .await
        .map_err(|e| join_error(source, e))?;
    }
    with_local_copy(source, options, move |path| {
        video::clip_from_video_file(path, &label, sampling, &limits)
    })
    .await
}

/// One frame of a clip at `time` seconds, at the clip's own resolution (decoded under the
/// usual image limits) rather than the sampled frames' [`video::FRAME_EDGE`]: for a follow-up
/// about the details of one moment.
pub async fn load_frame(
    source: &str,
    time: f64,
    options: &MediaOptions,
) -> Result<ChatImage, MediaError> {
    let limits = options.limits.clone();
    let label = source.to_string();
    if !video::is_container_video(source) {
        let bytes = read_source(source, options).await?;
        return tokio::task::spawn_blocking(move || {
            video::animation_frame(&bytes, &label, time, &limits)
        })
        .await
        .map_err(|e| join_error(source, e))?;
    }
    with_local_copy(source, options, move |path| {
        video::video_frame(path, &label, time, &limits)
    })
    .await
}

/// Runs `work` (blocking: ffmpeg) on a container video's local path: the file itself, or a
/// URL's download, removed afterwards.
async fn with_local_copy<T: Send + 'static>(
    source: &str,
    options: &MediaOptions,
    work: impl FnOnce(&Path) -> Result<T, MediaError> + Send + 'static,
) -> Result<T, MediaError> {
    let download = local_copy(source, options).await?;
    let path = download
        .as_ref()
        .map_or_else(|| Path::new(source).to_path_buf(), |d| d.0.clone());
    tokio::task::spawn_blocking(move || {
        let result = work(&path);
        drop(download);
        result
    })
    .await
    .map_err(|e| join_error(source, e))?
}

/// ffmpeg seeks in the file: a URL's clip is downloaded (under the usual limits) to a private
/// temporary file first, removed when dropped. `None` for a local file (which must exist).
async fn local_copy(source: &str, options: &MediaOptions) -> Result<Option<TempClip>, MediaError> {
    if is_url(source) {
        let bytes = fetch::fetch_bytes(source, options).await?;
        return Ok(Some(TempClip::write(&bytes).map_err(|e| {
            MediaError::Unreadable {
                path: source.into(),
                reason: e.to_string(),
            }
        })?));
    }
    if !Path::new(source).is_file() {
        return Err(MediaError::Video {
            source_name: source.into(),
            reason: "no such file".into(),
        });
    }
    Ok(None)
}

fn join_error(source: &str, e: tokio::task::JoinError) -> MediaError {
    MediaError::Corrupt {
        source_name: source.to_string(),
        reason: e.to_string(),
    }
}

/// A downloaded clip in the system's temporary folder, readable by its owner only, removed
/// when dropped.
struct TempClip(std::path::PathBuf);

impl TempClip {
    fn write(bytes: &[u8]) -> std::io::Result<Self> {
        use std::io::Write;
        let name = format!(
            "vchat-clip-{}-{:016x}",
            std::process::id(),
            crate::rng::fresh_seed()
        );
        let path = std::env::temp_dir().join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&path)?.write_all(bytes)?;
        Ok(Self(path))
    }
}

impl Drop for TempClip {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
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
