//! A running chat without a terminal: the state, the engine and the effects' plumbing. The
//! full-screen loop wraps it with terminal events and drawing; tests drive it directly.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::complete::complete_image_path;
use crate::app::{Action, Effect, Generation, State, Ticket};
use crate::chats::{self, ChatStore, ChatWriter, ExportFormat};
use crate::engine::{Engine, EngineEvent, EngineOptions};
use crate::media::{self, MediaOptions};
use crate::text::one_line;

/// While an answer streams, the chat is saved at most this often (and when it ends).
const STREAM_SAVE_INTERVAL: Duration = Duration::from_secs(2);

/// The app state wired to a real engine.
pub struct Session {
    pub state: State,
    engine: Engine,
    engine_events: mpsc::UnboundedReceiver<EngineEvent>,
    /// What the engine was started with (a `/model` changes the model only).
    options: EngineOptions,
    /// The engine loading the model of a `/model`, its events and options, until it takes over.
    next_engine: Option<(Engine, mpsc::UnboundedReceiver<EngineEvent>, EngineOptions)>,
    /// Results of background work (image loads, chat files) come back as actions.
    results_tx: mpsc::UnboundedSender<Action>,
    results: mpsc::UnboundedReceiver<Action>,
    media: MediaOptions,
    quit: bool,
    /// Set by every dispatched action: the screen needs a redraw.
    pub dirty: bool,
    /// Where chats are read from (list, open); `None` in tests that do not ask.
    store: Option<ChatStore>,
    /// The one writer of the chat files; `None` with `--no-save`, when nothing is written.
    writer: Option<ChatWriter>,
    saved_revision: u64,
    last_save: Instant,
    /// Copies go to the terminal as OSC 52 (the full-screen app); off when headless.
    pub clipboard_to_terminal: bool,
}

impl Session {
    /// Starts the engine (loading in the background) for `state`.
    pub fn start(state: State, options: EngineOptions, media: MediaOptions) -> Self {
        let (engine, engine_events) = Engine::start(options.clone());
        let (results_tx, results) = mpsc::unbounded_channel();
        Self {
            state,
            engine,
            engine_events,
            options,
            next_engine: None,
            results_tx,
            results,
            media,
            quit: false,
            dirty: true,
            store: None,
            writer: None,
            saved_revision: 0,
            last_save: Instant::now(),
            clipboard_to_terminal: false,
        }
    }

    /// Saves the chat to `store` after every change from now on (and lists, opens, renames
    /// and deletes chats there, all through one writer).
    pub fn save_to(&mut self, store: ChatStore) {
        let errors = self.results_tx.clone();
        self.writer = Some(ChatWriter::start(store.clone(), move |message| {
            let _ = errors.send(Action::FileNotice {
                ticket: None,
                text: message,
                is_error: true,
            });
        }));
        self.saved_revision = self.state.revision;
        self.store = Some(store);
    }

    /// Lists and opens chats from `store` without writing anything there (`--no-save`).
    pub fn read_from(&mut self, store: ChatStore) {
        self.store = Some(store);
    }

    /// Saves what is unsaved, the answer in progress included, and waits for the writes:
    /// the last thing before the app ends, whatever ends it.
    pub fn finish(&mut self) {
        self.autosave_now(true);
        if let Some(mut writer) = self.writer.take() {
            writer.finish();
        }
    }

    /// Queues a snapshot of the chat when it changed; while an answer streams, at most every
    /// [`STREAM_SAVE_INTERVAL`] unless `force`.
    fn autosave_now(&mut self, force: bool) {
        let Some(writer) = &self.writer else {
            return;
        };
        let state = &self.state;
        if state.revision == self.saved_revision
            || (state.conversation.turns.is_empty() && state.partial_answer().is_none())
            // Only the last turns are in: saving now would cut the chat short.
            || state.earlier_turns_loading
        {
            return;
        }
        let streaming = matches!(state.generation, Generation::Running { .. });
        if streaming && !force && self.last_save.elapsed() < STREAM_SAVE_INTERVAL {
            return;
        }
        let partial = state.partial_answer();
        let (file, images) = chats::to_file(&state.chat, &state.conversation, partial.as_ref());
        writer.save(file, images);
        self.saved_revision = state.revision;
        self.last_save = Instant::now();
    }

    /// True once the app asked to quit.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Applies an action and carries out its effects.
    pub fn dispatch(&mut self, action: Action) {
        self.dirty = true;
        let mut queue = std::collections::VecDeque::from(self.state.update(action));
        while let Some(effect) = queue.pop_front() {
            if let Some(reply) = self.execute(effect) {
                queue.extend(self.state.update(reply));
            }
        }
        self.autosave_now(false);
    }

