//! The full-screen app's state and its one way to change: [`State::update`] takes an
//! [`Action`] and returns the [`Effect`]s (engine requests, image loads, quitting) for the
//! event loop to carry out. Nothing here does I/O or draws.

mod chat;
pub mod chat_list;
mod clips;
pub mod commands;
pub mod file_picker;
mod generation;
pub mod input;
mod key;
pub mod keymap;
pub mod settings_panel;
pub mod switch;
mod turns;
mod update;

use std::cell::Cell;
use std::time::Instant;

pub use chat::{ChatEntry, ChatLayout, EntryKind, Note, ShownEntry, TurnCounts};
use chat_list::ChatList;
use input::InputEditor;
use settings_panel::SettingsPanel;

use crate::chats::{ChatMeta, ChatSummary, ExportFormat, LoadedChat};
use crate::conversation::{AnswerStats, AssistantTurn, ChatImage, Conversation};
use crate::engine::{EngineEvent, ModelInfo, RequestId};
use crate::sampling::SamplingSettings;

/// Something that happened: a key resolved through the keymap, a result of background work,
/// or a change of the terminal.
#[derive(Debug, Clone)]
pub enum Action {
    /// Leave the app (stopping any generation).
    Quit,
    /// Ctrl-C: stop a running answer; pressed again, quit.
    Interrupt,
    /// Esc: stop a running answer (keeping its text) or close what is open.
    Stop,
    /// Move focus to the next pane (in the input after `/image `, complete the path).
    FocusNext,
    /// Move focus to the previous pane.
    FocusPrev,
    /// Show or hide the help overlay.
    ToggleHelp,
    /// Enter in a text field: send the message, run the command or apply the value.
    Submit,
    /// Insert a line break in the input.
    Newline,
    /// Insert typed or pasted text in the active text field.
    Insert(String),
    /// Delete the character before the cursor.
    Backspace,
    /// Delete the character under the cursor.
    Delete,
    /// Cursor one character left.
    Left,
    /// Cursor one character right.
    Right,
    /// Cursor to the start of the line.
    Home,
    /// Cursor to the end of the line.
    End,
    /// Cursor up a line, or the previous prompt from the history.
    Up,
    /// Cursor down a line, or the next prompt from the history.
    Down,
    /// Delete from the start of the line to the cursor.
    KillToStart,
    /// Delete the word before the cursor.
    DeleteWord,
    /// Scroll the chat up by this many lines.
    ScrollUp(usize),
    /// Scroll the chat down by this many lines.
    ScrollDown(usize),
    /// Scroll the chat up by a page.
    PageUp,
    /// Scroll the chat down by a page.
    PageDown,
    /// Jump to the end of the chat and follow the stream again.
    ScrollToBottom,
    /// Select the previous setting.
    SettingPrev,
    /// Select the next setting.
    SettingNext,
    /// Step the selected setting down.
    SettingDecrease,
    /// Step the selected setting up.
    SettingIncrease,
    /// Start typing an exact value for the selected setting.
    SettingEdit,
    /// Load an image for the next user turn (`/image`, or `--image` at start-up).
    AttachImage(String),
    /// The engine reported something.
    Engine(EngineEvent),
    /// The engine accepted the generation asked for by [`Effect::Generate`] under this id.
    GenerationStarted(RequestId),
    /// The engine took the prompt-view request of [`Effect::RenderPrompt`] under this id.
    PromptRequested(RequestId),
    /// An image asked for by [`Effect::LoadImage`] finished loading (or failed, one line).
    /// Only the newest request's result is used.
    ImageLoaded {
        ticket: Ticket,
        source: String,
        result: Result<ChatImage, String>,
    },
    /// A clip asked for by [`Effect::LoadImage`] was sampled: its frames (or contact sheet) and
    /// the line that tells the model what they are (or a one-line failure).
    ClipLoaded {
        ticket: Ticket,
        source: String,
        result: Result<crate::media::video::ClipForModels, String>,
    },
    /// The path completion asked for by [`Effect::CompletePath`]: `completed` replaces the
    /// input if it still reads `typed`.
    PathCompleted {
        ticket: Ticket,
        typed: String,
        completed: Option<String>,
    },
    /// Ask the last question again with the current settings (replacing the last answer).
    Regenerate,
    /// Start a new chat (as `/new`).
    NewChat,
    /// Let the model go on with a stopped (or cut-off) last answer.
    Continue,
    /// Show the conversation text exactly as the model sees it.
    ShowPrompt,
    /// Copy the last answer to the clipboard (OSC 52).
    CopyAnswer,
    /// Show the previous image of the chat in the image pane.
    ImagePrev,
    /// Play (or pause) the last clip's frames in the image pane.
    ImagePlay,
    /// Attach the image on the system clipboard.
    PasteImage,
    /// Show the previous version of the last turn that has several.
    VersionPrev,
    /// Show the next version of that turn.
    VersionNext,
    /// An event of the engine loading the model asked for with `/model`.
    NextEngine(EngineEvent),
    /// A key while the file picker is open.
    PickerKey(file_picker::PickerKey),
    /// The folder the picker asked for was read.
    FolderListed {
        ticket: Ticket,
        result: Result<Vec<file_picker::PickerEntry>, String>,
    },
    /// The picker's preview of the selected image.
    PreviewLoaded {
        ticket: Ticket,
        result: Result<ChatImage, String>,
    },
    /// The wake-up asked for by [`Effect::WakeAfter`]: the next frame of the clip playing.
    PlayTick(Ticket),
    /// Show the next image of the chat in the image pane.
    ImageNext,
    /// Open the list of saved chats.
    OpenChatList,
    /// A key pressed while the chat list is open.
    ChatListKey(chat_list::ListKey),
    /// The saved chats, for the list (asked for by [`Effect::ListChats`]).
    ChatsListed {
        chats: Vec<ChatSummary>,
        problems: Vec<String>,
    },
    /// Open saved chat `id` (all of it), replacing the one on screen.
    OpenChat(String),
    /// A saved chat was read (asked for by [`Effect::OpenChat`] under `ticket`).
    ChatOpened {
        ticket: Ticket,
        result: Result<Box<LoadedChat>, String>,
    },
    /// Background file work (save, export, rename, delete, copy) reports a line; `ticket` is
    /// the request's, `None` for an autosave.
    FileNotice {
        ticket: Option<Ticket>,
        text: String,
        is_error: bool,
    },
}

