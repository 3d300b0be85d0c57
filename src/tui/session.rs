//! A running chat without a terminal: the state, the engine and the effects' plumbing. The
//! full-screen loop wraps it with terminal events and drawing; tests drive it directly.

use tokio::sync::mpsc;

use crate::app::{Action, Effect, State};
use crate::engine::{Engine, EngineEvent, EngineOptions};
use crate::media::{self, MediaOptions};
use crate::text::one_line;

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
        }
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
            Effect::Quit => {
                self.quit = true;
                None
            }
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
