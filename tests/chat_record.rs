//! Hunting for lost words: seeded random sequences of what a user does (send, F2, /image,
//! Ctrl-R, Esc, /edit, /regen, /continue, /new, /export, resize, scrolling) interleaved with
//! what the engine and the background work report (tokens, done, errors, model ready, stale
//! events, image loads and chat opens out of order), driving the real [`State`]. After every
//! step:
//! - the chat saved through the real store (in a temporary folder) reads back as the same
//!   turns as memory, the streaming answer included;
//! - the chat pane shows each turn's text, in order, and the streaming answer last;
//! - no answer is shortened, and answers only go by a user's explicit action (Ctrl-R or
//!   /regen drop the last one; /edit, /new and opening a chat may drop more);
//! - an image attached is the one asked for last;
//! - nothing drawn holds an escape character; nothing panics.
//!
//! A failure names its seed: `VCHAT_SEED=<seed> cargo test --test chat_record` replays it.

mod common;

use std::path::Path;

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use vchat::app::{Action, Effect, EntryKind, Generation, ModelStatus, StartInfo, State, Ticket};
use vchat::chats::{self, ChatStore, ExportFormat, TurnRecord};
use vchat::conversation::{AnswerStats, ChatImage, FinishReason, Turn};
use vchat::engine::{EngineEvent, RequestId};
use vchat::rng::SplitMix64;
use vchat::sampling::SamplingSettings;
use vchat::ui::{self, Theme};

/// Seeds run by default, and steps per seed: 60 × 120 = 7,200 steps.
const SEEDS: u64 = 60;
const STEPS: usize = 120;

#[test]
fn random_sessions_never_lose_a_word() {
    let seeds: Vec<u64> = match std::env::var("VCHAT_SEED") {
        Ok(seed) => vec![seed.parse().expect("VCHAT_SEED is a number")],
        Err(_) => (1..=SEEDS).collect(),
    };
    let started = std::time::Instant::now();
    for seed in &seeds {
        let outcome = std::panic::catch_unwind(|| run(*seed));
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("seed {seed} failed (replay: VCHAT_SEED={seed} cargo test --test chat_record): {message}");
        }
    }
    eprintln!(
        "{} random steps in {:.2} s",
        seeds.len() * STEPS,
        started.elapsed().as_secs_f64()
    );
}

/// What the fake engine and the background work have been asked for and not yet answered.
#[derive(Default)]
struct World {
    next_request: u64,
    /// Generations the engine runs (newest last), with whether a cancel was asked.
    requests: Vec<(RequestId, bool)>,
    /// Requests that ended: their late events are stale.
    ended: Vec<RequestId>,
    prompts: Vec<RequestId>,
    image_loads: Vec<(Ticket, String)>,
    opens: Vec<(Ticket, String)>,
    /// The image source asked for last.
    last_image_asked: Option<String>,
}

struct Harness {
    rng: SplitMix64,
    state: State,
    world: World,
    store: ChatStore,
    _data: tempfile::TempDir,
    exports: tempfile::TempDir,
    seed: u64,
    step: usize,
}

