//! Whole-screen snapshots of the app on ratatui's TestBackend, one per state a user would
//! recognise: the main screen, the settings panel, the help, a half-streamed answer, a failed
//! model load and small terminals.

mod common;

use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use vchat::app::{Action, Focus, Generation, StartInfo, State};
use vchat::conversation::{AnswerStats, AssistantTurn, ChatImage, FinishReason};
use vchat::engine::{EngineEvent, RequestId};
use vchat::sampling::SamplingSettings;
use vchat::ui::{self, Theme};

fn stats(tokens: usize, finish: FinishReason) -> AnswerStats {
    AnswerStats {
        finish,
        tokens,
        time_to_first_token: Duration::from_millis(120),
        tokens_per_second: 35.5,
        seed: None,
        prompt: None,
    }
}

fn ready_state() -> State {
    let start = StartInfo {
        model: "llava-hf/llava-1.5-7b-hf".into(),
        device: "cpu".into(),
        quantization: "none".into(),
        dtype: "f32".into(),
    };
    let mut state = State::new(start, SamplingSettings::default(), None);
    state.update(Action::Engine(EngineEvent::Ready {
        request: RequestId::LOAD,
        info: common::llava_info("llava-hf/llava-1.5-7b-hf"),
    }));
    state.notice = None;
    state
}

/// An answer as the conversation holds it.
fn answer(text: &str, stats: Option<AnswerStats>) -> AssistantTurn {
    AssistantTurn {
        text: text.into(),
        settings: SamplingSettings::default(),
        stats,
        answered_by: None,
    }
}

fn with_chat(mut state: State) -> State {
    let pixels = image::DynamicImage::new_rgb8(4, 4);
    state.conversation.push_user(
        "What are the things I should be cautious about when I visit here?",
        Some(ChatImage::from_pixels("view.jpg", pixels)),
    );
    state.conversation.push_assistant(answer(
        "When visiting this pier over the lake, be careful of slippery planks after rain, \
         watch the weather since storms can come in quickly over the mountains, and keep \
         an eye on the edge: there is no railing.\x1b[31m",
        Some(stats(48, FinishReason::Stop)),
    ));
    state.last_stats = Some(stats(48, FinishReason::Stop));
    state.touch();
    state
}

fn render(state: &State, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| ui::draw(frame, state, &Theme::default(), None))
        .unwrap();
    terminal.backend().to_string()
}

#[test]
fn main_screen() {
    insta::assert_snapshot!(render(&with_chat(ready_state()), 120, 36));
}

#[test]
fn settings_panel_focused_with_a_refused_value() {
    let mut state = ready_state();
    state.update(Action::FocusNext);
    state.update(Action::FocusNext);
    assert_eq!(state.focus, Focus::Settings);
    state.update(Action::SettingIncrease);
    state.update(Action::SettingNext);
    state.update(Action::SettingEdit);
    state.update(Action::KillToStart);
    state.update(Action::Insert("2".into()));
    state.update(Action::Submit);
    assert_eq!(state.settings.top_p, 1.0, "2 is out of range and refused");
    insta::assert_snapshot!(render(&state, 120, 36));
}

#[test]
fn help_overlay() {
    let mut state = with_chat(ready_state());
    state.update(Action::ToggleHelp);
    insta::assert_snapshot!(render(&state, 120, 46));
}

#[test]
fn half_streamed_answer() {
    let mut state = ready_state();
    state.input.set_text("Describe the image");
    state.update(Action::Submit);
    state.update(Action::GenerationStarted(RequestId(7)));
    for piece in [
        "A wooden ",
        "pier ",
        "stretches ",
        "into a calm",
        "\x07 lake",
    ] {
        state.update(Action::Engine(EngineEvent::Token {
            request: RequestId(7),
            text: piece.into(),
        }));
    }
    // A token of an older request must not land in this answer.
    state.update(Action::Engine(EngineEvent::Token {
        request: RequestId(3),
        text: "STALE".into(),
    }));
    assert!(matches!(state.generation, Generation::Running { .. }));
    let screen = render(&state, 100, 24);
    assert!(!screen.contains("STALE"));
    insta::assert_snapshot!(screen);
}

