//! The app driven headless through its actions, with the real engine on the tiny model: what
//! a user does (type, send, stop, change a setting) and what they would see in the state.

mod common;

use common::{test_png, tiny_model, tiny_options, type_and_send, until_idle, until_ready};
use vchat::app::{Action, EntryKind, Generation, ModelStatus, StartInfo, State};
use vchat::conversation::FinishReason;
use vchat::engine::EngineEvent;
use vchat::media::MediaOptions;
use vchat::sampling::SamplingSettings;
use vchat::tui::{start_info, Session};

fn session(settings: SamplingSettings) -> Session {
    let options = tiny_options(tiny_model());
    let start: StartInfo = start_info(&options);
    Session::start(
        State::new(start, settings, None),
        options,
        MediaOptions::default(),
    )
}

fn greedy() -> SamplingSettings {
    SamplingSettings {
        do_sample: false,
        max_new_tokens: 64,
        ..SamplingSettings::default()
    }
}

#[tokio::test]
async fn a_message_sent_while_loading_is_answered_when_ready() {
    let mut session = session(greedy());
    // Sent before any engine event is handled: the model is still loading.
    type_and_send(&mut session, "What is in the picture?");
    assert_eq!(session.state.generation, Generation::Queued);
    until_idle(&mut session).await;

    let answer = session.state.shown_entries().pop().expect("an answer");
    assert_eq!(answer.kind, EntryKind::Assistant);
    assert!(!answer.text.is_empty(), "the answer streamed text");
    let stats = answer.stats.as_ref().expect("stats after Done");
    assert!(stats.tokens >= 1 && stats.tokens <= 64);
    assert!(
        session.state.last_stats.is_some(),
        "the status bar shows the speed"
    );
    assert_eq!(session.state.conversation.turns.len(), 2);
}

#[tokio::test]
async fn tokens_stream_into_the_chat_before_done() {
    let mut session = session(greedy());
    until_ready(&mut session).await;
    type_and_send(&mut session, "Describe it");
    let mut partial_seen = false;
    while session.state.is_busy() {
        let action = session.next_action().await.expect("engine alive");
        let is_token = matches!(action, Action::Engine(EngineEvent::Token { .. }));
        session.dispatch(action);
        if is_token && session.state.is_busy() {
            let last = session.state.shown_entries().pop().expect("answer entry");
            partial_seen |= !last.text.is_empty() && last.stats.is_none();
        }
    }
    assert!(partial_seen, "a partial answer was on screen before Done");
}

#[tokio::test]
async fn escape_stops_the_answer_and_keeps_the_text() {
    let mut settings = greedy();
    settings.max_new_tokens = 100_000;
    let mut session = session(settings);
    until_ready(&mut session).await;
    // Greedy answers of the tiny model can end early; ask until one is long enough to stop.
    for attempt in 0..5 {
        type_and_send(
            &mut session,
            &format!("Tell me a long story, take {attempt}"),
        );
        loop {
            let action = session.next_action().await.expect("engine alive");
            session.dispatch(action);
            let shown = session
                .state
                .shown_entries()
                .last()
                .is_some_and(|e| !e.text.is_empty());
            if shown || !session.state.is_busy() {
                session.dispatch(Action::Stop);
                break;
            }
        }
        until_idle(&mut session).await;
        let answer = session.state.shown_entries().pop().expect("answer");
        let stats = answer.stats.as_ref().expect("stats");
        if stats.finish == FinishReason::Cancelled {
            assert!(!answer.text.is_empty(), "the partial text is kept");
            assert!(stats.summary().contains("stopped"));
            return;
        }
    }
    panic!("no answer could be stopped");
}

#[tokio::test]
async fn set_max_tokens_applies_to_the_next_answer() {
    let mut settings = greedy();
    settings.max_new_tokens = 200;
    let mut session = session(settings);
    until_ready(&mut session).await;

    type_and_send(&mut session, "/set max_tokens 3");
    assert_eq!(session.state.input_error, None);
    assert_eq!(session.state.settings.max_new_tokens, 3);
    type_and_send(&mut session, "/set temperature 9");
    let error = session.state.input_error.clone().expect("refused inline");
    assert!(error.contains("from 0 to 5"), "{error}");
    session.dispatch(Action::KillToStart);

    type_and_send(&mut session, "Describe the image");
    until_idle(&mut session).await;
    let stats = session
        .state
        .shown_entries()
        .last()
        .unwrap()
        .stats
        .clone()
        .unwrap();
    assert!(stats.tokens <= 3, "{stats:?}");
}

#[tokio::test]
async fn image_command_attaches_the_image_to_the_next_turn() {
    let mut session = session(greedy());
    until_ready(&mut session).await;
    let png = test_png(1);
    type_and_send(&mut session, &format!("/image {}", png.display()));
    while session.state.image_loading.is_some() {
        assert!(session.step().await);
    }
    assert!(session.state.shown_image.is_some());
    type_and_send(&mut session, "What is this?");
    assert!(!session.state.shown_entries()[0].image_labels.is_empty());
    until_idle(&mut session).await;
    assert!(session
        .state
        .shown_entries()
        .last()
        .unwrap()
        .stats
        .is_some());

    type_and_send(&mut session, "/image /no/such/file.png");
    while session.state.image_loading.is_some() {
        assert!(session.step().await);
    }
    let notice = session.state.notice.clone().expect("error notice");
    assert!(
        notice.is_error && notice.text.contains("not found"),
        "{notice:?}"
    );
}

#[tokio::test]
async fn a_model_that_fails_to_load_leaves_the_app_usable() {
    let mut options = tiny_options(tiny_model());
    options.model = common::scratch_dir()
        .join("no-such-model")
        .display()
        .to_string();
    let mut session = Session::start(
        State::new(start_info(&options), greedy(), None),
        options,
        MediaOptions::default(),
    );
    type_and_send(&mut session, "Hello?");
    while !matches!(session.state.model, ModelStatus::Failed(_)) {
        assert!(session.step().await);
    }
    assert!(
        !session.state.is_busy(),
        "the queued message is not left waiting"
    );
    let last = session.state.shown_entries().pop().unwrap();
    assert_eq!(last.kind, EntryKind::Notice);
    assert!(last.text.contains("could not be loaded"), "{}", last.text);
    assert!(!last.text.contains('\n'), "one line");

    // Settings can still be changed, and quitting works.
    type_and_send(&mut session, "/set temperature 0.5");
    assert_eq!(session.state.settings.temperature, 0.5);
    type_and_send(&mut session, "/quit");
    assert!(session.should_quit());
}
