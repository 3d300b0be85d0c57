//! A chat as data: a system prompt, then turns of user text (with the images attached to it) and the
//! assistant's answers, each answer recording the settings and stats it was made with.

use std::sync::Arc;
use std::time::Duration;

use image::DynamicImage;
use serde::{Deserialize, Serialize};

use crate::sampling::SamplingSettings;

/// An image attached to a user turn, with the name it was loaded from (a file name or URL).
#[derive(Debug, Clone)]
pub struct ChatImage {
    /// Where the image came from, as the user gave it; shown in place of older images.
    pub label: String,
    /// The decoded (and, if huge, downscaled) pixels.
    pub pixels: Arc<DynamicImage>,
    /// The file as it was loaded, kept so that a saved chat stores the image itself.
    pub encoded: Arc<EncodedImage>,
}

/// An image file's bytes and their content hash (images are stored once per hash).
#[derive(Debug)]
pub struct EncodedImage {
    pub bytes: Vec<u8>,
    /// Lower-case hex SHA-256 of `bytes`.
    pub sha256: String,
    /// The file name extension of its format (`png`, `jpg`, …).
    pub extension: &'static str,
}

impl EncodedImage {
    /// Wraps the bytes of an image file, hashing them.
    pub fn new(bytes: Vec<u8>) -> Self {
        use sha2::{Digest, Sha256};
        let sha256 = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let extension = image::guess_format(&bytes)
            .ok()
            .and_then(|f| f.extensions_str().first().copied())
            .unwrap_or("img");
        Self {
            bytes,
            sha256,
            extension,
        }
    }

    /// The name the image is stored under: its hash and extension.
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.sha256, self.extension)
    }
}

impl ChatImage {
    /// An image from its file's bytes and the pixels decoded from them.
    pub fn new(label: impl Into<String>, bytes: Vec<u8>, pixels: DynamicImage) -> Self {
        Self {
            label: label.into(),
            pixels: Arc::new(pixels),
            encoded: Arc::new(EncodedImage::new(bytes)),
        }
    }

    /// The same image under the same name (the same bytes may be attached under two names).
    pub fn same_as(&self, other: &ChatImage) -> bool {
        self.encoded.sha256 == other.encoded.sha256 && self.label == other.label
    }

    /// An image made in memory (no file behind it): stored as PNG.
    pub fn from_pixels(label: impl Into<String>, pixels: DynamicImage) -> Self {
        let mut png = Vec::new();
        // Writing PNG into memory cannot fail for the colour types `image` decodes to.
        let _ = pixels.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png);
        Self::new(label, png, pixels)
    }
}

/// What the user said in one turn.
#[derive(Debug, Clone)]
pub struct UserTurn {
    pub text: String,
    /// The images attached to this message, in the order the model sees them (a model that
    /// takes one image per request gets only the chat's latest; see `engine::prompt`).
    pub images: Vec<ChatImage>,
}

impl UserTurn {
    /// Splits this turn's images into those only named in its text and those sent to the
    /// model. All are sent unless the model sees one image per request (`latest_only`): then
    /// only the chat's latest image is, the last one of the latest turn with images.
    pub fn split_images(
        &self,
        latest_only: bool,
        is_latest_image_turn: bool,
    ) -> (&[ChatImage], &[ChatImage]) {
        if !latest_only {
            (&[], &self.images)
        } else if is_latest_image_turn && !self.images.is_empty() {
            self.images.split_at(self.images.len() - 1)
        } else {
            (&self.images, &[])
        }
    }

    /// The turn's text, after a placeholder line for each image that is not sent.
    pub fn text_naming(&self, unsent: &[ChatImage]) -> String {
        let mut text = String::new();
        for image in unsent {
            text.push_str(&image_placeholder(&image.label));
            text.push('\n');
        }
        text.push_str(&self.text);
        text
    }
}

/// Why an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model produced its end-of-sequence token.
    Stop,
    /// The `max_tokens` limit was reached.
    Length,
    /// The user stopped it; the text so far is kept.
    Cancelled,
    /// The engine failed part-way; the text so far is kept.
    Error,
    /// vchat ended while the answer streamed (quit, hang-up, kill); saved as far as it got.
    Interrupted,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::Cancelled => "stopped by user",
            Self::Error => "error",
            Self::Interrupted => "interrupted",
        }
    }
}

/// Measurements of one answer, taken by vchat itself (mistral.rs's usage counts are wrong when
/// an image is present).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerStats {
    pub finish: FinishReason,
    /// Tokens the model generated (each sampled token, including the end-of-sequence token).
    pub tokens: usize,
    /// From the request to the first token of the answer.
    pub time_to_first_token: Duration,
    /// Generated tokens after the first one, per second of decoding.
    pub tokens_per_second: f64,
    /// The sampler seed used, when sampling (so a sampled answer can be reproduced).
    pub seed: Option<u64>,
    /// The prompt the answer was generated from, as the model ran it (older chats: unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptSize>,
}

