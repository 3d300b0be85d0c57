//! One regression test for each way a chat used to lose words or write where it should not
//! (the issue "A chat never loses a word"). The model-based hunt for the whole class is
//! `tests/chat_record.rs`.

mod common;

use std::path::Path;

use common::{tiny_model, tiny_options, type_and_send, until_idle, until_ready};
use vchat::app::{Action, Effect, EntryKind, Generation, ModelStatus, StartInfo, State, Ticket};
use vchat::chats::{self, ChatMeta, ChatStore, ChatWriter, TurnRecord};
use vchat::conversation::{AnswerStats, AssistantTurn, ChatImage, Conversation, FinishReason};
use vchat::engine::{EngineEvent, RequestId};
use vchat::media::MediaOptions;
use vchat::sampling::SamplingSettings;
use vchat::tui::{start_info, Session};

fn tiny_session(max_new_tokens: usize) -> Session {
    let options = tiny_options(tiny_model());
    let settings = SamplingSettings {
        max_new_tokens,
        seed: Some(7),
        ..SamplingSettings::default()
    };
    Session::start(
        State::new(start_info(&options), settings, None),
        options,
        MediaOptions::default(),
    )
}

fn ready_state() -> State {
    let mut state = State::new(StartInfo::default(), SamplingSettings::default(), None);
    state.update(Action::Engine(EngineEvent::Ready {
        request: RequestId::LOAD,
        info: common::llava_info("tiny-llava"),
    }));
    state
}

fn answer(text: &str) -> AssistantTurn {
    AssistantTurn {
        text: text.into(),
        settings: SamplingSettings::default(),
        stats: Some(AnswerStats {
            finish: FinishReason::Stop,
            tokens: 4,
            time_to_first_token: Default::default(),
            tokens_per_second: 1.0,
            seed: None,
            prompt: None,
        }),
        answered_by: None,
    }
}

fn saved_answers(store: &ChatStore, id: &str) -> Vec<String> {
    store
        .load(id)
        .unwrap()
        .file
        .turns
        .into_iter()
        .filter_map(|t| match t {
            TurnRecord::Assistant { text, .. } => Some(text),
            TurnRecord::User { .. } => None,
        })
        .collect()
}

/// Every file under `dir`, relative.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn the_prompt_view_opened_while_an_answer_streams_takes_none_of_its_words() {
    let data = tempfile::tempdir().unwrap();
    let store = ChatStore::new(data.path());
    let mut session = tiny_session(400);
    session.save_to(store.clone());
    until_ready(&mut session).await;
    // Sampled answers of the tiny model vary in length: ask until F2 lands mid-answer.
    for attempt in 0..6 {
        type_and_send(&mut session, &format!("Tell me a long story ({attempt})"));
        let (mut streamed, mut pressed, mut tokens_after_f2) = (String::new(), false, 0);
        while session.state.is_busy() {
            let action = session.next_action().await.expect("engine alive");
            if let Action::Engine(EngineEvent::Token { text, .. }) = &action {
                streamed.push_str(text);
                tokens_after_f2 += usize::from(pressed);
            }
            session.dispatch(action);
            if !pressed && !streamed.is_empty() && session.state.is_busy() {
                // F2 in the middle of the answer.
                session.dispatch(Action::ShowPrompt);
                pressed = true;
            }
        }
        while session.state.prompt_request.is_some() {
            assert!(session.step().await);
        }
        if tokens_after_f2 < 2 {
            continue;
        }
        assert!(session
            .state
            .shown_entries()
            .iter()
            .any(|e| e.kind == EntryKind::Prompt));
        let expected = vchat::text::sanitize(&streamed);
        let on_screen = session
            .state
            .shown_entries()
            .into_iter()
            .rfind(|e| e.kind == EntryKind::Assistant)
            .unwrap()
            .text;
        assert_eq!(on_screen, expected, "every streamed word is on screen");
        session.finish();
        let saved = saved_answers(&store, &session.state.chat.id);
        assert_eq!(saved.last(), Some(&expected), "and on disk");
        return;
    }
    panic!("no answer was long enough to open the prompt view in the middle of it");
}

