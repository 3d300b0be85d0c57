//! The app's state machine on its own (no engine, no terminal): what keys and commands do.

use vchat::app::{Action, Effect, EntryKind, Focus, Generation, StartInfo, State};
use vchat::conversation::AssistantTurn;
use vchat::engine::RequestId;
use vchat::sampling::SamplingSettings;

fn state() -> State {
    State::new(StartInfo::default(), SamplingSettings::default(), None)
}

fn send(state: &mut State, text: &str) -> Vec<Effect> {
    state.input.set_text(text);
    state.update(Action::Submit)
}

fn quits(effects: &[Effect]) -> bool {
    effects.iter().any(|e| matches!(e, Effect::Quit))
}

#[test]
fn ctrl_c_stops_then_a_second_one_quits() {
    let mut s = state();
    s.model = vchat::app::ModelStatus::Failed("x".into());
    let first = s.update(Action::Interrupt);
    assert!(!quits(&first));
    assert!(s.notice.as_ref().unwrap().text.contains("again"));
    assert!(quits(&s.update(Action::Interrupt)));
}

#[test]
fn ctrl_c_during_an_answer_cancels_it_and_a_second_quits_without_waiting() {
    let mut s = ready(true);
    assert!(matches!(send(&mut s, "hi")[..], [Effect::Generate { .. }]));
    s.update(Action::GenerationStarted(RequestId(4)));
    let effects = s.update(Action::Interrupt);
    assert!(matches!(effects[..], [Effect::Cancel(RequestId(4))]));
    assert!(quits(&s.update(Action::Interrupt)));
}

#[test]
fn a_key_between_two_ctrl_c_disarms_the_quit() {
    let mut s = state();
    s.update(Action::Interrupt);
    s.update(Action::Insert("x".into()));
    assert!(!quits(&s.update(Action::Interrupt)));
}

#[test]
fn esc_withdraws_a_message_queued_while_loading() {
    let mut s = state();
    assert!(send(&mut s, "early question").is_empty());
    assert_eq!(s.generation, Generation::Queued);
    s.update(Action::Stop);
    assert_eq!(s.generation, Generation::Idle);
    assert!(s.chat_is_empty() && s.conversation.turns.is_empty());
    assert_eq!(s.input.text(), "early question", "the text is given back");
}

#[test]
fn commands_and_their_errors() {
    let mut s = state();
    send(&mut s, "/set top_k 40");
    assert_eq!(s.settings.top_k, 40);
    send(&mut s, "/set top_k lots");
    assert!(s.input_error.as_ref().unwrap().contains("whole number"));
    assert_eq!(s.input.text(), "/set top_k lots", "kept for fixing");
    s.input.set_text("");
    send(&mut s, "/system Answer briefly.");
    assert_eq!(
        s.conversation.system_prompt.as_deref(),
        Some("Answer briefly.")
    );
    send(&mut s, "/frob");
    assert!(s.input_error.as_ref().unwrap().contains("unknown command"));
    s.input.set_text("");
    send(&mut s, "/help");
    assert!(s.help_open);
    s.update(Action::ToggleHelp);
    send(&mut s, "question");
    send(&mut s, "/new");
    assert!(s.chat_is_empty() && s.conversation.turns.is_empty());
    assert!(quits(&send(&mut s, "/quit")));
}

#[test]
fn tab_cycles_focus_and_typing_returns_to_the_input() {
    let mut s = state();
    let mut seen = vec![s.focus];
    for _ in 0..4 {
        s.update(Action::FocusNext);
        seen.push(s.focus);
    }
    assert_eq!(
        seen,
        [
            Focus::Input,
            Focus::Chat,
            Focus::Settings,
            Focus::Image,
            Focus::Input
        ]
    );
    s.update(Action::FocusNext);
    s.update(Action::Insert("a".into()));
    assert_eq!(s.focus, Focus::Input);
}

#[test]
fn pasted_escape_sequences_never_reach_the_screen() {
    let mut s = state();
    s.update(Action::Insert("look\x1b[2J\x07 here".into()));
    assert_eq!(s.input.text(), "look[2J here");
    s.model = vchat::app::ModelStatus::Failed("no".into());
    s.update(Action::Submit);
    assert_eq!(s.shown_entries()[0].kind, EntryKind::User);
    assert!(!s.shown_entries()[0].text.contains('\x1b'));
}

