//! The app's chat operations on the real engine (tiny model), headless: the chat is saved as
//! it goes and reopens the same; regenerate, edit and resend, the prompt view, several images
//! in one chat, and an animated GIF.

mod common;

use common::{test_png, tiny_model, tiny_options, type_and_send, until_idle, until_ready};
use vchat::app::{Action, EntryKind, State};
use vchat::chats::ChatStore;
use vchat::conversation::{FinishReason, Turn};
use vchat::media::MediaOptions;
use vchat::sampling::SamplingSettings;
use vchat::tui::{start_info, Session};

fn session() -> Session {
    let options = tiny_options(tiny_model());
    let settings = SamplingSettings {
        do_sample: false,
        max_new_tokens: 24,
        ..SamplingSettings::default()
    };
    Session::start(
        State::new(start_info(&options), settings, None),
        options,
        MediaOptions::default(),
    )
}

async fn attach(session: &mut Session, variant: u8) {
    type_and_send(session, &format!("/image {}", test_png(variant).display()));
    while session.state.image_loading.is_some() {
        assert!(session.step().await);
    }
    assert!(
        !session.state.pending_images.is_empty(),
        "image {variant} loaded"
    );
}

async fn ask(session: &mut Session, text: &str) {
    type_and_send(session, text);
    until_idle(session).await;
}

/// The numbers the chat pane shows on your messages and the answers (those /edit N and
/// /copy N take), in order.
fn numbers(state: &State) -> Vec<Option<usize>> {
    state
        .shown_entries()
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::User | EntryKind::Assistant))
        .map(|e| e.number)
        .collect()
}

fn errors(state: &State) -> Vec<String> {
    state
        .shown_entries()
        .iter()
        .filter(|e| e.kind == EntryKind::Notice && e.text.contains("error"))
        .map(|e| e.text.clone())
        .collect()
}