#[test]
fn an_image_loaded_while_an_answer_streams_does_not_take_its_words() {
    let mut state = ready_state();
    let first = ChatImage::from_pixels("first.png", image::DynamicImage::new_rgb8(2, 2));
    state.conversation.push_user("first", Some(first));
    state.conversation.push_assistant(answer("an answer"));
    state.touch();
    state.input.set_text("and now?");
    state.update(Action::Submit);
    state.update(Action::GenerationStarted(RequestId(1)));
    let effects = state.update(Action::AttachImage("photo.png".into()));
    let Some(Effect::LoadImage { ticket, source }) = effects.into_iter().next() else {
        panic!("an image load");
    };
    state.update(Action::Engine(EngineEvent::Token {
        request: RequestId(1),
        text: "The ".into(),
    }));
    // The one-image notice lands in the chat pane while the answer streams.
    let image = ChatImage::from_pixels(source.clone(), image::DynamicImage::new_rgb8(3, 3));
    state.update(Action::ImageLoaded {
        ticket,
        source,
        result: Ok(image),
    });
    assert!(state
        .shown_entries()
        .iter()
        .any(|e| e.text.contains("one image per request")));
    state.update(Action::Engine(EngineEvent::Token {
        request: RequestId(1),
        text: "picture".into(),
    }));
    state.update(Action::Engine(EngineEvent::Done {
        request: RequestId(1),
        stats: answer("").stats.unwrap(),
        token_ids: vec![],
    }));
    let Some(vchat::conversation::Turn::Assistant(last)) = state.conversation.turns.last() else {
        panic!("an answer last");
    };
    assert_eq!(last.text, "The picture");
}

#[test]
fn ctrl_r_while_the_model_loads_keeps_the_answer() {
    let data = tempfile::tempdir().unwrap();
    let store = ChatStore::new(data.path());
    let mut conversation = Conversation::default();
    conversation.push_user("question", None);
    conversation.push_assistant(answer("the answer to keep"));
    let meta = ChatMeta::new_chat();
    let (file, images) = chats::to_file(&meta, &conversation, None);
    store.save(&file, &images).unwrap();

    // What --resume shows while the model is still loading.
    let mut state = State::new(StartInfo::default(), SamplingSettings::default(), None);
    state.show_loaded_chat(store.load(&meta.id).unwrap());
    assert!(matches!(state.model, ModelStatus::Loading { .. }));
    let effects = state.update(Action::Regenerate);
    assert!(effects.is_empty());
    assert_eq!(state.conversation.turns.len(), 2, "the answer is kept");
    assert!(state
        .shown_entries()
        .iter()
        .any(|e| e.text == "the answer to keep"));
    assert!(state.notice.as_ref().unwrap().is_error);
}

#[tokio::test]
async fn no_save_writes_nothing_but_the_export() {
    let data = tempfile::tempdir().unwrap();
    let exports = tempfile::tempdir().unwrap();
    let mut session = tiny_session(8);
    session.read_from(ChatStore::new(data.path()));
    until_ready(&mut session).await;
    type_and_send(&mut session, "Describe the image");
    until_idle(&mut session).await;
    let output = exports.path().join("chat.json");
    type_and_send(&mut session, &format!("/export json {}", output.display()));
    while !session
        .state
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("exported"))
    {
        assert!(session.step().await);
        let notice = session.state.notice.clone().unwrap();
        assert!(!notice.is_error, "{}", notice.text);
    }
    session.finish();
    assert_eq!(
        files_under(data.path()),
        Vec::<String>::new(),
        "the store is untouched"
    );
    let exported: chats::ChatFile =
        serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
    assert_eq!(exported.turns.len(), 2);
}

