//! vchat's engine against Hugging Face transformers for the vision models people use now, on
//! tiny random models that transformers itself writes (`reference/make_hf_*.py`, in the layout
//! and config shape of the real hub checkpoints, with a byte-fallback BPE tokenizer): the
//! rendered prompt equals the processor's, greedy token ids equal transformers' for 2 images ×
//! 2 prompts × 32 tokens, a two-turn chat and a two-turn chat whose first message holds two
//! images, and the streamed text equals the tokenizer's decode of the same ids (the random
//! models emit byte tokens, CJK and control characters).
//!
//! The reference runs `reference/vlm_reference.py` in the Python environment that
//! `cargo xtask test` (or `cargo xtask reference`) prepares.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};
use vchat::conversation::{AssistantTurn, Conversation};
use vchat::sampling::SamplingSettings;

const NEW_TOKENS: usize = 32;

/// The chats both stacks answer: two images (one square, one not) × two prompts, a two-turn
/// chat, and a two-turn chat whose first message holds two images (the first turn holds the
/// chat's images).
fn chats() -> Vec<(Vec<u8>, Vec<&'static str>)> {
    vec![
        (vec![0], vec!["Describe the image"]),
        (vec![0], vec!["What is in this picture?"]),
        (vec![NON_SQUARE], vec!["Describe the image"]),
        (vec![NON_SQUARE], vec!["What is in this picture?"]),
        (
            vec![2],
            vec!["Describe the image", "猫 🙂 What color is it?"],
        ),
        (
            vec![1, NON_SQUARE],
            vec!["What differs between the pictures?", "Which one is darker?"],
        ),
    ]
}

/// How far below the reference's best logit vchat's token may be at a step where the two
/// differ: a near tie, which float noise decides (different summation orders, a pixel one
/// level apart after resizing). Undoing PATCHES.md fix 8 or 11 leaves a token 1.67 or 0.062
/// below the best.
const NEAR_TIE: f64 = 0.01;

fn chat_input(images: &[u8], turns: &[&str]) -> Value {
    let images: Vec<PathBuf> = images.iter().map(|&i| test_png(i)).collect();
    json!({"images": images, "turns": turns, "max_new_tokens": NEW_TOKENS})
}

async fn assert_same_answers(model: &Path) {
    let input: Vec<Value> = chats()
        .iter()
        .map(|(images, turns)| chat_input(images, turns))
        .collect();
    let reference: Vec<Vec<Value>> = serde_json::from_slice(&run_reference(
        "vlm_reference.py",
        &[model.as_os_str()],
        Some(&json!(input)),
    ))
    .expect("reference JSON");
    let (engine, mut events, _) = ready_engine(tiny_options(model)).await;
    let greedy = SamplingSettings {
        do_sample: false,
        max_new_tokens: NEW_TOKENS,
        ..SamplingSettings::default()
    };
    let (mut exact_ids, mut exact_texts) = (0, 0);
    for ((images, turns), expected_turns) in chats().into_iter().zip(reference) {
        let mut conversation = Conversation::default();
        for (index, (question, expected)) in turns.iter().zip(expected_turns).enumerate() {
            let what = format!("images {images:?}, {question:?}, turn {index}");
            let attachments: Vec<_> = match index {
                0 => images.iter().map(|&i| chat_image(i)).collect(),
                _ => Vec::new(),
            };
            conversation.push_user(*question, attachments);

            let prompt = prompt_text(&mut events, engine.render_prompt(&conversation, true)).await;
            assert_eq!(
                prompt,
                expected["prompt"].as_str().unwrap(),
                "the prompt equals the processor's ({what})"
            );
            let answer = collect(&mut events, engine.generate(&conversation, &greedy)).await;
            let decoded_ids = if answer.token_ids == reference_token_ids(&expected) {
                exact_ids += 1;
                expected["text"].as_str().unwrap().to_string()
            } else {
                assert_near_ties(model, &images, &turns[..=index], &answer.token_ids, &what)
            };
            exact_texts += usize::from(same_text(&answer.text, &decoded_ids, &what));
            // The follow-up goes on from the same text on both sides (see `same_text`).
            conversation.push_assistant(AssistantTurn {
                text: expected["text"].as_str().unwrap().to_string(),
                settings: greedy.clone(),
                stats: Some(answer.stats),
                answered_by: None,
            });
        }
    }
    assert!(
        exact_ids >= 3,
        "too few answers equal the reference's token for token ({exact_ids})"
    );
    assert!(
        exact_texts >= 2,
        "too few answers decoded to valid text to compare them exactly ({exact_texts})"
    );
}

