//! Fixtures shared by the integration tests: the tiny model (generated once per test binary by
//! the project's own generator), test images, and helpers to drive the engine.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, DynamicImage, Frame, Rgba, RgbaImage};
use tokio::sync::mpsc::UnboundedReceiver;
use vchat::conversation::{AnswerStats, ChatImage};
use vchat::engine::{
    DeviceChoice, DtypeChoice, Engine, EngineEvent, EngineOptions, IsqChoice, ModelInfo, RequestId,
};
use vchat::tiny_model::{pattern_image, write_tiny_llava, TinyLlavaSpec};

/// A folder that lives as long as the test binary.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
        .path()
}

/// The tiny LLaVA-1.5, written once per test binary.
pub fn tiny_model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = scratch_dir().join("tiny-llava");
        write_tiny_llava(&dir, &TinyLlavaSpec::tiny()).expect("write tiny model");
        dir
    })
}

/// A square test image with a pattern that depends on `variant`.
pub fn test_image(variant: u8) -> DynamicImage {
    let image = pattern_image(u32::from(variant));
    match variant {
        // Not square, and each side an odd multiple of half a Qwen2.5-VL merge patch (14): the
        // processors' rounding (ties to even) and aspect handling are exercised.
        NON_SQUARE => image.crop_imm(0, 0, 182, 126),
        _ => image,
    }
}

/// The test image variant that is not square (182 × 126).
pub const NON_SQUARE: u8 = 3;

/// The test image as a chat attachment.
pub fn chat_image(variant: u8) -> ChatImage {
    ChatImage::from_pixels(format!("pattern-{variant}.png"), test_image(variant))
}

/// The test image written as a PNG file.
pub fn test_png(variant: u8) -> PathBuf {
    let path = scratch_dir().join(format!("pattern-{variant}.png"));
    if !path.exists() {
        test_image(variant).save(&path).expect("write png");
    }
    path
}

/// Engine options for the tiny model on CPU at F32, offline.
pub fn tiny_options(model: &Path) -> EngineOptions {
    let mut options = EngineOptions::new(model.display().to_string(), scratch_dir().join("cache"));
    options.device = DeviceChoice::Cpu;
    options.dtype = DtypeChoice::F32;
    options.isq = IsqChoice::None;
    options.offline = true;
    options
}

/// Starts the engine and waits for the model.
pub async fn ready_engine(
    options: EngineOptions,
) -> (Engine, UnboundedReceiver<EngineEvent>, ModelInfo) {
    let (engine, mut events) = Engine::start(options);
    loop {
        match events.recv().await.expect("engine events") {
            EngineEvent::Ready { info, .. } => return (engine, events, info),
            EngineEvent::LoadFailed { message, .. } => panic!("load failed: {message}"),
            _ => {}
        }
    }
}

/// The outcome of one request.
#[derive(Debug)]
pub struct Answer {
    pub text: String,
    pub token_ids: Vec<u32>,
    pub tokens_events: usize,
    pub stats: AnswerStats,
}

/// Collects the answer to `request`; panics on an engine error.
pub async fn collect(events: &mut UnboundedReceiver<EngineEvent>, request: RequestId) -> Answer {
    let mut text = String::new();
    let mut tokens_events = 0;
    loop {
        match events.recv().await.expect("engine events") {
            EngineEvent::Token {
                request: r,
                text: t,
            } if r == request => {
                tokens_events += 1;
                text.push_str(&t);
            }
            EngineEvent::Done {
                request: r,
                stats,
                token_ids,
            } if r == request => {
                return Answer {
                    text,
                    token_ids,
                    tokens_events,
                    stats,
                }
            }
            EngineEvent::Error {
                request: r,
                message,
            } if r == request => {
                panic!("engine error: {message}")
            }
            _ => {}
        }
    }
}

/// The rendered prompt answering `request`.
pub async fn prompt_text(
    events: &mut UnboundedReceiver<EngineEvent>,
    request: RequestId,
) -> String {
    loop {
        match events.recv().await.expect("engine events") {
            EngineEvent::Prompt { request: r, text } if r == request => return text,
            EngineEvent::Error {
                request: r,
                message,
            } if r == request => panic!("{message}"),
            _ => {}
        }
    }
}

/// Types `text` in the app's input and presses Enter.
pub fn type_and_send(session: &mut vchat::tui::Session, text: &str) {
    session.dispatch(vchat::app::Action::Insert(text.into()));
    session.dispatch(vchat::app::Action::Submit);
}

/// Runs the app's background work until the answer in progress ends.
pub async fn until_idle(session: &mut vchat::tui::Session) {
    while session.state.is_busy() {
        assert!(session.step().await, "the engine stopped");
    }
}