#[test]
fn a_chat_file_cannot_name_a_path_outside_the_store() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("a/b/data");
    let store = ChatStore::new(&data);
    let mut conversation = Conversation::default();
    conversation.push_user("question", None);
    conversation.push_assistant(answer("answer"));
    let meta = ChatMeta {
        id: "20261201-101010-abcd".into(),
        title: None,
        created: 0,
    };
    let (file, images) = chats::to_file(&meta, &conversation, None);
    store.save(&file, &images).unwrap();

    // A crafted file: its header names a path two folders up.
    let crafted = std::fs::read_to_string(store.chat_path(&meta.id).unwrap())
        .unwrap()
        .replace("20261201-101010-abcd", "../../escaped");
    std::fs::write(store.chat_path("crafted").unwrap(), crafted).unwrap();
    let loaded = store.load("crafted").unwrap();
    assert_eq!(loaded.file.id, "crafted", "the id is the file name");
    let mut state = ready_state();
    state.show_loaded_chat(loaded);
    let (file, images) = chats::to_file(&state.chat, &state.conversation, None);
    store.save(&file, &images).unwrap();
    let everything = files_under(root.path());
    assert!(
        everything.iter().all(|f| f.starts_with("a/b/data/chats/")),
        "{everything:?}"
    );

    // A copy resumed and saved is saved under its own name: the original is untouched.
    let original = std::fs::read(store.chat_path(&meta.id).unwrap()).unwrap();
    std::fs::copy(
        store.chat_path(&meta.id).unwrap(),
        store.chat_path("copy").unwrap(),
    )
    .unwrap();
    let mut state = ready_state();
    state.show_loaded_chat(store.load("copy").unwrap());
    state.conversation.push_user("more", None);
    let (file, images) = chats::to_file(&state.chat, &state.conversation, None);
    store.save(&file, &images).unwrap();
    assert_eq!(
        std::fs::read(store.chat_path(&meta.id).unwrap()).unwrap(),
        original
    );
    assert_eq!(store.load("copy").unwrap().file.turns.len(), 3);

    // Names that are not vchat ids are refused in one line, wherever they come from.
    for bad in ["../../escaped", "a/b", "", ".hidden", "x\ny"] {
        let error = store.load(bad).unwrap_err().to_string();
        assert!(error.contains("not a vchat chat id"), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }
}

#[cfg(unix)]
#[test]
fn chats_and_images_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    let store = ChatStore::new(data.path().join("vchat"));
    let mut conversation = Conversation::default();
    let image = ChatImage::from_pixels("a.png", image::DynamicImage::new_rgb8(2, 2));
    conversation.push_user("question", Some(image));
    let (file, images) = chats::to_file(&ChatMeta::new_chat(), &conversation, None);
    store.save(&file, &images).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data.path().join("vchat")), 0o700);
    assert_eq!(mode(&store.chats_dir()), 0o700);
    assert_eq!(mode(&store.images_dir()), 0o700);
    assert_eq!(mode(&store.chat_path(&file.id).unwrap()), 0o600);
    let stored = store.images_dir().join(images[0].file_name());
    assert_eq!(mode(&stored), 0o600);
}

#[test]
fn the_writer_does_saves_renames_and_reads_in_the_order_asked() {
    let data = tempfile::tempdir().unwrap();
    let store = ChatStore::new(data.path());
    let mut writer = ChatWriter::start(store.clone(), |e| panic!("{e}"));
    let meta = ChatMeta::new_chat();
    let (reads_tx, reads) = std::sync::mpsc::channel();
    for round in 0..50 {
        let mut conversation = Conversation::default();
        conversation.push_user(format!("round {round}"), None);
        let (file, images) = chats::to_file(&meta, &conversation, None);
        writer.save(file, images);
        let id = meta.id.clone();
        let title = format!("title {round}");
        writer.run(move |store| store.rename(&id, &title).unwrap());
        let id = meta.id.clone();
        let tx = reads_tx.clone();
        writer.run(move |store| {
            let file = store.load(&id).unwrap().file;
            let _ = tx.send((file.title, file.turns.len()));
        });
    }
    writer.finish();
    let seen: Vec<(String, usize)> = reads.try_iter().collect();
    let expected: Vec<(String, usize)> = (0..50).map(|r| (format!("title {r}"), 1)).collect();
    assert_eq!(
        seen, expected,
        "each read sees the save and the rename before it"
    );
}

