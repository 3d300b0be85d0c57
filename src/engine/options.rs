//! How to load the model: source, device, dtype, quantization.

use std::path::PathBuf;
use std::str::FromStr;

use mistralrs::{IsqType, ModelDType};

use super::remote::RemoteOptions;

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

/// Who answers: the embedded mistral.rs engine, or an OpenAI-compatible server.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Backend {
    #[default]
    Local,
    Remote(RemoteOptions),
}

/// How the local model's layers are spread over GPUs (a build with the `cuda` feature).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeviceMapChoice {
    /// mistral.rs's default: everything on the first GPU.
    #[default]
    Default,
    /// mistral.rs picks layers per device from free memory.
    Auto,
    /// `(ordinal, layers)` pairs: this many layers on each GPU, the rest on the CPU.
    Layers(Vec<(usize, usize)>),
}

impl DeviceMapChoice {
    /// Parses mistral.rs's syntax, `ORD:LAYERS;ORD:LAYERS`, e.g. `0:16;1:16`.
    pub fn parse_layers(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("'{s}' is not a device-layer map; expected e.g. 0:16;1:16 (GPU ordinal:number of layers)")
        };
        let mut layers = Vec::new();
        for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (ordinal, count) = part.split_once(':').ok_or_else(bad)?;
            let ordinal = ordinal.trim().parse().map_err(|_| bad())?;
            let count = count.trim().parse().map_err(|_| bad())?;
            if layers.iter().any(|&(o, _)| o == ordinal) {
                return Err(format!("GPU {ordinal} appears twice in '{s}'"));
            }
            layers.push((ordinal, count));
        }
        if layers.is_empty() {
            return Err(bad());
        }
        Ok(Self::Layers(layers))
    }

    /// Why this mapping cannot be used here, if it cannot: it needs CUDA and a GPU.
    pub fn refusal(&self, device: DeviceChoice) -> Option<String> {
        let flag = match self {
            Self::Default => return None,
            Self::Auto => "--device-map auto",
            Self::Layers(_) => "--device-layers",
        };
        if !cfg!(feature = "cuda") {
            return Some(format!(
                "{flag} spreads a model over GPUs and needs vchat built with CUDA (cargo install --features cuda); this build runs on the CPU only"
            ));
        }
        if device == DeviceChoice::Cpu {
            return Some(format!(
                "{flag} spreads a model over GPUs; it cannot be combined with --cpu"
            ));
        }
        None
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
    /// The embedded engine (default) or a remote server; the fields above are for the former.
    pub backend: Backend,
    /// Multi-GPU layer placement of the local model.
    pub device_map: DeviceMapChoice,
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
            backend: Backend::Local,
            device_map: DeviceMapChoice::Default,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_layers_parse() {
        assert_eq!(
            DeviceMapChoice::parse_layers("0:16;1:16"),
            Ok(DeviceMapChoice::Layers(vec![(0, 16), (1, 16)]))
        );
        assert_eq!(
            DeviceMapChoice::parse_layers(" 1:8 ; "),
            Ok(DeviceMapChoice::Layers(vec![(1, 8)]))
        );
        for bad in ["", "0", "0:x", "a:1", "0:1;0:2"] {
            assert!(DeviceMapChoice::parse_layers(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn device_maps_are_refused_without_a_gpu() {
        let map = DeviceMapChoice::Auto;
        assert_eq!(DeviceMapChoice::Default.refusal(DeviceChoice::Cpu), None);
        let refusal = map.refusal(DeviceChoice::Cpu).expect("refused on CPU");
        assert!(refusal.starts_with("--device-map auto"), "{refusal}");
        if !cfg!(feature = "cuda") {
            assert!(map.refusal(DeviceChoice::Best).unwrap().contains("CUDA"));
        }
    }
}