/// Runs the app's background work until the model is loaded.
pub async fn until_ready(session: &mut vchat::tui::Session) {
    while !matches!(session.state.model, vchat::app::ModelStatus::Ready(_)) {
        assert!(session.step().await, "the engine stopped");
        if let vchat::app::ModelStatus::Failed(reason) = &session.state.model {
            panic!("load failed: {reason}");
        }
    }
}

/// What the engine reports for a LLaVA-1.5 on the local CPU engine, for tests that drive the
/// app's state without one.
pub fn llava_info(model: &str) -> ModelInfo {
    ModelInfo {
        model: model.into(),
        architecture: "LlavaForConditionalGeneration".into(),
        device: "cpu".into(),
        dtype: "f32".into(),
        quantization: "none".into(),
        one_image_per_request: true,
        backend: "local".into(),
    }
}

/// The Python of the reference environment (transformers) that `cargo xtask test` (or
/// `cargo xtask reference`) prepares; `VCHAT_REFERENCE_PYTHON` names another.
pub fn reference_python() -> PathBuf {
    let python = std::env::var_os("VCHAT_REFERENCE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/reference-venv/bin/python")
        });
    assert!(
        python.is_file(),
        "the reference Python environment is missing ({}): run the tests with `cargo xtask test`, \
         or prepare it once with `cargo xtask reference`",
        python.display()
    );
    python
}

/// The token ids of one answer of a reference script (its `tokens` field).
pub fn reference_token_ids(turn: &serde_json::Value) -> Vec<u32> {
    turn["tokens"]
        .as_array()
        .expect("the reference lists the answer's tokens")
        .iter()
        .map(|t| t.as_u64().expect("a token id") as u32)
        .collect()
}

/// Runs `reference/SCRIPT` in the reference environment with `args`, `stdin` as JSON on its
/// input; its stdout.
pub fn run_reference(script: &str, args: &[&OsStr], stdin: Option<&serde_json::Value>) -> Vec<u8> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("reference")
        .join(script);
    let mut child = Command::new(reference_python())
        .arg(&script)
        .args(args)
        .env("HF_HUB_OFFLINE", "1")
        .env("TRANSFORMERS_VERBOSITY", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the reference");
    let input = stdin.map(|v| v.to_string()).unwrap_or_default();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{script:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A tiny model written by `generator` with `args` after the output folder (once per test
/// binary).
pub fn generated_model(generator: &str, args: &[&str], name: &str) -> PathBuf {
    let dir = scratch_dir().join(name);
    if !dir.join("config.json").is_file() {
        let mut all = vec![dir.as_os_str()];
        all.extend(args.iter().map(OsStr::new));
        run_reference(generator, &all, None);
    }
    dir
}

/// A video written by the `ffmpeg` program (which vchat uses for container video and CI
/// installs) from its built-in sources: `args` go between `ffmpeg -v error -y` and the output
/// path, `scratch_dir()/name`.
pub fn ffmpeg_clip(name: &str, args: &[&str]) -> PathBuf {
    let path = scratch_dir().join(name);
    if !path.is_file() {
        let output = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-nostdin"])
            .args(args)
            .arg(&path)
            .output()
            .expect("the ffmpeg program (vchat's video tests need it on the PATH)");
        assert!(
            output.status.success(),
            "ffmpeg {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    path
}

/// A 4-second 64 × 64 clip at 10 frames per second whose red level tells the time: 50 per
/// second (0 at the start, 200 at the end), so a sampled frame shows when it was taken.
pub fn red_clock_clip(name: &str) -> PathBuf {
    red_clock_clip_of(name, "64x64", 10, 4, 50)
}

/// A red-clock clip of another size, rate, length (seconds) and red per second, lossless.
pub fn red_clock_clip_of(
    name: &str,
    size: &str,
    rate: u32,
    seconds: u32,
    red_per_second: u32,
) -> PathBuf {
    let source =
        format!("color=c=black:s={size}:r={rate}:d={seconds},geq=r='{red_per_second}*T':g=0:b=0");
    ffmpeg_clip(
        name,
        &[
            "-f",
            "lavfi",
            "-i",
            &source,
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-qp",
            "0",
        ],
    )
}

/// An animated GIF of `colours`, each shown for `delay_ms`.
pub fn animated_gif(colours: &[[u8; 3]], delay_ms: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new(std::io::Cursor::new(&mut bytes));
        encoder.set_repeat(Repeat::Infinite).unwrap();
        let frames = colours.iter().map(|&[r, g, b]| {
            Frame::from_parts(
                RgbaImage::from_pixel(40, 30, Rgba([r, g, b, 255])),
                0,
                0,
                Delay::from_numer_denom_ms(delay_ms, 1),
            )
        });
        encoder.encode_frames(frames).unwrap();
    }
    bytes
}