#[tokio::test]
async fn the_chat_is_saved_as_it_goes_and_reopens_the_same() {
    let data = tempfile::tempdir().unwrap();
    let mut session = session();
    session.save_to(ChatStore::new(data.path()));
    until_ready(&mut session).await;
    attach(&mut session, 0).await;
    ask(&mut session, "What is in the picture?").await;
    type_and_send(&mut session, "/rename Squares");
    ask(&mut session, "And the colours?").await;
    session.finish();

    let store = ChatStore::new(data.path());
    let (chats, problems) = store.list();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(chats.len(), 1);
    assert_eq!(chats[0].id, session.state.chat.id);
    assert_eq!(chats[0].title, "Squares");
    assert_eq!(chats[0].turn_count, 4);

    // A new app opens it (what --resume does): the same entries, image and answers' stats.
    let loaded = store.load(&chats[0].id).unwrap();
    let options = tiny_options(tiny_model());
    let mut reopened = State::new(start_info(&options), SamplingSettings::default(), None);
    reopened.show_loaded_chat(loaded);
    let shown = |s: &State| {
        s.shown_entries()
            .iter()
            .filter(|e| e.kind != EntryKind::Notice)
            .map(|e| {
                (
                    e.kind,
                    e.text.clone(),
                    e.image_labels.clone(),
                    e.stats.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(shown(&reopened), shown(&session.state));
    let image = reopened
        .shown_image
        .as_ref()
        .expect("the chat's image is shown");
    assert_eq!(
        image.pixels.to_rgb8(),
        session.state.shown_image.as_ref().unwrap().pixels.to_rgb8()
    );
    let Some(Turn::Assistant(answer)) = reopened.conversation.turns.last() else {
        panic!("the last turn is an answer");
    };
    assert!(answer
        .answered_by
        .as_deref()
        .is_some_and(|m| m.contains("tiny-llava")));
}

#[tokio::test]
async fn an_answer_in_progress_is_saved_when_the_app_ends() {
    let data = tempfile::tempdir().unwrap();
    let mut session = session();
    session.state.settings.max_new_tokens = 100_000;
    session.save_to(ChatStore::new(data.path()));
    until_ready(&mut session).await;
    // Wait for some text, then end the app the way a hang-up does (quit, then finish).
    type_and_send(&mut session, "Tell me a long story");
    while session
        .state
        .shown_entries()
        .last()
        .is_none_or(|e| e.kind != EntryKind::Assistant || e.text.is_empty())
    {
        assert!(session.step().await);
        if !session.state.is_busy() {
            // The tiny model ended its answer at once: ask again.
            type_and_send(&mut session, "Tell me a longer story");
        }
    }
    let partial = session.state.shown_entries().last().unwrap().text.clone();
    session.dispatch(Action::Quit);
    session.finish();

    let store = ChatStore::new(data.path());
    let loaded = store.load(&session.state.chat.id).unwrap();
    let mut state = State::new(Default::default(), SamplingSettings::default(), None);
    state.show_loaded_chat(loaded);
    let last = state.shown_entries().pop().unwrap();
    assert!(
        last.text.starts_with(&partial),
        "{:?} vs {partial:?}",
        last.text
    );
    assert_eq!(
        last.stats.as_ref().unwrap().finish,
        FinishReason::Interrupted
    );
}

#[tokio::test]
async fn regenerate_replaces_the_last_answer_using_the_current_settings() {
    let mut session = session();
    until_ready(&mut session).await;
    ask(&mut session, "Describe the image").await;
    let first = session.state.shown_entries().pop().unwrap();
    assert!(
        first.stats.as_ref().unwrap().tokens > 2,
        "{:?}",
        first.stats
    );

    type_and_send(&mut session, "/set max_tokens 2");
    session.dispatch(Action::Regenerate);
    until_idle(&mut session).await;
    assert_eq!(
        session.state.conversation.turns.len(),
        2,
        "replaced, not added"
    );
    assert_eq!(
        session
            .state
            .shown_entries()
            .iter()
            .filter(|e| e.kind == EntryKind::Assistant)
            .count(),
        1
    );
    let again = session.state.shown_entries().pop().unwrap();
    assert_eq!(
        again.number,
        Some(1),
        "the new answer takes the old one's number"
    );
    assert!(
        again.stats.as_ref().unwrap().tokens <= 2,
        "{:?}",
        again.stats
    );
    assert!(
        first.text.starts_with(&again.text),
        "greedy: the same start"
    );
}

#[tokio::test]
async fn edit_puts_an_earlier_message_back_and_resends_it() {
    let mut session = session();
    until_ready(&mut session).await;
    ask(&mut session, "First question").await;
    ask(&mut session, "Second question").await;
    assert_eq!(session.state.conversation.turns.len(), 4);
    assert_eq!(
        numbers(&session.state),
        [Some(1), Some(1), Some(2), Some(2)]
    );

    type_and_send(&mut session, "/edit 1");
    assert_eq!(session.state.input.text(), "First question");
    assert!(
        session.state.conversation.turns.is_empty(),
        "what followed is gone"
    );
    assert!(session.state.chat_is_empty());
    session.dispatch(Action::End);
    session.dispatch(Action::Insert(", edited".into()));
    session.dispatch(Action::Submit);
    until_idle(&mut session).await;
    assert_eq!(session.state.conversation.turns.len(), 2);
    let Turn::User(user) = &session.state.conversation.turns[0] else {
        panic!("a user turn first")
    };
    assert_eq!(user.text, "First question, edited");
    assert_eq!(
        numbers(&session.state),
        [Some(1), Some(1)],
        "counted afresh"
    );

    type_and_send(&mut session, "/edit 5");
    let error = session.state.input_error.clone().expect("refused");
    assert!(error.contains("no message 5"), "{error}");
}

#[tokio::test]
async fn the_prompt_view_shows_the_text_the_model_sees() {
    let mut session = session();
    until_ready(&mut session).await;
    attach(&mut session, 0).await;
    ask(&mut session, "What is in the picture?").await;
    session.dispatch(Action::ShowPrompt);
    while session.state.shown_entries().last().unwrap().kind != EntryKind::Prompt {
        assert!(session.step().await);
    }
    let prompt = &session.state.shown_entries().pop().unwrap().text;
    assert!(
        prompt.contains("USER: <image>\nWhat is in the picture? ASSISTANT:"),
        "{prompt}"
    );
}

#[tokio::test]
async fn a_second_image_is_noted_once_and_the_chat_runs_without_errors() {
    let mut session = session();
    until_ready(&mut session).await;
    attach(&mut session, 0).await;
    ask(&mut session, "What is this?").await;
    attach(&mut session, 1).await;
    ask(&mut session, "And this one?").await;
    attach(&mut session, 2).await;
    ask(&mut session, "And the third?").await;
    assert!(
        errors(&session.state).is_empty(),
        "{:?}",
        errors(&session.state)
    );
    let notes = session
        .state
        .shown_entries()
        .iter()
        .filter(|e| e.text.contains("one image per request"))
        .count();
    assert_eq!(notes, 1, "said once");
    assert_eq!(session.state.conversation.image_count(), 3);

    // The image pane flips through the chat's images.
    let label = |s: &Session| s.state.shown_image.as_ref().unwrap().label.clone();
    assert!(label(&session).contains("pattern-2"));
    session.dispatch(Action::ImagePrev);
    assert!(label(&session).contains("pattern-1"));
    session.dispatch(Action::ImagePrev);
    session.dispatch(Action::ImagePrev);
    assert!(label(&session).contains("pattern-0"), "stops at the first");
    session.dispatch(Action::ImageNext);
    assert!(label(&session).contains("pattern-1"));
}

/// An animated GIF is a clip, not its first frame: LLaVA-1.5 (one image per request) gets the
/// frames' contact sheet, and the line that times them goes before the question.
#[tokio::test]
async fn an_animated_gif_attaches_as_a_clip() {
    let path = common::scratch_dir().join("animated.gif");
    std::fs::write(
        &path,
        common::animated_gif(&[[200, 30, 30], [30, 30, 200]], 100),
    )
    .unwrap();
    let mut session = session();
    until_ready(&mut session).await;
    type_and_send(&mut session, &format!("/image {}", path.display()));
    while session.state.image_loading.is_some() {
        assert!(session.step().await);
    }
    assert_eq!(session.state.pending_images.len(), 1, "one contact sheet");
    let sheet = session.state.pending_images[0].pixels.to_rgb8();
    // Two frames side by side, in cells of 336 pixels: red, then blue.
    assert_eq!(sheet.dimensions(), (672, 336));
    assert!(sheet.get_pixel(168, 200)[0] > 150 && sheet.get_pixel(504, 200)[2] > 150);
    ask(&mut session, "What colour?").await;
    assert!(errors(&session.state).is_empty());
    let Some(vchat::conversation::Turn::User(turn)) = session.state.conversation.turns.first()
    else {
        panic!("the message was sent");
    };
    assert!(
        turn.text.starts_with("[video ") && turn.text.contains("2 frames at 0.05, 0.15 s"),
        "{}",
        turn.text
    );
    assert!(turn.text.ends_with("What colour?") && turn.images.len() == 1);
}

#[tokio::test]
async fn a_cut_off_answer_continues_into_the_same_answer() {
    let mut session = session();
    session.state.settings.max_new_tokens = 6;
    until_ready(&mut session).await;
    ask(&mut session, "Describe the image").await;
    let first = session.state.shown_entries().pop().unwrap();
    assert_eq!(first.stats.as_ref().unwrap().finish, FinishReason::Length);

    type_and_send(&mut session, "/continue");
    until_idle(&mut session).await;
    assert_eq!(
        session.state.conversation.turns.len(),
        2,
        "one answer, longer"
    );
    let answers: Vec<_> = session
        .state
        .shown_entries()
        .into_iter()
        .filter(|e| e.kind == EntryKind::Assistant)
        .collect();
    assert_eq!(answers.len(), 1);
    let Some(Turn::Assistant(answer)) = session.state.conversation.turns.last() else {
        panic!("an answer last");
    };
    assert!(
        answer.text.starts_with(&first.text) && answer.text.len() > first.text.len(),
        "{:?} then {:?}",
        first.text,
        answer.text
    );
    assert_eq!(answers[0].text, answer.text);
}

#[tokio::test]
async fn new_with_an_image_starts_a_new_chat_about_it() {
    let mut session = session();
    until_ready(&mut session).await;
    attach(&mut session, 0).await;
    ask(&mut session, "What is this?").await;
    let first_chat = session.state.chat.id.clone();
    type_and_send(&mut session, &format!("/new {}", test_png(3).display()));
    assert!(session.state.conversation.turns.is_empty());
    assert!(
        session.state.pending_images.is_empty(),
        "the old image is not reused"
    );
    while session.state.image_loading.is_some() {
        assert!(session.step().await);
    }
    let pending = session.state.pending_images.last().expect("the new image");
    assert!(pending.label.contains("pattern-3"));
    assert_ne!(session.state.chat.id, first_chat);
}

#[tokio::test]
async fn a_long_chat_resumed_in_part_is_completed_before_it_is_saved_again() {
    let data = tempfile::tempdir().unwrap();
    let store = ChatStore::new(data.path());
    let mut long = vchat::conversation::Conversation::default();
    for i in 0..400 {
        long.push_user(format!("question {i}"), None);
        long.push_assistant(vchat::conversation::AssistantTurn {
            text: format!("answer {i}"),
            settings: SamplingSettings::default(),
            stats: None,
            answered_by: None,
        });
    }
    let meta = vchat::chats::ChatMeta {
        id: "long".into(),
        title: Some("Long".into()),
        created: 0,
    };
    let (file, images) = vchat::chats::to_file(&meta, &long, None);
    store.save(&file, &images).unwrap();

    // What `vchat --resume long` does: the last turns first, then the rest in the background.
    let mut session = session();
    session.state.show_loaded_chat(
        store
            .load_tail("long", vchat::chats::FIRST_SCREEN_TURNS)
            .unwrap(),
    );
    assert!(
        numbers(&session.state).iter().all(Option::is_none),
        "no numbers until the whole chat is read: they would be wrong"
    );
    type_and_send(&mut session, "/copy 1");
    assert!(
        session.state.notice.as_ref().unwrap().is_error,
        "refused for now"
    );
    session.save_to(ChatStore::new(data.path()));
    session.dispatch(Action::OpenChat("long".into()));
    until_ready(&mut session).await;
    while session.state.earlier_turns_loading {
        assert!(session.step().await);
    }
    assert_eq!(session.state.conversation.turns.len(), 800);
    assert_eq!(numbers(&session.state)[..2], [Some(1), Some(1)]);

    ask(&mut session, "One more question").await;
    assert_eq!(numbers(&session.state)[800..], [Some(401), Some(401)]);
    session.finish();
    let saved = store.load("long").unwrap().file;
    assert_eq!(saved.turns.len(), 802, "nothing of the long chat was cut");
    assert_eq!(saved.title, "Long");
}
