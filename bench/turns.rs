//! One benchmark run of vchat's engine: a first turn about an image, a follow-up and a
//! regenerate of the follow-up, each timed to its first token (shared by the benchmarks).

use std::path::Path;

use tokio::sync::mpsc::UnboundedReceiver;
use vchat::conversation::{AssistantTurn, ChatImage, Conversation};
use vchat::engine::{
    DeviceChoice, DtypeChoice, Engine, EngineEvent, EngineOptions, IsqChoice, RequestId,
};
use vchat::sampling::SamplingSettings;

/// One vchat run on a fresh engine: first turn, a follow-up, and a regenerate of the follow-up.
pub async fn vchat_turns(
    model: &Path,
    image: &ChatImage,
    run: usize,
    max_tokens: usize,
) -> Result<(f64, f64, f64), String> {
    let mut options = EngineOptions::new(
        model.display().to_string(),
        std::env::temp_dir().join("vchat-bench"),
    );
    options.device = DeviceChoice::Cpu;
    options.dtype = DtypeChoice::F32;
    options.isq = IsqChoice::None;
    options.offline = true;
    let (engine, mut events) = Engine::start(options);
    loop {
        match events.recv().await.ok_or("engine stopped")? {
            EngineEvent::Ready { .. } => break,
            EngineEvent::LoadFailed { message, .. } => return Err(message),
            _ => {}
        }
    }
    let greedy = SamplingSettings {
        do_sample: false,
        max_new_tokens: max_tokens,
        ..SamplingSettings::default()
    };
    let mut conversation = Conversation::default();
    conversation.push_user(format!("Describe the image ({run})"), Some(image.clone()));
    let (first, text) =
        time_to_first_token(&mut events, engine.generate(&conversation, &greedy)).await?;
    conversation.push_assistant(AssistantTurn {
        text,
        settings: greedy.clone(),
        stats: None,
        answered_by: None,
    });
    conversation.push_user("What color is it?", None);
    let (follow_up, _) =
        time_to_first_token(&mut events, engine.generate(&conversation, &greedy)).await?;
    let (regenerate, _) =
        time_to_first_token(&mut events, engine.generate(&conversation, &greedy)).await?;
    Ok((first, follow_up, regenerate))
}

async fn time_to_first_token(
    events: &mut UnboundedReceiver<EngineEvent>,
    request: RequestId,
) -> Result<(f64, String), String> {
    let mut text = String::new();
    loop {
        match events.recv().await.ok_or("engine stopped")? {
            EngineEvent::Token {
                request: r,
                text: t,
            } if r == request => text.push_str(&t),
            EngineEvent::Done {
                request: r, stats, ..
            } if r == request => return Ok((stats.time_to_first_token.as_secs_f64(), text)),
            EngineEvent::Error {
                request: r,
                message,
            } if r == request => return Err(message),
            _ => {}
        }
    }
}
