//! The full-screen app's frame cost against the length of the chat: frames are drawn on
//! ratatui's TestBackend with 10 and with 10,000 messages while an answer streams (one token
//! per frame), and with 10 messages while a long answer streams, interleaved in batches; the
//! medians and their ratios are printed and added to BENCHMARKS.md (goal: 10,000 messages, or an
//! answer of 1,024 tokens, cost at most 1.2× what 10 messages and a new answer do). Run by
//! `bench/run.sh`.

use std::time::Instant;

#[path = "stats.rs"]
mod stats;

use stats::{holds, median, replace_section, spread};

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use vchat::app::{Action, StartInfo, State};
use vchat::conversation::AssistantTurn;
use vchat::engine::{EngineEvent, ModelInfo, RequestId};
use vchat::sampling::SamplingSettings;
use vchat::ui::{self, Theme};

const BATCHES: usize = 15;
const FRAMES_PER_BATCH: usize = 40;
const GOAL: f64 = 1.2;

/// The article's limit on new tokens: how long an answer gets.
const LONG_ANSWER_TOKENS: usize = 1024;

fn main() -> Result<(), String> {
    let mut small = streaming_state(10);
    let mut large = streaming_state(10_000);
    let mut long_answer = streaming_state(10);
    for i in 0..LONG_ANSWER_TOKENS {
        // Words, with a paragraph break now and then, as answers come.
        let text = if i % 60 == 59 { " end.\n\n" } else { " word" };
        stream_token(&mut long_answer, text);
    }
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).map_err(|e| e.to_string())?;
    let theme = Theme::default();
    // Warm them all (wrapping caches fill on the first frame).
    for state in [&mut small, &mut large, &mut long_answer] {
        frame_cost(&mut terminal, state, &theme, 5)?;
    }

    let (mut small_costs, mut large_costs, mut long_costs) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..BATCHES {
        for (state, costs) in [
            (&mut small, &mut small_costs),
            (&mut large, &mut large_costs),
            (&mut long_answer, &mut long_costs),
        ] {
            costs.push(frame_cost(&mut terminal, state, &theme, FRAMES_PER_BATCH)?);
        }
    }
    let history_ratio = median(&large_costs) / median(&small_costs);
    let answer_ratio = median(&long_costs) / median(&small_costs);
    let section = format!(
        "\n## Full-screen app: frame cost against chat length\n\n\
         A 120 × 40 frame on ratatui's TestBackend while an answer streams (one token per frame); \
         {BATCHES} interleaved batches of {FRAMES_PER_BATCH} frames; median per frame (spread). \
         vchat's own code in the debug profile, dependencies optimised.\n\n\
         | chat | per frame |\n|---|---|\n\
         | 10 messages, the answer just started | {} µs |\n\
         | 10,000 messages, the answer just started | {} µs |\n\
         | 10 messages, the answer at {LONG_ANSWER_TOKENS} tokens | {} µs |\n\n\
         | ratio | measured | goal | holds |\n|---|---|---|---|\n\
         | 10,000 ÷ 10 messages | {history_ratio:.3} | ≤ {GOAL} | {} |\n\
         | answer at {LONG_ANSWER_TOKENS} tokens ÷ just started | {answer_ratio:.3} | ≤ {GOAL} | {} |\n",
        spread(&small_costs, 1e6, 1),
        spread(&large_costs, 1e6, 1),
        spread(&long_costs, 1e6, 1),
        holds(history_ratio <= GOAL),
        holds(answer_ratio <= GOAL),
    );
    println!("{section}");
    replace_section(&section, "\n## Full-screen app: frame cost")?;
    if history_ratio <= GOAL && answer_ratio <= GOAL {
        Ok(())
    } else {
        Err("a frame-cost goal was missed".into())
    }
}

/// A ready app with `messages` chat entries and an answer streaming.
fn streaming_state(messages: usize) -> State {
    let start = StartInfo {
        model: "llava-hf/llava-1.5-7b-hf".into(),
        device: "cpu".into(),
        quantization: "none".into(),
        dtype: "f32".into(),
    };
    let mut state = State::new(start, SamplingSettings::default(), None);
    state.update(Action::Engine(EngineEvent::Ready {
        request: RequestId::LOAD,
        info: ModelInfo {
            model: "llava-hf/llava-1.5-7b-hf".into(),
            architecture: "LlavaForConditionalGeneration".into(),
            device: "cpu".into(),
            dtype: "f32".into(),
            quantization: "none".into(),
            one_image_per_request: true,
            backend: "local".into(),
        },
    }));
    for i in 0..messages {
        let text = format!("message {i}: a line of chat that is long enough to wrap once or twice in the chat pane of a normal terminal window");
        if i % 2 == 0 {
            state.conversation.push_user(text, None);
        } else {
            state.conversation.push_assistant(AssistantTurn {
                text,
                settings: SamplingSettings::default(),
                stats: None,
                answered_by: None,
            });
        }
    }
    state.touch();
    state.input.set_text("next question");
    state.update(Action::Submit);
    state.update(Action::GenerationStarted(RequestId(1)));
    state
}

/// One more token of the streaming answer.
fn stream_token(state: &mut State, text: &str) {
    state.update(Action::Engine(EngineEvent::Token {
        request: RequestId(1),
        text: text.into(),
    }));
}

/// Seconds per frame over `frames` frames, each after one more streamed token.
fn frame_cost(
    terminal: &mut Terminal<TestBackend>,
    state: &mut State,
    theme: &Theme,
    frames: usize,
) -> Result<f64, String> {
    let started = Instant::now();
    for _ in 0..frames {
        stream_token(state, " token");
        terminal
            .draw(|frame| ui::draw(frame, state, theme, None))
            .map_err(|e| e.to_string())?;
    }
    Ok(started.elapsed().as_secs_f64() / frames as f64)
}
