//! The remote backend: the same commands and events as the embedded engine, answered by an
//! OpenAI-compatible server (vLLM, a mistral.rs server, llama.cpp's server, Ollama) over
//! HTTP, with answers streamed as server-sent events.
//!
//! Start-up asks the server's `/models` (which checks the URL and the key, and names the model
//! when the user did not); each answer is one streamed `/chat/completions` request that
//! re-sends the conversation. Cancelling drops the response stream, which closes the
//! connection. A failed request never stops the worker: the next one tries again.

mod errors;
mod options;
mod request;
mod sse;
mod stream;

use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use tokio::sync::{mpsc, oneshot};

use super::serve::{refuse_everything, serve, Backend, Events};
use super::{Command, EngineEvent, ModelInfo, RequestId, DEFAULT_MODEL};
use crate::conversation::Conversation;
use crate::sampling::SamplingSettings;
pub use errors::RemoteError;
pub use options::{
    parse_seconds, ApiKey, RemoteImages, RemoteOptions, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
};

/// Largest error or `/models` body read.
const MAX_SMALL_BODY: usize = 1024 * 1024;

/// A server connection: the HTTP client and where to send requests.
#[derive(Debug)]
pub(crate) struct Server {
    client: reqwest::Client,
    base: reqwest::Url,
    /// `host:port`, for messages.
    host: String,
    options: RemoteOptions,
}

