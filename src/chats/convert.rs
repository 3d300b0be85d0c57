//! Between a [`Conversation`] in memory and a [`ChatFile`] on disk.

use std::collections::HashMap;
use std::sync::Arc;

use super::format::{
    BranchRecord, BranchesRecord, ChatFile, ImageRecord, TurnRecord, FORMAT_VERSION,
    ONE_IMAGE_FORMAT, SEVERAL_IMAGES_FORMAT,
};
use crate::branches::{Branch, Branches};
use crate::conversation::{AssistantTurn, ChatImage, Conversation, EncodedImage, Turn, UserTurn};

/// Who a chat is, apart from its turns.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMeta {
    pub id: String,
    /// `None` until the user names it: the first message then serves as title.
    pub title: Option<String>,
    /// Seconds since the Unix epoch.
    pub created: i64,
}

impl ChatMeta {
    /// A new chat, with an id made of the local time and a random suffix, e.g.
    /// `20261125-054201-3f9a`: sortable, and short enough to type after `vchat export`.
    pub fn new_chat() -> Self {
        let now = chrono::Local::now();
        let suffix = crate::rng::fresh_seed() & 0xffff;
        Self {
            id: format!("{}-{suffix:04x}", now.format("%Y%m%d-%H%M%S")),
            title: None,
            created: now.timestamp(),
        }
    }
}

/// The title a chat shows when the user gave none: its first message's first line.
pub fn default_title(conversation: &Conversation) -> String {
    let first = conversation.turns.iter().find_map(|t| match t {
        Turn::User(user) => Some(user),
        _ => None,
    });
    let text = first
        .and_then(|u| u.text.lines().find(|l| !l.trim().is_empty()))
        .map(str::trim)
        .unwrap_or("");
    let title: String = crate::text::one_line(text).chars().take(60).collect();
    if !title.is_empty() {
        title
    } else if let Some(image) = first.and_then(|u| u.images.first()) {
        format!("image {}", crate::text::one_line(&image.label))
    } else {
        "untitled chat".into()
    }
}

/// The file for `conversation`, with `partial` (an answer still streaming) as its last turn;
/// also the images it refers to, for the store to write once each.
pub fn to_file(
    meta: &ChatMeta,
    conversation: &Conversation,
    partial: Option<&AssistantTurn>,
) -> (ChatFile, Vec<Arc<EncodedImage>>) {
    let mut images: Vec<Arc<EncodedImage>> = Vec::new();
    let mut turns = turn_records(&conversation.turns, &mut images);
    turns.extend(partial.map(assistant_record));
    let branches = branches_record(&conversation.branches, &mut images);
    // The oldest format that holds this chat, so that an older vchat still opens it.
    let several_images = conversation.turns.iter().any(|t| match t {
        Turn::User(user) => user.images.len() > 1,
        Turn::Assistant(_) => false,
    });
    let format = if !branches.is_empty() {
        FORMAT_VERSION
    } else if several_images {
        SEVERAL_IMAGES_FORMAT
    } else {
        ONE_IMAGE_FORMAT
    };
    let file = ChatFile {
        format,
        id: meta.id.clone(),
        title: meta
            .title
            .clone()
            .unwrap_or_else(|| default_title(conversation)),
        created: meta.created,
        updated: chrono::Local::now().timestamp(),
        turn_count: turns.len(),
        system_prompt: conversation.system_prompt.clone(),
        turns,
        branches,
    };
    (file, images)
}

/// Records of `turns`, adding the images they use to `images` (once each).
fn turn_records(turns: &[Turn], images: &mut Vec<Arc<EncodedImage>>) -> Vec<TurnRecord> {
    turns
        .iter()
        .map(|turn| match turn {
            Turn::User(user) => {
                let records = user
                    .images
                    .iter()
                    .map(|image| {
                        if !images.iter().any(|i| i.sha256 == image.encoded.sha256) {
                            images.push(image.encoded.clone());
                        }
                        ImageRecord {
                            label: image.label.clone(),
                            file: image.encoded.file_name(),
                        }
                    })
                    .collect();
                TurnRecord::user(user.text.clone(), records)
            }
            Turn::Assistant(answer) => assistant_record(answer),
        })
        .collect()
}

fn branches_record(branches: &Branches, images: &mut Vec<Arc<EncodedImage>>) -> BranchesRecord {
    BranchesRecord {
        stored: branches
            .stored
            .iter()
            .map(|b| BranchRecord {
                at: b.at,
                number: b.number,
                turns: turn_records(&b.turns, images),
                nested: branches_record(&b.nested, images),
            })
            .collect(),
        shown: branches.shown.iter().map(|(&at, &n)| (at, n)).collect(),
    }
}

fn assistant_record(answer: &AssistantTurn) -> TurnRecord {
    TurnRecord::Assistant {
        text: answer.text.clone(),
        settings: answer.settings.clone(),
        stats: answer.stats.clone(),
        answered_by: answer.answered_by.clone(),
    }
}

/// The conversation of a loaded file; a turn whose images could not be read keeps its text
/// and the images that could. A file read in part (its last turns, for a first screen) gets
/// its other versions once it is read whole: their positions count every turn.
pub fn to_conversation(file: &ChatFile, images: &HashMap<String, ChatImage>) -> Conversation {
    let whole = file.turns.len() == file.turn_count;
    Conversation {
        system_prompt: file.system_prompt.clone(),
        turns: turns_of(&file.turns, images),
        branches: if whole {
            branches_of(&file.branches, images)
        } else {
            Branches::default()
        },
    }
}

fn turns_of(records: &[TurnRecord], images: &HashMap<String, ChatImage>) -> Vec<Turn> {
    records
        .iter()
        .map(|record| match record {
            TurnRecord::User { text, .. } => Turn::User(UserTurn {
                text: text.clone(),
                images: record
                    .image_records()
                    .filter_map(|r| {
                        let loaded = images.get(&r.file)?;
                        Some(ChatImage {
                            label: r.label.clone(),
                            ..loaded.clone()
                        })
                    })
                    .collect(),
            }),
            TurnRecord::Assistant {
                text,
                settings,
                stats,
                answered_by,
            } => Turn::Assistant(AssistantTurn {
                text: text.clone(),
                settings: settings.clone(),
                stats: stats.clone(),
                answered_by: answered_by.clone(),
            }),
        })
        .collect()
}

fn branches_of(record: &BranchesRecord, images: &HashMap<String, ChatImage>) -> Branches {
    Branches {
        stored: record
            .stored
            .iter()
            .map(|b| Branch {
                at: b.at,
                number: b.number,
                turns: turns_of(&b.turns, images),
                nested: branches_of(&b.nested, images),
            })
            .collect(),
        shown: record.shown.iter().copied().collect(),
    }
}

/// The meta of a loaded file.
pub fn meta_of(file: &ChatFile) -> ChatMeta {
    ChatMeta {
        id: file.id.clone(),
        title: Some(file.title.clone()),
        created: file.created,
    }
}