#[test]
fn a_change_in_the_settings_panel_goes_with_the_next_request() {
    let mut s = ready(true);
    s.update(Action::FocusNext);
    s.update(Action::FocusNext);
    s.update(Action::SettingIncrease); // temperature 0.2 → 0.3
    s.update(Action::SettingNext);
    s.update(Action::SettingNext);
    s.update(Action::SettingNext);
    s.update(Action::SettingNext); // max_tokens
    s.update(Action::SettingEdit);
    s.update(Action::KillToStart);
    s.update(Action::Insert("77".into()));
    s.update(Action::Submit);
    assert!(s.panel.editing.is_none() && s.panel.error.is_none());
    s.update(Action::FocusNext);
    s.update(Action::FocusNext);
    assert_eq!(s.focus, Focus::Input);
    match &send(&mut s, "hello")[..] {
        [Effect::Generate { settings, .. }] => {
            assert_eq!(settings.temperature, 0.3);
            assert_eq!(settings.max_new_tokens, 77);
        }
        other => panic!("expected a request, got {other:?}"),
    }
}

#[test]
fn ollama_set_forms_change_the_settings_and_name_them_as_vchat_does() {
    let mut s = state();
    send(&mut s, "/set parameter temperature 0.7");
    assert_eq!(s.settings.temperature, 0.7);
    assert_eq!(s.notice.as_ref().unwrap().text, "temperature = 0.7");
    send(&mut s, "/set num_predict 64");
    assert_eq!(s.settings.max_new_tokens, 64);
    assert_eq!(s.notice.as_ref().unwrap().text, "max_tokens = 64");
    send(&mut s, "/set system Be brief.");
    assert_eq!(s.conversation.system_prompt.as_deref(), Some("Be brief."));
}

#[test]
fn copy_takes_the_answer_asked_for() {
    let mut s = state();
    let answers = ["first answer\n```\nlet one = 1;\n```\n", "second answer"];
    for (n, text) in answers.iter().enumerate() {
        s.conversation.push_user(format!("question {n}"), None);
        s.conversation.push_assistant(AssistantTurn {
            text: text.to_string(),
            settings: SamplingSettings::default(),
            stats: None,
            answered_by: None,
        });
    }
    let copied = |effects: Vec<Effect>| match &effects[..] {
        [Effect::Copy(text)] => Some(text.clone()),
        _ => None,
    };
    assert_eq!(
        copied(send(&mut s, "/copy")).as_deref(),
        Some("second answer")
    );
    assert_eq!(
        copied(send(&mut s, "/copy 1")),
        Some(answers[0].to_string())
    );
    assert_eq!(
        copied(send(&mut s, "/copy 1 code")).as_deref(),
        Some("let one = 1;")
    );
    assert_eq!(copied(send(&mut s, "/copy 3")), None);
    assert_eq!(
        s.notice.as_ref().unwrap().text,
        "there is no answer 3 (answers so far: 2)"
    );
    assert_eq!(copied(send(&mut s, "/copy code")), None, "no code block");
    assert!(s.notice.as_ref().unwrap().is_error);
}

#[test]
fn a_model_whose_answers_are_not_verified_says_so_once_loaded() {
    let ready = |architecture: &str, backend: &str| {
        let mut s = state();
        s.update(Action::Engine(vchat::engine::EngineEvent::Ready {
            request: vchat::engine::RequestId::LOAD,
            info: vchat::engine::ModelInfo {
                model: "some/model".into(),
                architecture: architecture.into(),
                device: "cpu".into(),
                dtype: "f32".into(),
                quantization: "none".into(),
                one_image_per_request: false,
                backend: backend.into(),
            },
        }));
        s.shown_entries()
            .into_iter()
            .filter(|e| e.text.contains("not verified against transformers"))
            .count()
    };
    assert_eq!(ready("Qwen2VLForConditionalGeneration", "local"), 1);
    assert_eq!(ready("Idefics3ForConditionalGeneration", "local"), 1);
    assert_eq!(ready("LlavaForConditionalGeneration", "local"), 0);
    assert_eq!(ready("Gemma3ForConditionalGeneration", "local"), 0);
    assert_eq!(ready("Qwen3VLForConditionalGeneration", "local"), 0);
    assert_eq!(
        ready(
            "Qwen2_5_VLForConditionalGeneration",
            "remote http://gpu:8000/v1"
        ),
        0,
        "a server's answers are its own"
    );
}