fn run(seed: u64) {
    let data = tempfile::tempdir().unwrap();
    let mut h = Harness {
        rng: SplitMix64::new(seed),
        state: State::new(StartInfo::default(), SamplingSettings::default(), None),
        world: World::default(),
        store: ChatStore::new(data.path()),
        _data: data,
        exports: tempfile::tempdir().unwrap(),
        seed,
        step: 0,
    };
    if seed.is_multiple_of(3) {
        // Resumed: a saved chat is on screen while the model still loads.
        h.resume_saved_chat();
    }
    for step in 0..STEPS {
        h.step = step;
        let before = answers(&h.state);
        let before_everywhere = answers_in_every_version(&h.state);
        let (action, may_drop) = h.next_action();
        let image_load = matches!(action, Action::ImageLoaded { .. });
        let pending_before = h.state.pending_images.last().map(|i| i.label.clone());
        let asked_before = h.world.last_image_asked.clone();
        let was_token = match &action {
            Action::Engine(EngineEvent::Token { request, text }) => Some((*request, text.clone())),
            _ => None,
        };
        let effects = h.state.update(action);
        let generated = h.carry_out(effects);

        // A regenerate that did not start a new answer (refused) must not have dropped one.
        let may_drop = match may_drop {
            MayDrop::LastAnswer if !generated => MayDrop::Nothing,
            other => other,
        };
        h.check_answers_kept(&before, may_drop);
        if may_drop != MayDrop::WholeChat {
            h.check_no_version_lost(&before_everywhere);
        }
        if let Some((request, text)) = was_token {
            h.check_token_joined(request, &text, &before);
        }
        if image_load {
            h.check_image(pending_before, asked_before);
        }
        h.check_saved_file_equals_memory();
        h.check_screen();
    }
}

/// How many answers an action may take away: none, the last one, or any number.
#[derive(Clone, Copy, PartialEq, Debug)]
enum MayDrop {
    Nothing,
    LastAnswer,
    Any,
    /// `/new`: another chat (the old one is saved).
    WholeChat,
}

impl Harness {
    /// What `vchat --resume` does: a chat from the store, shown before the model is ready.
    fn resume_saved_chat(&mut self) {
        let mut conversation = vchat::conversation::Conversation::default();
        for i in 0..1 + self.pick(3) {
            conversation.push_user(format!("saved question {i}"), None);
            conversation.push_assistant(vchat::conversation::AssistantTurn {
                text: format!("saved answer {i} 猫"),
                settings: SamplingSettings::default(),
                stats: None,
                answered_by: Some("tiny-llava".into()),
            });
        }
        let meta = chats::ChatMeta::new_chat();
        let (file, images) = chats::to_file(&meta, &conversation, None);
        self.store.save(&file, &images).unwrap();
        self.state
            .show_loaded_chat(self.store.load(&meta.id).unwrap());
    }

    fn pick(&mut self, n: u64) -> u64 {
        self.rng.next_u64() % n
    }

    fn context(&self) -> String {
        format!("seed {} step {}", self.seed, self.step)
    }

