//! A [`Conversation`] and its sampling settings as an OpenAI chat-completions request body.

use std::io::Cursor;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::options::{RemoteImages, RemoteOptions};
use crate::conversation::{ChatImage, Conversation, Turn};
use crate::sampling::SamplingSettings;

/// The start of every image `data:` URL vchat sends (then the type, e.g. `png;base64,`).
const DATA_URL_PREFIX: &str = "data:image/";

/// The `messages` array: the system prompt, then every turn; images as `image_url` parts.
/// With [`RemoteImages::Latest`] only the newest image is sent, older ones are named in their
/// turn's text (as the local engine does for LLaVA-1.5).
pub fn messages(conversation: &Conversation, options: &RemoteOptions) -> Result<Value, String> {
    let latest_image = conversation.latest_image_turn();
    let mut messages = Vec::new();
    if let Some(system) = conversation
        .system_prompt
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        messages.push(json!({"role": "system", "content": system}));
    }
    for (index, turn) in conversation.turns.iter().enumerate() {
        match turn {
            Turn::Assistant(answer) => {
                messages.push(json!({"role": "assistant", "content": answer.text}));
            }
            Turn::User(user) => {
                let latest_only = options.images != RemoteImages::All;
                let (unsent, sent) = user.split_images(latest_only, Some(index) == latest_image);
                let text = user.text_naming(unsent);
                let message = if sent.is_empty() {
                    json!({"role": "user", "content": text})
                } else {
                    let mut parts = Vec::new();
                    for image in sent {
                        parts.push(json!({"type": "image_url", "image_url": {"url": image_url(image, options)?}}));
                    }
                    parts.push(json!({"type": "text", "text": text}));
                    json!({"role": "user", "content": parts})
                };
                messages.push(message);
            }
        }
    }
    Ok(Value::Array(messages))
}

/// The whole request body. Only settings that differ from "off" are sent, so that servers
/// which do not know a field (top_k, min_p, repetition_penalty are extensions) are not
/// bothered by it.
pub fn body(model: &str, messages: Value, settings: &SamplingSettings, seed: u64) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), messages);
    body.insert("stream".into(), json!(true));
    body.insert("max_tokens".into(), json!(settings.max_new_tokens));
    if settings.is_greedy() {
        // Temperature 0 is greedy decoding on vLLM, mistral.rs, llama.cpp and Ollama.
        body.insert("temperature".into(), json!(0.0));
    } else {
        body.insert("temperature".into(), json!(settings.temperature));
        if settings.top_p < 1.0 {
            body.insert("top_p".into(), json!(settings.top_p));
        }
        if settings.top_k > 0 {
            body.insert("top_k".into(), json!(settings.top_k));
        }
        if settings.min_p > 0.0 {
            body.insert("min_p".into(), json!(settings.min_p));
        }
        body.insert("seed".into(), json!(seed));
    }
    if settings.repetition_penalty != 1.0 {
        // vLLM and mistral.rs call it repetition_penalty, llama.cpp repeat_penalty.
        let penalty = f64::from(settings.repetition_penalty);
        body.insert("repetition_penalty".into(), json!(penalty));
        body.insert("repeat_penalty".into(), json!(penalty));
    }
    Value::Object(body)
}

/// The messages as the prompt view shows them: exactly as sent, but with each image's data
/// replaced by its size.
pub fn prompt_view(messages: &Value) -> String {
    let mut shown = messages.clone();
    elide_images(&mut shown);
    serde_json::to_string_pretty(&shown).unwrap_or_default()
}

fn elide_images(value: &mut Value) {
    match value {
        Value::String(s) if s.starts_with(DATA_URL_PREFIX) => {
            if let Some((head, data)) = s.split_once(',') {
                *s = format!("{head},…({} bytes)", data.len());
            }
        }
        Value::Array(items) => items.iter_mut().for_each(elide_images),
        Value::Object(map) => map.values_mut().for_each(elide_images),
        _ => {}
    }
}

/// The URL the server fetches the image from: its own http(s) URL when the user asked for
/// that, else a `data:` URL with the image file itself (PNG or JPEG, when it was not
/// downscaled), or else its pixels as PNG: lossless, and the server sees what vchat shows.
fn image_url(image: &ChatImage, options: &RemoteOptions) -> Result<String, String> {
    let label = image.label.trim();
    if options.send_image_urls && (label.starts_with("http://") || label.starts_with("https://")) {
        return Ok(label.to_string());
    }
    let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    if let Some(mime) = original_type(image) {
        return Ok(format!(
            "data:{mime};base64,{}",
            base64(&image.encoded.bytes)
        ));
    }
    let mut png = Vec::new();
    image
        .pixels
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| format!("cannot encode the image {}: {e}", image.label))?;
    Ok(format!("data:image/png;base64,{}", base64(&png)))
}

