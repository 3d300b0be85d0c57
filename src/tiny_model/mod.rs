//! Writes a randomly initialised LLaVA-1.5 in the llava-hf layout, so that vchat (and its tests)
//! can run the real mistral.rs loading and generation path without downloading weights.
//!
//! The same seed always gives the same files, byte for byte.

mod tokenizer;
mod weights;

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

pub use tokenizer::TokenizerFlavour;

/// Sizes of the model to write.
#[derive(Debug, Clone)]
pub struct TinyLlavaSpec {
    pub text_hidden: usize,
    pub text_layers: usize,
    pub text_heads: usize,
    pub text_kv_heads: usize,
    pub text_intermediate: usize,
    pub vision_hidden: usize,
    pub vision_layers: usize,
    pub vision_heads: usize,
    pub vision_intermediate: usize,
    /// Side of the square image the vision tower sees; 336 gives LLaVA-1.5's 576 image tokens.
    pub image_size: usize,
    pub patch_size: usize,
    pub tokenizer: TokenizerFlavour,
    /// The vocabulary's size at least (the extra ids are never produced: their head rows are 0).
    pub min_vocab: usize,
    pub dtype: WeightDtype,
    pub seed: u64,
}

/// The weights' type in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightDtype {
    F32,
    /// Half the bytes: a 7B model in 14 GB (what a GPU runs it in).
    Bf16,
}

impl TinyLlavaSpec {
    /// The tiny model the tests use: loads in milliseconds, generates thousands of tokens/s.
    pub fn tiny() -> Self {
        Self {
            text_hidden: 64,
            text_layers: 2,
            text_heads: 4,
            text_kv_heads: 2,
            text_intermediate: 128,
            vision_hidden: 32,
            vision_layers: 2,
            vision_heads: 2,
            vision_intermediate: 64,
            image_size: 336,
            patch_size: 14,
            tokenizer: TokenizerFlavour::Small,
            min_vocab: 0,
            dtype: WeightDtype::F32,
            seed: 1234,
        }
    }

    /// A larger random model where compute dominates, for benchmarks (about 108M parameters).
    pub fn large() -> Self {
        Self {
            text_hidden: 1024,
            text_layers: 8,
            text_heads: 16,
            text_kv_heads: 16,
            text_intermediate: 2816,
            vision_hidden: 256,
            vision_layers: 4,
            vision_heads: 4,
            vision_intermediate: 1024,
            ..Self::tiny()
        }
    }

    /// LLaVA-1.5-7B's shape (Llama-2-7B with its 32064-token vocabulary, CLIP ViT-L/14 at 336
    /// pixels), in BF16: 7.1B random parameters, for measuring a GPU without downloading weights.
    pub fn llava_7b() -> Self {
        Self {
            text_hidden: 4096,
            text_layers: 32,
            text_heads: 32,
            text_kv_heads: 32,
            text_intermediate: 11008,
            vision_hidden: 1024,
            vision_layers: 24,
            vision_heads: 16,
            vision_intermediate: 4096,
            min_vocab: 32064,
            dtype: WeightDtype::Bf16,
            ..Self::tiny()
        }
    }
}

/// Writes the model files into `dir` (created if missing).
pub fn write_tiny_llava(dir: &Path, spec: &TinyLlavaSpec) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut vocab = tokenizer::build(spec.tokenizer);
    vocab.pad_to(spec.min_vocab);
    let write = |name: &str, value: &serde_json::Value| -> Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        std::fs::write(dir.join(name), text).with_context(|| format!("cannot write {name}"))
    };

    write("tokenizer.json", &vocab.tokenizer_json)?;
    write("tokenizer_config.json", &tokenizer::tokenizer_config())?;
    write(
        "chat_template.json",
        &json!({ "chat_template": tokenizer::LLAVA_HF_CHAT_TEMPLATE }),
    )?;
    write(
        "special_tokens_map.json",
        &json!({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}),
    )?;
    write("config.json", &config_json(spec, &vocab))?;
    write(
        "generation_config.json",
        &json!({"bos_token_id": vocab.bos_id, "eos_token_id": vocab.eos_id, "pad_token_id": vocab.pad_id}),
    )?;
    write("preprocessor_config.json", &preprocessor_config(spec))?;
    write(
        "processor_config.json",
        &json!({
            "image_token": "<image>",
            "num_additional_image_tokens": 1,
            "patch_size": spec.patch_size,
            "processor_class": "LlavaProcessor",
            "vision_feature_select_strategy": "default"
        }),
    )?;
    weights::write(&dir.join("model.safetensors"), spec, &vocab)?;
    write_example_image(&dir.join("example.png"), spec.seed)
}

