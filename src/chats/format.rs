//! The chat file: versioned JSON Lines, one file per chat. The first line is the chat's header
//! (id, title, times, system prompt, number of turns), then one line per turn. Listing chats
//! reads first lines only, and opening a long chat can show its last turns before parsing the
//! rest. Images are not inside: a turn names its image by content hash, and the image file is
//! stored once beside all chats.

use serde::{Deserialize, Serialize};

use crate::conversation::AnswerStats;
use crate::sampling::SamplingSettings;

/// The newest format this vchat reads. A file with a higher number was written by a newer
/// vchat and is left alone. Format 2 added turns with several images (`images`), format 3 the
/// versions that regenerates and edits leave (`branches`, in the header line); a chat is
/// written in the oldest format that holds it, so that an older vchat opens what it can.
pub const FORMAT_VERSION: u32 = 3;

/// The format of a file with several images in a turn, and no other versions.
pub const SEVERAL_IMAGES_FORMAT: u32 = 2;

/// The format of a file whose turns hold at most one image each.
pub const ONE_IMAGE_FORMAT: u32 = 1;

/// The versions of a chat not on screen (format 3): see [`crate::branches`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BranchesRecord {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stored: Vec<BranchRecord>,
    /// At each fork of the turns on screen: (position, number of the version shown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shown: Vec<(usize, u32)>,
}

impl BranchesRecord {
    pub fn is_empty(&self) -> bool {
        self.stored.is_empty()
    }

    /// Every turn of every stored version, nested ones included.
    pub fn turns(&self) -> Box<dyn Iterator<Item = &TurnRecord> + '_> {
        Box::new(
            self.stored
                .iter()
                .flat_map(|b| b.turns.iter().chain(b.nested.turns())),
        )
    }
}

/// A version of the chat from turn `at` on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BranchRecord {
    pub at: usize,
    pub number: u32,
    pub turns: Vec<TurnRecord>,
    #[serde(default, skip_serializing_if = "BranchesRecord::is_empty")]
    pub nested: BranchesRecord,
}

/// One saved chat (also the shape of a JSON export).
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
    /// The other versions (format 3).
    #[serde(default, skip_serializing_if = "BranchesRecord::is_empty")]
    pub branches: BranchesRecord,
}

/// One turn as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum TurnRecord {
    User {
        text: String,
        /// A turn's only image (format 1, and format 2 when a turn has one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image: Option<ImageRecord>,
        /// A turn's images when it has more than one (format 2).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        images: Vec<ImageRecord>,
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

impl TurnRecord {
    /// A user turn with its images, in the field a reader of its format expects.
    pub fn user(text: String, mut images: Vec<ImageRecord>) -> Self {
        let image = if images.len() == 1 {
            images.pop()
        } else {
            None
        };
        Self::User {
            text,
            image,
            images,
        }
    }

    /// A user turn's images in order (none for an answer).
    pub fn image_records(&self) -> impl Iterator<Item = &ImageRecord> {
        let (one, several) = match self {
            Self::User { image, images, .. } => (image.as_ref(), images.as_slice()),
            Self::Assistant { .. } => (None, &[][..]),
        };
        one.into_iter().chain(several)
    }
}

/// An image of a user turn: the name the user gave it and the stored file (hash.extension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub label: String,
    pub file: String,
}

/// The first line of a chat file: everything but the turns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatSummary {
    pub format: u32,
    pub id: String,
    pub title: String,
    pub created: i64,
    pub updated: i64,
    pub turn_count: usize,
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// The other versions (format 3), in the header so that the turn lines stay one a turn.
    #[serde(default, skip_serializing_if = "BranchesRecord::is_empty")]
    pub branches: BranchesRecord,
}

impl ChatSummary {
    /// When the chat was last saved, in local time (`2026-11-25 07:12`), for lists.
    pub fn last_saved(&self) -> String {
        chrono::DateTime::from_timestamp(self.updated, 0)
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_default()
    }
}

/// Just the version, to tell "newer vchat" from "corrupt" when a header does not parse.
#[derive(Deserialize)]
struct FormatOnly {
    format: u32,
}

/// Why a chat file could not be read (the store adds the path).
#[derive(Debug, PartialEq)]
pub enum ParseError {
    Corrupt(String),
    Newer(u32),
}

/// The file's bytes: the header line, then a line per turn.
pub fn encode(file: &ChatFile) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = serde_json::to_vec(&summary_of(file))?;
    for turn in &file.turns {
        out.push(b'\n');
        // One line each: serde_json escapes newlines inside strings.
        serde_json::to_writer(&mut out, turn)?;
    }
    out.push(b'\n');
    Ok(out)
}

fn summary_of(file: &ChatFile) -> ChatSummary {
    ChatSummary {
        format: file.format,
        id: file.id.clone(),
        title: file.title.clone(),
        created: file.created,
        updated: file.updated,
        turn_count: file.turns.len(),
        system_prompt: file.system_prompt.clone(),
        branches: file.branches.clone(),
    }
}

/// Reads the header line.
pub fn decode_summary(bytes: &[u8]) -> Result<ChatSummary, ParseError> {
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    match serde_json::from_slice::<ChatSummary>(first) {
        Ok(summary) if summary.format > FORMAT_VERSION => Err(ParseError::Newer(summary.format)),
        Ok(summary) => Ok(summary),
        Err(e) => match serde_json::from_slice::<FormatOnly>(first) {
            Ok(only) if only.format > FORMAT_VERSION => Err(ParseError::Newer(only.format)),
            _ => Err(ParseError::Corrupt(format!("header: {e}"))),
        },
    }
}

/// Reads the whole file, or with `last` only its last `last` turns (then the returned index
/// says which turn comes first; the earlier ones are left unparsed).
pub fn decode(bytes: &[u8], last: Option<usize>) -> Result<(ChatFile, usize), ParseError> {
    let summary = decode_summary(bytes)?;
    let body = bytes
        .iter()
        .position(|&b| b == b'\n')
        .map_or(&[][..], |i| &bytes[i + 1..]);
    let lines: Vec<&[u8]> = match last {
        // From the end: only the lines wanted are looked at.
        Some(n) => {
            let mut lines: Vec<&[u8]> = body
                .trim_ascii_end()
                .rsplit(|&b| b == b'\n')
                .take(n)
                .collect();
            lines.reverse();
            lines
        }
        None => body.trim_ascii_end().split(|&b| b == b'\n').collect(),
    };
    let lines: Vec<&[u8]> = lines.into_iter().filter(|l| !l.is_empty()).collect();
    let first = summary.turn_count.saturating_sub(lines.len());
    if last.is_none() && lines.len() != summary.turn_count {
        return Err(ParseError::Corrupt(format!(
            "{} turns announced, {} found",
            summary.turn_count,
            lines.len()
        )));
    }
    let turns = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_slice::<TurnRecord>(line)
                .map_err(|e| ParseError::Corrupt(format!("turn {}: {e}", first + i + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let file = ChatFile {
        format: summary.format,
        id: summary.id,
        title: summary.title,
        created: summary.created,
        updated: summary.updated,
        turn_count: summary.turn_count,
        system_prompt: summary.system_prompt,
        turns,
        branches: summary.branches,
    };
    Ok((file, first))
}
