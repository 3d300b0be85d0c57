//! Video clips: a few frames sampled evenly over a video file or an animated image, each with
//! its time. A clip is never decoded whole: container video is read by the `ffmpeg` program
//! (found on the PATH), one seek per sampled frame; animated GIF, PNG (APNG) and WebP by the
//! `image` crate, one frame in memory at a time.
//!
//! Each sampled frame becomes an ordinary [`ChatImage`] (a PNG of the frame), so a saved chat
//! stores the frames, not the video, and reopens them like any image.

use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use image::{AnimationDecoder, DynamicImage, ImageFormat, Rgba, RgbaImage};

use super::{decode_image, DecodeLimits, MediaError};
use crate::conversation::ChatImage;

/// Frames sampled from a clip unless the user asks for another count.
pub const DEFAULT_FRAMES: usize = 8;
/// The most frames one clip gives, whatever the count or rate asked: each frame costs the
/// model hundreds of tokens.
pub const MAX_FRAMES: usize = 32;
/// The longest clip accepted: sampling a longer one would say little about any part of it.
pub const MAX_DURATION_SECONDS: f64 = 4.0 * 3600.0;
/// Longest side of a sampled frame. Video processors budget fewer pixels per frame than per
/// image (Qwen2.5-VL's: about 600k, 1036 × 581), and eight 1080p frames would cost a model
/// tens of thousands of tokens.
pub const FRAME_EDGE: u32 = 1024;

/// How many frames to take from a clip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FrameSampling {
    /// This many, evenly spread.
    Count(usize),
    /// This many per second of the clip (at most [`MAX_FRAMES`]).
    PerSecond(f64),
}

impl Default for FrameSampling {
    fn default() -> Self {
        Self::Count(DEFAULT_FRAMES)
    }
}

/// Frames sampled from a clip, in time order.
#[derive(Debug, Clone)]
pub struct Clip {
    /// Where the clip came from, as the user gave it.
    pub source: String,
    /// The clip's length in seconds.
    pub duration: f64,
    pub frames: Vec<ClipFrame>,
    /// True when fewer frames were taken than asked for (the [`MAX_FRAMES`] cap).
    pub capped: bool,
}

#[derive(Debug, Clone)]
pub struct ClipFrame {
    /// Seconds from the clip's start.
    pub time: f64,
    pub image: ChatImage,
}

impl Clip {
    /// "video clip.mp4, 9.40 s long: 8 frames at 0.59, 1.76, … s" — what the model is told the
    /// frames are, in the order it sees them.
    pub fn description(&self) -> String {
        let times: Vec<String> = self.frames.iter().map(|f| format_time(f.time)).collect();
        let cap = if self.capped {
            format!(" (capped at {MAX_FRAMES})")
        } else {
            String::new()
        };
        format!(
            "video {}, {} s long: {} frames{cap} at {} s",
            self.source,
            format_time(self.duration),
            self.frames.len(),
            times.join(", ")
        )
    }
}

/// A sampled clip in both forms models take it, made at once so that the choice can wait until
/// the model is known (the app may load a clip before the model).
#[derive(Debug, Clone)]
pub struct ClipForModels {
    /// Where the clip came from, and each frame's time: what `/frame N` reads again.
    pub source: String,
    pub times: Vec<f64>,
    pub frames: Vec<ChatImage>,
    pub frames_note: String,
    pub sheet: ChatImage,
    pub sheet_note: String,
}

impl ClipForModels {
    pub fn new(clip: &Clip) -> Result<Self, MediaError> {
        let (frames, frames_note) = for_model(clip, false)?;
        let (mut sheet, sheet_note) = for_model(clip, true)?;
        Ok(Self {
            source: clip.source.clone(),
            times: clip.frames.iter().map(|f| f.time).collect(),
            frames,
            frames_note,
            sheet: sheet.remove(0),
            sheet_note,
        })
    }

    /// The images and the note for a model that sees one image per request, or several.
    pub fn pick(&self, one_image_per_request: bool) -> (Vec<ChatImage>, &str) {
        if one_image_per_request {
            (vec![self.sheet.clone()], &self.sheet_note)
        } else {
            (self.frames.clone(), &self.frames_note)
        }
    }
}