/// How long a prompt was as the model ran it: images expanded to the positions they take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptSize {
    /// Every position of the prompt: text, template and image positions.
    pub tokens: usize,
    /// Images sent with the request (a clip counts its frames, or 1 for a contact sheet).
    pub images: usize,
    /// Positions that stand for those images, when the model's config names its image token.
    pub image_tokens: Option<usize>,
}

impl PromptSize {
    /// "4721 tokens, 4608 of them for 8 images (576 each)".
    pub fn describe(&self) -> String {
        match self.image_tokens {
            Some(image_tokens) if self.images > 0 => {
                let each = image_tokens / self.images;
                // Images of different sizes cost Qwen different counts.
                let about = if image_tokens % self.images == 0 {
                    ""
                } else {
                    "about "
                };
                format!(
                    "{} tokens, {image_tokens} of them for {} ({about}{each} each)",
                    self.tokens,
                    plural(self.images, "image"),
                )
            }
            _ => format!("{} tokens", self.tokens),
        }
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

impl AnswerStats {
    /// A one-line summary for `--stats` and the UI.
    pub fn summary(&self) -> String {
        if self.finish == FinishReason::Interrupted {
            // Saved mid-stream: no timing was measured.
            return format!("{} tokens · {}", self.tokens, self.finish.as_str());
        }
        format!(
            "{} tokens · first token {:.2} s · {:.1} tokens/s · {}",
            self.tokens,
            self.time_to_first_token.as_secs_f64(),
            self.tokens_per_second,
            self.finish.as_str()
        )
    }
}

/// Tokens per second of decoding, rounded to 0.001: nobody needs more, and a number with few
/// digits reads back from a saved chat exactly.
pub fn decode_rate(tokens: usize, seconds: f64) -> f64 {
    if tokens == 0 || seconds <= 0.0 {
        return 0.0;
    }
    (tokens as f64 / seconds * 1000.0).round() / 1000.0
}

/// One answer of the assistant.
#[derive(Debug, Clone)]
pub struct AssistantTurn {
    pub text: String,
    pub settings: SamplingSettings,
    pub stats: Option<AnswerStats>,
    /// The model (and backend) that answered, as the status bar names it.
    pub answered_by: Option<String>,
}

/// One turn of the chat.
#[derive(Debug, Clone)]
pub enum Turn {
    User(UserTurn),
    Assistant(AssistantTurn),
}

/// A whole chat.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    pub system_prompt: Option<String>,
    /// The version of the chat on screen: what the model is sent.
    pub turns: Vec<Turn>,
    /// The other versions, left by regenerates and edits.
    pub branches: crate::branches::Branches,
}

impl Conversation {
    /// The turns with their other versions, to fork or switch versions.
    pub fn versions(&mut self) -> crate::branches::TurnsAndBranches<'_> {
        crate::branches::TurnsAndBranches {
            turns: &mut self.turns,
            branches: &mut self.branches,
        }
    }

    /// Appends a user turn with its images (`None`, `Some(image)` or a list).
    pub fn push_user(
        &mut self,
        text: impl Into<String>,
        images: impl IntoIterator<Item = ChatImage>,
    ) {
        self.turns.push(Turn::User(UserTurn {
            text: text.into(),
            images: images.into_iter().collect(),
        }));
    }

    /// Appends an answer.
    pub fn push_assistant(&mut self, answer: AssistantTurn) {
        self.turns.push(Turn::Assistant(answer));
    }

    /// Index (into `turns`) of the user turn holding the most recent image, if any.
    pub fn latest_image_turn(&self) -> Option<usize> {
        self.turns
            .iter()
            .rposition(|t| matches!(t, Turn::User(user) if !user.images.is_empty()))
    }

    /// The chat's images in the order they were attached.
    pub fn images(&self) -> impl Iterator<Item = &ChatImage> {
        self.turns.iter().flat_map(|t| match t {
            Turn::User(user) => user.images.as_slice(),
            Turn::Assistant(_) => &[],
        })
    }

    /// Number of user turns: `/edit N` counts them from 1.
    pub fn user_turn_count(&self) -> usize {
        self.turns
            .iter()
            .filter(|t| matches!(t, Turn::User(_)))
            .count()
    }

    /// Number of answers: `/copy N` counts them from 1.
    pub fn answer_count(&self) -> usize {
        self.turns
            .iter()
            .filter(|t| matches!(t, Turn::Assistant(_)))
            .count()
    }

    /// Number of images in the chat.
    pub fn image_count(&self) -> usize {
        self.images().count()
    }
}

/// How an image that is not sent to the model is mentioned in its turn's text instead.
pub fn image_placeholder(label: &str) -> String {
    format!("[earlier image: {label}]")
}

#[cfg(test)]
mod rate_tests {
    use super::decode_rate;

    #[test]
    fn decode_rates_read_back_from_json_exactly() {
        let mut rng = crate::rng::SplitMix64::new(5);
        for _ in 0..100_000 {
            let tokens = (rng.next_u64() % 5000) as usize + 1;
            let seconds = rng.next_f64() * 100.0 + 1e-4;
            let rate = decode_rate(tokens, seconds);
            let json = serde_json::to_string(&rate).unwrap();
            assert_eq!(serde_json::from_str::<f64>(&json).unwrap(), rate, "{json}");
        }
    }
}