/// vchat's answer left the reference's: every token of it must be the reference's best or
/// within [`NEAR_TIE`] of it, given the same tokens before it. Returns the reference
/// tokenizer's decode of vchat's ids.
fn assert_near_ties(
    model: &Path,
    images: &[u8],
    turns: &[&str],
    ids: &[u32],
    what: &str,
) -> String {
    let mut chat = chat_input(images, turns);
    chat["forced"] = json!(ids);
    let reference: Vec<Vec<Value>> = serde_json::from_slice(&run_reference(
        "vlm_reference.py",
        &[model.as_os_str()],
        Some(&json!([chat])),
    ))
    .expect("reference JSON");
    let last = reference[0].last().expect("the reference answers the turn");
    for (step, (score, id)) in last["scores"]
        .as_array()
        .unwrap()
        .iter()
        .zip(ids)
        .enumerate()
    {
        let (best, forced) = (
            score["best"].as_f64().unwrap(),
            score["forced"].as_f64().unwrap(),
        );
        assert!(
            best - forced <= NEAR_TIE,
            "token {step} ({what}): vchat chose {id}, transformers {} by {:.4} logits, more than a \
             near tie ({NEAR_TIE})",
            score["best_token"],
            best - forced
        );
    }
    last["forced_text"].as_str().unwrap().to_string()
}

/// The streamed text against the tokenizer's decode of the same ids. Equal, except:
/// - mistral.rs drops the whitespace an answer starts with (a leading space or newline);
/// - where byte tokens form no valid UTF-8 (random weights emit such runs; a real model's emoji
///   and CJK are valid) and the tokenizer replaces them in its own way (a byte-fallback
///   tokenizer turns the whole run into U+FFFD; byte-level BPE, like mistral.rs, each invalid
///   sequence): there, the text between the replacement characters must come in the same order.
///
/// True when compared exactly.
fn same_text(streamed: &str, decoded: &str, what: &str) -> bool {
    let decoded = decoded.trim_start();
    if streamed == decoded {
        return true;
    }
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
    assert_same_answers(&generated_model("make_hf_gemma3.py", &[], "tiny-gemma3")).await;
}

/// Qwen2.5-VL (Qwen/Qwen2.5-VL-7B-Instruct's layout): windowed vision attention, M-RoPE,
/// smart resize, byte-level BPE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qwen2_5_vl_matches_transformers_token_for_token() {
    assert_same_answers(&generated_model(
        "make_hf_qwen_vl.py",
        &["2.5"],
        "tiny-qwen2_5-vl",
    ))
    .await;
}

/// Qwen3-VL (Qwen/Qwen3-VL-8B-Instruct's layout): deepstack vision features, interleaved
/// M-RoPE, smart resize, byte-level BPE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qwen3_vl_matches_transformers_token_for_token() {
    assert_same_answers(&generated_model(
        "make_hf_qwen_vl.py",
        &["3"],
        "tiny-qwen3-vl",
    ))
    .await;
}

/// Qwen2.5-VL and Qwen3-VL as transformers 5 saves them (`model.language_model.*` and
/// `model.visual.*` tensors, `rope_parameters` instead of the hub's `rope_theta` and
/// `rope_scaling`), as a fine-tune or a converted model may come: they load and agree too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qwen_models_saved_by_transformers_5_load_and_match() {
    for (version, name) in [("2.5", "qwen2_5-vl-as-saved"), ("3", "qwen3-vl-as-saved")] {
        let model = generated_model("make_hf_qwen_vl.py", &[version, "--as-saved"], name);
        assert_same_answers(&model).await;
    }
}