/// The id of a piece of background work that the state asked for (an image load, a chat
/// open, a rename, an export, a completion): its result carries it back, and a result whose
/// ticket is no longer the one awaited is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(pub u64);

/// Work for the event loop, returned by [`State::update`].
#[derive(Debug, Clone)]
pub enum Effect {
    /// Ask the engine for the next answer; reply with [`Action::GenerationStarted`].
    Generate {
        conversation: Conversation,
        settings: SamplingSettings,
    },
    /// Stop a running generation.
    Cancel(RequestId),
    /// Load an image from a path or URL; reply with [`Action::ImageLoaded`].
    LoadImage { ticket: Ticket, source: String },
    /// List a folder for the file picker; reply with [`Action::FolderListed`].
    ListFolder {
        ticket: Ticket,
        dir: std::path::PathBuf,
    },
    /// Load an image to preview in the picker; reply with [`Action::PreviewLoaded`].
    LoadPreview {
        ticket: Ticket,
        path: std::path::PathBuf,
    },
    /// Start loading this model (id or folder) on an engine of its own, its events coming as
    /// [`Action::NextEngine`]; the current engine goes on meanwhile.
    SwitchModel(String),
    /// The next engine is ready: requests go to it from now on, and the old one is dropped.
    UseNextEngine,
    /// The next engine could not load its model: drop it.
    DropNextEngine,
    /// Read the image on the system clipboard; reply with [`Action::ImageLoaded`].
    ReadClipboardImage { ticket: Ticket },
    /// Send [`Action::PlayTick`] with this ticket after this long.
    WakeAfter {
        ticket: Ticket,
        after: std::time::Duration,
    },
    /// Read the frame at `time` seconds of the clip at `source` at its own resolution; reply
    /// with [`Action::ImageLoaded`].
    LoadFrame {
        ticket: Ticket,
        source: String,
        time: f64,
    },
    /// Complete the file path in `/image PARTIAL`; reply with [`Action::PathCompleted`].
    CompletePath { ticket: Ticket, typed: String },
    /// Ask the engine for the prompt text of `conversation`; reply with
    /// [`Action::PromptRequested`], the text comes back as an engine event.
    RenderPrompt(Conversation),
    /// Put `text` on the clipboard; reply with a [`Action::FileNotice`].
    Copy(String),
    /// Read the saved chats; reply with [`Action::ChatsListed`].
    ListChats,
    /// Read saved chat `id` (after every write queued before); reply with
    /// [`Action::ChatOpened`].
    OpenChat { ticket: Ticket, id: String },
    /// Rename saved chat `id` (not the open one: its title is saved with it).
    RenameChat {
        ticket: Ticket,
        id: String,
        title: String,
    },
    /// Delete saved chat `id`.
    DeleteChat { ticket: Ticket, id: String },
    /// Write the chat as it is in memory (`chat`, `conversation` and the answer streaming
    /// now) to `path`, or `./ID.md|json`. Reads the snapshot; saves nothing.
    Export {
        ticket: Ticket,
        format: ExportFormat,
        path: Option<String>,
        chat: ChatMeta,
        conversation: Conversation,
        partial: Option<Box<AssistantTurn>>,
    },
    /// Restore the terminal and exit.
    Quit,
}