/// What a model is sent for a clip: its frames (or, for a model that sees one image per request,
/// their contact sheet) and the line of text that says what they are and when each was taken.
pub fn for_model(
    clip: &Clip,
    one_image_per_request: bool,
) -> Result<(Vec<ChatImage>, String), MediaError> {
    if one_image_per_request {
        let text = format!(
            "[{}; shown as one contact sheet, left to right and top to bottom]",
            clip.description()
        );
        Ok((vec![contact_sheet(clip)?], text))
    } else {
        let images = clip.frames.iter().map(|f| f.image.clone()).collect();
        Ok((images, format!("[{}]", clip.description())))
    }
}

/// A time in seconds as shown to the user and the model: two decimals, so that the frames of
/// a short clip (an animated GIF of a fraction of a second) keep times of their own.
pub fn format_time(seconds: f64) -> String {
    format!("{seconds:.2}")
}

/// True when `source` names a container video by its extension (what `ffmpeg` reads). Animated
/// images are recognised by their content instead, see [`animated_frame_count`].
pub fn is_container_video(source: &str) -> bool {
    let name = source.split(['?', '#']).next().unwrap_or(source);
    let extension = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    matches!(
        extension.as_deref(),
        Some("mp4" | "m4v" | "mov" | "mkv" | "webm" | "avi" | "mpg" | "mpeg" | "ts" | "3gp")
    )
}

/// The times to sample: the centres of `count` equal parts of the clip, so that the first and
/// last parts are seen as well as the middle and no seek lands past the end.
///
/// Never more than the clip's `distinct_frames` (a 2-frame GIF gives 2 frames, not 8 copies),
/// nor more than [`MAX_FRAMES`]; the flag says whether that cap cut the count asked for.
pub fn sample_times(
    duration: f64,
    sampling: FrameSampling,
    distinct_frames: usize,
) -> (Vec<f64>, bool) {
    let wanted = match sampling {
        FrameSampling::Count(n) => n.max(1),
        FrameSampling::PerSecond(fps) => ((duration * fps).round() as usize).max(1),
    };
    let count = wanted.min(distinct_frames.max(1)).min(MAX_FRAMES);
    let times = (0..count)
        .map(|i| duration * (i as f64 + 0.5) / count as f64)
        .collect();
    (times, MAX_FRAMES < wanted.min(distinct_frames.max(1)))
}

/// Samples a clip from the bytes of an animated image (GIF, APNG, animated WebP); `None` when
/// the image is not animated (one frame), so that it is used as a still image.
pub fn clip_from_animation(
    bytes: &[u8],
    source: &str,
    sampling: FrameSampling,
    limits: &DecodeLimits,
) -> Result<Option<Clip>, MediaError> {
    // The canvas's size first: every frame is decoded at it, so a crafted one is refused here.
    if let Ok((width, height)) = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| corrupt(source, image::ImageError::IoError(e)))?
        .into_dimensions()
    {
        limits.check_edges(width, height, source)?;
    }
    let Some(starts) = frame_starts(bytes, source)? else {
        return Ok(None);
    };
    let duration = *starts.last().unwrap_or(&0.0);
    let (times, capped) = sample_times(duration, sampling, starts.len() - 1);
    // Which frame is on screen at each time.
    let wanted: Vec<usize> = times
        .iter()
        .map(|&t| starts.partition_point(|&s| s <= t).saturating_sub(1))
        .collect();
    let mut frames = Vec::with_capacity(times.len());
    let all = animation_frames(bytes, source)?.unwrap_or_else(|| Box::new(std::iter::empty()));
    for (index, frame) in all.enumerate() {
        if wanted.last().is_some_and(|&last| index > last) {
            break;
        }
        if !wanted.contains(&index) {
            continue;
        }
        let frame = DynamicImage::ImageRgba8(frame.map_err(|e| corrupt(source, e))?.into_buffer());
        for (slot, _) in wanted.iter().enumerate().filter(|(_, w)| **w == index) {
            frames.push(make_frame(&frame, source, times[slot])?);
        }
    }
    Ok(Some(Clip {
        source: source.to_string(),
        duration,
        frames,
        capped,
    }))
}

