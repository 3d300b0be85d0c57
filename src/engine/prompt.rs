//! Turning a [`Conversation`] into the messages mistral.rs renders with the chat template.
//!
//! LLaVA-1.5 gets special care. llava-hf's own template iterates over content parts, but
//! mistral.rs 0.8.1 flattens LLaVA messages to plain strings first, so that template drops the
//! user's question. vchat therefore renders LLaVA-1.5 with its own string template, which gives
//! the same text as the Hugging Face processor: `USER: <image>\n{question} ASSISTANT:`.

use either::Either;
use image::DynamicImage;
use indexmap::IndexMap;
use mistralrs::{MessageContent, ModelCategory};
use serde_json::Value;

use crate::conversation::{Conversation, Turn};

/// vchat's LLaVA-1.5 template: llava-hf's template for string content, where the image
/// turn's text already starts with `<image>\n`. A conversation that ends with an answer (a
/// stopped answer to continue) ends with that answer's text, left open for the model.
pub const LLAVA15_TEMPLATE: &str = "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': ' }}{% endif %}{% if loop.last and message['role'] == 'assistant' %}{{ message['content'] }}{% else %}{{ message['content'] + ' ' }}{% endif %}{% endfor %}{% if add_generation_prompt and messages[-1]['role'] != 'assistant' %}{{ 'ASSISTANT:' }}{% endif %}";

/// How prompts are built for a model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptStyle {
    /// LLaVA-1.5: vchat's template, one image per request.
    Llava15,
    /// Any other model: its own template, images prefixed by mistral.rs's prefixer.
    Native { one_image_per_request: bool },
}

impl PromptStyle {
    pub fn for_architecture(architecture: Option<&str>) -> Self {
        match architecture {
            // A hub model's architecture is unknown until it is downloaded; the default model
            // is LLaVA-1.5, and so are most hub ids given here, but be safe: use its template.
            Some("LlavaForConditionalGeneration") => Self::Llava15,
            // Their processors (and mistral.rs's) take one image per prompt; a second one
            // fails the request.
            Some("LlavaNextForConditionalGeneration" | "Phi3VForCausalLM") => Self::Native {
                one_image_per_request: true,
            },
            Some(_) => Self::Native {
                one_image_per_request: false,
            },
            None => Self::Native {
                one_image_per_request: true,
            },
        }
    }

    pub fn template_override(self) -> Option<&'static str> {
        match self {
            Self::Llava15 => Some(LLAVA15_TEMPLATE),
            Self::Native { .. } => None,
        }
    }

    pub fn one_image_per_request(self) -> bool {
        match self {
            Self::Llava15 => true,
            Self::Native {
                one_image_per_request,
            } => one_image_per_request,
        }
    }
}

/// The messages and images of one request.
pub struct PreparedPrompt {
    pub messages: Vec<IndexMap<String, MessageContent>>,
    pub images: Vec<DynamicImage>,
}

/// Builds the request messages. With one image per request, only the chat's latest image is
/// sent and the others are named in their turn's text instead.
pub fn prepare(
    style: PromptStyle,
    conversation: &Conversation,
    category: &ModelCategory,
) -> PreparedPrompt {
    let latest_image = conversation.latest_image_turn();
    let mut messages = Vec::new();
    let mut images = Vec::new();
    if let Some(system) = conversation
        .system_prompt
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        messages.push(text_message("system", system));
    }
    for (index, turn) in conversation.turns.iter().enumerate() {
        match turn {
            Turn::Assistant(answer) => messages.push(text_message("assistant", &answer.text)),
            Turn::User(user) => {
                let (unsent, sent) =
                    user.split_images(style.one_image_per_request(), Some(index) == latest_image);
                let text = user.text_naming(unsent);
                if sent.is_empty() {
                    messages.push(text_message("user", &text));
                } else {
                    let indices: Vec<usize> = (images.len()..images.len() + sent.len()).collect();
                    images.extend(sent.iter().map(|image| (*image.pixels).clone()));
                    messages.push(image_message(style, category, indices, &text));
                }
            }
        }
    }
    PreparedPrompt { messages, images }
}