/// The pane that receives keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Input,
    Chat,
    Settings,
    Image,
}

impl Focus {
    /// The next pane in Tab order.
    pub fn next(self) -> Self {
        match self {
            Self::Input => Self::Chat,
            Self::Chat => Self::Settings,
            Self::Settings => Self::Image,
            Self::Image => Self::Input,
        }
    }

    /// The previous pane in Tab order.
    pub fn prev(self) -> Self {
        match self {
            Self::Input => Self::Image,
            Self::Chat => Self::Input,
            Self::Settings => Self::Chat,
            Self::Image => Self::Settings,
        }
    }
}

/// Where the model is.
#[derive(Debug, Clone)]
pub enum ModelStatus {
    /// Loading in the background; what is happening and how far (0..=1).
    Loading { stage: String, fraction: f32 },
    /// Loaded and answering.
    Ready(ModelInfo),
    /// Could not be loaded: the one-line reason.
    Failed(String),
}

/// What happens to the next answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Generation {
    /// No answer running.
    Idle,
    /// A message waits for the model to finish loading.
    Queued,
    /// An answer streams; it belongs to `request` (known once the engine accepted it), and
    /// only that request's tokens join `text`.
    Running {
        request: Option<RequestId>,
        settings: SamplingSettings,
        stop_requested: bool,
        /// The answer so far (for `/continue`, the stopped answer's text first), sanitised.
        text: String,
        /// Tokens streamed by this request.
        tokens: usize,
    },
}

/// A short message in the status bar (e.g. "image loaded", a refused command).
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub is_error: bool,
}

/// Start-up facts shown before the model reports its own.
#[derive(Debug, Clone, Default)]
pub struct StartInfo {
    /// The model id or folder as given.
    pub model: String,
    /// The device asked for ("cpu" or "auto").
    pub device: String,
    /// The quantization asked for.
    pub quantization: String,
    /// The dtype asked for.
    pub dtype: String,
}