/// Each frame's start time in an animated image, then its end (frames are decoded one at a
/// time and dropped); `None` when it is not animated.
fn frame_starts(bytes: &[u8], source: &str) -> Result<Option<Vec<f64>>, MediaError> {
    let Some(frames) = animation_frames(bytes, source)? else {
        return Ok(None);
    };
    let mut starts = Vec::new();
    let mut clock = 0.0;
    for frame in frames {
        let frame = frame.map_err(|e| corrupt(source, e))?;
        starts.push(clock);
        let (numerator, denominator) = frame.delay().numer_denom_ms();
        // Browsers show a frame with no delay for 100 ms: so does vchat.
        let ms = if numerator == 0 {
            100.0
        } else {
            f64::from(numerator) / f64::from(denominator.max(1))
        };
        clock += ms / 1000.0;
    }
    if starts.len() < 2 {
        return Ok(None);
    }
    starts.push(clock);
    Ok(Some(starts))
}

/// The frame of an animated image on screen at `time`, at the image's own size.
pub fn animation_frame(
    bytes: &[u8],
    source: &str,
    time: f64,
    limits: &DecodeLimits,
) -> Result<ChatImage, MediaError> {
    let not_animated = || MediaError::Video {
        source_name: source.into(),
        reason: "it is no longer an animation".into(),
    };
    if let Ok((width, height)) = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| corrupt(source, image::ImageError::IoError(e)))?
        .into_dimensions()
    {
        limits.check_edges(width, height, source)?;
    }
    let starts = frame_starts(bytes, source)?.ok_or_else(not_animated)?;
    let index = starts.partition_point(|&s| s <= time).saturating_sub(1);
    let frames = animation_frames(bytes, source)?.ok_or_else(not_animated)?;
    let frame = frames.into_iter().nth(index).ok_or_else(not_animated)?;
    let pixels = DynamicImage::ImageRgba8(frame.map_err(|e| corrupt(source, e))?.into_buffer());
    full_frame(&pixels, source, time)
}

/// The frame of a container video at `time`, at the video's own size.
pub fn video_frame(
    path: &Path,
    source: &str,
    time: f64,
    limits: &DecodeLimits,
) -> Result<ChatImage, MediaError> {
    let ppm = extract_frame(path, source, time, None)?;
    full_frame(&decode_image(&ppm, source, limits)?, source, time)
}

fn full_frame(pixels: &DynamicImage, source: &str, time: f64) -> Result<ChatImage, MediaError> {
    let png = encode_png(pixels, source)?;
    let label = format!("{source} @ {} s, full size", format_time(time));
    Ok(ChatImage::new(label, png, pixels.clone()))
}

type Frames<'a> = Box<dyn Iterator<Item = image::ImageResult<image::Frame>> + 'a>;

/// The frames of an animated image, or `None` when the format has no animation.
fn animation_frames<'a>(bytes: &'a [u8], source: &str) -> Result<Option<Frames<'a>>, MediaError> {
    use image::codecs::{gif::GifDecoder, png::PngDecoder, webp::WebPDecoder};
    let format = image::guess_format(bytes).ok();
    let frames: Frames<'a> = match format {
        Some(ImageFormat::Gif) => Box::new(
            GifDecoder::new(Cursor::new(bytes))
                .map_err(|e| corrupt(source, e))?
                .into_frames(),
        ),
        Some(ImageFormat::Png) => {
            let decoder = PngDecoder::new(Cursor::new(bytes)).map_err(|e| corrupt(source, e))?;
            if !decoder.is_apng().map_err(|e| corrupt(source, e))? {
                return Ok(None);
            }
            Box::new(
                decoder
                    .apng()
                    .map_err(|e| corrupt(source, e))?
                    .into_frames(),
            )
        }
        Some(ImageFormat::WebP) => {
            let decoder = WebPDecoder::new(Cursor::new(bytes)).map_err(|e| corrupt(source, e))?;
            if !decoder.has_animation() {
                return Ok(None);
            }
            Box::new(decoder.into_frames())
        }
        _ => return Ok(None),
    };
    Ok(Some(frames))
}

