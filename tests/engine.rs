//! The engine on the tiny LLaVA-1.5, through mistral.rs's real loading and generation path.

mod common;

use common::*;
use vchat::conversation::{AssistantTurn, Conversation, FinishReason};
use vchat::engine::{Engine, EngineEvent};
use vchat::sampling::SamplingSettings;

fn greedy(max_tokens: usize) -> SamplingSettings {
    SamplingSettings {
        do_sample: false,
        max_new_tokens: max_tokens,
        ..SamplingSettings::default()
    }
}

fn one_question(text: &str, image: u8) -> Conversation {
    let mut c = Conversation::default();
    c.push_user(text, Some(chat_image(image)));
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_streams_and_ends_with_stats() {
    let (engine, mut events, info) = ready_engine(tiny_options(tiny_model())).await;
    assert_eq!(info.architecture, "LlavaForConditionalGeneration");
    assert_eq!((info.device.as_str(), info.dtype.as_str()), ("cpu", "f32"));
    assert!(info.one_image_per_request);

    let id = engine.generate(&one_question("Describe the image", 0), &greedy(16));
    let answer = collect(&mut events, id).await;
    assert!(!answer.text.is_empty(), "an answer has text");
    assert!(
        answer.tokens_events >= 2,
        "tokens arrive as a stream, not at once"
    );
    assert!(answer.stats.tokens >= 1 && answer.stats.tokens <= 16);
    assert!(answer.stats.time_to_first_token.as_nanos() > 0);
    assert_eq!(answer.stats.seed, None, "greedy answers record no seed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_tokens_is_honoured_and_settings_apply_per_request() {
    let (engine, mut events, _) = ready_engine(tiny_options(tiny_model())).await;
    let conversation = one_question("What is in this picture?", 1);

    let short = collect(&mut events, engine.generate(&conversation, &greedy(4))).await;
    let long = collect(&mut events, engine.generate(&conversation, &greedy(12))).await;
    assert!(short.stats.tokens <= 4, "{:?}", short.stats);
    assert!(long.stats.tokens <= 12, "{:?}", long.stats);
    if short.stats.finish == FinishReason::Length {
        assert_eq!(short.stats.tokens, 4);
        assert!(
            long.stats.tokens > 4,
            "the second request used its own limit"
        );
    }
    assert!(
        long.text.starts_with(&short.text),
        "greedy: the short answer is the start of the long one ({:?} vs {:?})",
        short.text,
        long.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greedy_runs_repeat_and_seeded_sampling_repeats() {
    let (engine, mut events, _) = ready_engine(tiny_options(tiny_model())).await;
    let conversation = one_question("Describe the image", 2);

    let a = collect(&mut events, engine.generate(&conversation, &greedy(24))).await;
    let b = collect(&mut events, engine.generate(&conversation, &greedy(24))).await;
    assert_eq!(a.text, b.text, "greedy decoding is repeatable");

    let sampled = |seed: u64| SamplingSettings {
        temperature: 1.0,
        max_new_tokens: 24,
        seed: Some(seed),
        ..SamplingSettings::default()
    };
    let s1 = collect(&mut events, engine.generate(&conversation, &sampled(7))).await;
    let s2 = collect(&mut events, engine.generate(&conversation, &sampled(7))).await;
    let s3 = collect(&mut events, engine.generate(&conversation, &sampled(8))).await;
    assert_eq!(
        s1.text, s2.text,
        "the same seed gives the same sampled answer"
    );
    assert_eq!(s1.stats.seed, Some(7));
    assert_ne!(s1.text, s3.text, "another seed gives another answer");
    assert_ne!(s1.text, a.text, "sampling at temperature 1 is not greedy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_continues_the_chat() {
    let (engine, mut events, _) = ready_engine(tiny_options(tiny_model())).await;
    let mut conversation = one_question("What color is the sky?", 0);
    let first = collect(&mut events, engine.generate(&conversation, &greedy(8))).await;
    conversation.push_assistant(AssistantTurn {
        text: first.text.clone(),
        settings: greedy(8),
        stats: Some(first.stats),
        answered_by: None,
    });
    conversation.push_user("And the tree?", None);
    let second = collect(&mut events, engine.generate(&conversation, &greedy(8))).await;
    assert!(second.stats.tokens >= 1);

    let prompt = prompt_text(&mut events, engine.render_prompt(&conversation, true)).await;
    let first_q = prompt
        .find("What color is the sky?")
        .expect("first question in prompt");
    let follow_up = prompt.find("And the tree?").expect("follow-up in prompt");
    assert!(first_q < follow_up);
    assert_eq!(prompt.matches("<image>").count(), 1, "{prompt}");
    assert!(prompt.trim_end().ends_with("ASSISTANT:"), "{prompt}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prompt_follows_the_llava_1_5_layout() {
    let (engine, mut events, _) = ready_engine(tiny_options(tiny_model())).await;
    let conversation = one_question("Describe the image", 0);
    let prompt = prompt_text(&mut events, engine.render_prompt(&conversation, true)).await;
    assert_eq!(prompt, "<s> USER: <image>\nDescribe the image ASSISTANT:");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_long_generation_and_the_engine_goes_on() {
    let (engine, mut events, _) = ready_engine(tiny_options(tiny_model())).await;
    let conversation = one_question("Describe the image", 3);
    let id = engine.generate(&conversation, &greedy(3000));
    // Cancel as soon as the first token is seen.
    loop {
        match events.recv().await.expect("events") {
            EngineEvent::Token { request, .. } if request == id => break,
            EngineEvent::Done { request, stats, .. } if request == id => {
                panic!("finished before it could be cancelled: {stats:?}")
            }
            _ => {}
        }
    }
    engine.cancel(id);
    let rest = collect(&mut events, id).await;
    assert_eq!(rest.stats.finish, FinishReason::Cancelled);
    assert!(rest.stats.tokens < 3000, "stopped early: {:?}", rest.stats);

    let next = collect(&mut events, engine.generate(&conversation, &greedy(4))).await;
    assert!(next.stats.tokens >= 1, "the engine answers after a cancel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_with_two_images_sends_only_the_latest() {
    let (engine, mut events, _) = ready_engine(tiny_options(tiny_model())).await;
    let mut conversation = one_question("Describe the image", 0);
    let first = collect(&mut events, engine.generate(&conversation, &greedy(6))).await;
    conversation.push_assistant(AssistantTurn {
        text: first.text,
        settings: greedy(6),
        stats: Some(first.stats),
        answered_by: None,
    });
    conversation.push_user("And this one?", Some(chat_image(1)));
    let second = collect(&mut events, engine.generate(&conversation, &greedy(6))).await;
    assert!(second.stats.tokens >= 1, "no engine error with two images");

    let prompt = prompt_text(&mut events, engine.render_prompt(&conversation, true)).await;
    assert_eq!(prompt.matches("<image>").count(), 1, "{prompt}");
    assert!(
        prompt.contains("[earlier image: pattern-0.png]"),
        "{prompt}"
    );
    let image_at = prompt.find("<image>").unwrap();
    assert!(
        image_at > prompt.find("Describe the image").unwrap(),
        "the latest image is sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_load_is_reported_and_requests_get_the_reason() {
    let missing = scratch_dir().join("no-such-model");
    let (engine, mut events) = Engine::start(tiny_options(&missing));
    let mut load_error = None;
    while let Some(event) = events.recv().await {
        match event {
            EngineEvent::LoadFailed { message, .. } => {
                load_error = Some(message);
                break;
            }
            EngineEvent::Ready { .. } => panic!("a missing folder cannot load"),
            _ => {}
        }
    }
    let load_error = load_error.expect("a load error");
    assert!(
        load_error.contains("model folder not found"),
        "{load_error}"
    );

    let id = engine.generate(&one_question("hi", 0), &greedy(4));
    loop {
        match events.recv().await.expect("events") {
            EngineEvent::Error { request, message } if request == id => {
                assert!(message.starts_with("no model loaded"), "{message}");
                break;
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_ending_with_an_answer_leaves_it_open_for_the_model() {
    let (engine, mut events, _) = ready_engine(tiny_options(tiny_model())).await;
    let mut conversation = one_question("Describe the image", 0);
    conversation.push_assistant(AssistantTurn {
        text: "The image shows".into(),
        settings: greedy(4),
        stats: None,
        answered_by: None,
    });
    let prompt = prompt_text(&mut events, engine.render_prompt(&conversation, true)).await;
    assert_eq!(
        prompt,
        "<s> USER: <image>\nDescribe the image ASSISTANT: The image shows"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_fills_the_context_ends_in_one_clear_line_and_the_engine_goes_on() {
    let (engine, mut events, _) = ready_engine(tiny_options(tiny_model())).await;
    // The tiny model's context is 4,096 positions; this greedy answer runs on past it.
    let conversation = one_question("Tell me a long story", 1);
    let id = engine.generate(&conversation, &greedy(100_000));
    let mut pieces = 0usize;
    let message = loop {
        match events.recv().await.expect("events") {
            EngineEvent::Token { request, .. } if request == id => pieces += 1,
            EngineEvent::Error { request, message } if request == id => break message,
            EngineEvent::Done { request, stats, .. } if request == id => {
                panic!("the answer ended before the context was full: {stats:?}")
            }
            _ => {}
        }
    };
    assert!(
        pieces > 2000,
        "the answer streamed up to the limit ({pieces} pieces)"
    );
    assert_eq!(
        message,
        "the chat fills the model's context (4096 tokens): start a new chat (Ctrl-N, /new) \
         or shorten this one (/edit)"
    );

    let next = collect(&mut events, engine.generate(&conversation, &greedy(4))).await;
    assert!(next.stats.tokens >= 1, "the engine answers after it");
}
