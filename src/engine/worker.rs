//! The embedded engine's background task: loads the model, then serves commands (see
//! [`serve`](super::serve)); how one answer is generated and measured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use either::Either;
use mistralrs::{Constraint, NormalRequest, Request, RequestMessage, Response, SamplingParams};
use tokio::sync::{mpsc, oneshot};

use super::load::{load, LoadedModel};
use super::prompt::prepare;
use super::sampler::{context_full_message, VchatSampler};
use super::serve::{refuse_everything, serve, Backend, Events};
use super::{Command, EngineEvent, EngineOptions, RequestId};
use crate::conversation::{decode_rate, AnswerStats, Conversation, FinishReason};
use crate::sampling::SamplingSettings;
use crate::text::one_line;

pub async fn run(
    options: EngineOptions,
    commands: mpsc::UnboundedReceiver<Command>,
    events: Events,
) {
    let send = |e: EngineEvent| {
        let _ = events.send(e);
    };
    send(EngineEvent::Loading {
        request: RequestId::LOAD,
        stage: format!("loading {}", options.model),
        fraction: 0.0,
    });
    // The download's progress, as loading events (the app's status bar and chat, one-shot's
    // progress line).
    let progress_events = events.clone();
    let report: super::download::Report = Arc::new(move |stage: String, fraction: f32| {
        let _ = progress_events.send(EngineEvent::Loading {
            request: RequestId::LOAD,
            stage,
            fraction,
        });
    });
    let model = match load(&options, report).await {
        Ok(model) => {
            send(EngineEvent::Loading {
                request: RequestId::LOAD,
                stage: "ready".into(),
                fraction: 1.0,
            });
            send(EngineEvent::Ready {
                request: RequestId::LOAD,
                info: model.info.clone(),
            });
            model
        }
        Err(e) => {
            let message = one_line(&e.to_string());
            tracing::error!("model load failed: {e}");
            send(EngineEvent::LoadFailed {
                request: RequestId::LOAD,
                message: message.clone(),
            });
            refuse_everything(commands, events, message).await;
            return;
        }
    };

    serve(model, commands, events).await;
}

impl Backend for LoadedModel {
    fn generate(
        self: Arc<Self>,
        request: RequestId,
        conversation: Conversation,
        settings: SamplingSettings,
        cancel: oneshot::Receiver<()>,
        events: Events,
    ) -> impl std::future::Future<Output = ()> + Send {
        generate(self, request, conversation, settings, cancel, events)
    }

    fn render_prompt(
        &self,
        conversation: &Conversation,
        add_generation_prompt: bool,
    ) -> impl std::future::Future<Output = Result<String, String>> + Send {
        render_prompt(self, conversation, add_generation_prompt)
    }
}

/// Runs one generation, streaming its tokens as events.
async fn generate(
    model: Arc<LoadedModel>,
    request: RequestId,
    conversation: Conversation,
    settings: SamplingSettings,
    mut cancel: oneshot::Receiver<()>,
    events: Events,
) {
    let started = Instant::now();
    let seed = settings.seed.unwrap_or_else(crate::rng::fresh_seed);
    let send_error = |message: String| {
        let _ = events.send(EngineEvent::Error { request, message });
    };

    let (mut responses, sampler) = match send_request(&model, &conversation, &settings, seed).await
    {
        Ok(sent) => sent,
        Err(message) => return send_error(message),
    };

    let mut chunks = 0usize;
    let mut finish = None;
    loop {
        let response = tokio::select! {
            _ = &mut cancel => {
                // Dropping the receiver makes mistral.rs stop this sequence at its next token.
                drop(responses);
                finish = Some(FinishReason::Cancelled);
                break;
            }
            response = responses.recv() => response,
        };
        let Some(response) = response else { break };
        match response {
            Response::Chunk(chunk) => {
                for choice in chunk.choices {
                    if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                        chunks += 1;
                        let _ = events.send(EngineEvent::Token { request, text });
                    }
                    if let Some(reason) = choice.finish_reason {
                        finish = Some(map_finish(&reason));
                    }
                }
            }
            Response::Done(done) => {
                for choice in done.choices {
                    if let Some(text) = choice.message.content.filter(|t| !t.is_empty()) {
                        chunks += 1;
                        let _ = events.send(EngineEvent::Token { request, text });
                    }
                    finish = Some(map_finish(&choice.finish_reason));
                }
            }
            Response::ModelError(message, _) => return send_error(one_line(&message)),
            Response::InternalError(e) | Response::ValidationError(e) => {
                let message = e.to_string();
                // mistral.rs refuses a prompt longer than the model's context in its own terms.
                return send_error(match sampler.context_limit() {
                    Some(limit) if message.starts_with("Prompt sequence length is greater") => {
                        context_full_message(limit)
                    }
                    _ => one_line(&message),
                });
            }
            other => {
                tracing::warn!(
                    "unexpected response kind: {:?}",
                    std::mem::discriminant(&other)
                );
            }
        }
    }

    let log = sampler.log();
    if chunks == 0 && log.ids.is_empty() && finish != Some(FinishReason::Cancelled) {
        return send_error(
            "the engine stopped without answering (details in the log file)".to_string(),
        );
    }
    let finish = finish.unwrap_or(if log.ids.len() >= settings.max_new_tokens {
        FinishReason::Length
    } else {
        FinishReason::Stop
    });
    let time_to_first_token = log
        .first
        .map_or(Duration::ZERO, |first| first.duration_since(started));
    let decode_time = match (log.first, log.last) {
        (Some(first), Some(last)) => last.duration_since(first).as_secs_f64(),
        _ => 0.0,
    };
    let tokens_per_second = decode_rate(log.ids.len().saturating_sub(1), decode_time);
    let stats = AnswerStats {
        finish,
        tokens: log.ids.len(),
        time_to_first_token,
        tokens_per_second,
        seed: (!settings.is_greedy()).then_some(seed),
        prompt: sampler.prompt(),
    };
    let _ = events.send(EngineEvent::Done {
        request,
        stats,
        token_ids: log.ids,
    });
}