/// Samples a container video with the `ffmpeg` program: its length from `ffprobe`, then one
/// seek and one decoded frame per sampled time.
pub fn clip_from_video_file(
    path: &Path,
    source: &str,
    sampling: FrameSampling,
    limits: &DecodeLimits,
) -> Result<Clip, MediaError> {
    let (duration, frame_interval) = probe(path, source)?;
    if duration > MAX_DURATION_SECONDS {
        return Err(MediaError::Video {
            source_name: source.into(),
            reason: format!(
                "it is {:.1} hours long; vchat samples clips up to {:.0} hours",
                duration / 3600.0,
                MAX_DURATION_SECONDS / 3600.0
            ),
        });
    }
    let distinct = if frame_interval > 0.0 {
        (duration / frame_interval).round() as usize
    } else {
        usize::MAX
    };
    let (times, capped) = sample_times(duration, sampling, distinct);
    // The last frame starts one frame interval before the end: a later time would seek past
    // it and find nothing, so it is taken at its own start (and labelled so).
    let last_frame = (duration - frame_interval).max(0.0);
    let times: Vec<f64> = times.into_iter().map(|t| t.min(last_frame)).collect();
    // Each frame is a seek and a decode from the keyframe before it: they run side by side,
    // one ffmpeg per core (a GPU box has many).
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(times.len())
        .max(1);
    let frame_at = |time: f64| -> Result<ClipFrame, MediaError> {
        let ppm = extract_frame(path, source, time, Some(FRAME_EDGE))?;
        make_frame(&decode_image(&ppm, source, limits)?, source, time)
    };
    let mut slots: Vec<Option<Result<ClipFrame, MediaError>>> = Vec::new();
    slots.resize_with(times.len(), || None);
    std::thread::scope(|scope| {
        for (worker, chunk) in slots.chunks_mut(times.len().div_ceil(workers)).enumerate() {
            let first = worker * times.len().div_ceil(workers);
            let times = &times;
            let frame_at = &frame_at;
            scope.spawn(move || {
                for (i, slot) in chunk.iter_mut().enumerate() {
                    *slot = Some(frame_at(times[first + i]));
                }
            });
        }
    });
    let frames = slots
        .into_iter()
        .map(|slot| slot.expect("every slot is filled"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Clip {
        source: source.to_string(),
        duration,
        frames,
        capped,
    })
}

/// The clip's length in seconds, from its video stream (or, failing that, its container), and
/// the interval between its frames (from the average frame rate; 0 when unknown).
fn probe(path: &Path, source: &str) -> Result<(f64, f64), MediaError> {
    let output = run_tool(
        "ffprobe",
        Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0"])
            .args([
                "-show_entries",
                "stream=codec_type,duration,avg_frame_rate:format=duration",
            ])
            .args(["-of", "default=noprint_wrappers=1"])
            .arg(path),
    )?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(not_a_video(source, &output.stderr));
    }
    if !text.lines().any(|l| l == "codec_type=video") {
        return Err(MediaError::Video {
            source_name: source.into(),
            reason: "it has no video stream".into(),
        });
    }
    // The stream's duration first (the container's may count an audio track that runs longer).
    let duration = text
        .lines()
        .filter_map(|l| l.strip_prefix("duration="))
        .find_map(|d| d.parse::<f64>().ok().filter(|d| d.is_finite() && *d > 0.0))
        .ok_or_else(|| MediaError::Video {
            source_name: source.into(),
            reason: "its length cannot be read (truncated?)".into(),
        })?;
    // "30000/1001", or "0/0" when the container does not say.
    let interval = text
        .lines()
        .find_map(|l| l.strip_prefix("avg_frame_rate="))
        .and_then(|rate| rate.split_once('/'))
        .and_then(|(n, d)| Some(d.parse::<f64>().ok()? / n.parse::<f64>().ok()?))
        .filter(|i| i.is_finite() && *i > 0.0 && *i < duration)
        .unwrap_or(0.0);
    Ok((duration, interval))
}

