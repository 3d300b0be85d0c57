//! The full-screen app's state and its one way to change: [`State::update`] takes an
//! [`Action`] and returns the [`Effect`]s (engine requests, image loads, quitting) for the
//! event loop to carry out. Nothing here does I/O or draws.

mod chat;
pub mod chat_list;
pub mod commands;
mod complete;
mod generation;
pub mod input;
mod key;
pub mod keymap;
pub mod settings_panel;
mod turns;
mod update;

use std::cell::Cell;
use std::time::Instant;

pub use chat::{ChatEntry, EntryKind};
use chat_list::ChatList;
use input::InputEditor;
use settings_panel::SettingsPanel;

use crate::conversation::{AnswerStats, ChatImage, Conversation};
use crate::engine::{EngineEvent, ModelInfo, RequestId};
use crate::session::{ChatMeta, ChatSummary, ExportFormat, LoadedChat};
use crate::settings::SamplingSettings;

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
    /// An image asked for by [`Effect::LoadImage`] finished loading (or failed, one line).
    ImageLoaded {
        source: String,
        result: Result<ChatImage, String>,
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
    /// A saved chat was read (asked for by [`Effect::OpenChat`]).
    ChatOpened(Result<Box<LoadedChat>, String>),
    /// Background file work (save, export, rename, delete, copy) reports a line.
    FileNotice { text: String, is_error: bool },
}

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
    LoadImage(String),
    /// Ask the engine for the prompt text of `conversation`; it comes back as an engine event.
    RenderPrompt(Conversation),
    /// Put `text` on the clipboard; reply with a [`Action::FileNotice`].
    Copy(String),
    /// Read the saved chats; reply with [`Action::ChatsListed`].
    ListChats,
    /// Read saved chat `id`; reply with [`Action::ChatOpened`].
    OpenChat(String),
    /// Rename saved chat `id`.
    RenameChat { id: String, title: String },
    /// Delete saved chat `id`.
    DeleteChat(String),
    /// Export the current chat (saved first) to `path`, or `./ID.md|json`.
    Export {
        format: ExportFormat,
        path: Option<String>,
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
    /// An answer streams into the last chat entry; `request` is known once the engine
    /// accepted it.
    Running {
        request: Option<RequestId>,
        settings: SamplingSettings,
        stop_requested: bool,
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

/// Everything the screen shows.
#[derive(Debug)]
pub struct State {
    pub start: StartInfo,
    pub model: ModelStatus,
    pub entries: Vec<ChatEntry>,
    pub conversation: Conversation,
    pub settings: SamplingSettings,
    pub input: InputEditor,
    /// An error about what was typed (a refused command), shown under the input.
    pub input_error: Option<String>,
    pub focus: Focus,
    pub help_open: bool,
    pub panel: SettingsPanel,
    pub generation: Generation,
    /// The image the next user turn carries.
    pub pending_image: Option<ChatImage>,
    /// The image shown in the image pane (the chat's latest).
    pub shown_image: Option<ChatImage>,
    /// A source being loaded, for the image pane.
    pub image_loading: Option<String>,
    pub notice: Option<Notice>,
    /// Lines scrolled up from the bottom of the chat; 0 follows the stream.
    pub scroll: usize,
    /// Ctrl-C was pressed with nothing to stop: the next one quits.
    pub ctrl_c_armed: bool,
    pub last_stats: Option<AnswerStats>,
    /// When the running answer was asked for, for the live elapsed time.
    pub generation_started_at: Option<Instant>,
    /// Tokens streamed into the running answer so far.
    pub streamed_tokens: usize,
    /// Tokens of the chat before the running answer (see [`State::context_tokens`]).
    pub used_tokens: usize,
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
            entries: Vec::new(),
            conversation: Conversation {
                system_prompt,
                turns: Vec::new(),
            },
            settings,
            input: InputEditor::default(),
            input_error: None,
            focus: Focus::Input,
            help_open: false,
            panel: SettingsPanel::default(),
            generation: Generation::Idle,
            pending_image: None,
            shown_image: None,
            image_loading: None,
            notice: None,
            scroll: 0,
            ctrl_c_armed: false,
            last_stats: None,
            generation_started_at: None,
            streamed_tokens: 0,
            used_tokens: 0,
            keymap: keymap::Keymap::default(),
            chat_viewport: Cell::new((80, 20)),
            chat: ChatMeta::new_chat(),
            revision: 0,
            chat_list: None,
            one_image_noted: false,
            earlier_turns_loading: false,
        }
    }

    /// Marks the chat as changed, for the autosaver.
    pub fn touch(&mut self) {
        self.revision += 1;
    }

    /// Shows a start-up problem (a bad config value) in the chat and the status bar.
    pub fn report_problem(&mut self, text: &str) {
        self.entries.push(ChatEntry::new(EntryKind::Notice, text));
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

    /// Approximate context used: tokens of every finished answer plus the running one, plus
    /// user text at about four characters a token. Kept as a running count so that a frame
    /// does not walk the whole history.
    pub fn context_tokens(&self) -> usize {
        self.used_tokens + self.streamed_tokens
    }
}