fn ready(one_image_per_request: bool) -> State {
    let mut s = state();
    s.model = vchat::app::ModelStatus::Ready(vchat::engine::ModelInfo {
        one_image_per_request,
        ..vchat_info()
    });
    s
}

/// The loads an update asked for.
fn loads(effects: Vec<Effect>) -> Vec<(vchat::app::Ticket, String)> {
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::LoadImage { ticket, source } => Some((ticket, source)),
            _ => None,
        })
        .collect()
}

fn loaded(ticket: vchat::app::Ticket, source: &str, ok: bool) -> Action {
    Action::ImageLoaded {
        ticket,
        source: source.into(),
        result: if ok {
            Ok(vchat::conversation::ChatImage::from_pixels(
                source,
                image::DynamicImage::new_rgb8(2, 2),
            ))
        } else {
            Err(format!("cannot read {source}"))
        },
    }
}

fn labels(images: &[vchat::conversation::ChatImage]) -> Vec<String> {
    images.iter().map(|i| i.label.clone()).collect()
}

/// Seeded random sequences of `/image` (typed or dropped), loads that end (or fail) while
/// others are named, `/detach` and sends, on a model that takes several images per message:
/// every image named is attached exactly once, in the order named, unless its load failed or
/// `/detach` took it off; a send carries exactly those; a load from before `/detach` attaches
/// nothing.
#[test]
fn images_named_one_after_another_all_go_with_the_message_in_order() {
    for seed in 0..300 {
        let mut rng = vchat::rng::SplitMix64::new(seed);
        let mut s = ready(false);
        let mut in_flight: Option<(vchat::app::Ticket, String)> = None;
        let mut stale: Vec<(vchat::app::Ticket, String)> = Vec::new();
        let mut expected: Vec<String> = Vec::new();
        let mut named = 0;
        for step in 0..40 {
            let what = format!("seed {seed}, step {step}");
            match rng.next_u64() % 10 {
                0..=3 => {
                    named += 1;
                    let source = format!("img-{named}.png");
                    let effects = if rng.next_u64().is_multiple_of(2) {
                        send(&mut s, &format!("/image {source}"))
                    } else {
                        s.update(Action::AttachImage(source.clone()))
                    };
                    expected.push(source);
                    if let Some(load) = loads(effects).pop() {
                        assert!(in_flight.is_none(), "{what}: one load at a time");
                        in_flight = Some(load);
                    }
                }
                4..=6 => {
                    let Some((ticket, source)) = in_flight.take() else {
                        continue;
                    };
                    let ok = !rng.next_u64().is_multiple_of(5);
                    if !ok {
                        expected.retain(|e| *e != source);
                    }
                    in_flight = loads(s.update(loaded(ticket, &source, ok))).pop();
                }
                7 => {
                    stale.extend(in_flight.take());
                    send(&mut s, "/detach");
                    expected.clear();
                }
                8 => {
                    if let Some((ticket, source)) = stale.pop() {
                        let before = labels(&s.pending_images);
                        assert!(loads(s.update(loaded(ticket, &source, true))).is_empty());
                        assert_eq!(labels(&s.pending_images), before, "{what}: a stale load");
                    }
                }
                _ => {
                    if in_flight.is_some() {
                        continue;
                    }
                    assert_eq!(labels(&s.pending_images), expected, "{what}");
                    send(&mut s, "Compare them");
                    let Some(vchat::conversation::Turn::User(turn)) = s.conversation.turns.last()
                    else {
                        panic!("{what}: the message was sent");
                    };
                    assert_eq!(
                        labels(&turn.images),
                        expected,
                        "{what}: sent with the message"
                    );
                    assert!(s.pending_images.is_empty());
                    expected.clear();
                    s.generation = Generation::Idle;
                }
            }
        }
    }
}

/// A model that sees one image per message: a second `/image` replaces the first, even when
/// the first is attached already.
#[test]
fn a_one_image_model_keeps_only_the_image_named_last() {
    let mut s = ready(true);
    for source in ["a.png", "b.png"] {
        let (ticket, source) = loads(send(&mut s, &format!("/image {source}")))
            .pop()
            .unwrap();
        assert!(loads(s.update(loaded(ticket, &source, true))).is_empty());
    }
    assert_eq!(labels(&s.pending_images), ["b.png"]);
    send(&mut s, "/detach");
    assert!(s.pending_images.is_empty());
    assert!(s.notice.as_ref().unwrap().text.contains("detached"));
}