    /// A user action or a background result, chosen at random among those possible now.
    fn next_action(&mut self) -> (Action, MayDrop) {
        loop {
            let choice = self.pick(26);
            let action = match choice {
                0..=2 => {
                    let text = random_text(&mut self.rng);
                    self.state.input.set_text(&text);
                    (Action::Submit, MayDrop::Nothing)
                }
                3 => (Action::ShowPrompt, MayDrop::Nothing),
                4 => match self.pick(5) {
                    // The clipboard's image comes in as a file's does.
                    0 => (Action::PasteImage, MayDrop::Nothing),
                    n => {
                        let source = format!("picture-{n}.png");
                        (Action::AttachImage(source), MayDrop::Nothing)
                    }
                },
                5 => (Action::Regenerate, MayDrop::LastAnswer),
                6 => (Action::Stop, MayDrop::Nothing),
                7 => {
                    let text = match self.pick(3) {
                        0 => "/edit".to_string(),
                        n => format!("/edit {n}"),
                    };
                    self.state.input.set_text(&text);
                    (Action::Submit, MayDrop::Any)
                }
                8 => {
                    self.state.input.set_text("/regen");
                    (Action::Submit, MayDrop::LastAnswer)
                }
                9 => {
                    self.state.input.set_text("/continue");
                    (Action::Submit, MayDrop::Nothing)
                }
                10 => {
                    self.state.input.set_text("/new");
                    (Action::Submit, MayDrop::WholeChat)
                }
                11 => {
                    let size = (20 + self.pick(100) as u16, 3 + self.pick(30) as u16);
                    self.state.chat_viewport.set(size);
                    (Action::PageUp, MayDrop::Nothing)
                }
                12 => (Action::ScrollToBottom, MayDrop::Nothing),
                13 => {
                    let format = if self.pick(2) == 0 { "md" } else { "json" };
                    let path = self.exports.path().join(format!("export.{format}"));
                    self.state
                        .input
                        .set_text(&format!("/export {format} {}", path.display()));
                    (Action::Submit, MayDrop::Nothing)
                }
                14 => (
                    Action::OpenChat(self.state.chat.id.clone()),
                    MayDrop::Nothing,
                ),
                15 if matches!(self.state.model, ModelStatus::Loading { .. }) => (
                    Action::Engine(EngineEvent::Ready {
                        request: RequestId::LOAD,
                        info: common::llava_info("tiny-llava"),
                    }),
                    MayDrop::Nothing,
                ),
                15..=19 => match self.engine_event() {
                    Some(event) => (Action::Engine(event), MayDrop::Nothing),
                    None => continue,
                },
                20 | 21 if !self.world.image_loads.is_empty() => {
                    let index = self.pick(self.world.image_loads.len() as u64) as usize;
                    let (ticket, source) = self.world.image_loads.remove(index);
                    let result = if source.ends_with("3.png") {
                        Err(format!("corrupt or truncated image: {source}"))
                    } else {
                        let pixels = image::DynamicImage::new_rgb8(2 + ticket.0 as u32 % 5, 3);
                        Ok(ChatImage::from_pixels(source.clone(), pixels))
                    };
                    (
                        Action::ImageLoaded {
                            ticket,
                            source,
                            result,
                        },
                        MayDrop::Nothing,
                    )
                }
                22 if !self.world.opens.is_empty() => {
                    let index = self.pick(self.world.opens.len() as u64) as usize;
                    let (ticket, id) = self.world.opens.remove(index);
                    let result = self
                        .store
                        .load(&id)
                        .map(Box::new)
                        .map_err(|e| e.to_string());
                    // The same chat, read back: it holds what memory holds (an open that the
                    // chat outran is abandoned), so nothing may go.
                    (Action::ChatOpened { ticket, result }, MayDrop::Nothing)
                }
                // Another version of the last turn that has several: what is on screen
                // changes, nothing in the chat may go.
                24 => (Action::VersionPrev, MayDrop::Any),
                25 => (Action::VersionNext, MayDrop::Any),
                23 if !self.world.prompts.is_empty() => {
                    let request = self.world.prompts.remove(0);
                    let text = "USER: <image>\nquestion ASSISTANT:".to_string();
                    (
                        Action::Engine(EngineEvent::Prompt { request, text }),
                        MayDrop::Nothing,
                    )
                }
                _ => continue,
            };
            return action;
        }
    }

    /// Something the fake engine says: about the newest request mostly, sometimes about one
    /// that ended already (stale).
    fn engine_event(&mut self) -> Option<EngineEvent> {
        if !self.world.ended.is_empty() && self.pick(6) == 0 {
            let index = self.pick(self.world.ended.len() as u64) as usize;
            let request = self.world.ended[index];
            return Some(EngineEvent::Token {
                request,
                text: "STALE".into(),
            });
        }
        let &(request, cancelled) = self.world.requests.last()?;
        let roll = self.pick(10);
        let end = |finish| {
            Some(AnswerStats {
                finish,
                tokens: 3,
                time_to_first_token: Default::default(),
                tokens_per_second: 1.0,
                seed: None,
                prompt: None,
            })
        };
        let stats = match roll {
            _ if cancelled && roll < 5 => end(FinishReason::Cancelled),
            0 => end(FinishReason::Stop),
            1 => end(FinishReason::Length),
            2 => {
                self.end_request(request);
                return Some(EngineEvent::Error {
                    request,
                    message: "narrow invalid args\nstack backtrace:\n 0: candle".into(),
                });
            }
            _ => None,
        };
        match stats {
            Some(stats) => {
                self.end_request(request);
                Some(EngineEvent::Done {
                    request,
                    stats,
                    token_ids: vec![],
                })
            }
            None => Some(EngineEvent::Token {
                request,
                text: random_token(&mut self.rng),
            }),
        }
    }

