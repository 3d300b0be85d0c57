//! The chat file: versioned JSON, one file per chat. Images are not inside: a turn names its
//! image by content hash, and the image file is stored once beside all chats.

use serde::{Deserialize, Serialize};

use crate::conversation::AnswerStats;
use crate::settings::SamplingSettings;

/// The format this vchat writes. A file with a higher number was written by a newer vchat
/// and is left alone.
pub const FORMAT_VERSION: u32 = 1;

/// One saved chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatFile {
    /// [`FORMAT_VERSION`] when written.
    pub format: u32,
    /// The chat's id: its file name without `.json`, and what `vchat export ID` takes.
    pub id: String,
    pub title: String,
    /// Seconds since the Unix epoch.
    pub created: i64,
    /// Seconds since the Unix epoch of the last save.
    pub updated: i64,
    /// Kept in the file so that listing chats does not have to read every turn.
    pub turn_count: usize,
    #[serde(default)]
    pub system_prompt: Option<String>,
    pub turns: Vec<TurnRecord>,
}

/// One turn as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum TurnRecord {
    User {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image: Option<ImageRecord>,
    },
    Assistant {
        text: String,
        settings: SamplingSettings,
        #[serde(default)]
        stats: Option<AnswerStats>,
        /// The model (and backend) that produced this answer.
        #[serde(default)]
        answered_by: Option<String>,
    },
}

/// An image of a user turn: the name the user gave it and the stored file (hash.extension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub label: String,
    pub file: String,
}

/// What a chat list needs, read without the turns (serde skips them unparsed).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatSummary {
    pub format: u32,
    pub id: String,
    pub title: String,
    pub updated: i64,
    pub turn_count: usize,
}

/// Just the version, to tell "newer vchat" from "corrupt" when a file does not parse.
#[derive(Deserialize)]
pub(super) struct FormatOnly {
    pub format: u32,
}