/// Everything the screen shows. The chat's one record is `conversation` (what is saved and
/// sent), `notes` (vchat's messages tied to a turn) and the running answer in `generation`;
/// the chat pane is derived from them ([`State::entries_from_bottom`]).
#[derive(Debug)]
pub struct State {
    pub start: StartInfo,
    pub model: ModelStatus,
    pub conversation: Conversation,
    /// vchat's messages in the chat pane, in order of the turn they follow.
    pub notes: Vec<Note>,
    /// The chat pane's laid-out lines and turn counts: a cache, written while drawing.
    pub layout: ChatLayout,
    pub settings: SamplingSettings,
    pub input: InputEditor,
    /// An error about what was typed (a refused command), shown under the input.
    pub input_error: Option<String>,
    pub focus: Focus,
    pub help_open: bool,
    pub panel: SettingsPanel,
    pub generation: Generation,
    /// The images the next user turn carries, in the order they were attached.
    pub pending_images: Vec<ChatImage>,
    /// The image shown in the image pane (the chat's latest).
    pub shown_image: Option<ChatImage>,
    /// The image load awaited (the newest asked for) and its source, for the image pane.
    pub image_loading: Option<(Ticket, String)>,
    /// Images named while another loads, for a model that takes several: loaded next, in order.
    pub images_queued: std::collections::VecDeque<String>,
    /// Enter was pressed while an image loaded: the message goes once its images are in.
    pub send_when_images_ready: bool,
    /// A clip sampled before the model was loaded: attached as frames or as a contact sheet
    /// once the model says which it takes (see `clips.rs`).
    pub parked_clip: Option<crate::media::video::ClipForModels>,
    /// The clip attached last in this session: what `/frame N` reads again at full size.
    pub last_clip: Option<crate::media::video::ClipForModels>,
    /// The clip's frames are playing in the image pane: the ticket of the wake-up awaited.
    pub playing: Option<Ticket>,
    /// A model loading (or loaded, waiting for the answer to end) to take over the chat.
    pub switching: Option<switch::Switch>,
    /// The file picker of `/image` without a path, when open.
    pub file_picker: Option<file_picker::FilePicker>,
    pub notice: Option<Notice>,
    /// Lines scrolled up from the bottom of the chat; 0 follows the stream.
    pub scroll: usize,
    /// Ctrl-C was pressed with nothing to stop: the next one quits.
    pub ctrl_c_armed: bool,
    pub last_stats: Option<AnswerStats>,
    /// When the running answer was asked for, for the live elapsed time.
    pub generation_started_at: Option<Instant>,
    /// Which key does what (defaults, then the config's `[keys]`).
    pub keymap: keymap::Keymap,
    /// The chat pane's inner size at the last frame, for page-sized scrolling. A cache of the
    /// layout, written while drawing.
    pub chat_viewport: Cell<(u16, u16)>,
    /// Which chat this is on disk.
    pub chat: ChatMeta,
    /// Grows whenever the chat's content changes (a turn, a streamed token, the system
    /// prompt, the title): the autosaver saves when it differs from what it saved last.
    pub revision: u64,
    /// The list of saved chats, when open.
    pub chat_list: Option<ChatList>,
    /// The "one image per request" note was shown in this chat.
    pub one_image_noted: bool,
    /// A reopened chat shows its last turns while the earlier ones are read. Until they are
    /// in, the chat is not saved (that would cut it short) and cannot be changed.
    pub earlier_turns_loading: bool,
    /// The chat open awaited (the newest asked for).
    pub opening: Option<Ticket>,
    /// The prompt-view request awaited.
    pub prompt_request: Option<RequestId>,
    /// The path completion awaited.
    pub completing: Option<Ticket>,
    /// The newest file-work result shown: an older one arriving later is dropped.
    pub last_file_result: Option<Ticket>,
    /// The last ticket handed out.
    next_ticket: u64,
    /// Like `revision`, but not moved by a streamed token: the turn counts are cached by it,
    /// so a frame during an answer does not count the whole history again.
    turns_revision: u64,
}

/// Why a chat cannot be changed, or counted through, while its earlier turns are being read.
const EARLIER_TURNS_LOADING: &str = "the chat's earlier turns are still being read: a moment";

