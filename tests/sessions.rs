//! Chats on disk: what is saved comes back the same, images included; a kill in the middle
//! of a save, a corrupt file or a file from a newer vchat never loses a chat; the app saves
//! as it goes and reopens what it saved; export to Markdown.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::chat_image;
use vchat::chats::{
    to_conversation, to_file, to_markdown, ChatMeta, ChatStore, StoreError, FORMAT_VERSION,
};
use vchat::conversation::{AnswerStats, AssistantTurn, Conversation, FinishReason, Turn};
use vchat::sampling::SamplingSettings;

fn meta(id: &str) -> ChatMeta {
    ChatMeta {
        id: id.into(),
        title: None,
        created: 1_790_000_000,
    }
}

fn answer(text: &str, tokens: usize, seed: u64) -> AssistantTurn {
    AssistantTurn {
        text: text.into(),
        settings: SamplingSettings {
            temperature: 0.7,
            top_k: 40,
            ..SamplingSettings::default()
        },
        stats: Some(AnswerStats {
            finish: FinishReason::Stop,
            tokens,
            time_to_first_token: Duration::from_millis(120),
            tokens_per_second: 42.5,
            seed: Some(seed),
            prompt: None,
        }),
        answered_by: Some("llava-hf/llava-1.5-7b-hf".into()),
    }
}

/// Two images (the first one sent twice), a system prompt, settings and stats per answer.
fn sample_chat() -> Conversation {
    let mut chat = Conversation {
        system_prompt: Some("Answer briefly.".into()),
        ..Default::default()
    };
    chat.push_user("What is in the picture?", Some(chat_image(0)));
    chat.push_assistant(answer("A **pattern** of squares.", 7, 11));
    chat.push_user("And in this one?", Some(chat_image(1)));
    chat.push_assistant(answer("Stripes:\n\n- red\n- blue", 9, 12));
    chat.push_user("Back to the first one.", Some(chat_image(0)));
    chat
}

#[test]
fn a_saved_chat_loads_back_identical_with_each_image_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChatStore::new(dir.path());
    let chat = sample_chat();
    let partial = answer("It is the sa", 3, 13);
    let (file, images) = to_file(&meta("c1"), &chat, Some(&partial));
    store.save(&file, &images).unwrap();
    // Saving again (as the autosaver does after every turn) adds no image files.
    store.save(&file, &images).unwrap();
    assert_eq!(
        std::fs::read_dir(store.images_dir()).unwrap().count(),
        2,
        "two distinct images, each stored once"
    );

    let loaded = store.load("c1").unwrap();
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    assert_eq!(loaded.file, file);
    assert_eq!(loaded.file.title, "What is in the picture?");
    let back = to_conversation(&loaded.file, &loaded.images);
    assert_eq!(back.system_prompt, chat.system_prompt);
    assert_eq!(
        back.turns.len(),
        chat.turns.len() + 1,
        "the partial answer too"
    );
    for (saved, original) in back.turns.iter().zip(&chat.turns) {
        match (saved, original) {
            (Turn::User(a), Turn::User(b)) => {
                assert_eq!(a.text, b.text);
                assert_eq!(a.images.len(), b.images.len());
                for (a, b) in a.images.iter().zip(&b.images) {
                    assert_eq!(a.label, b.label);
                    assert_eq!(a.pixels.to_rgb8(), b.pixels.to_rgb8(), "same pixels");
                }
            }
            (Turn::Assistant(a), Turn::Assistant(b)) => {
                assert_eq!(a.text, b.text);
                assert_eq!(a.settings, b.settings);
                assert_eq!(a.stats, b.stats);
                assert_eq!(a.answered_by, b.answered_by);
            }
            _ => panic!("turns out of order"),
        }
    }

    // Renaming rewrites the title only: the turns stay, the images still load.
    store.rename("c1", "  Squares ").unwrap();
    let renamed = store.load("c1").unwrap();
    assert_eq!(renamed.file.title, "Squares");
    assert_eq!(renamed.file.turns, file.turns);
    assert_eq!(renamed.images.len(), 2);
    assert!(renamed.problems.is_empty(), "{:?}", renamed.problems);
}

