//! Opening a saved chat: the time from reading the chat file to the first frame of the app
//! (load with images, rebuild the chat pane, draw a 120 × 40 frame on ratatui's TestBackend),
//! for a 10-turn chat with one image and a 10,000-turn chat with 20 images, interleaved; the
//! medians and their ratio are printed and written to BENCHMARKS.md (goal: under 10×).
//! Run by `bench/run.sh`.

use std::time::Instant;

#[path = "stats.rs"]
mod stats;

use stats::{holds, median, replace_section, spread};

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use vchat::app::State;
use vchat::chats::{to_file, ChatMeta, ChatStore, FIRST_SCREEN_TURNS};
use vchat::conversation::{AnswerStats, AssistantTurn, ChatImage, Conversation, FinishReason};
use vchat::sampling::SamplingSettings;
use vchat::tiny_model::pattern_image;
use vchat::ui::{self, Theme};

const RUNS: usize = 15;
const GOAL: f64 = 10.0;

fn main() -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("vchat-bench-sessions-{}", std::process::id()));
    let store = ChatStore::new(&dir);
    save_chat(&store, "small", 10, 1)?;
    save_chat(&store, "large", 10_000, 20)?;
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).map_err(|e| e.to_string())?;
    let theme = Theme::default();
    // Warm the file cache and the code paths once.
    open_and_draw(&store, "small", &mut terminal, &theme)?;
    open_and_draw(&store, "large", &mut terminal, &theme)?;

    let (mut small, mut large) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        small.push(open_and_draw(&store, "small", &mut terminal, &theme)?);
        large.push(open_and_draw(&store, "large", &mut terminal, &theme)?);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let ratio = median(&large) / median(&small);
    let section = format!(
        "\n## Saved chats: time to the first screen\n\n\
         What `vchat --resume` does before its first frame: read the chat file's last \
         {FIRST_SCREEN_TURNS} turns and their images, rebuild the chat pane, draw one 120 × 40 \
         frame (ratatui's TestBackend); the earlier turns are read afterwards, in the \
         background. {RUNS} interleaved runs, median (spread); images are 336 × 336 PNGs; \
         vchat's own code in the debug profile, dependencies optimised.\n\n\
         | chat | to the first screen |\n|---|---|\n\
         | 10 turns, 1 image | {} ms |\n\
         | 10,000 turns, 20 images | {} ms |\n\n\
         | ratio | measured | goal | holds |\n|---|---|---|---|\n\
         | 10,000 turns ÷ 10 turns | {ratio:.2} | < {GOAL} | {} |\n",
        spread(&small, 1e3, 1),
        spread(&large, 1e3, 1),
        holds(ratio < GOAL)
    );
    println!("{section}");
    replace_section(&section, "\n## Saved chats")?;
    if ratio < GOAL {
        Ok(())
    } else {
        Err("the chat-opening goal was missed".into())
    }
}

/// Saves a chat of `turns` turns (alternating question and answer) with `images` distinct
/// images spread over its questions.
fn save_chat(store: &ChatStore, id: &str, turns: usize, images: usize) -> Result<(), String> {
    let mut chat = Conversation::default();
    let every = (turns / 2 / images).max(1);
    for i in 0..turns / 2 {
        // The last question carries the newest image, which the first screen shows.
        let image = ((i + 1) % every == 0 && i / every < images).then(|| {
            ChatImage::from_pixels(
                format!("photo-{}.png", i / every),
                pattern_image((i / every) as u32),
            )
        });
        chat.push_user(format!("Question {i}: what else is in the picture?"), image);
        chat.push_assistant(AssistantTurn {
            text: format!(
                "Answer {i}: a **pattern** of squares and stripes,\n\n- red\n- blue\n\nand more."
            ),
            settings: SamplingSettings::default(),
            stats: Some(AnswerStats {
                finish: FinishReason::Stop,
                tokens: 24,
                time_to_first_token: std::time::Duration::from_millis(120),
                tokens_per_second: 40.5,
                seed: Some(i as u64),
                prompt: None,
            }),
            answered_by: Some("llava-hf/llava-1.5-7b-hf".into()),
        });
    }
    let meta = ChatMeta {
        id: id.into(),
        title: None,
        created: 0,
    };
    let (file, images) = to_file(&meta, &chat, None);
    store.save(&file, &images).map_err(|e| e.to_string())
}

/// Seconds from reading chat `id` to its first frame.
fn open_and_draw(
    store: &ChatStore,
    id: &str,
    terminal: &mut Terminal<TestBackend>,
    theme: &Theme,
) -> Result<f64, String> {
    let started = Instant::now();
    // What `vchat --resume` does before its first frame; the rest is read afterwards.
    let loaded = store
        .load_tail(id, FIRST_SCREEN_TURNS)
        .map_err(|e| e.to_string())?;
    let mut state = State::new(Default::default(), SamplingSettings::default(), None);
    state.show_loaded_chat(loaded);
    terminal
        .draw(|frame| ui::draw(frame, &state, theme, None))
        .map_err(|e| e.to_string())?;
    Ok(started.elapsed().as_secs_f64())
}