    fn execute(&mut self, effect: Effect) -> Option<Action> {
        match effect {
            Effect::Generate {
                conversation,
                settings,
            } => {
                let id = self.engine.generate(&conversation, &settings);
                Some(Action::GenerationStarted(id))
            }
            Effect::Cancel(id) => {
                self.engine.cancel(id);
                None
            }
            Effect::LoadImage { ticket, source } => {
                let tx = self.results_tx.clone();
                let media = self.media.clone();
                tokio::spawn(async move {
                    let failed = |e: media::MediaError| one_line(&e.to_string());
                    let action = match media::load_attachment(&source, &media).await {
                        // Both forms (frames, contact sheet): the model may not be known yet.
                        Ok(media::Attachment::Clip(clip)) => Action::ClipLoaded {
                            ticket,
                            source,
                            result: media::video::ClipForModels::new(&clip).map_err(failed),
                        },
                        Ok(media::Attachment::Image(image)) => Action::ImageLoaded {
                            ticket,
                            source,
                            result: Ok(image),
                        },
                        Err(e) => Action::ImageLoaded {
                            ticket,
                            source,
                            result: Err(failed(e)),
                        },
                    };
                    // The receiver lives as long as the session; after that nobody cares.
                    let _ = tx.send(action);
                });
                None
            }
            Effect::LoadFrame {
                ticket,
                source,
                time,
            } => {
                let tx = self.results_tx.clone();
                let media = self.media.clone();
                tokio::spawn(async move {
                    let result = media::load_frame(&source, time, &media)
                        .await
                        .map_err(|e| one_line(&e.to_string()));
                    let _ = tx.send(Action::ImageLoaded {
                        ticket,
                        source,
                        result,
                    });
                });
                None
            }
            Effect::ListFolder { ticket, dir } => {
                self.in_background(move || Action::FolderListed {
                    ticket,
                    result: crate::app::file_picker::list_folder(&dir),
                });
                None
            }
            Effect::LoadPreview { ticket, path } => {
                let tx = self.results_tx.clone();
                let media = self.media.clone();
                tokio::spawn(async move {
                    let source = path.display().to_string();
                    let result = media::load_image(&source, &media)
                        .await
                        .map_err(|e| one_line(&e.to_string()));
                    let _ = tx.send(Action::PreviewLoaded { ticket, result });
                });
                None
            }
            Effect::SwitchModel(model) => {
                let mut options = self.options.clone();
                match &mut options.backend {
                    crate::engine::Backend::Remote(remote) => remote.model = Some(model),
                    crate::engine::Backend::Local => options.model = model,
                }
                let (engine, events) = Engine::start_after(options.clone(), &self.engine);
                self.next_engine = Some((engine, events, options));
                None
            }
            Effect::UseNextEngine => {
                if let Some((engine, events, options)) = self.next_engine.take() {
                    // The old engine stops (and frees its model) once its handle is gone.
                    self.engine = engine;
                    self.engine_events = events;
                    self.options = options;
                }
                None
            }
            Effect::DropNextEngine => {
                self.next_engine = None;
                None
            }
            Effect::ReadClipboardImage { ticket } => {
                let tx = self.results_tx.clone();
                let media = self.media.clone();
                tokio::spawn(async move {
                    let route = super::clipboard::Desktop::current().route();
                    let bytes =
                        tokio::task::spawn_blocking(move || super::clipboard::read_image(&route))
                            .await
                            .unwrap_or_else(|e| Err(e.to_string()));
                    let result = match bytes {
                        Ok(bytes) => media::image_from_bytes(bytes, "clipboard image", &media)
                            .await
                            .map(|mut image| {
                                let (w, h) = (image.pixels.width(), image.pixels.height());
                                image.label = format!("clipboard image {w}×{h}");
                                image
                            })
                            .map_err(|e| one_line(&e.to_string())),
                        Err(reason) => Err(reason),
                    };
                    let _ = tx.send(Action::ImageLoaded {
                        ticket,
                        source: "clipboard".into(),
                        result,
                    });
                });
                None
            }
            Effect::WakeAfter { ticket, after } => {
                let tx = self.results_tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let _ = tx.send(Action::PlayTick(ticket));
                });
                None
            }
            Effect::CompletePath { ticket, typed } => {
                self.in_background(move || {
                    let completed = complete_image_path(&typed);
                    Action::PathCompleted {
                        ticket,
                        typed,
                        completed,
                    }
                });
                None
            }
            Effect::RenderPrompt(conversation) => {
                let id = self.engine.render_prompt(&conversation, true);
                Some(Action::PromptRequested(id))
            }
            Effect::Copy(text) => Some(self.copy(&text)),
            Effect::ListChats => {
                // The list shows the open chat as it is now (a title just changed, say).
                self.autosave_now(true);
                self.read_chats(|store| {
                    let (chats, problems) = store.list();
                    Action::ChatsListed {
                        chats,
                        problems: problems.iter().map(|p| p.to_string()).collect(),
                    }
                });
                None
            }
            Effect::OpenChat { ticket, id } => {
                if self.store.is_none() {
                    return Some(Action::FileNotice {
                        ticket: Some(ticket),
                        text: "no saved chats in this session".into(),
                        is_error: true,
                    });
                }
                // The chat on screen is saved before another replaces it, and the read comes
                // after that save (and any other) in the writer's order.
                self.autosave_now(true);
                self.read_chats(move |store| Action::ChatOpened {
                    ticket,
                    result: store.load(&id).map(Box::new).map_err(|e| e.to_string()),
                });
                None
            }
            Effect::RenameChat { ticket, id, title } => self.write_chats(ticket, move |store| {
                file_notice(ticket, store.rename(&id, &title), "chat renamed")
            }),
            Effect::DeleteChat { ticket, id } => self.write_chats(ticket, move |store| {
                file_notice(ticket, store.delete(&id), "chat deleted")
            }),
            Effect::Export {
                ticket,
                format,
                path,
                chat,
                conversation,
                partial,
            } => {
                self.in_background(move || {
                    let (file, images) = chats::to_file(&chat, &conversation, partial.as_deref());
                    let output = path.map(PathBuf::from).unwrap_or_else(|| {
                        PathBuf::from(format!("{}.{}", file.id, format.extension()))
                    });
                    export_chat(ticket, &file, &images, format, &output)
                });
                None
            }
            Effect::Quit => {
                self.quit = true;
                None
            }
        }
    }

    /// Runs file work on a blocking thread; its result comes back as an action.
    fn in_background(&self, work: impl FnOnce() -> Action + Send + 'static) {
        let tx = self.results_tx.clone();
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(work());
        });
    }

    /// Reads the store: through the writer when there is one, so that the read sees every
    /// write queued before it; else on a blocking thread.
    fn read_chats(&self, work: impl FnOnce(&ChatStore) -> Action + Send + 'static) {
        let tx = self.results_tx.clone();
        if let Some(writer) = &self.writer {
            writer.run(move |store| {
                let _ = tx.send(work(store));
            });
        } else if let Some(store) = self.store.clone() {
            self.in_background(move || work(&store));
        }
    }

    /// Changes saved chats through the one writer; refused with `--no-save`.
    fn write_chats(
        &self,
        ticket: Ticket,
        work: impl FnOnce(&ChatStore) -> Action + Send + 'static,
    ) -> Option<Action> {
        let Some(writer) = &self.writer else {
            return Some(no_store(Some(ticket)));
        };
        let tx = self.results_tx.clone();
        writer.run(move |store| {
            let _ = tx.send(work(store));
        });
        None
    }

    /// Puts `text` on the clipboard through the terminal (OSC 52), which works over SSH and,
    /// with `set-clipboard on`, in tmux.
    fn copy(&self, text: &str) -> Action {
        if !self.clipboard_to_terminal {
            return Action::FileNotice {
                ticket: None,
                text: "no terminal to copy through".into(),
                is_error: true,
            };
        }
        use base64::Engine as _;
        use std::io::Write;
        let encoded = base64::engine::general_purpose::STANDARD.encode(text);
        let mut out = std::io::stdout();
        let written = write!(out, "\x1b]52;c;{encoded}\x07").and_then(|()| out.flush());
        match written {
            Ok(()) => Action::FileNotice {
                ticket: None,
                text: format!(
                    "copied {} characters (OSC 52; if nothing arrives, allow clipboard access in \
                     the terminal, or `set -g set-clipboard on` in tmux)",
                    text.chars().count()
                ),
                is_error: false,
            },
            Err(e) => Action::FileNotice {
                ticket: None,
                text: format!("cannot copy: {e}"),
                is_error: true,
            },
        }
    }

    /// Waits for the next engine event or background result, as an action. `None` when
    /// the engine is gone.
    pub async fn next_action(&mut self) -> Option<Action> {
        let next_engine = async {
            match &mut self.next_engine {
                Some((_, events, _)) => events.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = self.engine_events.recv() => event.map(Action::Engine),
            result = self.results.recv() => result,
            // An engine that stops before it is ready has sent its LoadFailed already.
            Some(event) = next_engine => Some(Action::NextEngine(event)),
        }
    }

    /// Waits for the next background action and dispatches it. False when the engine is gone.
    pub async fn step(&mut self) -> bool {
        match self.next_action().await {
            Some(action) => {
                self.dispatch(action);
                true
            }
            None => false,
        }
    }
}

fn no_store(ticket: Option<Ticket>) -> Action {
    Action::FileNotice {
        ticket,
        text: "saved chats are not changed in this session (--no-save)".into(),
        is_error: true,
    }
}

fn file_notice(ticket: Ticket, result: Result<(), chats::StoreError>, done: &str) -> Action {
    let (text, is_error) = match result {
        Ok(()) => (done.to_string(), false),
        Err(e) => (e.to_string(), true),
    };
    Action::FileNotice {
        ticket: Some(ticket),
        text,
        is_error,
    }
}

/// Writes the chat snapshot to `output` (and its images beside it); the store is not touched.
fn export_chat(
    ticket: Ticket,
    file: &chats::ChatFile,
    images: &[std::sync::Arc<crate::conversation::EncodedImage>],
    format: ExportFormat,
    output: &std::path::Path,
) -> Action {
    let (text, is_error) = match chats::export(file, images, format, output) {
        Ok(written) => (
            format!(
                "exported to {} ({} images beside it)",
                output.display(),
                written.len() - 1
            ),
            false,
        ),
        Err(e) => (format!("cannot export to {}: {e}", output.display()), true),
    };
    Action::FileNotice {
        ticket: Some(ticket),
        text,
        is_error,
    }
}
