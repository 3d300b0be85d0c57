//! The full-screen app: terminal setup, the event loop, and the bridge between terminal
//! events, the engine and the [`State`](crate::app::State).

mod clipboard;
mod complete;
mod dropped;
mod images;
mod session;
pub mod terminal;
mod terminal_query;

use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{Event, EventStream, MouseEventKind};
use futures_util::StreamExt;
use tokio::time::Instant;

use crate::app::{keymap, Action, StartInfo, State};
use crate::cli::{ChatArgs, ImageProtocol};
use crate::config;
use crate::engine::{DeviceChoice, DtypeChoice, EngineOptions, IsqChoice, DEFAULT_MODEL};
use crate::media::MediaOptions;
use crate::oneshot::Exit;
use crate::ui::{self, Theme};

pub use images::ImageRenderer;
pub use session::Session;

/// At most this many frames a second.
const FRAME_INTERVAL: Duration = Duration::from_millis(16);
/// Lines the mouse wheel scrolls per notch.
const WHEEL_LINES: usize = 3;

/// What the status bar shows before the model reports its own facts.
pub fn start_info(options: &EngineOptions) -> StartInfo {
    StartInfo {
        model: options.model.clone(),
        device: match options.device {
            DeviceChoice::Cpu => "cpu".into(),
            DeviceChoice::Best => "auto".into(),
        },
        dtype: match options.dtype {
            DtypeChoice::Auto => "auto".into(),
            other => format!("{other:?}").to_lowercase(),
        },
        quantization: match options.isq {
            IsqChoice::Auto => "auto".into(),
            IsqChoice::None => "none".into(),
            IsqChoice::Type(t) => format!("{t:?}").to_lowercase(),
        },
    }
}

/// Runs the full-screen app until the user quits.
pub async fn run(args: &ChatArgs, cache_dir: PathBuf) -> Result<(), Exit> {
    let config = config::load(config::config_dir().as_deref());
    let settings = args
        .sampling_settings_from(config.sampling.clone())
        .map_err(|e| Exit::new(Exit::USAGE, e.to_string()))?;
    let mut options = args.engine_options(cache_dir);
    // The config fills in what the command line left at its default.
    if let (Some(model), true) = (&config.model, args.model == DEFAULT_MODEL) {
        options.model = model.clone();
    }
    if let (Some(isq), IsqChoice::Auto) = (config.quantization, args.isq) {
        options.isq = isq;
    }
    let protocol = match args.image_protocol {
        ImageProtocol::Auto => config.image_protocol,
        forced => forced,
    };
    let mut state = State::new(start_info(&options), settings, args.system.clone());
    let store = crate::chats::ChatStore::open_default();
    if let Some(id) = &args.sessions.resume {
        // Read before the terminal changes, so that a missing chat is a plain error line. Only
        // the last turns: a long chat's first screen does not wait for the whole history.
        state.show_loaded_chat(open_saved_chat(&store, id)?);
    }
    state.keymap = config.keymap.clone();
    for problem in &config.problems {
        state.report_problem(&problem.to_string());
    }
    let media = MediaOptions {
        fetch_timeout: Duration::from_secs_f64(args.fetch_timeout),
        frame_sampling: args.frame_sampling(),
        ..MediaOptions::default()
    };
    let mut terminal =
        terminal::enter().map_err(|e| Exit::new(1, format!("cannot set up the terminal: {e}")))?;
    let _guard = terminal::RestoreGuard;
    let theme = config.theme.clone();
    // The first frame, before anything slow starts (the graphics query can take a moment).
    terminal
        .draw(|frame| ui::draw(frame, &state, &theme, None))
        .map_err(|e| Exit::new(1, format!("cannot draw: {e}")))?;
    // The model loads while the terminal is asked about graphics.
    let mut session = Session::start(state, options, media);
    session.clipboard_to_terminal = true;
    let resumed_in_part = session.state.earlier_turns_loading;
    let chat_id = session.state.chat.id.clone();
    if args.sessions.no_save {
        session.read_from(store);
    } else {
        session.save_to(store);
    }
    if resumed_in_part {
        session.dispatch(Action::OpenChat(chat_id));
    }
    // In raw mode and before the key reader starts: the query reads the terminal's answer
    // from stdin (and nothing after it).
    let mut images = ImageRenderer::new(images::pick(protocol));

    // Clips load like images (the file decides): `--video` is attached the same way.
    for source in args.video.iter().chain(&args.image) {
        session.dispatch(Action::AttachImage(source.clone()));
    }
    let result = event_loop(&mut terminal, &mut session, &theme, &mut images).await;
    // Whatever ended the loop (quit, hang-up, SIGTERM, a draw error), the chat is saved,
    // with the answer in progress as far as it got.
    session.finish();
    result
}