#[test]
fn model_that_failed_to_load() {
    let start = StartInfo {
        model: "/models/missing".into(),
        device: "cpu".into(),
        quantization: "none".into(),
        dtype: "auto".into(),
    };
    let mut state = State::new(start, SamplingSettings::default(), None);
    state.update(Action::Engine(EngineEvent::LoadFailed {
        request: RequestId::LOAD,
        message: "model folder not found: /models/missing\nstack backtrace: ...".into(),
    }));
    insta::assert_snapshot!(render(&state, 100, 20));
}

#[test]
fn narrow_terminal_shows_the_chat_only() {
    insta::assert_snapshot!(render(&with_chat(ready_state()), 60, 20));
}

#[test]
fn too_small_terminal_shows_a_notice() {
    let state = with_chat(ready_state());
    insta::assert_snapshot!(render(&state, 30, 8));
    // And recovers when enlarged.
    assert!(render(&state, 60, 20).contains("Chat"));
    // Degenerate sizes draw without panicking (the backend cannot print a 0×0 screen, so
    // these are only drawn).
    for (w, h) in [(0, 0), (1, 1), (39, 9), (40, 10), (40, 3), (200, 10)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal
            .draw(|frame| ui::draw(frame, &state, &Theme::default(), None))
            .unwrap();
    }
}

#[test]
fn a_frame_wraps_only_the_visible_end_of_a_long_history() {
    let mut state = ready_state();
    for i in 0..20_000 {
        let text = format!("message number {i}");
        if i % 2 == 0 {
            state.conversation.push_user(text, None);
        } else {
            state.conversation.push_assistant(answer(&text, None));
        }
    }
    state.touch();
    let screen = render(&state, 100, 30);
    assert!(screen.contains("message number 19999"));
    let entries = state.entries();
    assert!(!entries[0].is_wrapped());
    assert!(entries[19_999].is_wrapped());
}

#[test]
fn a_long_streaming_answer_shows_its_last_lines_and_scrolls_back_to_its_header() {
    let mut state = ready_state();
    state.input.set_text("Count to sixty");
    state.update(Action::Submit);
    state.update(Action::GenerationStarted(RequestId(1)));
    for i in 1..=60 {
        state.update(Action::Engine(EngineEvent::Token {
            request: RequestId(1),
            text: format!("line {i}\n"),
        }));
        render(&state, 100, 24); // a frame per token, as the app draws them
    }
    // The numbers of the `line N` rows on screen, top to bottom.
    let numbers = |screen: &str| -> Vec<usize> {
        screen
            .lines()
            .filter_map(|l| l.split("line ").nth(1))
            .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
            .collect()
    };
    let consecutive = |n: &[usize]| n.windows(2).all(|w| w[1] == w[0] + 1);

    let bottom = numbers(&render(&state, 100, 24));
    assert_eq!(bottom.last(), Some(&60), "{bottom:?}");
    assert!(bottom.len() > 3 && consecutive(&bottom), "{bottom:?}");

    state.update(Action::PageUp);
    let screen = render(&state, 100, 24);
    let scrolled = numbers(&screen);
    assert!(
        consecutive(&scrolled) && scrolled.last() < bottom.last(),
        "{scrolled:?} after {bottom:?}"
    );
    // Scrolled into the answer, every row of the chat pane is one of its lines.
    let pane_rows = screen
        .lines()
        .skip(1)
        .take_while(|l| l.trim_start_matches('"').starts_with('│'))
        .count();
    assert_eq!(scrolled.len(), pane_rows, "{screen}");
    assert!(!screen.contains("Assistant #1"), "{screen}");

    for _ in 0..10 {
        state.update(Action::PageUp);
    }
    let screen = render(&state, 100, 24);
    assert!(screen.contains("Assistant #1  …"), "{screen}");
    assert_eq!(numbers(&screen).first(), Some(&1), "{screen}");
}

#[test]
fn scrolling_up_stays_put_while_the_answer_streams() {
    let mut state = with_chat(ready_state());
    for i in 0..30 {
        state
            .conversation
            .push_user(format!("older line {i}"), None);
    }
    state.touch();
    state.input.set_text("next question");
    state.update(Action::Submit);
    state.update(Action::GenerationStarted(RequestId(1)));
    render(&state, 100, 24); // records the chat pane's size
    state.update(Action::PageUp);
    let before = render(&state, 100, 24);
    assert!(state.scroll > 0);
    for _ in 0..20 {
        state.update(Action::Engine(EngineEvent::Token {
            request: RequestId(1),
            text: "more text that wraps and wraps ".into(),
        }));
    }
    let after = render(&state, 100, 24);
    let chat_lines = |s: &str| -> Vec<String> {
        s.lines()
            .skip(1)
            .take(10)
            .map(|l| l.chars().take(58).collect())
            .collect()
    };
    assert_eq!(
        chat_lines(&before),
        chat_lines(&after),
        "the view did not move"
    );
    state.update(Action::ScrollToBottom);
    assert!(render(&state, 100, 24).contains("more text"));
}