/// Enter while the message's image loads: the message waits in the input and goes with the
/// image once it is in; if the image cannot be read, it stays in the input.
#[test]
fn a_message_sent_while_its_image_loads_goes_with_it() {
    let mut s = ready(false);
    let (ticket, source) = loads(send(&mut s, "/image a.png")).pop().unwrap();
    assert!(send(&mut s, "What is this?").is_empty());
    assert!(
        s.conversation.turns.is_empty(),
        "not sent without its image"
    );
    assert_eq!(s.input.text(), "What is this?");
    let effects = s.update(loaded(ticket, &source, true));
    assert!(effects.iter().any(|e| matches!(e, Effect::Generate { .. })));
    let Some(vchat::conversation::Turn::User(turn)) = s.conversation.turns.last() else {
        panic!("the message was sent");
    };
    assert_eq!(
        (turn.text.as_str(), labels(&turn.images)),
        ("What is this?", vec!["a.png".to_string()])
    );

    s.generation = Generation::Idle;
    let turns = s.conversation.turns.len();
    let (ticket, source) = loads(send(&mut s, "/image b.png")).pop().unwrap();
    send(&mut s, "And this?");
    assert!(s.update(loaded(ticket, &source, false)).is_empty());
    assert_eq!(s.conversation.turns.len(), turns);
    assert_eq!(s.input.text(), "And this?", "kept for the user");
}

/// A clip sampled before the model is loaded waits for it: then LLaVA-1.5 (one image per
/// request) gets the contact sheet and a model that takes several gets the frames. A message
/// sent meanwhile waits too, and goes with the clip and the line that times its frames.
#[test]
fn a_clip_sampled_before_the_model_loads_takes_the_form_the_model_needs() {
    let clip = two_frame_clip();
    for one_image in [true, false] {
        let mut s = state();
        let (ticket, source) = loads(send(&mut s, "/video clip.mp4")).pop().unwrap();
        let effects = s.update(Action::ClipLoaded {
            ticket,
            source,
            result: Ok(clip.clone()),
        });
        assert!(effects.is_empty());
        assert!(
            s.pending_images.is_empty(),
            "parked until the model is known"
        );
        assert!(send(&mut s, "What happens?").is_empty());
        assert!(s.conversation.turns.is_empty(), "the message waits");

        let mut info = vchat_info();
        info.one_image_per_request = one_image;
        let effects = s.update(Action::Engine(vchat::engine::EngineEvent::Ready {
            request: RequestId::LOAD,
            info,
        }));
        assert!(effects.iter().any(|e| matches!(e, Effect::Generate { .. })));
        let Some(vchat::conversation::Turn::User(turn)) = s.conversation.turns.last() else {
            panic!("the message was sent");
        };
        let (images, note) = clip.pick(one_image);
        assert_eq!(labels(&turn.images), labels(&images));
        assert_eq!(turn.text, format!("{note}\nWhat happens?"));
        assert!(s.parked_clip.is_none() && s.pending_images.is_empty());
    }
}

/// A clip of two frames, as the loader gives it (the pixels do not matter here).
fn two_frame_clip() -> vchat::media::video::ClipForModels {
    use vchat::conversation::ChatImage;
    let frame = |label: &str| ChatImage::from_pixels(label, image::DynamicImage::new_rgb8(2, 2));
    vchat::media::video::ClipForModels {
        source: "clip.mp4".into(),
        times: vec![0.5, 1.5],
        frames: vec![frame("clip.mp4 @ 0.5 s"), frame("clip.mp4 @ 1.5 s")],
        frames_note: "[video clip.mp4, 2.0 s long: 2 frames at 0.5, 1.5 s]".into(),
        sheet: frame("clip.mp4 (contact sheet of 2 frames)"),
        sheet_note:
            "[video clip.mp4, 2.0 s long: 2 frames at 0.5, 1.5 s; shown as one contact sheet]"
                .into(),
    }
}

