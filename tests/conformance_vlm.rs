//! vchat's engine against Hugging Face transformers for the vision models people use now, on
//! tiny random models that transformers itself writes (`reference/make_hf_*.py`, in the layout
//! and config shape of the real hub checkpoints, with a byte-fallback BPE tokenizer): the
//! rendered prompt equals the processor's, greedy token ids equal transformers' for 2 images ×
//! 2 prompts × 32 tokens and a two-turn chat, and the streamed text equals the tokenizer's
//! decode of the same ids (the random models emit byte tokens, CJK and control characters).
//!
//! The reference runs `reference/vlm_reference.py` in the Python environment that
//! `cargo xtask test` (or `cargo xtask reference`) prepares.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde_json::{json, Value};
use vchat::conversation::{AssistantTurn, Conversation};
use vchat::sampling::SamplingSettings;

const NEW_TOKENS: usize = 32;

fn run_reference(script: &str, args: &[&Path], stdin: Option<&Value>) -> Vec<u8> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("reference")
        .join(script);
    let mut child = Command::new(reference_python())
        .arg(&script)
        .args(args)
        .env("HF_HUB_OFFLINE", "1")
        .env("TRANSFORMERS_VERBOSITY", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the reference");
    let input = stdin.map(|v| v.to_string()).unwrap_or_default();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{script:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// The chats both stacks answer: two images × two prompts, and a two-turn chat.
fn chats() -> Vec<(u8, Vec<&'static str>)> {
    vec![
        (0, vec!["Describe the image"]),
        (0, vec!["What is in this picture?"]),
        (1, vec!["Describe the image"]),
        (1, vec!["What is in this picture?"]),
        (2, vec!["Describe the image", "猫 🙂 What color is it?"]),
    ]
}

/// A tiny model written by `generator` (once per test binary).
fn generated_model(generator: &str, name: &str) -> PathBuf {
    let dir = scratch_dir().join(name);
    if !dir.join("config.json").is_file() {
        run_reference(generator, &[&dir], None);
    }
    dir
}

async fn assert_same_answers(model: &Path) {
    let input: Vec<Value> = chats()
        .iter()
        .map(|(image, turns)| {
            json!({"images": [test_png(*image)], "turns": turns, "max_new_tokens": NEW_TOKENS})
        })
        .collect();
    let reference: Vec<Vec<Value>> = serde_json::from_slice(&run_reference(
        "vlm_reference.py",
        &[model],
        Some(&json!(input)),
    ))
    .expect("reference JSON");
    let (engine, mut events, _) = ready_engine(tiny_options(model)).await;
    let greedy = SamplingSettings {
        do_sample: false,
        max_new_tokens: NEW_TOKENS,
        ..SamplingSettings::default()
    };
    let mut exact_texts = 0;
    for ((image, turns), expected_turns) in chats().into_iter().zip(reference) {
        let mut conversation = Conversation::default();
        for (index, (question, expected)) in turns.iter().zip(expected_turns).enumerate() {
            let attachment = (index == 0).then(|| chat_image(image));
            conversation.push_user(*question, attachment);

            let prompt = prompt_text(&mut events, engine.render_prompt(&conversation, true)).await;
            assert_eq!(
                prompt,
                expected["prompt"].as_str().unwrap(),
                "the prompt equals the processor's (image {image}, turn {index})"
            );
            let answer = collect(&mut events, engine.generate(&conversation, &greedy)).await;
            assert_eq!(
                answer.token_ids,
                reference_token_ids(&expected),
                "token ids (image {image}, {question:?}, turn {index})"
            );
            let decoded = expected["text"].as_str().unwrap();
            exact_texts += usize::from(same_text(
                &answer.text,
                decoded,
                &format!("image {image}, turn {index}"),
            ));
            // The follow-up goes on from the same text on both sides (see `same_text`).
            conversation.push_assistant(AssistantTurn {
                text: decoded.to_string(),
                settings: greedy.clone(),
                stats: Some(answer.stats),
                answered_by: None,
            });
        }
    }
    assert!(
        exact_texts >= 2,
        "too few answers decoded to valid text to compare them exactly ({exact_texts})"
    );
}

/// The streamed text against the tokenizer's decode of the same ids. Equal, except where byte
/// tokens form no valid UTF-8 (random weights emit such runs; a real model's emoji and CJK
/// are valid): `tokenizers` then turns the whole run into U+FFFD, while mistral.rs streams the
/// bytes that are valid and replaces the others. There, the text between the replacement
/// characters must still come in the same order. True when compared exactly.
fn same_text(streamed: &str, decoded: &str, what: &str) -> bool {
    if !decoded.contains('\u{FFFD}') {
        assert_eq!(
            streamed, decoded,
            "streamed text = the tokenizer's decode ({what})"
        );
        return true;
    }
    let mut rest = streamed;
    for piece in decoded.split('\u{FFFD}').filter(|p| !p.is_empty()) {
        let at = rest.find(piece).unwrap_or_else(|| {
            panic!("{piece:?} of the decode is missing from the stream ({what}): {streamed:?} vs {decoded:?}")
        });
        rest = &rest[at + piece.len()..];
    }
    false
}

/// Gemma 3 (google/gemma-3-4b-it's layout): Gemma 3 text, SigLIP vision, gemma-3's template.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemma3_matches_transformers_token_for_token() {
    assert_same_answers(&generated_model("make_hf_gemma3.py", "tiny-gemma3")).await;
}
