//! Random weights under the llava-hf tensor names, written as F32 safetensors.

use std::path::Path;

use anyhow::{Context, Result};
use safetensors::tensor::{Dtype, TensorView};

use super::tokenizer::Vocab;
use super::TinyLlavaSpec;
use crate::rng::SplitMix64;

/// Standard deviation of random matrices: large enough that the logits are decisive, so that
/// two correct implementations pick the same argmax despite rounding differences.
const INIT_STD: f32 = 0.05;

struct Tensor {
    name: String,
    shape: Vec<usize>,
    data: Vec<f32>,
}

struct Builder {
    rng: SplitMix64,
    tensors: Vec<Tensor>,
}

impl Builder {
    fn random(&mut self, name: impl Into<String>, shape: &[usize]) {
        let n = shape.iter().product();
        let data = (0..n)
            .map(|_| self.rng.uniform_with_std(INIT_STD))
            .collect();
        self.push(name, shape, data);
    }

    fn constant(&mut self, name: impl Into<String>, shape: &[usize], value: f32) {
        let n = shape.iter().product();
        self.push(name, shape, vec![value; n]);
    }

    fn push(&mut self, name: impl Into<String>, shape: &[usize], data: Vec<f32>) {
        self.tensors.push(Tensor {
            name: name.into(),
            shape: shape.to_vec(),
            data,
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
        rng: SplitMix64::new(spec.seed),
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

    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = b
        .tensors
        .into_iter()
        .map(|t| {
            let raw = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (t.name, raw, t.shape)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, raw, shape)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), raw)
                .with_context(|| format!("tensor {name}"))?;
            Ok((name.clone(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = Some(std::collections::HashMap::from([(
        "format".to_string(),
        "pt".to_string(),
    )]));
    safetensors::serialize_to_file(views, metadata, path)
        .with_context(|| format!("cannot write {}", path.display()))
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
    let lm_head = &mut b.tensors.last_mut().expect("just pushed").data;
    for &id in &vocab.non_text_ids {
        let row = id as usize * h;
        lm_head[row..row + h].fill(0.0);
    }
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
