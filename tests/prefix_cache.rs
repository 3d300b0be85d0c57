//! Follow-ups and regenerates reuse the chat's KV (mistral.rs's prefix cache) on every
//! architecture where vchat turns the cache on, and answer exactly as a full prefill does.
//!
//! Each cached request must be a real hit: the patched engine logs how many tokens a hit
//! reused, and this test reads that log. The full prefill comes from a fresh engine per
//! request (nothing cached, so nothing reused), on the same model.

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use common::*;
use tokio::sync::mpsc::UnboundedReceiver;
use vchat::conversation::{AssistantTurn, ChatImage, Conversation, PromptSize};
use vchat::engine::{Engine, EngineEvent};
use vchat::sampling::SamplingSettings;

/// The engine's log lines, captured for the whole test binary.
fn engine_log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&log);
        tracing_subscriber::fmt()
            .with_env_filter("mistralrs_core::engine=info")
            .with_ansi(false)
            .with_writer(move || LogWriter(Arc::clone(&writer)))
            .init();
        log
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Each prefix-cache hit logged since the log had `mark` bytes (tokens reused, tokens in the
/// prompt), and the log's length now.
fn hits_since(mark: usize) -> (Vec<(usize, usize)>, usize) {
    let log = engine_log().lock().unwrap();
    let text = String::from_utf8_lossy(&log[mark..]);
    let hits = text
        .lines()
        .filter(|l| l.contains("prefix cache hit"))
        .map(|l| {
            (
                logged_number(l, "reused_tokens="),
                logged_number(l, "prompt_tokens="),
            )
        })
        .collect();
    (hits, log.len())
}

fn logged_number(line: &str, key: &str) -> usize {
    let value = line
        .split(key)
        .nth(1)
        .unwrap_or_else(|| panic!("{key} in {line}"));
    let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

fn greedy(tokens: usize) -> SamplingSettings {
    SamplingSettings {
        do_sample: false,
        max_new_tokens: tokens,
        ..SamplingSettings::default()
    }
}

/// Greedy with a repetition penalty: the penalty looks at every token of the chat, so a
/// request answered from the cache must see the reused prefix too, not only what it prefills.
fn greedy_penalised(tokens: usize) -> SamplingSettings {
    SamplingSettings {
        repetition_penalty: 2.0,
        ..greedy(tokens)
    }
}

fn answered(conversation: &mut Conversation, text: String) {
    conversation.push_assistant(AssistantTurn {
        text,
        settings: greedy(1),
        stats: None,
        answered_by: None,
    });
}

/// A chat: its first message (with its images), then follow-ups, each with its images.
struct Chat {
    turns: Vec<(&'static str, Vec<ChatImage>)>,
    /// Ask the last question a second time (a regenerate).
    regenerate: bool,
    /// The most tokens each answer has.
    answer_tokens: usize,
}

/// One request answered from the cache: what it was, its settings, its token ids and the
/// prompt size it reported.
struct Cached {
    what: String,
    conversation: Conversation,
    settings: SamplingSettings,
    token_ids: Vec<u32>,
    prompt: Option<PromptSize>,
}

async fn answer(
    engine: &Engine,
    events: &mut UnboundedReceiver<EngineEvent>,
    conversation: &Conversation,
    settings: &SamplingSettings,
) -> Answer {
    collect(events, engine.generate(conversation, settings)).await
}

/// Plays `chats` on one engine, greedy or with a repetition penalty; every follow-up
/// and regenerate must hit the cache and reuse more tokens than it processes. Then a fresh
/// engine per cached request answers the same conversation from scratch: the ids must be
/// equal, and so must the prompt's size the answer reports (the whole prompt, images
/// included, not the part the cache left to prefill).
async fn cached_equal_fresh(model: &Path, chats: &[Chat], penalised: bool) {
    let (engine, mut events, info) = ready_engine(tiny_options(model)).await;
    let arch = info.architecture;
    let mut cached: Vec<Cached> = Vec::new();
    for (chat_index, chat) in chats.iter().enumerate() {
        let mut conversation = Conversation::default();
        let last = chat.turns.len() - 1;
        let settings = if penalised {
            greedy_penalised(chat.answer_tokens)
        } else {
            greedy(chat.answer_tokens)
        };
        let regenerate = chat.regenerate;
        for (index, (question, images)) in chat.turns.iter().cloned().enumerate() {
            let images_added = !images.is_empty();
            conversation.push_user(question, images);
            let penalty = if penalised {
                " (repetition penalty)"
            } else {
                ""
            };
            let mut asks = vec![format!("{arch}{penalty}, chat {chat_index}, turn {index}")];
            if index == last && regenerate {
                asks.push(format!(
                    "{arch}{penalty}, chat {chat_index}, turn {index} regenerated"
                ));
            }
            let mut text = String::new();
            for what in asks {
                let (_, mark) = hits_since(0);
                let reply = answer(&engine, &mut events, &conversation, &settings).await;
                text = reply.text;
                let (hits, _) = hits_since(mark);
                if index == 0 && !what.ends_with("regenerated") {
                    continue;
                }
                assert_eq!(hits.len(), 1, "{what}: one prefix-cache hit");
                // More than a shared BOS. When an earlier message holds an image and this one
                // adds none, the reused image alone outweighs the new text. (Otherwise a random
                // model's answer may re-encode into more tokens than it had.)
                let (reused, prompt) = hits[0];
                let processed = prompt - reused;
                let earlier_image = images_before_last(&conversation) > 0;
                assert!(
                    reused > 1 && (!earlier_image || images_added || reused > processed),
                    "{what}: {reused} tokens reused, {processed} processed"
                );
                cached.push(Cached {
                    what,
                    conversation: conversation.clone(),
                    settings: settings.clone(),
                    token_ids: reply.token_ids,
                    prompt: reply.stats.prompt,
                });
            }
            // The answer as it streamed goes on in the chat, as in the app.
            answered(&mut conversation, text);
        }
    }
    drop(engine);
    for request in cached {
        let (fresh, mut fresh_events, _) = ready_engine(tiny_options(model)).await;
        let (_, mark) = hits_since(0);
        let reply = answer(
            &fresh,
            &mut fresh_events,
            &request.conversation,
            &request.settings,
        )
        .await;
        // mistral.rs's dummy run at load ("hello") leaves an entry whose first token, a BOS,
        // a prompt may share; nothing else is in a fresh engine's cache.
        let (hits, _) = hits_since(mark);
        assert!(
            hits.iter().all(|&(reused, _)| reused <= 1),
            "{}: nothing cached, yet {hits:?}",
            request.what
        );
        assert_eq!(
            request.token_ids, reply.token_ids,
            "{}: the cached answer equals a full prefill",
            request.what
        );
        let size = reply.stats.prompt.expect("prompt measured");
        let image_tokens = size.image_tokens.expect("the image token is known");
        assert_eq!(
            size.images == 0,
            image_tokens == 0,
            "{}: image positions found exactly when images are sent: {size:?}",
            request.what
        );
        assert_eq!(
            request.prompt, reply.stats.prompt,
            "{}: the cached answer reports the whole prompt",
            request.what
        );
    }
}

/// Images in the messages before the last one.
fn images_before_last(conversation: &Conversation) -> usize {
    let last = conversation.turns.len().saturating_sub(1);
    conversation.turns[..last]
        .iter()
        .map(|t| match t {
            vchat::conversation::Turn::User(user) => user.images.len(),
            vchat::conversation::Turn::Assistant(_) => 0,
        })
        .sum()
}

/// A chat without images.
fn text_only_chat() -> Chat {
    Chat {
        turns: vec![("Hello, who are you?", vec![]), ("Tell me more.", vec![])],
        regenerate: false,
        answer_tokens: 16,
    }
}

/// A chat whose follow-up adds a second image.
fn second_image_chat(answer_tokens: usize) -> Chat {
    Chat {
        turns: vec![
            ("What is in this picture?", vec![chat_image(1)]),
            ("And in this one?", vec![chat_image(NON_SQUARE)]),
        ],
        regenerate: false,
        answer_tokens,
    }
}

/// An image chat with a follow-up and a regenerate; a chat without images; a chat whose
/// follow-up adds a second image (for models that take several).
fn chats(several_images: bool) -> Vec<Chat> {
    let mut chats = vec![
        Chat {
            turns: vec![
                ("Describe the image", vec![chat_image(0)]),
                ("猫 🙂 What color is it?", vec![]),
            ],
            regenerate: true,
            answer_tokens: 16,
        },
        text_only_chat(),
    ];
    if several_images {
        chats.push(second_image_chat(16));
    }
    chats
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_follow_ups_and_regenerates_equal_a_full_prefill_on_every_cached_architecture() {
    engine_log();
    for penalised in [false, true] {
        cached_equal_fresh(tiny_model(), &chats(false), penalised).await;
        for (args, name) in [(["2.5"], "tiny-qwen2_5-vl"), (["3"], "tiny-qwen3-vl")] {
            let model = generated_model("make_hf_qwen_vl.py", &args, name);
            cached_equal_fresh(&model, &chats(true), penalised).await;
        }
        let gemma = generated_model("make_hf_gemma3.py", &[], "tiny-gemma3");
        cached_equal_fresh(&gemma, &gemma_chats(), penalised).await;
    }
}

/// Gemma 3's sliding-window layers keep only the last window of keys (64 on the tiny model,
/// 1,024 on the real ones), so a cached chat can be rewound only while it fits in the window:
/// every chat here fits, but the last, which passes the window in its first message. Its
/// answer is one token, so the cached KV ends where its prompt does and the follow-up continues
/// it exactly, the hit a long real chat gets: the window is reused without a rewind.
fn gemma_chats() -> Vec<Chat> {
    let long_question = "Please look at every part of this picture with great care and then \
        tell me, one by one, which shapes you can see, which colours they have, where each of \
        them sits, how large it is compared with the others, and whether any of them overlap.";
    vec![
        Chat {
            turns: vec![("Describe the image", vec![chat_image(0)])],
            regenerate: true,
            answer_tokens: 16,
        },
        text_only_chat(),
        second_image_chat(12),
        Chat {
            turns: vec![(long_question, vec![chat_image(2)]), ("Go on.", vec![])],
            regenerate: false,
            answer_tokens: 1,
        },
    ]
}
