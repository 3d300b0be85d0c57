//! How to load the model: source, device, dtype, quantization.

use std::path::PathBuf;
use std::str::FromStr;

use mistralrs::{IsqType, ModelDType};

/// The default model: the article's LLaVA-1.5 7B, in the llava-hf layout.
pub const DEFAULT_MODEL: &str = "llava-hf/llava-1.5-7b-hf";

/// Where to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// CUDA when built with the `cuda` feature and a GPU is present, else CPU.
    Best,
    Cpu,
}

/// Weight dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtypeChoice {
    /// The fastest that works: F32 on CPU (mistral.rs's own auto picks F16, about 4× slower
    /// to the first token on CPU, and BF16 fails there), mistral.rs's choice on a GPU.
    Auto,
    F32,
    F16,
    Bf16,
}

impl FromStr for DtypeChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            "bf16" => Ok(Self::Bf16),
            _ => Err(format!("unknown dtype '{s}' (use auto, f32, f16 or bf16)")),
        }
    }
}

/// In-situ quantization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsqChoice {
    /// q8_0 (the article's 8-bit) on a GPU, none on CPU, where ISQ costs time to the first
    /// token and is only worth it to fit a model in memory.
    Auto,
    None,
    Type(IsqType),
}

impl FromStr for IsqChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "none" | "off" => Ok(Self::None),
            other => mistralrs::parse_isq_value(other, None)
                .map(Self::Type)
                .map_err(|_| {
                    format!("unknown quantization '{s}' (use none, q8_0, q4k, q5k, q6k, q4_0, q8k, hqq4, hqq8, … or auto)")
                }),
        }
    }
}

/// Everything needed to load a model.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// A Hugging Face model id or a local folder.
    pub model: String,
    pub device: DeviceChoice,
    pub dtype: DtypeChoice,
    pub isq: IsqChoice,
    /// Never contact the hub (also implied by `HF_HUB_OFFLINE=1`).
    pub offline: bool,
    /// Where vchat may write helper files (its chat template for LLaVA-1.5).
    pub cache_dir: PathBuf,
}

impl EngineOptions {
    /// Options for a model with everything else at its default.
    pub fn new(model: impl Into<String>, cache_dir: PathBuf) -> Self {
        Self {
            model: model.into(),
            device: DeviceChoice::Best,
            dtype: DtypeChoice::Auto,
            isq: IsqChoice::Auto,
            offline: offline_from_env(),
            cache_dir,
        }
    }
}

/// `HF_HUB_OFFLINE=1` (as in huggingface_hub) means: never download.
pub fn offline_from_env() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| matches!(v.trim(), "1" | "true" | "TRUE" | "yes"))
        .unwrap_or(false)
}

/// The concrete dtype for a device.
pub(crate) fn resolve_dtype(choice: DtypeChoice, on_gpu: bool) -> ModelDType {
    match choice {
        DtypeChoice::Auto if on_gpu => ModelDType::Auto,
        DtypeChoice::Auto | DtypeChoice::F32 => ModelDType::F32,
        DtypeChoice::F16 => ModelDType::F16,
        DtypeChoice::Bf16 => ModelDType::BF16,
    }
}

/// The concrete quantization for a device.
pub(crate) fn resolve_isq(choice: IsqChoice, on_gpu: bool) -> Option<IsqType> {
    match choice {
        IsqChoice::Auto if on_gpu => Some(IsqType::Q8_0),
        IsqChoice::Auto | IsqChoice::None => None,
        IsqChoice::Type(t) => Some(t),
    }
}