fn text_message(role: &str, text: &str) -> IndexMap<String, MessageContent> {
    IndexMap::from([
        ("role".to_string(), Either::Left(role.to_string())),
        ("content".to_string(), Either::Left(text.to_string())),
    ])
}

fn image_message(
    style: PromptStyle,
    category: &ModelCategory,
    image_indices: Vec<usize>,
    text: &str,
) -> IndexMap<String, MessageContent> {
    match style {
        // One image per request: `image_indices` holds exactly one.
        PromptStyle::Llava15 => text_message("user", &format!("<image>\n{text}")),
        PromptStyle::Native { .. } => {
            // As mistral.rs's own request builder does: an image part per image, then the
            // text with the model's prefixer applied.
            let image_parts = image_indices.len();
            let text = match category {
                ModelCategory::Multimodal { prefixer } => {
                    prefixer.prefix_image(image_indices, text)
                }
                _ => text.to_string(),
            };
            let mut parts: Vec<IndexMap<String, Value>> = (0..image_parts)
                .map(|_| IndexMap::from([("type".to_string(), Value::String("image".into()))]))
                .collect();
            parts.push(IndexMap::from([
                ("type".to_string(), Value::String("text".into())),
                ("text".to_string(), Value::String(text)),
            ]));
            IndexMap::from([
                ("role".to_string(), Either::Left("user".to_string())),
                ("content".to_string(), Either::Right(parts)),
            ])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_that_see_one_image_per_request_get_only_the_latest() {
        for one in [
            "LlavaForConditionalGeneration",
            "LlavaNextForConditionalGeneration",
            "Phi3VForCausalLM",
        ] {
            assert!(
                PromptStyle::for_architecture(Some(one)).one_image_per_request(),
                "{one}"
            );
        }
        for several in [
            "Qwen2_5_VLForConditionalGeneration",
            "Qwen3VLForConditionalGeneration",
            "Gemma3ForConditionalGeneration",
        ] {
            assert!(
                !PromptStyle::for_architecture(Some(several)).one_image_per_request(),
                "{several}"
            );
        }
    }

    /// A model that sees one image per request gets the chat's newest image, the last one of
    /// a message holding several; every other image is named in its message instead. A model
    /// that takes several gets each message's images, all of them.
    #[test]
    fn which_images_go_to_the_model() {
        use crate::conversation::{ChatImage, Conversation};
        let image = |label: &str, side: u32| {
            ChatImage::from_pixels(label, image::DynamicImage::new_rgb8(side, side))
        };
        let mut chat = Conversation::default();
        chat.push_user("first", Some(image("a.png", 2)));
        chat.push_user("second", vec![image("b.png", 3), image("c.png", 4)]);
        chat.push_user("third", None);
        let text = |m: &IndexMap<String, MessageContent>| match &m["content"] {
            Either::Left(text) => text.clone(),
            Either::Right(parts) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect(),
        };
        let one = prepare(PromptStyle::Llava15, &chat, &ModelCategory::Text);
        assert_eq!(one.images.len(), 1);
        assert_eq!(one.images[0].width(), 4, "the newest image");
        let texts: Vec<String> = one.messages.iter().map(text).collect();
        assert_eq!(
            texts,
            [
                "[earlier image: a.png]\nfirst",
                "<image>\n[earlier image: b.png]\nsecond",
                "third"
            ]
        );
        let several = PromptStyle::Native {
            one_image_per_request: false,
        };
        let all = prepare(several, &chat, &ModelCategory::Text);
        let sides: Vec<u32> = all.images.iter().map(|i| i.width()).collect();
        assert_eq!(sides, [2, 3, 4]);
        let image_parts = |m: &IndexMap<String, MessageContent>| match &m["content"] {
            Either::Left(_) => 0,
            Either::Right(parts) => parts.iter().filter(|p| p["type"] == "image").count(),
        };
        let counts: Vec<usize> = all.messages.iter().map(image_parts).collect();
        assert_eq!(counts, [1, 2, 0]);
    }
}