/// `/frame N` (or `/frame` with a frame shown) reads that frame of the last clip again at full
/// size and attaches it, with a line saying which frame it is; a number the clip does not
/// have, or no clip at all, is one line and changes nothing.
#[test]
fn frame_n_attaches_one_frame_of_the_last_clip_at_full_size() {
    let mut s = ready(false);
    send(&mut s, "/frame 1");
    assert!(s.notice.as_ref().unwrap().text.contains("no clip"));
    let (ticket, source) = loads(send(&mut s, "/video clip.mp4")).pop().unwrap();
    s.update(Action::ClipLoaded {
        ticket,
        source,
        result: Ok(two_frame_clip()),
    });
    assert_eq!(s.pending_images.len(), 2);
    s.input.set_text("");
    assert!(send(&mut s, "/frame 3").is_empty());
    assert!(s.notice.as_ref().unwrap().text.contains("frames 1–2"));
    assert_eq!(s.pending_images.len(), 2, "nothing changed");

    // The frame the image pane shows (the first, after the clip came in).
    let frame_loads: Vec<_> = send(&mut s, "/frame")
        .into_iter()
        .filter_map(|e| match e {
            Effect::LoadFrame {
                ticket,
                source,
                time,
            } => Some((ticket, source, time)),
            _ => None,
        })
        .collect();
    let [(ticket, source, time)] = &frame_loads[..] else {
        panic!("one frame read: {frame_loads:?}");
    };
    assert_eq!((source.as_str(), *time), ("clip.mp4", 0.5));
    assert!(s
        .input
        .text()
        .starts_with("[frame 1 of clip.mp4 at 0.50 s, full size]"));
    s.update(loaded(*ticket, "clip.mp4 @ 0.50 s, full size", true));
    assert_eq!(
        labels(&s.pending_images).last().map(String::as_str),
        Some("clip.mp4 @ 0.50 s, full size")
    );
    assert_eq!(s.pending_images.len(), 3);
}

/// Space in the image pane plays the clip's frames, one per sampled interval, and stops after
/// the last; a second Space pauses, and a wake-up from before the pause changes nothing.
#[test]
fn the_image_pane_plays_a_clips_frames_at_their_pace() {
    let wakes = |effects: Vec<Effect>| -> Vec<(vchat::app::Ticket, std::time::Duration)> {
        effects
            .into_iter()
            .filter_map(|e| match e {
                Effect::WakeAfter { ticket, after } => Some((ticket, after)),
                _ => None,
            })
            .collect()
    };
    let mut s = ready(false);
    assert!(wakes(s.update(Action::ImagePlay)).is_empty(), "no clip yet");
    let (ticket, source) = loads(send(&mut s, "/video clip.mp4")).pop().unwrap();
    s.update(Action::ClipLoaded {
        ticket,
        source,
        result: Ok(two_frame_clip()),
    });
    let shown = |s: &State| s.shown_image.as_ref().map(|i| i.label.clone());
    let [(tick, after)] = wakes(s.update(Action::ImagePlay))[..] else {
        panic!("one wake-up");
    };
    assert_eq!(after, std::time::Duration::from_secs(1), "frames 1 s apart");
    assert_eq!(shown(&s).as_deref(), Some("clip.mp4 @ 0.5 s"));
    let [(last_tick, _)] = wakes(s.update(Action::PlayTick(tick)))[..] else {
        panic!("one wake-up");
    };
    assert_eq!(shown(&s).as_deref(), Some("clip.mp4 @ 1.5 s"));
    assert!(
        wakes(s.update(Action::PlayTick(last_tick))).is_empty(),
        "the end"
    );
    assert!(s.playing.is_none());

    // Played again from the start, then paused: the pending wake-up is stale.
    let [(tick, _)] = wakes(s.update(Action::ImagePlay))[..] else {
        panic!("one wake-up");
    };
    assert_eq!(shown(&s).as_deref(), Some("clip.mp4 @ 0.5 s"));
    assert!(wakes(s.update(Action::ImagePlay)).is_empty(), "paused");
    assert!(wakes(s.update(Action::PlayTick(tick))).is_empty());
    assert_eq!(shown(&s).as_deref(), Some("clip.mp4 @ 0.5 s"));
}

