//! vchat's engine against the reference: Hugging Face transformers'
//! `LlavaForConditionalGeneration` (the stack the article used) on the same weights, image and
//! prompt, greedy at F32. They must agree token for token, on first turns and on a follow-up
//! (which vchat answers from its prefix cache).
//!
//! The reference runs `reference/llava_reference.py` in the Python environment that
//! `cargo xtask test` (or `cargo xtask reference`) prepares.

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};
use vchat::conversation::{AssistantTurn, Conversation};
use vchat::sampling::SamplingSettings;

const NEW_TOKENS: usize = 32;

/// The chats both stacks answer: two square images × two prompts, and a two-turn chat.
fn chats() -> Vec<(u8, Vec<&'static str>)> {
    vec![
        (0, vec!["Describe the image"]),
        (0, vec!["What is in this picture?"]),
        (1, vec!["Describe the image"]),
        (1, vec!["What is in this picture?"]),
        (2, vec!["Describe the image", "What color is it?"]),
    ]
}

fn transformers_answers(model: &Path) -> Vec<Vec<Value>> {
    let input: Vec<Value> = chats()
        .iter()
        .map(|(image, turns)| {
            json!({"image": test_png(*image), "turns": turns, "max_new_tokens": NEW_TOKENS})
        })
        .collect();
    let output = run_reference(
        "llava_reference.py",
        &[model.as_os_str()],
        Some(&json!(input)),
    );
    serde_json::from_slice(&output).expect("reference JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greedy_answers_match_transformers_token_for_token() {
    assert_same_answers(tiny_model()).await;
}

/// A model folder written by transformers itself (`save_pretrained`, a BPE tokenizer trained by
/// the `tokenizers` library, other sizes and head counts), not by vchat's generator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_saved_by_transformers_matches_too() {
    let model = scratch_dir().join("saved-by-transformers");
    run_reference("make_hf_llava.py", &[model.as_os_str()], None);
    assert_same_answers(&model).await;
}

async fn assert_same_answers(model: &Path) {
    let reference = transformers_answers(model);
    let (engine, mut events, _) = ready_engine(tiny_options(model)).await;
    let greedy = SamplingSettings {
        do_sample: false,
        max_new_tokens: NEW_TOKENS,
        ..SamplingSettings::default()
    };

    for ((image, turns), expected_turns) in chats().into_iter().zip(reference) {
        let mut conversation = Conversation::default();
        for (index, (question, expected)) in turns.iter().zip(expected_turns).enumerate() {
            let attachment = (index == 0).then(|| chat_image(image));
            conversation.push_user(*question, attachment);

            let prompt = prompt_text(&mut events, engine.render_prompt(&conversation, true)).await;
            let expected_prompt = expected["prompt"].as_str().unwrap();
            assert_eq!(
                prompt.strip_prefix("<s>").map(str::trim_start),
                Some(expected_prompt),
                "the prompt equals the Hugging Face processor's (image {image}, turn {index})"
            );

            let answer = collect(&mut events, engine.generate(&conversation, &greedy)).await;
            assert_eq!(
                answer.token_ids,
                reference_token_ids(&expected),
                "token ids (image {image}, {question:?}, turn {index})"
            );
            assert_eq!(answer.text, expected["text"].as_str().unwrap());
            conversation.push_assistant(AssistantTurn {
                text: answer.text,
                settings: greedy.clone(),
                stats: Some(answer.stats),
                answered_by: None,
            });
        }
    }
}