async fn send_request(
    model: &LoadedModel,
    conversation: &Conversation,
    settings: &SamplingSettings,
    seed: u64,
) -> Result<(mpsc::Receiver<Response>, Arc<VchatSampler>), String> {
    let runner = model.model.inner();
    let config = runner.config(None).map_err(|e| one_line(&e))?;
    let prompt = prepare(model.style, conversation, &config.category);
    let sampler = Arc::new(
        VchatSampler::new(settings, seed)
            .count_image_tokens(&model.image_token_ids, prompt.images.len()),
    );
    if let Some(limit) = config.max_seq_len {
        sampler.limit_context(limit);
    }
    let messages = if prompt.images.is_empty() {
        RequestMessage::Chat {
            messages: prompt.messages,
            enable_thinking: None,
            reasoning_effort: None,
        }
    } else {
        RequestMessage::MultimodalChat {
            images: prompt.images,
            audios: Vec::new(),
            videos: Vec::new(),
            messages: prompt.messages,
            enable_thinking: None,
            reasoning_effort: None,
        }
    };
    let (tx, rx) = mpsc::channel(64);
    let request = Request::Normal(Box::new(NormalRequest {
        messages,
        sampling_params: sampling_params(settings),
        response: tx,
        return_logprobs: false,
        is_streaming: true,
        id: 0,
        constraint: Constraint::None,
        suffix: None,
        tools: None,
        tool_choice: None,
        logits_processors: Some(vec![sampler.clone()]),
        return_raw_logits: false,
        web_search_options: None,
        model_id: None,
        truncate_sequence: false,
    }));
    runner
        .get_sender(None)
        .map_err(|e| one_line(&e.to_string()))?
        .send(request)
        .await
        .map_err(|_| "the engine has stopped".to_string())?;
    Ok((rx, sampler))
}

/// mistral.rs always picks greedily here (temperature unset) among the one token that
/// [`VchatSampler`] leaves. Only the length limit and the repetition penalty are left to
/// mistral.rs.
fn sampling_params(settings: &SamplingSettings) -> SamplingParams {
    let mut params = SamplingParams::deterministic();
    params.max_len = Some(settings.max_new_tokens);
    if settings.repetition_penalty != 1.0 {
        params.repetition_penalty = Some(settings.repetition_penalty);
    }
    params
}

fn map_finish(reason: &str) -> FinishReason {
    match reason {
        "length" => FinishReason::Length,
        "canceled" | "cancelled" => FinishReason::Cancelled,
        _ => FinishReason::Stop,
    }
}

/// The conversation as the model sees it: chat template applied, tokenized the way a request
/// is, and decoded back with special tokens kept visible.
async fn render_prompt(
    model: &LoadedModel,
    conversation: &Conversation,
    add_generation_prompt: bool,
) -> Result<String, String> {
    let runner = model.model.inner();
    let config = runner.config(None).map_err(|e| one_line(&e))?;
    let prompt = prepare(model.style, conversation, &config.category);
    let sender = runner
        .get_sender(None)
        .map_err(|e| one_line(&e.to_string()))?;

    let (tx, mut rx) = mpsc::channel(1);
    sender
        .send(Request::Tokenize(mistralrs_core::TokenizationRequest {
            text: Either::Left(prompt.messages),
            tools: None,
            add_generation_prompt,
            add_special_tokens: true,
            enable_thinking: None,
            reasoning_effort: None,
            response: tx,
        }))
        .await
        .map_err(|_| "the engine has stopped".to_string())?;
    let tokens = rx
        .recv()
        .await
        .ok_or("the engine has stopped")?
        .map_err(|e| one_line(&e.to_string()))?;

    let (tx, mut rx) = mpsc::channel(1);
    sender
        .send(Request::Detokenize(mistralrs_core::DetokenizationRequest {
            tokens,
            skip_special_tokens: false,
            response: tx,
        }))
        .await
        .map_err(|_| "the engine has stopped".to_string())?;
    rx.recv()
        .await
        .ok_or("the engine has stopped")?
        .map_err(|e| one_line(&e.to_string()))
}