/// A message holding several images keeps them all, in order, through a save and a reopen,
/// and in the Markdown export. The file says format 2 only then: a chat with at most one
/// image per message stays format 1, which an older vchat still opens.
#[test]
fn a_message_with_several_images_saves_and_reopens_them_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChatStore::new(dir.path());
    let one_each = sample_chat();
    let (file, images) = to_file(&meta("one-each"), &one_each, None);
    assert_eq!(file.format, 1, "no message has two images");
    store.save(&file, &images).unwrap();
    let text = std::fs::read_to_string(store.chat_path("one-each").unwrap()).unwrap();
    assert!(
        text.contains("\"image\":{") && !text.contains("\"images\""),
        "{text}"
    );

    let mut chat = sample_chat();
    chat.push_assistant(answer("Squares again.", 3, 14));
    // The same image twice in one message, as a user comparing a picture with itself may.
    let labels = ["first.png", "second.png", "again.png"];
    let attached = [chat_image(2), chat_image(3), chat_image(2)]
        .into_iter()
        .zip(labels)
        .map(|(image, label)| vchat::conversation::ChatImage {
            label: label.into(),
            ..image
        });
    chat.push_user("Compare these three.", attached);
    let (file, images) = to_file(&meta("several"), &chat, None);
    assert_eq!(file.format, 2, "several images, no other versions");
    store.save(&file, &images).unwrap();
    let loaded = store.load("several").unwrap();
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let back = to_conversation(&loaded.file, &loaded.images);
    let Some(Turn::User(last)) = back.turns.last() else {
        panic!("the last turn is the message");
    };
    let back_labels: Vec<&str> = last.images.iter().map(|i| i.label.as_str()).collect();
    assert_eq!(back_labels, labels);
    let originals = [chat_image(2), chat_image(3), chat_image(2)];
    for (image, original) in last.images.iter().zip(&originals) {
        assert_eq!(image.pixels.to_rgb8(), original.pixels.to_rgb8());
    }
    assert_eq!(
        std::fs::read_dir(store.images_dir()).unwrap().count(),
        4,
        "four distinct images, each stored once"
    );
    let markdown = to_markdown(&loaded.file, "imgs");
    let at = markdown.find("Compare these three.").unwrap();
    let links = markdown[..at].rsplit("## You").next().unwrap();
    assert_eq!(links.matches("](imgs/").count(), 3, "{links}");
}

/// Versions of a chat, nested ones too, are saved (format 3) and read back as they were, the
/// image of a version not on screen included; a chat without versions keeps its older format.
/// Markdown writes the version on screen and names the others; md-all writes them all.
#[test]
fn versions_are_saved_read_back_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChatStore::new(dir.path());
    let mut chat = sample_chat();
    assert_eq!(to_file(&meta("plain"), &chat, None).0.format, 1);
    let answers = chat.turns.len() - 1;
    // Regenerate the last answer, then edit the first question (with another image).
    chat.versions().fork(answers);
    chat.push_assistant(answer("A second try.", 3, 2));
    chat.versions().fork(0);
    chat.push_user("What else?", Some(chat_image(5)));
    chat.push_assistant(answer("Nothing else.", 2, 3));
    let (file, images) = to_file(&meta("versions"), &chat, None);
    assert_eq!(file.format, FORMAT_VERSION);
    store.save(&file, &images).unwrap();
    let loaded = store.load("versions").unwrap();
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let mut back = to_conversation(&loaded.file, &loaded.images);
    assert_eq!(back.branches.version_at(0), Some((2, 2)));
    assert!(back.versions().show_version(0, -1));
    assert_eq!(
        back.branches.version_at(answers),
        Some((2, 2)),
        "nested, and kept"
    );
    let texts = |c: &Conversation| -> Vec<String> {
        c.turns
            .iter()
            .map(|t| match t {
                Turn::User(u) => u.text.clone(),
                Turn::Assistant(a) => a.text.clone(),
            })
            .collect()
    };
    let mut original = chat.clone();
    assert!(original.versions().show_version(0, -1));
    assert_eq!(texts(&back), texts(&original));
    assert!(back.versions().show_version(answers, -1));
    assert_eq!(
        texts(&back),
        texts(&sample_chat()),
        "the very first version"
    );

    let markdown = to_markdown(&loaded.file, "imgs");
    assert!(markdown.contains("What else?") && !markdown.contains("A second try."));
    assert!(markdown.contains("2 other version(s)"), "{markdown}");
    let out = dir.path().join("all.md");
    vchat::chats::export(
        &loaded.file,
        &images,
        vchat::chats::ExportFormat::MdAll,
        &out,
    )
    .unwrap();
    let all = std::fs::read_to_string(&out).unwrap();
    for text in [
        "What else?",
        "A second try.",
        "## Other version 2 (from turn",
    ] {
        assert!(all.contains(text), "{text} in:\n{all}");
    }
}

