//! The command loop both backends share: each generation in a task of its own (so a cancel is
//! handled at once), cancels routed to it, prompt views answered in turn.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{Command, EngineEvent, RequestId};
use crate::conversation::Conversation;
use crate::sampling::SamplingSettings;

pub(super) type Events = mpsc::UnboundedSender<EngineEvent>;

/// What a loaded backend (the embedded mistral.rs model, a remote server) does for the loop.
pub(super) trait Backend: Send + Sync + 'static {
    /// Streams one answer as events, until it ends or `cancel` fires.
    fn generate(
        self: Arc<Self>,
        request: RequestId,
        conversation: Conversation,
        settings: SamplingSettings,
        cancel: oneshot::Receiver<()>,
        events: Events,
    ) -> impl Future<Output = ()> + Send;

    /// The conversation as the model sees it, for the prompt view.
    fn render_prompt(
        &self,
        conversation: &Conversation,
        add_generation_prompt: bool,
    ) -> impl Future<Output = Result<String, String>> + Send;
}

/// Serves commands with `backend` until every [`Engine`](super::Engine) handle is gone.
pub(super) async fn serve<B: Backend>(
    backend: Arc<B>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: Events,
) {
    let mut running: HashMap<RequestId, oneshot::Sender<()>> = HashMap::new();
    while let Some(command) = commands.recv().await {
        running.retain(|_, cancel| !cancel.is_closed());
        match command {
            Command::Generate {
                request,
                conversation,
                settings,
            } => {
                let (cancel_tx, cancel_rx) = oneshot::channel();
                running.insert(request, cancel_tx);
                tokio::spawn(backend.clone().generate(
                    request,
                    conversation,
                    settings,
                    cancel_rx,
                    events.clone(),
                ));
            }
            Command::Cancel(request) => {
                if let Some(cancel) = running.remove(&request) {
                    let _ = cancel.send(());
                }
            }
            Command::RenderPrompt {
                request,
                conversation,
                add_generation_prompt,
            } => {
                let event = match backend
                    .render_prompt(&conversation, add_generation_prompt)
                    .await
                {
                    Ok(text) => EngineEvent::Prompt { request, text },
                    Err(message) => EngineEvent::Error { request, message },
                };
                let _ = events.send(event);
            }
        }
    }
}

/// After a failed load, every request gets the load error.
pub(super) async fn refuse_everything(
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: Events,
    message: String,
) {
    while let Some(command) = commands.recv().await {
        let request = match command {
            Command::Generate { request, .. } | Command::RenderPrompt { request, .. } => request,
            Command::Cancel(_) => continue,
        };
        let _ = events.send(EngineEvent::Error {
            request,
            message: format!("no model loaded: {message}"),
        });
    }
}