impl State {
    /// A fresh app: the model is loading, the chat is empty.
    pub fn new(
        start: StartInfo,
        settings: SamplingSettings,
        system_prompt: Option<String>,
    ) -> Self {
        let stage = format!("loading {}", start.model);
        Self {
            start,
            model: ModelStatus::Loading {
                stage,
                fraction: 0.0,
            },
            conversation: Conversation {
                system_prompt,
                ..Default::default()
            },
            notes: Vec::new(),
            layout: ChatLayout::default(),
            settings,
            input: InputEditor::default(),
            input_error: None,
            focus: Focus::Input,
            help_open: false,
            panel: SettingsPanel::default(),
            generation: Generation::Idle,
            pending_images: Vec::new(),
            shown_image: None,
            image_loading: None,
            images_queued: std::collections::VecDeque::new(),
            send_when_images_ready: false,
            parked_clip: None,
            last_clip: None,
            playing: None,
            switching: None,
            file_picker: None,
            notice: None,
            scroll: 0,
            ctrl_c_armed: false,
            last_stats: None,
            generation_started_at: None,
            keymap: keymap::Keymap::default(),
            chat_viewport: Cell::new((80, 20)),
            chat: ChatMeta::new_chat(),
            revision: 0,
            chat_list: None,
            one_image_noted: false,
            earlier_turns_loading: false,
            opening: None,
            prompt_request: None,
            completing: None,
            last_file_result: None,
            next_ticket: 0,
            turns_revision: 0,
        }
    }

    /// Marks the streaming answer as grown: a change to save, but the turns are as they were.
    pub(super) fn touch_answer(&mut self) {
        self.revision += 1;
    }

    /// A new ticket for background work.
    pub(super) fn ticket(&mut self) -> Ticket {
        self.next_ticket += 1;
        Ticket(self.next_ticket)
    }

    /// Marks the chat as changed, for the autosaver. A chat open still awaited is abandoned:
    /// it was read before this change and would replace the chat with an older version.
    pub fn touch(&mut self) {
        self.revision += 1;
        self.turns_revision += 1;
        // (Not the read of a resumed chat's earlier turns: the chat is read-only until then,
        // but for settings, and it must arrive.)
        if !self.earlier_turns_loading {
            self.opening = None;
        }
    }

    /// Shows a start-up problem (a bad config value) in the chat and the status bar.
    pub fn report_problem(&mut self, text: &str) {
        self.add_note(EntryKind::Notice, text);
        self.notice = Some(Notice {
            text: crate::text::one_line(text),
            is_error: true,
        });
    }

    /// True while an answer streams or waits for the model.
    pub fn is_busy(&self) -> bool {
        self.generation != Generation::Idle
    }

    /// Why the chat's turns cannot change right now, if they cannot: an answer is running, or
    /// a resumed chat's earlier turns are still being read (changing it then would lose them).
    fn why_turns_are_locked(&self) -> Option<&'static str> {
        if self.earlier_turns_loading {
            Some(EARLIER_TURNS_LOADING)
        } else if self.is_busy() {
            Some("an answer is running: Esc stops it first")
        } else {
            None
        }
    }

    /// Context used: the last measured prompt (images included), the answers since and the
    /// running one, and user text since at about four characters a token.
    pub fn context_tokens(&self) -> usize {
        self.turn_counts().tokens + self.streamed_tokens()
    }

    /// The size of the prompt the chat's last measured answer was generated from.
    pub fn last_prompt_size(&self) -> Option<crate::conversation::PromptSize> {
        let last_answer = self
            .conversation
            .turns
            .iter()
            .rev()
            .find_map(|turn| match turn {
                crate::conversation::Turn::Assistant(answer) => Some(answer),
                crate::conversation::Turn::User(_) => None,
            })?;
        last_answer.stats.as_ref()?.prompt
    }

    /// Tokens streamed into the running answer so far.
    pub fn streamed_tokens(&self) -> usize {
        match &self.generation {
            Generation::Running { tokens, .. } => *tokens,
            _ => 0,
        }
    }
}