/// A colourful test picture beside the model, so that a first try needs no image of one's own.
fn write_example_image(path: &Path, seed: u64) -> Result<()> {
    pattern_image((seed % 7) as u32)
        .save(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A 336 × 336 colour pattern (LLaVA-1.5's input size, so no resizing is involved); each
/// `variant` gives other pixels. Also the tests' images.
pub fn pattern_image(variant: u32) -> image::DynamicImage {
    let v = variant;
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(336, 336, |x, y| {
        image::Rgb([
            (x * (v + 1) % 256) as u8,
            (y * (v + 2) % 256) as u8,
            ((x + y) * (v + 3) % 256) as u8,
        ])
    }))
}

fn config_json(spec: &TinyLlavaSpec, vocab: &tokenizer::Vocab) -> serde_json::Value {
    let torch_dtype = match spec.dtype {
        WeightDtype::F32 => "float32",
        WeightDtype::Bf16 => "bfloat16",
    };
    json!({
        "architectures": ["LlavaForConditionalGeneration"],
        "model_type": "llava",
        "ignore_index": -100,
        "image_token_index": vocab.image_id,
        "image_seq_length": (spec.image_size / spec.patch_size).pow(2),
        "pad_token_id": vocab.pad_id,
        "projector_hidden_act": "gelu",
        "vision_feature_layer": -2,
        "vision_feature_select_strategy": "default",
        "tie_word_embeddings": false,
        "torch_dtype": torch_dtype,
        "vocab_size": vocab.vocab_size,
        "text_config": {
            "model_type": "llama",
            "architectures": ["LlamaForCausalLM"],
            "hidden_size": spec.text_hidden,
            "intermediate_size": spec.text_intermediate,
            "num_hidden_layers": spec.text_layers,
            "num_attention_heads": spec.text_heads,
            "num_key_value_heads": spec.text_kv_heads,
            "vocab_size": vocab.vocab_size,
            "max_position_embeddings": 4096,
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "hidden_act": "silu",
            "tie_word_embeddings": false,
            "bos_token_id": vocab.bos_id,
            "eos_token_id": vocab.eos_id,
            "pad_token_id": vocab.pad_id,
            "torch_dtype": torch_dtype
        },
        "vision_config": {
            "model_type": "clip_vision_model",
            "hidden_size": spec.vision_hidden,
            "intermediate_size": spec.vision_intermediate,
            "num_hidden_layers": spec.vision_layers,
            "num_attention_heads": spec.vision_heads,
            "image_size": spec.image_size,
            "patch_size": spec.patch_size,
            "num_channels": 3,
            "hidden_act": "quick_gelu",
            "layer_norm_eps": 1e-5,
            "projection_dim": spec.text_hidden,
            "vocab_size": 32000
        }
    })
}

fn preprocessor_config(spec: &TinyLlavaSpec) -> serde_json::Value {
    json!({
        "crop_size": {"height": spec.image_size, "width": spec.image_size},
        "do_center_crop": true,
        "do_convert_rgb": true,
        "do_normalize": true,
        "do_rescale": true,
        "do_resize": true,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "image_processor_type": "CLIPImageProcessor",
        "processor_class": "LlavaProcessor",
        "resample": 3,
        "rescale_factor": 0.00392156862745098,
        "size": {"shortest_edge": spec.image_size}
    })
}
