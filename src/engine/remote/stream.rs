//! One answer from the server: the streamed request, its chunks as token events, and the
//! stats measured here, on the client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::Value;
use tokio::sync::oneshot;

use super::errors::{self, RemoteError};
use super::sse::SseParser;
use super::{request, Events, Server};
use crate::conversation::{AnswerStats, Conversation, FinishReason};
use crate::engine::{EngineEvent, RequestId};
use crate::sampling::SamplingSettings;

/// What the stream has delivered so far.
#[derive(Default)]
struct Progress {
    /// Content chunks received: the token count (servers send one token per chunk; none of
    /// them reports usage reliably for vision prompts, so usage is not used).
    chunks: usize,
    first: Option<Instant>,
    last: Option<Instant>,
    finish: Option<FinishReason>,
    /// `[DONE]` arrived.
    done: bool,
}

/// Runs one generation, streaming its pieces as events.
pub(super) async fn generate(
    server: Arc<Server>,
    model: Arc<str>,
    request: RequestId,
    conversation: Conversation,
    settings: SamplingSettings,
    mut cancel: oneshot::Receiver<()>,
    events: Events,
) {
    let started = Instant::now();
    let seed = settings.seed.unwrap_or_else(crate::rng::fresh_seed);
    let mut progress = Progress::default();
    let outcome = tokio::select! {
        _ = &mut cancel => Ok(Some(FinishReason::Cancelled)),
        result = stream_answer(&server, &model, request, &conversation, &settings, seed, &mut progress, &events) => result.map(|()| None),
    };
    // Leaving the select dropped the response stream: a cancelled answer's connection is closed.
    let finish = match outcome {
        Ok(Some(cancelled)) => cancelled,
        Ok(None) => progress.finish.unwrap_or(FinishReason::Stop),
        Err(e) => {
            let message = e.with_partial(progress.chunks > 0).to_string();
            tracing::warn!("remote request failed: {message}");
            let _ = events.send(EngineEvent::Error { request, message });
            return;
        }
    };
    let decode = match (progress.first, progress.last) {
        (Some(first), Some(last)) => last.duration_since(first).as_secs_f64(),
        _ => 0.0,
    };
    let stats = AnswerStats {
        finish,
        tokens: progress.chunks,
        time_to_first_token: progress
            .first
            .map_or(Duration::ZERO, |first| first.duration_since(started)),
        tokens_per_second: if progress.chunks > 1 && decode > 0.0 {
            (progress.chunks - 1) as f64 / decode
        } else {
            0.0
        },
        seed: (!settings.is_greedy()).then_some(seed),
        // Servers count image positions each their own way, when they say at all.
        prompt: None,
    };
    let _ = events.send(EngineEvent::Done {
        request,
        stats,
        token_ids: Vec::new(),
    });
}

/// Sends the request and forwards the answer until it ends; `progress` keeps what arrived.
#[allow(clippy::too_many_arguments)]
async fn stream_answer(
    server: &Server,
    model: &str,
    request: RequestId,
    conversation: &Conversation,
    settings: &SamplingSettings,
    seed: u64,
    progress: &mut Progress,
    events: &Events,
) -> Result<(), RemoteError> {
    let messages = request::messages(conversation, &server.options).map_err(RemoteError::Config)?;
    let body = request::body(model, messages, settings, seed);
    let idle = server.options.idle_timeout;
    let send = server
        .client
        .post(server.endpoint("chat/completions"))
        .header(ACCEPT, "text/event-stream")
        .json(&body)
        .send();
    let response = tokio::time::timeout(idle, send)
        .await
        .map_err(|_| server.idle_timeout(false))?
        .map_err(|e| {
            errors::from_reqwest(
                &server.host,
                &e,
                server.options.connect_timeout,
                server.base.scheme() == "https",
            )
        })?;

    let status = response.status();
    if !status.is_success() {
        let body = server.small_body(response).await?;
        let message = errors::server_message(&body, server.options.api_key.as_ref());
        return Err(errors::from_status(
            &server.host,
            status.as_u16(),
            model,
            message,
        ));
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        // A server that ignores `stream: true` answers in one piece.
        let body = server.small_body(response).await?;
        let json = parse_json(server, &body)?;
        return on_whole_answer(server, &json, request, progress, events);
    }

    let mut parser = SseParser::default();
    let mut bytes = response.bytes_stream();
    loop {
        let next = tokio::time::timeout(idle, bytes.next())
            .await
            .map_err(|_| server.idle_timeout(false))?;
        let chunk = match next {
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => {
                return Err(RemoteError::Broken {
                    host: server.host.clone(),
                    reason: errors::innermost(&e),
                    partial: false,
                })
            }
            None => break,
        };
        let sse_events = parser
            .feed(&chunk)
            .map_err(|reason| malformed(server, reason))?;
        for event in sse_events {
            on_event(server, &event.event, &event.data, request, progress, events)?;
            if progress.done {
                return Ok(());
            }
        }
    }
    // The stream closed without `[DONE]`: fine after a finish reason (a few servers skip
    // `[DONE]`), a cut-off answer otherwise.
    if progress.finish.is_some() && !parser.has_partial_event() {
        return Ok(());
    }
    Err(RemoteError::Truncated {
        host: server.host.clone(),
        partial: false,
    })
}