    fn end_request(&mut self, request: RequestId) {
        self.world.requests.retain(|(r, _)| *r != request);
        self.world.ended.push(request);
    }

    /// A token of the running request joins its answer, whole (escape characters dropped);
    /// a token of any other request changes nothing.
    fn check_token_joined(&self, request: RequestId, text: &str, before: &[String]) {
        let after = answers(&self.state);
        let running = match &self.state.generation {
            Generation::Running { request: r, .. } => *r,
            _ => None,
        };
        if running == Some(request) {
            let last_before = before.last().cloned().unwrap_or_default();
            let expected = format!("{last_before}{}", vchat::text::sanitize(text));
            assert_eq!(
                after.last(),
                Some(&expected),
                "{}: a token of the running answer",
                self.context()
            );
        } else {
            assert_eq!(after, before, "{}: a stale token", self.context());
        }
    }

    /// Does what the event loop would: engine requests, loads and file work, each answered
    /// now or later. True when a generation was asked for.
    fn carry_out(&mut self, effects: Vec<Effect>) -> bool {
        let mut generated = false;
        let mut queue = std::collections::VecDeque::from(effects);
        while let Some(effect) = queue.pop_front() {
            let reply = match effect {
                Effect::Generate { .. } => {
                    generated = true;
                    self.world.next_request += 1;
                    let id = RequestId(self.world.next_request);
                    self.world.requests.push((id, false));
                    Some(Action::GenerationStarted(id))
                }
                Effect::Cancel(id) => {
                    for (request, cancelled) in &mut self.world.requests {
                        if *request == id {
                            *cancelled = true;
                        }
                    }
                    None
                }
                Effect::LoadImage { ticket, source } => {
                    self.world.last_image_asked = Some(source.clone());
                    self.world.image_loads.push((ticket, source));
                    None
                }
                Effect::ReadClipboardImage { ticket } => {
                    self.world.last_image_asked = Some("clipboard".into());
                    self.world.image_loads.push((ticket, "clipboard".into()));
                    None
                }
                Effect::RenderPrompt(_) => {
                    self.world.next_request += 1;
                    let id = RequestId(self.world.next_request);
                    self.world.prompts.push(id);
                    Some(Action::PromptRequested(id))
                }
                Effect::OpenChat { ticket, id } => {
                    self.world.opens.push((ticket, id));
                    None
                }
                Effect::Export {
                    format,
                    path,
                    chat,
                    conversation,
                    partial,
                    ..
                } => {
                    self.check_export(format, path, &chat, &conversation, partial.as_deref());
                    None
                }
                // No clips in these runs: no frame is read again, nothing plays.
                Effect::CompletePath { .. }
                | Effect::LoadFrame { .. }
                | Effect::SwitchModel(_)
                | Effect::ListFolder { .. }
                | Effect::LoadPreview { .. }
                | Effect::UseNextEngine
                | Effect::DropNextEngine
                | Effect::WakeAfter { .. }
                | Effect::Copy(_)
                | Effect::ListChats
                | Effect::RenameChat { .. }
                | Effect::DeleteChat { .. }
                | Effect::Quit => None,
            };
            if let Some(reply) = reply {
                queue.extend(self.state.update(reply));
            }
        }
        generated
    }

    /// An export holds what memory holds at the moment it is asked for.
    fn check_export(
        &self,
        format: ExportFormat,
        path: Option<String>,
        chat: &chats::ChatMeta,
        conversation: &vchat::conversation::Conversation,
        partial: Option<&vchat::conversation::AssistantTurn>,
    ) {
        let (file, images) = chats::to_file(chat, conversation, partial);
        let output = Path::new(path.as_deref().expect("a path was given")).to_path_buf();
        chats::export(&file, &images, format, &output).expect("export");
        if format == ExportFormat::Json {
            let written: chats::ChatFile =
                serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
            assert_eq!(
                texts_of(&written.turns),
                expected_turns(&self.state),
                "{}: the export",
                self.context()
            );
        }
    }

