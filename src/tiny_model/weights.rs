//! Random weights under the llava-hf tensor names, written as F32 or BF16 safetensors.

use std::path::Path;

use std::io::{BufWriter, Write};

use anyhow::{Context, Result};

use super::tokenizer::Vocab;
use super::{TinyLlavaSpec, WeightDtype};
use crate::rng::SplitMix64;

/// Standard deviation of random matrices: large enough that the logits are decisive, so that
/// two correct implementations pick the same argmax despite rounding differences.
const INIT_STD: f32 = 0.05;

/// How a tensor's values are made: drawn in the order the tensors are added, so the same seed
/// gives the same weights whatever the file's dtype.
enum Values {
    Random,
    Constant(f32),
}

/// One tensor to write: generated only when its turn comes, so that a 7B-parameter model is
/// written without holding it in memory.
struct Tensor {
    name: String,
    shape: Vec<usize>,
    values: Values,
    /// Rows set to zero after drawing (the language model head's non-text tokens).
    zero_rows: Vec<usize>,
}

struct Builder {
    tensors: Vec<Tensor>,
}

impl Builder {
    fn random(&mut self, name: impl Into<String>, shape: &[usize]) {
        self.push(name, shape, Values::Random);
    }

    fn constant(&mut self, name: impl Into<String>, shape: &[usize], value: f32) {
        self.push(name, shape, Values::Constant(value));
    }

    fn push(&mut self, name: impl Into<String>, shape: &[usize], values: Values) {
        self.tensors.push(Tensor {
            name: name.into(),
            shape: shape.to_vec(),
            values,
            zero_rows: Vec::new(),
        });
    }

    /// A linear layer with bias (CLIP and the projector have biases; Llama does not).
    fn linear_with_bias(&mut self, prefix: &str, out: usize, inp: usize) {
        self.random(format!("{prefix}.weight"), &[out, inp]);
        self.random(format!("{prefix}.bias"), &[out]);
    }

    fn layer_norm(&mut self, prefix: &str, size: usize) {
        self.constant(format!("{prefix}.weight"), &[size], 1.0);
        self.constant(format!("{prefix}.bias"), &[size], 0.0);
    }
}

pub fn write(path: &Path, spec: &TinyLlavaSpec, vocab: &Vocab) -> Result<()> {
    let mut b = Builder {
        tensors: Vec::new(),
    };
    add_language_model(&mut b, spec, vocab);
    add_vision_tower(&mut b, spec);
    b.linear_with_bias(
        "multi_modal_projector.linear_1",
        spec.text_hidden,
        spec.vision_hidden,
    );
    b.linear_with_bias(
        "multi_modal_projector.linear_2",
        spec.text_hidden,
        spec.text_hidden,
    );
    write_safetensors(path, &b.tensors, spec)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The safetensors layout written by hand, one tensor at a time: an 8-byte header length, the
/// JSON header (names, dtypes, shapes, byte ranges; padded to 8 bytes), then the data.
fn write_safetensors(path: &Path, tensors: &[Tensor], spec: &TinyLlavaSpec) -> Result<()> {
    let (dtype, width) = match spec.dtype {
        WeightDtype::F32 => ("F32", 4),
        WeightDtype::Bf16 => ("BF16", 2),
    };
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!({"format": "pt"}));
    let mut offset = 0usize;
    for t in tensors {
        let bytes = t.shape.iter().product::<usize>() * width;
        header.insert(
            t.name.clone(),
            serde_json::json!({"dtype": dtype, "shape": t.shape, "data_offsets": [offset, offset + bytes]}),
        );
        offset += bytes;
    }
    let mut header = serde_json::to_vec(&header)?;
    header.resize(header.len().div_ceil(8) * 8, b' ');

    let mut out = BufWriter::with_capacity(1 << 22, std::fs::File::create(path)?);
    out.write_all(&(header.len() as u64).to_le_bytes())?;
    out.write_all(&header)?;
    let mut rng = SplitMix64::new(spec.seed);
    let mut raw = Vec::new();
    for t in tensors {
        let n: usize = t.shape.iter().product();
        let mut data: Vec<f32> = match t.values {
            Values::Random => (0..n).map(|_| rng.uniform_with_std(INIT_STD)).collect(),
            Values::Constant(value) => vec![value; n],
        };
        let row = t.shape.last().copied().unwrap_or(1);
        for &r in &t.zero_rows {
            data[r * row..(r + 1) * row].fill(0.0);
        }
        raw.clear();
        match spec.dtype {
            WeightDtype::F32 => raw.extend(data.iter().flat_map(|v| v.to_le_bytes())),
            // Round to nearest (ties away): random weights need no more care than that.
            WeightDtype::Bf16 => raw.extend(
                data.iter()
                    .flat_map(|v| (((v.to_bits() + 0x8000) >> 16) as u16).to_le_bytes()),
            ),
        }
        out.write_all(&raw)?;
    }
    out.flush()?;
    Ok(())
}

