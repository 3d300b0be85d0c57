//! A small Llama-style BPE tokenizer (byte fallback, `▁` for spaces), in the `tokenizers` JSON
//! format that both mistral.rs and Hugging Face transformers read.

use serde_json::{json, Map, Value};

/// The chat template llava-hf/llava-1.5-7b-hf ships in `chat_template.json`: content is a list
/// of parts, images first, then text.
pub const LLAVA_HF_CHAT_TEMPLATE: &str = "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";

/// Which vocabulary to build. Two flavours let tests load a model whose tokenizer differs from
/// the usual tiny one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenizerFlavour {
    /// Bytes, printable ASCII and a few dozen common words.
    Small,
    /// The small vocabulary plus more words and merges: other ids for the same text.
    Extended,
}

const COMMON_WORDS: &[&str] = &[
    "▁the",
    "▁a",
    "▁is",
    "▁in",
    "▁of",
    "▁and",
    "▁to",
    "▁what",
    "▁What",
    "▁image",
    "▁this",
    "▁Describe",
    "▁describe",
    "▁picture",
    "▁photo",
    "▁color",
    "▁USER",
    "USER",
    "▁ASSISTANT",
    "ASSISTANT",
    "▁it",
    "▁there",
    "▁are",
    "▁you",
    "▁see",
    "▁cat",
    "▁dog",
    "▁red",
    "▁blue",
];

const EXTRA_WORDS: &[&str] = &[
    "▁with",
    "▁on",
    "▁for",
    "▁that",
    "▁shows",
    "▁green",
    "▁white",
    "▁black",
    "▁person",
    "▁sky",
    "▁tree",
    "▁car",
    "▁house",
    "▁water",
    "▁left",
    "▁right",
    "▁background",
    "ing",
    "ed",
    "▁How",
    "▁many",
    "▁Why",
    "▁where",
    "▁which",
    "▁colour",
    "▁tell",
    "▁me",
    "▁about",
];

/// The built tokenizer and the ids the model config needs.
pub struct Vocab {
    /// Ids that do not stand for text on their own (`<unk>`, `<s>`, bytes 0x80..=0xFF,
    /// `<image>`, `<pad>`, padding rows).
    pub non_text_ids: Vec<u32>,
    pub tokenizer_json: Value,
    pub bos_id: u32,
    pub eos_id: u32,
    pub image_id: u32,
    pub pad_id: u32,
    /// Embedding rows: all tokens, rounded up to a multiple of 64 as llava-hf does.
    pub vocab_size: usize,
}

impl Vocab {
    /// Grows the vocabulary to `size` ids when it is smaller: the new ids are non-text (never
    /// produced), as the real LLaVA-1.5's padding ids are.
    pub fn pad_to(&mut self, size: usize) {
        if size > self.vocab_size {
            self.non_text_ids
                .extend(self.vocab_size as u32..size as u32);
            self.vocab_size = size;
        }
    }
}

pub fn build(flavour: TokenizerFlavour) -> Vocab {
    let mut vocab: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    vocab.extend((0..=255u8).map(|b| format!("<0x{b:02X}>")));
    vocab.push("▁".into());
    vocab.extend((33u8..=126).map(|b| (b as char).to_string()));

    let mut words: Vec<&str> = COMMON_WORDS.to_vec();
    if flavour == TokenizerFlavour::Extended {
        words.extend_from_slice(EXTRA_WORDS);
    }
    let merges = merges_for(&words, &mut vocab);

    let base_len = vocab.len() as u32;
    let image_id = base_len;
    let pad_id = base_len + 1;
    let vocab_map: Map<String, Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), json!(i)))
        .collect();

    let special = |id: u32, content: &str| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    let tokenizer_json = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [
            special(0, "<unk>"), special(1, "<s>"), special(2, "</s>"),
            special(image_id, "<image>"), special(pad_id, "<pad>")
        ],
        // As llava-hf's (non-legacy) Llama tokenizer: `▁` before the first piece of text only,
        // so that `<image>\n…` gets no stray space after the special token.
        "normalizer": null,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}
        ]},
        "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": "<unk>",
            "continuing_subword_prefix": null,
            "end_of_word_suffix": null,
            "fuse_unk": true,
            "byte_fallback": true,
            "ignore_merges": false,
            "vocab": vocab_map,
            "merges": merges
        }
    });
    let vocab_size = (pad_id as usize + 1).div_ceil(64) * 64;
    // Byte tokens 0x80..=0xFF only make text in valid UTF-8 runs, which a random model
    // rarely produces; the detokenizer holds them back, so answers would look empty.
    let high_bytes = (3 + 0x80)..(3 + 0x100);
    let non_text_ids = [0, 1]
        .into_iter()
        .chain(high_bytes)
        .chain(image_id..vocab_size as u32)
        .collect();
    Vocab {
        non_text_ids,
        tokenizer_json,
        bos_id: 1,
        eos_id: 2,
        image_id,
        pad_id,
        vocab_size,
    }
}

/// Left-to-right merges that build each word from its characters, adding every intermediate
/// piece to the vocabulary: a consistent BPE table by construction.
fn merges_for(words: &[&str], vocab: &mut Vec<String>) -> Vec<String> {
    let mut merges = Vec::new();
    for word in words {
        let chars: Vec<String> = word.chars().map(|c| c.to_string()).collect();
        let mut piece = chars[0].clone();
        for next in &chars[1..] {
            let merged = format!("{piece}{next}");
            if !vocab.contains(&merged) {
                merges.push(format!("{piece} {next}"));
                vocab.push(merged.clone());
            }
            piece = merged;
        }
    }
    merges
}

/// `tokenizer_config.json`: special tokens and the Llama tokenizer class, as llava-hf has it.
pub fn tokenizer_config() -> Value {
    json!({
        "add_bos_token": true,
        "add_eos_token": false,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "clean_up_tokenization_spaces": false,
        "model_max_length": 4096,
        "padding_side": "left",
        "processor_class": "LlavaProcessor",
        "tokenizer_class": "LlamaTokenizer",
        "legacy": false
    })
}