    fn check_answers_kept(&self, before: &[String], may_drop: MayDrop) {
        let after = answers(&self.state);
        let kept = match may_drop {
            MayDrop::Nothing => before.len(),
            MayDrop::LastAnswer => before.len().saturating_sub(1),
            MayDrop::Any | MayDrop::WholeChat => 0,
        };
        assert!(
            after.len() >= kept,
            "{}: answers lost: {before:?} → {after:?}",
            self.context()
        );
        for (old, new) in before.iter().zip(&after) {
            if may_drop == MayDrop::Nothing {
                assert!(
                    new.starts_with(old.as_str()),
                    "{}: an answer got shorter: {old:?} → {new:?}",
                    self.context()
                );
            }
        }
        for (old, new) in before.iter().zip(&after).take(kept) {
            assert!(
                new.starts_with(old.as_str()),
                "{}: an answer got shorter: {old:?} → {new:?}",
                self.context()
            );
        }
    }

    /// Every answer of every version is still somewhere in the chat (as long or longer):
    /// a regenerate or an edit keeps what it replaces as another version.
    fn check_no_version_lost(&self, before: &[String]) {
        let mut after = answers_in_every_version(&self.state);
        // Longest first, so that a short answer does not take the match of a longer one.
        let mut before = before.to_vec();
        before.sort_by_key(|old| std::cmp::Reverse(old.len()));
        for old in &before {
            let Some(found) = after.iter().position(|new| new.starts_with(old.as_str())) else {
                panic!(
                    "{}: the answer {old:?} is in no version of the chat: {after:?}",
                    self.context()
                );
            };
            after.remove(found);
        }
    }

    /// An image load attaches only the image whose load was asked for last, whatever order
    /// loads end in (a model taking several images queues the next load until then).
    fn check_image(&self, before: Option<String>, asked_before: Option<String>) {
        let now = self.state.pending_images.last().map(|i| i.label.clone());
        if now != before {
            if let Some(label) = now {
                assert_eq!(
                    Some(&label),
                    asked_before.as_ref(),
                    "{}: an older image load won",
                    self.context()
                );
            }
        }
    }

    /// The chat, saved through the real store now, reads back as memory holds it.
    fn check_saved_file_equals_memory(&self) {
        let state = &self.state;
        if state.conversation.turns.is_empty() && state.partial_answer().is_none() {
            return;
        }
        let partial = state.partial_answer();
        let (file, images) = chats::to_file(&state.chat, &state.conversation, partial.as_ref());
        self.store.save(&file, &images).expect("save");
        let loaded = self.store.load(&state.chat.id).expect("load");
        assert_eq!(
            texts_of(&loaded.file.turns),
            expected_turns(state),
            "{}: the saved chat",
            self.context()
        );
        assert_eq!(
            versions_on_disk(&loaded.file.branches),
            versions_in_memory(&state.conversation.branches),
            "{}: the saved chat's other versions",
            self.context()
        );
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    }

    /// The chat pane shows the turns' texts in order, the streaming answer last, and a frame
    /// drawn from it holds no escape character.
    fn check_screen(&self) {
        let state = &self.state;
        let shown: Vec<(bool, String)> = state
            .shown_entries()
            .into_iter()
            .filter(|e| matches!(e.kind, EntryKind::User | EntryKind::Assistant))
            .map(|e| (e.kind == EntryKind::User, e.text))
            .collect();
        assert_eq!(
            shown,
            expected_turns(state),
            "{}: the chat pane",
            self.context()
        );
        if let Generation::Running { .. } = state.generation {
            let last = state.shown_entries().pop().unwrap();
            assert!(
                last.streaming,
                "{}: the streaming answer is last",
                self.context()
            );
        }
        let (width, height) = state.chat_viewport.get();
        let mut terminal = Terminal::new(TestBackend::new(width + 40, height + 8)).unwrap();
        terminal
            .draw(|frame| ui::draw(frame, state, &Theme::default(), None))
            .unwrap();
        let buffer = terminal.backend().buffer();
        assert!(
            buffer
                .content
                .iter()
                .all(|cell| !cell.symbol().contains('\x1b')),
            "{}: an escape character reached the screen",
            self.context()
        );
    }
}