#[test]
fn corrupt_and_newer_files_are_reported_untouched_and_the_rest_still_lists() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChatStore::new(dir.path());
    let (file, images) = to_file(&meta("good"), &sample_chat(), None);
    store.save(&file, &images).unwrap();
    let corrupt = store.chat_path("broken").unwrap();
    std::fs::write(
        &corrupt,
        b"{\"format\": 1, \"id\": \"broken\", \"turns\": [",
    )
    .unwrap();
    let newer = store.chat_path("future").unwrap();
    let newer_text = format!(
        "{{\"format\": {}, \"id\": \"future\", \"hologram\": true}}",
        FORMAT_VERSION + 1
    );
    std::fs::write(&newer, &newer_text).unwrap();

    let (chats, problems) = store.list();
    assert_eq!(chats.len(), 1);
    assert_eq!(chats[0].id, "good");
    assert_eq!(chats[0].turn_count, 5);
    let problems: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems
        .iter()
        .any(|p| p.contains(&corrupt.display().to_string()) && p.contains("corrupt")));
    assert!(problems
        .iter()
        .any(|p| p.contains(&newer.display().to_string()) && p.contains("newer vchat")));

    assert!(matches!(
        store.load("broken"),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(
        matches!(store.load("future"), Err(StoreError::Newer { found, .. }) if found == FORMAT_VERSION + 1)
    );
    assert_eq!(
        std::fs::read(&corrupt).unwrap(),
        b"{\"format\": 1, \"id\": \"broken\", \"turns\": [",
        "the corrupt file is left as it was"
    );
    assert_eq!(std::fs::read_to_string(&newer).unwrap(), newer_text);
    assert!(store
        .load("missing")
        .unwrap_err()
        .to_string()
        .contains("vchat --list"));
}

/// Not a test of its own: the child process of the kill test. It saves a growing chat over and
/// over, printing a line after each save, until it is killed.
#[test]
fn save_loop_child() {
    let Some(dir) = std::env::var_os("VCHAT_TEST_SAVE_LOOP") else {
        return;
    };
    let store = ChatStore::new(dir);
    let mut chat = sample_chat();
    for round in 0.. {
        // A few hundred kilobytes per save, so that a kill lands mid-write.
        for i in 0..200 {
            chat.push_user(format!("question {round}.{i} {}", "x".repeat(200)), None);
        }
        let (file, images) = to_file(&meta("killed"), &chat, None);
        store.save(&file, &images).unwrap();
        println!("saved {}", file.turn_count);
    }
}

#[test]
fn kill_9_during_saves_leaves_a_loadable_chat() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "save_loop_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VCHAT_TEST_SAVE_LOOP", dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut saved_counts = Vec::new();
    while saved_counts.len() < 5 {
        let line = lines.next().expect("the child saves").unwrap();
        if let Some(count) = line.strip_prefix("saved ") {
            saved_counts.push(count.parse::<usize>().unwrap());
        }
    }
    // The child is in the middle of its next save (it does nothing else): SIGKILL it there.
    child.kill().unwrap();
    child.wait().unwrap();

    let store = ChatStore::new(dir.path());
    let loaded = store.load("killed").expect("a complete version is on disk");
    assert!(
        loaded.file.turn_count >= *saved_counts.last().unwrap(),
        "the last finished save (or a newer one) is what loads"
    );
    assert_eq!(loaded.file.turns.len(), loaded.file.turn_count);
    let (chats, problems) = store.list();
    assert!(
        problems.is_empty(),
        "temporary files are not chats: {problems:?}"
    );
    assert_eq!(chats.len(), 1);
}

