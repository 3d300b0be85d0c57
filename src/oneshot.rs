//! One-shot mode: `vchat --image IMG --prompt "…"` prints the answer (and each follow-up's) to
//! stdout and exits. For pipes, scripts and quick questions over SSH.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::cli::ChatArgs;
use crate::conversation::{AssistantTurn, ChatImage, Conversation};
use crate::engine::{Engine, EngineEvent, ModelInfo, RequestId};
use crate::media::{self, MediaOptions};
use crate::sampling::SamplingSettings;
use crate::text::{one_line, sanitize};

/// A failure that ends the program: a one-line message and an exit code.
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub message: String,
}

impl Exit {
    /// Invalid command-line values.
    pub const USAGE: i32 = 2;
    /// The image could not be used.
    pub const IMAGE: i32 = 3;
    /// The model could not be loaded (or the remote server could not be used).
    pub const MODEL: i32 = 4;
    /// Generation failed.
    pub const GENERATION: i32 = 5;
    /// Stopped by Ctrl-C.
    pub const INTERRUPTED: i32 = 130;

    pub fn new(code: i32, message: impl AsRef<str>) -> Self {
        Self {
            code,
            message: one_line(message.as_ref()),
        }
    }
}

/// Runs the one-shot chat described by `args`.
pub async fn run(args: &ChatArgs, cache_dir: std::path::PathBuf) -> Result<(), Exit> {
    let settings = args
        .sampling_settings()
        .map_err(|e| Exit::new(Exit::USAGE, e.to_string()))?;
    let media_options = MediaOptions {
        fetch_timeout: Duration::from_secs_f64(args.fetch_timeout),
        frame_sampling: args.frame_sampling(),
        ..MediaOptions::default()
    };
    let options = args.engine_options(cache_dir);
    if let Some(problem) = args.backend_problem(&options) {
        return Err(Exit::new(Exit::USAGE, problem));
    }
    // The images and clips first: a wrong path should not cost a model load. A clip given to
    // --image is a clip all the same (the file decides).
    let (mut images, mut clips) = (Vec::new(), Vec::new());
    let failed = |e: media::MediaError| Exit::new(Exit::IMAGE, e.to_string());
    for source in &args.image {
        match media::load_attachment(source, &media_options)
            .await
            .map_err(failed)?
        {
            media::Attachment::Image(image) => images.push(image),
            media::Attachment::Clip(clip) => clips.push(clip),
        }
    }
    for source in &args.video {
        clips.push(
            media::load_clip(source, &media_options, media_options.frame_sampling)
                .await
                .map_err(failed)?,
        );
    }

    let (engine, mut events) = Engine::start(options);

    let stdout_is_terminal = std::io::stdout().is_terminal();
    if stdout_is_terminal && !args.no_image {
        images.iter().for_each(print_image);
    }

    let info = wait_until_ready(&mut events).await?;
    if let Some(warning) = info.unverified_warning() {
        eprintln!("vchat: warning: {warning}");
    }
    if args.stats {
        eprintln!(
            "[model] {} · {} · {} · {} · {} · quantization {}",
            sanitize(&info.model),
            sanitize(&info.backend),
            info.architecture,
            info.device,
            info.dtype,
            info.quantization
        );
    }

    let mut conversation = Conversation {
        system_prompt: args.system.clone(),
        ..Default::default()
    };
    let mut out = std::io::stdout().lock();
    for (index, prompt) in args.prompt.iter().enumerate() {
        if index > 0 {
            write_out(&mut out, "\n")?;
        }
        let (mut turn_images, mut text) = (Vec::new(), prompt.clone());
        if index == 0 {
            // Each clip's frames (or contact sheet) go first, with the line that says when
            // each frame was taken, then the images, then the question.
            let mut lines = Vec::new();
            for clip in &clips {
                let (frames, line) = media::video::for_model(clip, info.one_image_per_request)
                    .map_err(|e| Exit::new(Exit::IMAGE, e.to_string()))?;
                turn_images.extend(frames);
                lines.push(line);
            }
            turn_images.extend(images.iter().cloned());
            if !lines.is_empty() {
                text = format!("{}\n{prompt}", lines.join("\n"));
            }
        }
        conversation.push_user(text, turn_images);
        let (answer, token_ids) =
            stream_answer(&engine, &mut events, &conversation, &settings, &mut out).await?;
        write_out(&mut out, "\n")?;
        if args.token_ids {
            let ids: Vec<String> = token_ids.iter().map(u32::to_string).collect();
            eprintln!("[answer {} ids] {}", index + 1, ids.join(" "));
        }
        if args.stats {
            if let Some(stats) = &answer.stats {
                eprintln!("[answer {}] {}", index + 1, stats.summary());
                if let Some(prompt) = stats.prompt {
                    eprintln!("[answer {} prompt] {}", index + 1, prompt.describe());
                }
            }
        }
        let stopped = answer
            .stats
            .as_ref()
            .is_some_and(|s| s.finish == crate::conversation::FinishReason::Cancelled);
        conversation.push_assistant(answer);
        if stopped {
            return Err(Exit::new(Exit::INTERRUPTED, "stopped by Ctrl-C"));
        }
    }

    if args.show_prompt {
        let request = engine.render_prompt(&conversation, false);
        let mut text = wait_for_prompt(&mut events, request).await?;
        let last_prompt = conversation.turns.last().and_then(|turn| match turn {
            crate::conversation::Turn::Assistant(answer) => answer.stats.as_ref()?.prompt,
            crate::conversation::Turn::User(_) => None,
        });
        if let Some(size) = last_prompt {
            text.push_str(&format!(
                "\n[the last answer's prompt, as the model ran it: {}]",
                size.describe()
            ));
        }
        write_out(
            &mut out,
            &format!(
                "\n--- the conversation as the model sees it ---\n{}\n",
                sanitize(&text)
            ),
        )?;
    }
    Ok(())
}