#[test]
fn renaming_the_open_chat_from_the_list_is_left_to_its_one_writer() {
    use vchat::app::chat_list::ListKey;
    let mut state = ready_state();
    state.conversation.push_user("question", None);
    state.touch();
    state.update(Action::OpenChatList);
    state.update(Action::ChatsListed {
        chats: vec![chats::ChatSummary {
            format: chats::FORMAT_VERSION,
            id: state.chat.id.clone(),
            title: "question".into(),
            created: 0,
            updated: 0,
            turn_count: 1,
            system_prompt: None,
            branches: Default::default(),
        }],
        problems: vec![],
    });
    state.update(Action::ChatListKey(ListKey::Rename));
    state.update(Action::ChatListKey(ListKey::Type('!')));
    let revision = state.revision;
    let effects = state.update(Action::ChatListKey(ListKey::Confirm));
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::RenameChat { .. })),
        "no second writer of the open chat's file: {effects:?}"
    );
    assert_eq!(state.chat.title.as_deref(), Some("question!"));
    assert!(state.revision > revision, "saved by the autosave");
}

#[test]
fn the_image_asked_for_last_wins_whichever_load_ends_first() {
    let mut state = ready_state();
    let mut tickets = Vec::new();
    for source in ["https://slow.example/cat.jpg", "local.png"] {
        match state.update(Action::AttachImage(source.into())).pop() {
            Some(Effect::LoadImage { ticket, source }) => tickets.push((ticket, source)),
            other => panic!("{other:?}"),
        }
    }
    let loaded = |(ticket, source): (Ticket, String)| Action::ImageLoaded {
        ticket,
        result: Ok(ChatImage::from_pixels(
            source.clone(),
            image::DynamicImage::new_rgb8(2, 2),
        )),
        source,
    };
    let slow = tickets.remove(0);
    state.update(loaded(tickets.remove(0)));
    state.update(loaded(slow));
    let labels: Vec<&str> = state
        .pending_images
        .iter()
        .map(|i| i.label.as_str())
        .collect();
    assert_eq!(labels, ["local.png"]);
    assert!(state.image_loading.is_none());
}

#[test]
fn tab_completion_reads_no_folder_inside_the_state() {
    let mut state = ready_state();
    state.input.set_text("/image ./no-such-folder/ph");
    let effects = state.update(Action::FocusNext);
    let Some(Effect::CompletePath { ticket, typed }) = effects.into_iter().next() else {
        panic!("the completion is asked of the event loop");
    };
    assert_eq!(typed, "/image ./no-such-folder/ph");
    // Typing went on meanwhile: the late completion is not applied over it.
    state.update(Action::Insert("o".into()));
    state.update(Action::PathCompleted {
        ticket,
        typed: typed.clone(),
        completed: Some("/image ./no-such-folder/photo.png".into()),
    });
    assert_eq!(state.input.text(), "/image ./no-such-folder/pho");
    // A completion for what is typed now is.
    let Some(Effect::CompletePath { ticket, typed }) = state.update(Action::FocusNext).pop() else {
        panic!();
    };
    state.update(Action::PathCompleted {
        ticket,
        typed,
        completed: Some("/image ./no-such-folder/photo.png".into()),
    });
    assert_eq!(state.input.text(), "/image ./no-such-folder/photo.png");
}

#[tokio::test]
async fn a_truncated_jpeg_is_refused_in_one_line_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("holiday.jpg");
    let picture = image::RgbImage::from_fn(120, 80, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(picture)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let source = path.display().to_string();
    let error = vchat::media::load_image(&source, &MediaOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("holiday.jpg") && error.contains("truncated"),
        "{error}"
    );
    assert!(!error.contains('\n'));
}

#[test]
fn a_new_chat_waits_for_the_running_answer_to_stop() {
    let mut state = ready_state();
    state.input.set_text("question");
    state.update(Action::Submit);
    state.update(Action::GenerationStarted(RequestId(1)));
    state.update(Action::Engine(EngineEvent::Token {
        request: RequestId(1),
        text: "half an answer".into(),
    }));
    state.input.set_text("/new");
    state.update(Action::Submit);
    assert!(matches!(state.generation, Generation::Running { .. }));
    assert_eq!(state.partial_answer().unwrap().text, "half an answer");
    assert!(state.notice.as_ref().unwrap().is_error);
}