/// `/model` loads another model while the chat goes on: an answer running when it is ready
/// ends with the model that began it, and the next goes to the new one; a model that cannot
/// be loaded leaves the chat with the one it had.
#[test]
fn model_switches_after_the_running_answer_and_a_failed_one_changes_nothing() {
    use vchat::engine::EngineEvent;
    let named = |name: &str| vchat::engine::ModelInfo {
        model: name.into(),
        ..vchat_info()
    };
    let mut s = state();
    s.update(Action::Engine(EngineEvent::Ready {
        request: RequestId::LOAD,
        info: named("first"),
    }));
    assert!(send(&mut s, "hello")
        .iter()
        .any(|e| matches!(e, Effect::Generate { .. })));
    s.update(Action::GenerationStarted(RequestId(1)));
    s.update(Action::Engine(EngineEvent::Token {
        request: RequestId(1),
        text: "Hi".into(),
    }));

    let effects = send(&mut s, "/model second");
    assert!(matches!(&effects[..], [Effect::SwitchModel(m)] if m == "second"));
    s.update(Action::NextEngine(EngineEvent::Loading {
        request: RequestId::LOAD,
        stage: "loading the weights".into(),
        fraction: 0.5,
    }));
    assert!(s
        .notice
        .as_ref()
        .unwrap()
        .text
        .contains("loading second 50%"));
    // Ready while the answer runs: nothing changes yet.
    let effects = s.update(Action::NextEngine(EngineEvent::Ready {
        request: RequestId::LOAD,
        info: named("second"),
    }));
    assert!(effects.is_empty(), "{effects:?}");
    let effects = s.update(Action::Engine(EngineEvent::Done {
        request: RequestId(1),
        stats: finished(),
        token_ids: vec![],
    }));
    assert!(effects.iter().any(|e| matches!(e, Effect::UseNextEngine)));
    let Some(vchat::conversation::Turn::Assistant(answer)) = s.conversation.turns.last() else {
        panic!("the answer was kept");
    };
    assert_eq!(answer.answered_by.as_deref(), Some("first"));
    assert!(matches!(&s.model, vchat::app::ModelStatus::Ready(info) if info.model == "second"));

    // A model that cannot be loaded: one line, and the chat keeps "second".
    send(&mut s, "/model missing/model");
    let effects = s.update(Action::NextEngine(EngineEvent::LoadFailed {
        request: RequestId::LOAD,
        message: "model folder not found".into(),
    }));
    assert!(effects.iter().any(|e| matches!(e, Effect::DropNextEngine)));
    assert!(s.notice.as_ref().unwrap().is_error);
    assert!(matches!(&s.model, vchat::app::ModelStatus::Ready(info) if info.model == "second"));
    assert!(s.switching.is_none());
}

/// The settings panel's model row switches the model as `/model` does: Enter, a new id, Enter.
#[test]
fn the_settings_panel_model_row_loads_another_model() {
    let mut s = ready(false);
    s.update(Action::FocusNext);
    s.update(Action::FocusNext);
    assert_eq!(s.focus, Focus::Settings);
    s.update(Action::SettingPrev); // wraps to the last row: the model
    assert_eq!(
        s.panel.selected_name(),
        vchat::app::settings_panel::MODEL_ROW
    );
    s.update(Action::SettingEdit);
    let editor = s.panel.editing.as_mut().expect("editing");
    assert_eq!(editor.text(), "m", "the model in use, to change");
    editor.set_text("Qwen/Qwen2.5-VL-3B-Instruct");
    let effects = s.update(Action::Submit);
    assert!(
        matches!(&effects[..], [Effect::SwitchModel(m)] if m == "Qwen/Qwen2.5-VL-3B-Instruct"),
        "{effects:?}"
    );
    assert!(s.panel.editing.is_none());
}