#[test]
fn answers_render_markdown_lists_emphasis_and_code() {
    let mut state = ready_state();
    state.conversation.push_assistant(answer(
        "Things to watch:\n- **slippery** rocks\n- *sudden* storms\n```\nkeep_distance(2)\n```",
        None,
    ));
    state.touch();
    let screen = render(&state, 100, 20);
    assert!(screen.contains("• slippery rocks"), "{screen}");
    assert!(screen.contains("• sudden storms"), "{screen}");
    assert!(screen.contains("keep_distance(2)"), "{screen}");
    assert!(
        !screen.contains("**") && !screen.contains("```"),
        "{screen}"
    );
}

#[test]
fn a_download_in_the_status_bar_is_shown_whole_or_cut_at_a_word() {
    let start = StartInfo {
        model: "llava-hf/llava-1.5-7b-hf".into(),
        device: "cuda".into(),
        quantization: "q8_0".into(),
        dtype: "auto".into(),
    };
    let mut state = State::new(start, SamplingSettings::default(), None);
    let stage = "downloading model-00002-of-00003.safetensors (5/9): 7.3 GB of 14.1 GB · 48 MB/s · 2 min 22 s left";
    state.update(Action::Engine(EngineEvent::Loading {
        request: RequestId::LOAD,
        stage: stage.into(),
        fraction: 0.52,
    }));
    let label = format!("loading  52% {stage}");
    for width in 40..=200u16 {
        let screen = render(&state, width, 24);
        let bar = screen.lines().last().unwrap().trim_matches('"').trim_end();
        let shown = bar.split('│').next().unwrap().trim();
        let whole = shown == label;
        let cut = shown
            .strip_suffix('…')
            .is_some_and(|kept| label.starts_with(kept) && label[kept.len()..].starts_with(' '));
        assert!(whole || cut, "width {width}: {shown:?}");
        if width >= 120 {
            assert!(shown.contains("of 14.1 GB"), "width {width}: {shown:?}");
        }
    }
    let chat = render(&state, 120, 24);
    assert!(
        chat.contains("Loading the model (52%): downloading model-00002-of-00003.safetensors"),
        "{chat}"
    );
}

#[test]
fn the_status_bar_drops_whole_fields_to_fit_and_cuts_a_notice_at_a_word() {
    let mut state = with_chat(ready_state());
    let full_facts = [
        "temp 0.2 · top_p 1 · max 1024",
        "llava-1.5-7b-hf · cpu · none",
        "first token 0.12 s · 35.5 tok/s",
        "ctx ≈64 tok",
    ];
    let notice = "saved the chat as pier-visit in the chats folder";
    for with_notice in [false, true] {
        state.notice = with_notice.then(|| vchat::app::Notice {
            text: notice.into(),
            is_error: false,
        });
        let mut shown_before = 0;
        for width in 40..=200u16 {
            let screen = render(&state, width, 24);
            let bar = screen.lines().last().unwrap().trim_matches('"').trim_end();
            let fields: Vec<&str> = bar.split('│').map(str::trim).collect();
            assert_eq!(fields[0], "ready", "width {width}: {bar:?}");
            let mut facts = &fields[1..];
            if with_notice {
                let shown = facts[0];
                let whole = shown == notice;
                let cut = shown.strip_suffix('…').is_some_and(|kept| {
                    notice.starts_with(kept) && notice[kept.len()..].starts_with(' ')
                });
                assert!(whole || cut, "width {width}: notice {shown:?}");
                facts = &facts[1..];
            }
            for fact in facts {
                assert!(
                    full_facts.contains(fact),
                    "width {width}: a cut field {fact:?} in {bar:?}"
                );
            }
            assert!(
                facts.len() >= shown_before,
                "width {width}: a wider bar shows fewer fields"
            );
            shown_before = facts.len();
        }
        assert_eq!(
            shown_before,
            full_facts.len(),
            "200 columns show every field"
        );
    }
}