/// `--list-models`: the remote server's model ids on stdout, one a line.
pub async fn list_models(args: &ChatArgs, cache_dir: std::path::PathBuf) -> Result<(), Exit> {
    let options = args.engine_options(cache_dir);
    let crate::engine::Backend::Remote(remote) = &options.backend else {
        return Err(Exit::new(
            Exit::USAGE,
            "--list-models asks a remote server: add --url http://HOST:PORT/v1",
        ));
    };
    if let Some(problem) = args.backend_problem(&options) {
        return Err(Exit::new(Exit::USAGE, problem));
    }
    let models = crate::engine::remote::list_models(remote)
        .await
        .map_err(|e| Exit::new(Exit::MODEL, e.to_string()))?;
    let mut out = std::io::stdout().lock();
    for model in models {
        write_out(&mut out, &format!("{}\n", sanitize(&model)))?;
    }
    Ok(())
}

/// Waits for the model. While it downloads and loads, a terminal on stderr shows one line of
/// progress, rewritten in place and cleared when done; stderr that is not a terminal (a pipe,
/// a log file) gets nothing.
async fn wait_until_ready(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<EngineEvent>,
) -> Result<ModelInfo, Exit> {
    use std::io::IsTerminal;
    let live = std::io::stderr().is_terminal();
    let mut shown = false;
    let clear = |shown: bool| {
        if shown {
            eprint!("\r\x1b[2K");
        }
    };
    while let Some(event) = events.recv().await {
        match event {
            EngineEvent::Ready { info, .. } => {
                clear(shown);
                return Ok(info);
            }
            EngineEvent::LoadFailed { message, .. } => {
                clear(shown);
                return Err(Exit::new(Exit::MODEL, message));
            }
            EngineEvent::Loading {
                stage, fraction, ..
            } => {
                tracing::info!("loading: {stage}");
                if live {
                    let (width, _) = crossterm::terminal::size().unwrap_or((80, 24));
                    let line = format!("{:>3.0}% {}", fraction * 100.0, sanitize(&stage));
                    let line: String = line
                        .chars()
                        .take(usize::from(width).saturating_sub(1))
                        .collect();
                    eprint!("\r\x1b[2K{line}");
                    shown = true;
                }
            }
            _ => {}
        }
    }
    clear(shown);
    Err(Exit::new(Exit::MODEL, "the engine stopped while loading"))
}

/// Streams one answer to `out`; Ctrl-C stops it and keeps the partial text.
async fn stream_answer(
    engine: &Engine,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<EngineEvent>,
    conversation: &Conversation,
    settings: &SamplingSettings,
    out: &mut impl Write,
) -> Result<(AssistantTurn, Vec<u32>), Exit> {
    let request = engine.generate(conversation, settings);
    let mut text = String::new();
    let mut interrupted = false;
    loop {
        let event = tokio::select! {
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                engine.cancel(request);
                continue;
            }
            event = events.recv() => event,
        };
        let Some(event) = event else {
            return Err(Exit::new(Exit::GENERATION, "the engine stopped"));
        };
        if event.request() != request {
            continue;
        }
        match event {
            EngineEvent::Token { text: piece, .. } => {
                text.push_str(&piece);
                if let Err(e) = write_out(out, &sanitize(&piece)) {
                    engine.cancel(request);
                    return Err(e);
                }
            }
            EngineEvent::Done {
                stats, token_ids, ..
            } => {
                let answer = AssistantTurn {
                    text,
                    settings: settings.clone(),
                    stats: Some(stats),
                    answered_by: None,
                };
                return Ok((answer, token_ids));
            }
            EngineEvent::Error { message, .. } => return Err(Exit::new(Exit::GENERATION, message)),
            _ => {}
        }
    }
}

async fn wait_for_prompt(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<EngineEvent>,
    request: RequestId,
) -> Result<String, Exit> {
    while let Some(event) = events.recv().await {
        match event {
            EngineEvent::Prompt { request: r, text } if r == request => return Ok(text),
            EngineEvent::Error {
                request: r,
                message,
            } if r == request => return Err(Exit::new(Exit::GENERATION, message)),
            _ => {}
        }
    }
    Err(Exit::new(Exit::GENERATION, "the engine stopped"))
}

/// Writes and flushes; a closed pipe (`vchat … | head -1`) ends the program quietly.
fn write_out(out: &mut impl Write, text: &str) -> Result<(), Exit> {
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Exit::new(0, "")),
        Err(e) => Err(Exit::new(
            Exit::GENERATION,
            format!("cannot write the answer: {e}"),
        )),
    }
}

/// Shows the image in the terminal with viuer (half-blocks, or kitty/iTerm/sixel when the
/// terminal has them), at most 60 columns wide.
fn print_image(image: &ChatImage) {
    let (columns, _) = viuer::terminal_size();
    let config = viuer::Config {
        width: Some(u32::from(columns).clamp(10, 60)),
        absolute_offset: false,
        ..viuer::Config::default()
    };
    if let Err(e) = viuer::print(&image.pixels, &config) {
        tracing::warn!("cannot print the image: {e}");
    }
}