#[test]
fn markdown_export_has_turns_images_and_settings_per_answer() {
    let mut chat = sample_chat();
    chat.push_assistant(AssistantTurn {
        stats: Some(AnswerStats {
            finish: FinishReason::Cancelled,
            ..answer("", 2, 14).stats.unwrap()
        }),
        ..answer("It is the same pat", 2, 14)
    });
    let (file, _) = to_file(&meta("20260101-120000-abcd"), &chat, None);
    insta::assert_snapshot!(to_markdown(&file, "chat-images"));
}

fn vchat(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vchat"))
        .args(args)
        .env("VCHAT_DATA_DIR", data)
        .env("VCHAT_CACHE_DIR", data.join("cache"))
        .env("VCHAT_CONFIG_DIR", data.join("config"))
        .output()
        .unwrap()
}

#[test]
fn list_and_export_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let store = ChatStore::new(data.path());
    let (file, images) = to_file(&meta("20260101-120000-abcd"), &sample_chat(), None);
    store.save(&file, &images).unwrap();
    std::fs::write(store.chat_path("broken").unwrap(), b"not json").unwrap();

    let listed = vchat(data.path(), &["--list"]);
    assert!(listed.status.success());
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(stdout.contains("20260101-120000-abcd"), "{stdout}");
    assert!(
        stdout.contains("5 turns  What is in the picture?"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(stderr.contains("broken.json is corrupt"), "{stderr}");

    let out = data.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let md = out.join("chat.md");
    let exported = vchat(
        data.path(),
        &[
            "export",
            "20260101-120000-abcd",
            "--output",
            md.to_str().unwrap(),
        ],
    );
    assert!(exported.status.success(), "{exported:?}");
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("## Assistant"));
    let images_dir = out.join("chat-images");
    assert_eq!(std::fs::read_dir(&images_dir).unwrap().count(), 2);
    for image in &images {
        let copied = std::fs::read(images_dir.join(image.file_name())).unwrap();
        assert_eq!(copied, image.bytes, "the image files are copied as stored");
        assert!(text.contains(&format!("chat-images/{}", image.file_name())));
    }

    let json = out.join("chat.json");
    let exported = vchat(
        data.path(),
        &[
            "export",
            "20260101-120000-abcd",
            "--format",
            "json",
            "-o",
            json.to_str().unwrap(),
        ],
    );
    assert!(exported.status.success());
    let back: vchat::chats::ChatFile =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(back, file);

    let missing = vchat(data.path(), &["export", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no saved chat 'nope'"), "{stderr}");
}

#[test]
fn a_long_chat_opens_on_its_last_turns_and_is_not_saved_until_the_rest_is_in() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChatStore::new(dir.path());
    let mut chat = sample_chat();
    for i in 0..300 {
        chat.push_user(format!("question {i}"), None);
        chat.push_assistant(answer(&format!("answer {i}"), 2, i));
    }
    let (file, images) = to_file(&meta("long"), &chat, None);
    store.save(&file, &images).unwrap();

    let tail = store.load_tail("long", 10).unwrap();
    assert_eq!(tail.first_turn, file.turns.len() - 10);
    assert_eq!(tail.file.turns, file.turns[file.turns.len() - 10..]);
    assert_eq!(tail.file.turn_count, file.turns.len());

    let mut state = vchat::app::State::new(Default::default(), SamplingSettings::default(), None);
    state.show_loaded_chat(tail);
    assert!(state.earlier_turns_loading);
    assert!(state.shown_entries()[0]
        .text
        .contains("reading 595 earlier turns"));
    assert_eq!(state.shown_entries().last().unwrap().text, "answer 299");
    // Nothing can change the chat until all of it is in.
    state.update(vchat::app::Action::Insert("another question".into()));
    state.update(vchat::app::Action::Submit);
    assert!(state
        .input_error
        .as_deref()
        .unwrap()
        .contains("earlier turns"));
    // Regenerating would drop the last answer: refused too, and for the right reason.
    state.update(vchat::app::Action::Regenerate);
    let notice = state.notice.as_ref().unwrap();
    assert!(notice.text.contains("earlier turns"), "{}", notice.text);
    assert_eq!(state.conversation.turns.len(), 10);

    state.show_loaded_chat(store.load("long").unwrap());
    assert!(!state.earlier_turns_loading);
    assert_eq!(state.conversation.turns.len(), file.turns.len());
}