/// One frame at `time` seconds, no larger than `edge` a side when given, as a PPM
/// (uncompressed: the quickest for ffmpeg to write and for vchat to read).
fn extract_frame(
    path: &Path,
    source: &str,
    time: f64,
    edge: Option<u32>,
) -> Result<Vec<u8>, MediaError> {
    let mut command = Command::new("ffmpeg");
    command
        .args([
            "-v",
            "error",
            "-nostdin",
            "-ss",
            &format!("{time:.3}"),
            "-i",
        ])
        .arg(path)
        .args(["-frames:v", "1", "-an"]);
    if let Some(edge) = edge {
        command.arg("-vf").arg(format!(
            "scale='min({edge},iw)':'min({edge},ih)':force_original_aspect_ratio=decrease"
        ));
    }
    let output = run_tool(
        "ffmpeg",
        command.args(["-f", "image2pipe", "-c:v", "ppm", "-"]),
    )?;
    if !output.status.success() || output.stdout.is_empty() {
        let reason = first_line(&output.stderr)
            .unwrap_or_else(|| format!("no frame at {} s", format_time(time)));
        return Err(MediaError::Video {
            source_name: source.into(),
            reason: format!("corrupt or truncated: {reason}"),
        });
    }
    Ok(output.stdout)
}

fn run_tool(name: &str, command: &mut Command) -> Result<std::process::Output, MediaError> {
    command.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => MediaError::MissingTool(name.into()),
        _ => MediaError::Video {
            source_name: name.into(),
            reason: e.to_string(),
        },
    })
}

fn not_a_video(source: &str, stderr: &[u8]) -> MediaError {
    MediaError::Video {
        source_name: source.into(),
        reason: format!(
            "not a video ffmpeg can read, or truncated ({})",
            first_line(stderr).unwrap_or_else(|| "no details".into())
        ),
    }
}

/// The first non-empty line of a tool's stderr, without what ffmpeg puts first: the reader's
/// tag (`[mov,mp4,… @ 0x55…] `) or the file name (`clip.mp4: `).
fn first_line(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = match line.strip_prefix('[') {
        Some(tagged) => tagged.split_once("] ").map_or(line, |(_, rest)| rest),
        None => line.rsplit(": ").next().unwrap_or(line),
    };
    Some(crate::text::one_line(line))
}

fn corrupt(source: &str, error: image::ImageError) -> MediaError {
    MediaError::Corrupt {
        source_name: source.into(),
        reason: error.to_string(),
    }
}

/// A sampled frame as a chat image (no larger than [`FRAME_EDGE`]): PNG bytes, what a saved
/// chat stores (lossless, so the pixels sent are the pixels a reopened chat shows), and its
/// label.
fn make_frame(pixels: &DynamicImage, source: &str, time: f64) -> Result<ClipFrame, MediaError> {
    let pixels = if pixels.width().max(pixels.height()) > FRAME_EDGE {
        pixels.resize(
            FRAME_EDGE,
            FRAME_EDGE,
            image::imageops::FilterType::Triangle,
        )
    } else {
        pixels.clone()
    };
    let png = encode_png(&pixels, source)?;
    let label = format!("{source} @ {} s", format_time(time));
    Ok(ClipFrame {
        time,
        image: ChatImage::new(label, png, pixels),
    })
}

/// PNG with fast compression: a frame is written once and kept, and the default level costs
/// several times the rest of the frame's path.
fn encode_png(image: &DynamicImage, source: &str) -> Result<Vec<u8>, MediaError> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let mut png = Vec::new();
    let encoder =
        PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::Adaptive);
    image
        .write_with_encoder(encoder)
        .map_err(|e| corrupt(source, e))?;
    Ok(png)
}