impl Server {
    fn new(options: &RemoteOptions) -> Result<Self, RemoteError> {
        let base = options.base_url().map_err(RemoteError::Config)?;
        let mut headers = HeaderMap::new();
        if let Some(key) = &options.api_key {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                    RemoteError::Config("the API key has characters a header cannot carry".into())
                })?;
            // Marked sensitive: HTTP-level debug output shows it as "Sensitive".
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .default_headers(headers)
            .user_agent(concat!("vchat/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                RemoteError::Config(format!("cannot set up HTTP: {}", errors::innermost(&e)))
            })?;
        Ok(Self {
            client,
            host: options::host_of(&base),
            base,
            options: options.clone(),
        })
    }

    /// `{base}/{path}`.
    fn endpoint(&self, path: &str) -> reqwest::Url {
        let mut url = self.base.clone();
        let joined = format!("{}/{path}", url.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }

    /// The ids the server's `/models` lists.
    async fn models(&self) -> Result<Vec<String>, RemoteError> {
        let response = tokio::time::timeout(
            self.options.idle_timeout,
            self.client.get(self.endpoint("models")).send(),
        )
        .await
        .map_err(|_| self.idle_timeout(false))?
        .map_err(|e| {
            errors::from_reqwest(
                &self.host,
                &e,
                self.options.connect_timeout,
                self.base.scheme() == "https",
            )
        })?;
        let status = response.status();
        let body = self.small_body(response).await?;
        if !status.is_success() {
            let message = errors::server_message(&body, self.options.api_key.as_ref());
            return Err(match status.as_u16() {
                404 => RemoteError::Rejected {
                    host: self.host.clone(),
                    status: 404,
                    message: Some(
                        "no /models endpoint; is the URL the API base, e.g. http://host:8000/v1?"
                            .into(),
                    ),
                },
                code => errors::from_status(&self.host, code, "", message),
            });
        }
        let json: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| RemoteError::Malformed {
                host: self.host.clone(),
                reason: format!("the model list is not JSON: {e}"),
                partial: false,
            })?;
        let ids = json
            .get("data")
            .and_then(|d| d.as_array())
            .ok_or_else(|| RemoteError::Malformed {
                host: self.host.clone(),
                reason: "the model list has no \"data\" array".into(),
                partial: false,
            })?
            .iter()
            .filter_map(|m| m.get("id").and_then(|id| id.as_str()))
            .map(crate::text::one_line)
            .collect();
        Ok(ids)
    }

    /// A response body that is expected to be small (an error, the model list).
    async fn small_body(&self, response: reqwest::Response) -> Result<String, RemoteError> {
        use futures_util::StreamExt;
        let mut body = Vec::new();
        let mut chunks = response.bytes_stream();
        loop {
            let next = tokio::time::timeout(self.options.idle_timeout, chunks.next())
                .await
                .map_err(|_| self.idle_timeout(false))?;
            match next {
                Some(Ok(bytes)) => {
                    body.extend_from_slice(&bytes);
                    if body.len() > MAX_SMALL_BODY {
                        break;
                    }
                }
                Some(Err(e)) => {
                    return Err(RemoteError::Broken {
                        host: self.host.clone(),
                        reason: errors::innermost(&e),
                        partial: false,
                    })
                }
                None => break,
            }
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    fn idle_timeout(&self, partial: bool) -> RemoteError {
        RemoteError::IdleTimeout {
            host: self.host.clone(),
            timeout: self.options.idle_timeout,
            partial,
        }
    }
}

/// The model ids a server offers (its `/models`), for `--list-models`.
pub async fn list_models(options: &RemoteOptions) -> Result<Vec<String>, RemoteError> {
    Server::new(options)?.models().await
}

/// Picks the model: the one asked for, else the server's only one (or the default model when
/// the server has it among several).
async fn resolve_model(server: &Server) -> Result<String, RemoteError> {
    let listed = server.models().await;
    if let Some(model) = &server.options.model {
        return match listed {
            Ok(ids) => {
                if !ids.is_empty() && !ids.contains(model) {
                    // Ollama answers to "llava" while listing "llava:latest": let the
                    // request decide, and say so in the log.
                    tracing::warn!(
                        "{} does not list model '{model}' (it lists: {})",
                        server.host,
                        ids.join(", ")
                    );
                }
                Ok(model.clone())
            }
            // A server without `/models` can still answer chat requests.
            Err(RemoteError::Rejected { status: 404, .. }) => Ok(model.clone()),
            Err(e) => Err(e),
        };
    }
    let mut ids = listed?;
    // mistral.rs's server lists a "default" alias next to the model itself.
    if ids.len() > 1 {
        ids.retain(|id| id != "default");
    }
    match ids.as_slice() {
        [] => Err(RemoteError::Config(format!(
            "{} serves no model",
            server.host
        ))),
        [only] => Ok(only.clone()),
        several if several.iter().any(|id| id == DEFAULT_MODEL) => Ok(DEFAULT_MODEL.to_string()),
        several => Err(RemoteError::Config(format!(
            "{} serves several models ({}); choose one with --model",
            server.host,
            errors::shorten(&several.join(", "))
        ))),
    }
}

/// The remote worker: connects, then serves commands until every [`super::Engine`] handle is
/// gone.
pub(crate) async fn run(
    options: RemoteOptions,
    commands: mpsc::UnboundedReceiver<Command>,
    events: Events,
) {
    let send = |e: EngineEvent| {
        let _ = events.send(e);
    };
    send(EngineEvent::Loading {
        request: RequestId::LOAD,
        stage: format!("connecting to {}", options.host()),
        fraction: 0.0,
    });
    let connected = match Server::new(&options) {
        Ok(server) => resolve_model(&server).await.map(|model| (server, model)),
        Err(e) => Err(e),
    };
    let (server, model) = match connected {
        Ok(connected) => connected,
        Err(e) => {
            let message = e.to_string();
            tracing::error!("remote backend unavailable: {message}");
            send(EngineEvent::LoadFailed {
                request: RequestId::LOAD,
                message: message.clone(),
            });
            refuse_everything(commands, events, message).await;
            return;
        }
    };
    tracing::info!(
        "remote backend ready: {} at {}",
        model,
        options::display_url(&server.base)
    );
    send(EngineEvent::Loading {
        request: RequestId::LOAD,
        stage: "ready".into(),
        fraction: 1.0,
    });
    send(EngineEvent::Ready {
        request: RequestId::LOAD,
        info: model_info(&server, &model),
    });

    let backend = RemoteBackend {
        server: Arc::new(server),
        model: model.into(),
    };
    serve(Arc::new(backend), commands, events).await;
}

/// A connected server and the model asked for.
struct RemoteBackend {
    server: Arc<Server>,
    model: Arc<str>,
}

impl Backend for RemoteBackend {
    fn generate(
        self: Arc<Self>,
        request: RequestId,
        conversation: Conversation,
        settings: SamplingSettings,
        cancel: oneshot::Receiver<()>,
        events: Events,
    ) -> impl std::future::Future<Output = ()> + Send {
        stream::generate(
            self.server.clone(),
            self.model.clone(),
            request,
            conversation,
            settings,
            cancel,
            events,
        )
    }

    /// The JSON messages exactly as sent, image data elided.
    fn render_prompt(
        &self,
        conversation: &Conversation,
        _add_generation_prompt: bool,
    ) -> impl std::future::Future<Output = Result<String, String>> + Send {
        let view = request::messages(conversation, &self.server.options)
            .map(|messages| request::prompt_view(&messages));
        std::future::ready(view)
    }
}

fn model_info(server: &Server, model: &str) -> ModelInfo {
    ModelInfo {
        model: model.to_string(),
        architecture: "unknown (remote)".into(),
        device: format!("remote: {}", server.host),
        dtype: "server-side".into(),
        quantization: "server-side".into(),
        one_image_per_request: server.options.images == RemoteImages::Latest,
        backend: format!("remote {}", options::display_url(&server.base)),
    }
}