/// The answers' texts in order, the streaming one last.
fn answers(state: &State) -> Vec<String> {
    let mut texts: Vec<String> = state
        .conversation
        .turns
        .iter()
        .filter_map(|t| match t {
            Turn::Assistant(a) => Some(a.text.clone()),
            Turn::User(_) => None,
        })
        .collect();
    if let Some(partial) = state.partial_answer() {
        texts.push(partial.text);
    }
    texts
}

/// The answers of every version of the chat (on screen, stored, the streaming one).
fn answers_in_every_version(state: &State) -> Vec<String> {
    fn walk(branches: &vchat::branches::Branches, out: &mut Vec<String>) {
        for branch in &branches.stored {
            out.extend(branch.turns.iter().filter_map(|t| match t {
                Turn::Assistant(a) => Some(a.text.clone()),
                Turn::User(_) => None,
            }));
            walk(&branch.nested, out);
        }
    }
    let mut texts = answers(state);
    walk(&state.conversation.branches, &mut texts);
    texts
}

/// A stored version: its position, its number and its turns as (is the user's, text).
type Version = (usize, u32, Vec<(bool, String)>);

/// Every stored version, nested ones after their parent.
fn versions_in_memory(branches: &vchat::branches::Branches) -> Vec<Version> {
    let mut out = Vec::new();
    for b in &branches.stored {
        out.push((b.at, b.number, turn_texts(&b.turns)));
        out.extend(versions_in_memory(&b.nested));
    }
    out
}

/// The same, as a chat file stores them.
fn versions_on_disk(branches: &chats::BranchesRecord) -> Vec<Version> {
    let mut out = Vec::new();
    for b in &branches.stored {
        out.push((b.at, b.number, texts_of(&b.turns)));
        out.extend(versions_on_disk(&b.nested));
    }
    out
}

/// (is the user's, text) for each of `turns`.
fn turn_texts(turns: &[Turn]) -> Vec<(bool, String)> {
    turns
        .iter()
        .map(|t| match t {
            Turn::User(u) => (true, u.text.clone()),
            Turn::Assistant(a) => (false, a.text.clone()),
        })
        .collect()
}

/// (is the user's, text) for every turn in memory, the streaming answer included.
fn expected_turns(state: &State) -> Vec<(bool, String)> {
    let mut turns = turn_texts(&state.conversation.turns);
    if let Some(partial) = state.partial_answer() {
        turns.push((false, partial.text));
    }
    turns
}

fn texts_of(records: &[TurnRecord]) -> Vec<(bool, String)> {
    records
        .iter()
        .map(|r| match r {
            TurnRecord::User { text, .. } => (true, text.clone()),
            TurnRecord::Assistant { text, .. } => (false, text.clone()),
        })
        .collect()
}

/// A user message: words, sometimes with multi-byte characters.
fn random_text(rng: &mut SplitMix64) -> String {
    const WORDS: &[&str] = &[
        "what", "is", "this", "猫", "picture", "ça", "🙂", "and", "why",
    ];
    let n = 1 + rng.next_u64() % 6;
    (0..n)
        .map(|_| WORDS[(rng.next_u64() % WORDS.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A streamed chunk: text, Markdown, multi-byte characters, newlines, escape sequences.
fn random_token(rng: &mut SplitMix64) -> String {
    const TOKENS: &[&str] = &[
        " the", " cat", "s", "\n", "**", "```", " 日本", "é", " 🙂", "\x1b[2J", "\x07", " -", "\t",
    ];
    TOKENS[(rng.next_u64() % TOKENS.len() as u64) as usize].to_string()
}