fn add_language_model(b: &mut Builder, spec: &TinyLlavaSpec, vocab: &Vocab) {
    let h = spec.text_hidden;
    let vocab_size = vocab.vocab_size;
    let head_dim = h / spec.text_heads;
    let kv = spec.text_kv_heads * head_dim;
    b.random("language_model.model.embed_tokens.weight", &[vocab_size, h]);
    for layer in 0..spec.text_layers {
        let p = format!("language_model.model.layers.{layer}");
        b.constant(format!("{p}.input_layernorm.weight"), &[h], 1.0);
        b.constant(format!("{p}.post_attention_layernorm.weight"), &[h], 1.0);
        b.random(format!("{p}.self_attn.q_proj.weight"), &[h, h]);
        b.random(format!("{p}.self_attn.k_proj.weight"), &[kv, h]);
        b.random(format!("{p}.self_attn.v_proj.weight"), &[kv, h]);
        b.random(format!("{p}.self_attn.o_proj.weight"), &[h, h]);
        b.random(
            format!("{p}.mlp.gate_proj.weight"),
            &[spec.text_intermediate, h],
        );
        b.random(
            format!("{p}.mlp.up_proj.weight"),
            &[spec.text_intermediate, h],
        );
        b.random(
            format!("{p}.mlp.down_proj.weight"),
            &[h, spec.text_intermediate],
        );
    }
    b.constant("language_model.model.norm.weight", &[h], 1.0);
    b.random("language_model.lm_head.weight", &[vocab_size, h]);
    // A zero row gives a zero logit, below the best text token's: the random model never
    // answers greedily with a token that decodes to nothing.
    let lm_head = b.tensors.last_mut().expect("just pushed");
    lm_head.zero_rows = vocab.non_text_ids.iter().map(|&id| id as usize).collect();
}

fn add_vision_tower(b: &mut Builder, spec: &TinyLlavaSpec) {
    let h = spec.vision_hidden;
    let positions = (spec.image_size / spec.patch_size).pow(2) + 1;
    let v = "vision_tower.vision_model";
    b.random(format!("{v}.embeddings.class_embedding"), &[h]);
    b.random(
        format!("{v}.embeddings.patch_embedding.weight"),
        &[h, 3, spec.patch_size, spec.patch_size],
    );
    b.random(
        format!("{v}.embeddings.position_embedding.weight"),
        &[positions, h],
    );
    b.layer_norm(&format!("{v}.pre_layrnorm"), h);
    for layer in 0..spec.vision_layers {
        let p = format!("{v}.encoder.layers.{layer}");
        for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            b.linear_with_bias(&format!("{p}.self_attn.{proj}"), h, h);
        }
        b.layer_norm(&format!("{p}.layer_norm1"), h);
        b.layer_norm(&format!("{p}.layer_norm2"), h);
        b.linear_with_bias(&format!("{p}.mlp.fc1"), spec.vision_intermediate, h);
        b.linear_with_bias(&format!("{p}.mlp.fc2"), h, spec.vision_intermediate);
    }
    b.layer_norm(&format!("{v}.post_layernorm"), h);
}