/// One server-sent event: a chunk, an error, or the end.
fn on_event(
    server: &Server,
    name: &Option<String>,
    data: &str,
    request: RequestId,
    progress: &mut Progress,
    events: &Events,
) -> Result<(), RemoteError> {
    let data = data.trim();
    if data == "[DONE]" {
        progress.done = true;
        return Ok(());
    }
    if data.is_empty() {
        return Ok(());
    }
    let json = match serde_json::from_str::<Value>(data) {
        Ok(json) => json,
        // mistral.rs's server reports an engine error as a plain-text event.
        Err(_) if name.as_deref() == Some("error") || !data.starts_with(['{', '[']) => {
            return Err(RemoteError::InStream {
                host: server.host.clone(),
                message: quote(server, data),
                partial: false,
            })
        }
        Err(e) => {
            return Err(malformed(
                server,
                format!("an event is not valid JSON: {e}"),
            ))
        }
    };
    if let Some(error) = json.get("error") {
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| error.as_str())
            .unwrap_or("unknown error");
        return Err(RemoteError::InStream {
            host: server.host.clone(),
            message: quote(server, message),
            partial: false,
        });
    }
    let Some(choices) = json.get("choices").and_then(Value::as_array) else {
        return Err(malformed(server, "an event has no \"choices\"".into()));
    };
    for choice in choices {
        let content = choice.pointer("/delta/content").and_then(Value::as_str);
        if let Some(text) = content.filter(|t| !t.is_empty()) {
            emit(text, request, progress, events);
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            progress.finish = Some(map_finish(reason));
        }
    }
    Ok(())
}

/// A non-streamed answer (`choices[].message.content`).
fn on_whole_answer(
    server: &Server,
    json: &Value,
    request: RequestId,
    progress: &mut Progress,
    events: &Events,
) -> Result<(), RemoteError> {
    let choice = json
        .pointer("/choices/0")
        .ok_or_else(|| malformed(server, "the answer has no \"choices\"".into()))?;
    if let Some(text) = choice.pointer("/message/content").and_then(Value::as_str) {
        if !text.is_empty() {
            emit(text, request, progress, events);
        }
    }
    progress.finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .map(map_finish);
    Ok(())
}

fn emit(text: &str, request: RequestId, progress: &mut Progress, events: &Events) {
    let now = Instant::now();
    progress.first.get_or_insert(now);
    progress.last = Some(now);
    progress.chunks += 1;
    let _ = events.send(EngineEvent::Token {
        request,
        text: text.to_string(),
    });
}

fn parse_json(server: &Server, body: &str) -> Result<Value, RemoteError> {
    serde_json::from_str(body)
        .map_err(|e| malformed(server, format!("the answer is not valid JSON: {e}")))
}

fn malformed(server: &Server, reason: String) -> RemoteError {
    RemoteError::Malformed {
        host: server.host.clone(),
        reason,
        partial: false,
    }
}

/// A server's text, as one short line without the API key.
fn quote(server: &Server, text: &str) -> String {
    errors::shorten(&errors::redact(
        &crate::text::one_line(text),
        server.options.api_key.as_ref(),
    ))
}

fn map_finish(reason: &str) -> FinishReason {
    match reason {
        "length" => FinishReason::Length,
        "canceled" | "cancelled" => FinishReason::Cancelled,
        _ => FinishReason::Stop,
    }
}