/// The picker previews the selected image; a preview that arrives after the selection moved
/// on is not shown, and Esc puts back the image the pane showed before.
#[test]
fn the_file_picker_shows_only_the_current_preview_and_esc_restores_the_pane() {
    use vchat::app::file_picker::{PickerEntry, PickerKey};
    use vchat::conversation::ChatImage;
    let image = |label: &str| ChatImage::from_pixels(label, image::DynamicImage::new_rgb8(2, 2));
    let mut s = ready(false);
    s.shown_image = Some(image("before.png"));
    let effects = send(&mut s, "/image");
    let [Effect::ListFolder { ticket, .. }] = &effects[..] else {
        panic!("a listing: {effects:?}");
    };
    let entry = |name: &str| PickerEntry {
        name: name.into(),
        is_dir: false,
    };
    let effects = s.update(Action::FolderListed {
        ticket: *ticket,
        result: Ok(vec![entry("a.png"), entry("b.png")]),
    });
    let [Effect::LoadPreview { ticket: first, .. }] = effects[..] else {
        panic!("a preview: {effects:?}");
    };
    let effects = s.update(Action::PickerKey(PickerKey::Down));
    let [Effect::LoadPreview { ticket: second, .. }] = effects[..] else {
        panic!("a preview: {effects:?}");
    };
    s.update(Action::PreviewLoaded {
        ticket: first,
        result: Ok(image("a.png")),
    });
    assert_eq!(s.shown_image.as_ref().unwrap().label, "before.png", "stale");
    s.update(Action::PreviewLoaded {
        ticket: second,
        result: Ok(image("b.png")),
    });
    assert_eq!(s.shown_image.as_ref().unwrap().label, "b.png");
    s.update(Action::PickerKey(PickerKey::Close));
    assert!(s.file_picker.is_none());
    assert_eq!(s.shown_image.as_ref().unwrap().label, "before.png");
}

/// A regenerate keeps the answer it replaces as another version of that turn (‹2/2›), and
/// Alt-Left/Alt-Right move between them; an edit keeps the message and what followed as
/// another version; a new chat starts with none.
#[test]
fn regenerate_and_edit_keep_the_old_version_to_go_back_to() {
    use vchat::engine::EngineEvent;
    let mut s = ready(false);
    let answer_with = |s: &mut State, request: u64, text: &str| {
        s.update(Action::GenerationStarted(RequestId(request)));
        s.update(Action::Engine(EngineEvent::Token {
            request: RequestId(request),
            text: text.into(),
        }));
        s.update(Action::Engine(EngineEvent::Done {
            request: RequestId(request),
            stats: finished(),
            token_ids: vec![],
        }));
    };
    let last_answer = |s: &State| match s.conversation.turns.last() {
        Some(vchat::conversation::Turn::Assistant(a)) => a.text.clone(),
        _ => String::new(),
    };
    send(&mut s, "What is it?");
    answer_with(&mut s, 1, "a cat");
    s.update(Action::Regenerate);
    answer_with(&mut s, 2, "a dog");
    let versions = |s: &State| {
        s.entries()
            .iter()
            .filter_map(|e| e.version)
            .collect::<Vec<_>>()
    };
    assert_eq!(versions(&s), [(2, 2)], "the new answer is version 2 of 2");
    s.update(Action::VersionPrev);
    assert_eq!(last_answer(&s), "a cat");
    assert_eq!(versions(&s), [(1, 2)]);
    s.update(Action::VersionNext);
    assert_eq!(last_answer(&s), "a dog");

    // Edit the question: the old question and its two answers become version 1.
    send(&mut s, "/edit");
    assert_eq!(s.input.text(), "What is it?");
    s.input.set_text("What animal is it?");
    s.update(Action::Submit);
    answer_with(&mut s, 3, "a bird");
    assert_eq!(versions(&s), [(2, 2)], "on the question");
    s.update(Action::VersionPrev);
    assert_eq!(s.conversation.turns.len(), 2);
    assert_eq!(last_answer(&s), "a dog", "the version as it was left");
    assert_eq!(
        versions(&s),
        [(1, 2), (2, 2)],
        "the question, and its answers"
    );

    send(&mut s, "/new");
    assert!(
        s.conversation.branches.is_empty(),
        "a new chat has no versions"
    );
}

/// The stats of an answer that ended normally (the numbers do not matter here).
fn finished() -> vchat::conversation::AnswerStats {
    vchat::conversation::AnswerStats {
        finish: vchat::conversation::FinishReason::Stop,
        tokens: 1,
        time_to_first_token: Default::default(),
        tokens_per_second: 0.0,
        seed: None,
        prompt: None,
    }
}

/// A model's description as the engine gives it, for tests without an engine.
fn vchat_info() -> vchat::engine::ModelInfo {
    vchat::engine::ModelInfo {
        model: "m".into(),
        architecture: "a".into(),
        device: "cpu".into(),
        dtype: "f32".into(),
        quantization: "none".into(),
        one_image_per_request: false,
        backend: "local".into(),
    }
}