/// The clip as one image for models that see one image per request (LLaVA-1.5): the frames
/// tiled left to right and top to bottom, each labelled with its time in the corner.
pub fn contact_sheet(clip: &Clip) -> Result<ChatImage, MediaError> {
    const CELL: u32 = 336;
    let count = clip.frames.len().max(1) as u32;
    let columns = (count as f64).sqrt().ceil() as u32;
    let rows = count.div_ceil(columns);
    let mut sheet = RgbaImage::from_pixel(columns * CELL, rows * CELL, Rgba([0, 0, 0, 255]));
    for (i, frame) in clip.frames.iter().enumerate() {
        let (column, row) = (i as u32 % columns, i as u32 / columns);
        let tile = frame
            .image
            .pixels
            .resize(CELL, CELL, image::imageops::FilterType::Triangle)
            .to_rgba8();
        let x = column * CELL + (CELL - tile.width()) / 2;
        let y = row * CELL + (CELL - tile.height()) / 2;
        image::imageops::overlay(&mut sheet, &tile, i64::from(x), i64::from(y));
        draw_label(
            &mut sheet,
            column * CELL + 4,
            row * CELL + 4,
            &format!("{}s", format_time(frame.time)),
        );
    }
    let sheet = DynamicImage::ImageRgba8(sheet).to_rgb8();
    let sheet = DynamicImage::ImageRgb8(sheet);
    let png = encode_png(&sheet, &clip.source)?;
    let label = format!(
        "{} (contact sheet of {} frames)",
        clip.source,
        clip.frames.len()
    );
    Ok(ChatImage::new(label, png, sheet))
}

/// Draws `text` (digits, '.', ':' and 's') in white on a black box, 3 × 5 glyphs scaled 4×.
fn draw_label(image: &mut RgbaImage, x: u32, y: u32, text: &str) {
    const SCALE: u32 = 4;
    let glyphs: Vec<[u8; 5]> = text.chars().filter_map(glyph).collect();
    let width = (glyphs.len() as u32 * 4 + 1) * SCALE;
    let height = 7 * SCALE;
    for dy in 0..height {
        for dx in 0..width {
            if x + dx < image.width() && y + dy < image.height() {
                image.put_pixel(x + dx, y + dy, Rgba([0, 0, 0, 255]));
            }
        }
    }
    for (i, rows) in glyphs.iter().enumerate() {
        for (row, bits) in rows.iter().enumerate() {
            for column in 0..3u32 {
                if bits & (0b100 >> column) == 0 {
                    continue;
                }
                for sy in 0..SCALE {
                    for sx in 0..SCALE {
                        let px = x + (1 + i as u32 * 4 + column) * SCALE + sx;
                        let py = y + (1 + row as u32) * SCALE + sy;
                        if px < image.width() && py < image.height() {
                            image.put_pixel(px, py, Rgba([255, 255, 255, 255]));
                        }
                    }
                }
            }
        }
    }
}

/// A 3 × 5 glyph, one row of three bits per byte.
fn glyph(c: char) -> Option<[u8; 5]> {
    Some(match c {
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b111, 0b001, 0b111, 0b100, 0b111],
        '3' => [0b111, 0b001, 0b111, 0b001, 0b111],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b111, 0b001, 0b111],
        '6' => [0b111, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b010, 0b010, 0b010],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b111],
        '.' => [0b000, 0b000, 0b000, 0b000, 0b010],
        ':' => [0b000, 0b010, 0b000, 0b010, 0b000],
        's' => [0b000, 0b011, 0b110, 0b011, 0b110],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_the_centres_of_equal_parts() {
        let (times, capped) = sample_times(8.0, FrameSampling::Count(4), usize::MAX);
        assert_eq!(times, vec![1.0, 3.0, 5.0, 7.0]);
        assert!(!capped);
    }

    #[test]
    fn a_rate_is_capped_and_says_so() {
        let (times, capped) = sample_times(600.0, FrameSampling::PerSecond(1.0), 6000);
        assert_eq!(times.len(), MAX_FRAMES);
        assert!(capped);
        assert!(times.iter().all(|&t| (0.0..600.0).contains(&t)));
    }

    #[test]
    fn a_short_clip_gives_each_of_its_frames_once() {
        let (times, capped) = sample_times(0.2, FrameSampling::Count(8), 2);
        assert_eq!(times.len(), 2);
        assert!(!capped, "not the 32-frame cap");
    }

    #[test]
    fn container_videos_are_known_by_extension() {
        assert!(is_container_video("clip.MP4"));
        assert!(is_container_video("https://example.com/a.webm?x=1"));
        assert!(!is_container_video("photo.gif"));
        assert!(!is_container_video("notes.txt"));
    }
}