/// The MIME type of the image's own file when every server can read it (PNG, JPEG) and it
/// holds exactly the pixels vchat decoded (a huge image is downscaled before use).
fn original_type(image: &ChatImage) -> Option<&'static str> {
    let mime = match image.encoded.extension {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        _ => return None,
    };
    let size = image::ImageReader::new(Cursor::new(&image.encoded.bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()?;
    (size == (image.pixels.width(), image.pixels.height())).then_some(mime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::AssistantTurn;

    fn image(label: &str) -> ChatImage {
        ChatImage::from_pixels(label, image::DynamicImage::new_rgb8(4, 4))
    }

    fn chat() -> Conversation {
        let mut c = Conversation {
            system_prompt: Some("Be brief.".into()),
            ..Default::default()
        };
        c.push_user("What is this?", Some(image("https://example.com/a.png")));
        c.push_assistant(AssistantTurn {
            text: "A cat.".into(),
            settings: SamplingSettings::default(),
            stats: None,
            answered_by: None,
        });
        c.push_user("And this?", Some(image("b.png")));
        c
    }

    #[test]
    fn only_the_latest_image_is_sent_by_default() {
        let options = RemoteOptions::new("http://h/v1");
        let messages = messages(&chat(), &options).unwrap();
        assert_eq!(
            messages[0],
            json!({"role": "system", "content": "Be brief."})
        );
        assert_eq!(
            messages[1]["content"],
            json!("[earlier image: https://example.com/a.png]\nWhat is this?")
        );
        assert_eq!(
            messages[2],
            json!({"role": "assistant", "content": "A cat."})
        );
        let url = messages[3]["content"][0]["image_url"]["url"]
            .as_str()
            .unwrap();
        assert!(url.starts_with("data:image/png;base64,iVBOR"), "{url}");
        assert_eq!(messages[3]["content"][1]["text"], json!("And this?"));
    }

    #[test]
    fn all_images_and_url_pass_through() {
        let mut options = RemoteOptions::new("http://h/v1");
        options.images = RemoteImages::All;
        options.send_image_urls = true;
        let messages = messages(&chat(), &options).unwrap();
        assert_eq!(
            messages[1]["content"][0]["image_url"]["url"],
            json!("https://example.com/a.png")
        );
        assert!(messages[3]["content"][0]["image_url"]["url"]
            .as_str()
            .unwrap()
            .starts_with("data:"));
    }

    #[test]
    fn a_jpeg_file_is_sent_as_it_is_and_a_downscaled_one_as_png() {
        let pixels = image::DynamicImage::new_rgb8(8, 6);
        let mut jpeg = Vec::new();
        pixels
            .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
            .unwrap();
        let options = RemoteOptions::new("http://h/v1");
        let as_is = ChatImage::new("a.jpg", jpeg.clone(), pixels.clone());
        let expected = format!(
            "data:image/jpeg;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&jpeg)
        );
        assert_eq!(image_url(&as_is, &options).unwrap(), expected);
        let smaller = ChatImage::new("a.jpg", jpeg, pixels.thumbnail(4, 3));
        assert!(image_url(&smaller, &options)
            .unwrap()
            .starts_with("data:image/png;base64,"));
    }

    #[test]
    fn the_prompt_view_elides_image_data() {
        let options = RemoteOptions::new("http://h/v1");
        let view = prompt_view(&messages(&chat(), &options).unwrap());
        assert!(view.contains("\"data:image/png;base64,…("), "{view}");
        assert!(view.contains(" bytes)\""), "{view}");
        assert!(!view.contains("iVBOR"), "{view}");
    }

    #[test]
    fn every_setting_maps_to_its_field() {
        let sampled = SamplingSettings {
            temperature: 0.7,
            top_p: 0.9,
            top_k: 40,
            min_p: 0.05,
            max_new_tokens: 64,
            repetition_penalty: 1.5,
            ..SamplingSettings::default()
        };
        let body = body("m", json!([]), &sampled, 7);
        assert_eq!(body["model"], json!("m"));
        assert_eq!(body["stream"], json!(true));
        assert_eq!(body["temperature"], json!(0.7));
        assert_eq!(body["top_p"], json!(0.9));
        assert_eq!(body["top_k"], json!(40));
        assert_eq!(body["min_p"], json!(0.05));
        assert_eq!(body["max_tokens"], json!(64));
        assert_eq!(body["repetition_penalty"], json!(1.5));
        assert_eq!(body["seed"], json!(7));

        let greedy = SamplingSettings {
            do_sample: false,
            ..SamplingSettings::default()
        };
        let body = super::body("m", json!([]), &greedy, 7);
        assert_eq!(body["temperature"], json!(0.0));
        for absent in ["top_p", "top_k", "min_p", "seed", "repetition_penalty"] {
            assert!(body.get(absent).is_none(), "{absent} in {body}");
        }
    }
}