/// Reads saved chat `id` (empty: the latest) for `--resume`.
fn open_saved_chat(
    store: &crate::chats::ChatStore,
    id: &str,
) -> Result<crate::chats::LoadedChat, Exit> {
    let id = match id {
        "" => store.latest().ok_or_else(|| {
            Exit::new(
                Exit::USAGE,
                format!(
                    "no saved chats to resume in {}",
                    store.chats_dir().display()
                ),
            )
        })?,
        id => id.to_string(),
    };
    store
        .load_tail(&id, crate::chats::FIRST_SCREEN_TURNS)
        .map_err(|e| Exit::new(Exit::USAGE, e.to_string()))
}

async fn event_loop(
    terminal: &mut terminal::Tui,
    session: &mut Session,
    theme: &Theme,
    images: &mut ImageRenderer,
) -> Result<(), Exit> {
    let mut keys = EventStream::new();
    let mut signals = Signals::new()?;
    let mut next_frame = Instant::now();
    while !session.should_quit() {
        tokio::select! {
            event = keys.next() => match event {
                Some(Ok(event)) => {
                    on_terminal_event(session, event);
                    // What the user typed is drawn at once: the frame limit exists to pace the
                    // engine's stream, and a keystroke that waited for the next frame slot
                    // would be felt as lag. Typing is far slower than 60 keys a second.
                    if session.dirty && !session.should_quit() {
                        next_frame = redraw(terminal, session, theme, images)?;
                    }
                }
                // The terminal is gone (hang-up): nothing to show anymore.
                Some(Err(_)) | None => session.dispatch(Action::Quit),
            },
            action = session.next_action() => match action {
                Some(action) => session.dispatch(action),
                None => session.dispatch(Action::Quit),
            },
            redraw = images.next_encoded() => session.dirty |= redraw,
            _ = signals.next() => session.dispatch(Action::Quit),
            _ = tokio::time::sleep_until(next_frame), if session.dirty => {
                next_frame = redraw(terminal, session, theme, images)?;
            }
        }
    }
    Ok(())
}

fn on_terminal_event(session: &mut Session, event: Event) {
    let action = match event {
        Event::Key(key) => keymap::resolve(&session.state, key),
        // A file dropped onto the terminal (or an image path or URL pasted) is attached.
        Event::Paste(text) => Some(match dropped::pasted_image(&text) {
            Some(source) => Action::AttachImage(source),
            // Terminals send a pasted line break as CR (the Enter key's byte), some as CR LF.
            None => Action::Insert(text.replace("\r\n", "\n").replace('\r', "\n")),
        }),
        Event::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollUp => Some(Action::ScrollUp(WHEEL_LINES)),
            MouseEventKind::ScrollDown => Some(Action::ScrollDown(WHEEL_LINES)),
            _ => None,
        },
        Event::Resize(..) => {
            session.dirty = true;
            None
        }
        _ => None,
    };
    if let Some(action) = action {
        session.dispatch(action);
    }
}

/// Draws the session's state and returns when the next paced frame may be drawn.
fn redraw(
    terminal: &mut terminal::Tui,
    session: &mut Session,
    theme: &Theme,
    images: &mut ImageRenderer,
) -> Result<Instant, Exit> {
    session.dirty = false;
    draw(terminal, &session.state, theme, images)?;
    Ok(Instant::now() + FRAME_INTERVAL)
}

fn draw(
    terminal: &mut terminal::Tui,
    state: &State,
    theme: &Theme,
    images: &mut ImageRenderer,
) -> Result<(), Exit> {
    images.sync(state.shown_image.as_ref());
    terminal
        .draw(|frame| ui::draw(frame, state, theme, images.protocol()))
        .map(|_| ())
        .map_err(|e| Exit::new(1, format!("cannot draw: {e}")))
}

/// SIGTERM and SIGHUP end the app cleanly (restoring the terminal).
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Self, Exit> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listen = |kind| {
                signal(kind).map_err(|e| Exit::new(1, format!("cannot listen for signals: {e}")))
            };
            Ok(Self {
                term: listen(SignalKind::terminate())?,
                hup: listen(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.hup.recv() => {}
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await
    }
}
