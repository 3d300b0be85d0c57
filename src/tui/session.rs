//! A running chat without a terminal: the state, the engine and the effects' plumbing. The
//! full-screen loop wraps it with terminal events and drawing; tests drive it directly.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::app::{Action, Effect, Generation, State};
use crate::engine::{Engine, EngineEvent, EngineOptions};
use crate::media::{self, MediaOptions};
use crate::session::{self as chats, Autosaver, ChatStore, ExportFormat};
use crate::text::one_line;

/// While an answer streams, the chat is saved at most this often (and when it ends).
const STREAM_SAVE_INTERVAL: Duration = Duration::from_secs(2);

/// The app state wired to a real engine.
pub struct Session {
    pub state: State,
    engine: Engine,
    engine_events: mpsc::UnboundedReceiver<EngineEvent>,
    /// Results of background work (image loads) come back as actions.
    results_tx: mpsc::UnboundedSender<Action>,
    results: mpsc::UnboundedReceiver<Action>,
    media: MediaOptions,
    quit: bool,
    /// Set by every dispatched action: the screen needs a redraw.
    pub dirty: bool,
    /// Where chats are saved; `None` with `--no-save` (and in tests that do not ask).
    store: Option<ChatStore>,
    autosave: Option<Autosaver>,
    saved_revision: u64,
    last_save: Instant,
    /// Copies go to the terminal as OSC 52 (the full-screen app); off when headless.
    pub clipboard_to_terminal: bool,
}

impl Session {
    /// Starts the engine (loading in the background) for `state`.
    pub fn start(state: State, options: EngineOptions, media: MediaOptions) -> Self {
        let (engine, engine_events) = Engine::start(options);
        let (results_tx, results) = mpsc::unbounded_channel();
        Self {
            state,
            engine,
            engine_events,
            results_tx,
            results,
            media,
            quit: false,
            dirty: true,
            store: None,
            autosave: None,
            saved_revision: 0,
            last_save: Instant::now(),
            clipboard_to_terminal: false,
        }
    }

    /// Saves the chat to `store` after every change from now on (and lists, opens and
    /// exports chats from it).
    pub fn save_to(&mut self, store: ChatStore) {
        let errors = self.results_tx.clone();
        self.autosave = Some(Autosaver::start(store.clone(), move |message| {
            let _ = errors.send(Action::FileNotice {
                text: message,
                is_error: true,
            });
        }));
        self.saved_revision = self.state.revision;
        self.store = Some(store);
    }

    /// Lists, opens and exports chats from `store` without saving anything (`--no-save`).
    pub fn read_from(&mut self, store: ChatStore) {
        self.store = Some(store);
    }

    /// Saves what is unsaved, the answer in progress included, and waits for the writes:
    /// the last thing before the app ends, whatever ends it.
    pub fn finish(&mut self) {
        self.autosave_now(true);
        if let Some(mut autosave) = self.autosave.take() {
            autosave.finish();
        }
    }

    /// Queues a snapshot of the chat when it changed; while an answer streams, at most every
    /// [`STREAM_SAVE_INTERVAL`] unless `force`.
    fn autosave_now(&mut self, force: bool) {
        let Some(autosave) = &self.autosave else {
            return;
        };
        let state = &self.state;
        if state.revision == self.saved_revision
            || state.conversation.turns.is_empty()
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
        autosave.save(file, images);
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
            Effect::LoadImage(source) => {
                let tx = self.results_tx.clone();
                let media = self.media.clone();
                tokio::spawn(async move {
                    let result = media::load_image(&source, &media)
                        .await
                        .map_err(|e| one_line(&e.to_string()));
                    // The receiver lives as long as the session; after that nobody cares.
                    let _ = tx.send(Action::ImageLoaded { source, result });
                });
                None
            }
            Effect::RenderPrompt(conversation) => {
                self.engine.render_prompt(&conversation, true);
                None
            }
            Effect::Copy(text) => Some(self.copy(&text)),
            Effect::ListChats => {
                let store = self.store.clone()?;
                self.in_background(move || {
                    let (chats, problems) = store.list();
                    Action::ChatsListed {
                        chats,
                        problems: problems.iter().map(|p| p.to_string()).collect(),
                    }
                });
                None
            }
            Effect::OpenChat(id) => {
                let Some(store) = self.store.clone() else {
                    return Some(no_store());
                };
                // The chat on screen is saved before another replaces it.
                self.autosave_now(true);
                self.in_background(move || {
                    Action::ChatOpened(store.load(&id).map(Box::new).map_err(|e| e.to_string()))
                });
                None
            }
            Effect::RenameChat { id, title } => {
                let store = self.store.clone()?;
                self.in_background(move || file_notice(store.rename(&id, &title), "chat renamed"));
                None
            }
            Effect::DeleteChat(id) => {
                let store = self.store.clone()?;
                self.in_background(move || file_notice(store.delete(&id), "chat deleted"));
                None
            }
            Effect::Export { format, path } => {
                let Some(store) = self.store.clone() else {
                    return Some(no_store());
                };
                if self.state.conversation.turns.is_empty() {
                    return Some(Action::FileNotice {
                        text: "nothing to export yet".into(),
                        is_error: true,
                    });
                }
                let partial = self.state.partial_answer();
                let (file, images) =
                    chats::to_file(&self.state.chat, &self.state.conversation, partial.as_ref());
                let output = path.map(PathBuf::from).unwrap_or_else(|| {
                    PathBuf::from(format!("{}.{}", file.id, format.extension()))
                });
                self.in_background(move || export_chat(&store, &file, &images, format, &output));
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

    /// Puts `text` on the clipboard through the terminal (OSC 52), which works over SSH and,
    /// with `set-clipboard on`, in tmux.
    fn copy(&self, text: &str) -> Action {
        if !self.clipboard_to_terminal {
            return Action::FileNotice {
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
                text: format!(
                    "copied {} characters (OSC 52; if nothing arrives, allow clipboard access in \
                     the terminal, or `set -g set-clipboard on` in tmux)",
                    text.chars().count()
                ),
                is_error: false,
            },
            Err(e) => Action::FileNotice {
                text: format!("cannot copy: {e}"),
                is_error: true,
            },
        }
    }

    /// Waits for the next engine event or background result, as an action. `None` when
    /// the engine is gone.
    pub async fn next_action(&mut self) -> Option<Action> {
        tokio::select! {
            event = self.engine_events.recv() => event.map(Action::Engine),
            result = self.results.recv() => result,
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

fn no_store() -> Action {
    Action::FileNotice {
        text: "chats are not saved in this session (--no-save)".into(),
        is_error: true,
    }
}

fn file_notice(result: Result<(), chats::StoreError>, done: &str) -> Action {
    match result {
        Ok(()) => Action::FileNotice {
            text: done.into(),
            is_error: false,
        },
        Err(e) => Action::FileNotice {
            text: e.to_string(),
            is_error: true,
        },
    }
}

/// Saves the chat (so its images are in the store), then exports it.
fn export_chat(
    store: &ChatStore,
    file: &chats::ChatFile,
    images: &[std::sync::Arc<crate::conversation::EncodedImage>],
    format: ExportFormat,
    output: &std::path::Path,
) -> Action {
    let result = store
        .save(file, images)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            chats::export(store, file, format, output)
                .map_err(|e| format!("cannot export to {}: {e}", output.display()))
        });
    match result {
        Ok(written) => Action::FileNotice {
            text: format!(
                "exported to {} ({} images beside it)",
                output.display(),
                written.len() - 1
            ),
            is_error: false,
        },
        Err(message) => Action::FileNotice {
            text: message,
            is_error: true,
        },
    }
}
