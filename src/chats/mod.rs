//! Chats that last: saved as versioned JSON after every turn (and while an answer streams),
//! listed, reopened, renamed, deleted and exported. Every write of a chat file goes through
//! one ordered writer ([`ChatWriter`]); writes are atomic, so a crash or a kill leaves the
//! previous version of a chat readable.

mod atomic;
mod convert;
mod export;
mod format;
mod store;
mod writer;

pub use atomic::write_atomic;
pub use convert::{default_title, meta_of, to_conversation, to_file, ChatMeta};
pub use export::{export, to_markdown, ExportFormat};
pub use format::{
    BranchRecord, BranchesRecord, ChatFile, ChatSummary, ImageRecord, TurnRecord, FORMAT_VERSION,
};
pub use store::{is_chat_id, ChatStore, LoadedChat, StoreError};
pub use writer::ChatWriter;

/// Turns read before the first screen of a reopened chat; the earlier ones follow in the
/// background (a screen shows a few dozen at most).
pub const FIRST_SCREEN_TURNS: usize = 100;
