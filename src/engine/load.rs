//! Finding and loading the model: checks that turn a wrong folder or an unreachable hub into
//! one clear line, then mistral.rs's own loader.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mistralrs::{
    AutoDeviceMapParams, DeviceMapSetting, Model, MultimodalLoaderType, MultimodalModelBuilder,
    TokenSource,
};
use mistralrs_core::{DeviceLayerMapMetadata, DeviceMapMetadata};
use thiserror::Error;

use super::options::{resolve_dtype, resolve_isq, DeviceChoice, DeviceMapChoice, EngineOptions};
use super::prompt::PromptStyle;
use super::ModelInfo;
use crate::text::one_line;

/// Why a model could not be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("model folder not found: {0}")]
    NotFound(String),
    #[error("{path} is not a model folder: {missing} is missing")]
    NotAModelFolder { path: String, missing: String },
    #[error("cannot read {path}: {reason}")]
    BadConfig { path: String, reason: String },
    #[error("'{0}' is neither a local model folder nor a Hugging Face id (owner/name)")]
    BadModelName(String),
    #[error("{architecture} is not a vision-language model that mistral.rs can load")]
    NotVisionModel { architecture: String },
    #[error("{architecture} takes no images ({what}): vchat needs a vision-language model")]
    TakesNoImages {
        architecture: String,
        what: &'static str,
    },
    #[error(
        "--dtype bf16 does not work on CPU in mistral.rs 0.8.1; use f32 (fastest on CPU) or f16"
    )]
    Bf16OnCpu,
    #[error("cannot load '{model}' from the Hugging Face hub ({reason}); without internet, pass --model /path/to/a/local/model/folder")]
    Hub { model: String, reason: String },
    #[error("model {model} failed to load: {reason}")]
    Engine { model: String, reason: String },
    #[error("{0}")]
    DeviceMap(String),
}

/// Prefix-cache entries kept (mistral.rs evicts the oldest beyond this).
const PREFIX_CACHE_ENTRIES: usize = 3;

/// A loaded model and what vchat needs to talk to it.
pub struct LoadedModel {
    pub model: Model,
    pub info: ModelInfo,
    pub style: PromptStyle,
    /// The ids that stand for image (and video) positions in a prompt, from config.json: the
    /// sampler counts them to tell the user what the images cost.
    pub image_token_ids: Vec<u32>,
}

/// Where the weights come from.
enum Source {
    Local(PathBuf),
    Hub(String),
}

/// Loads the model described by `options`. Blocking work runs off the async workers.
///
/// A hub model is downloaded first (see [`download`](super::download)), with `report` told
/// how far; mistral.rs then loads the downloaded folder.
pub async fn load(
    options: &EngineOptions,
    report: super::download::Report,
) -> Result<Arc<LoadedModel>, LoadError> {
    if let Some(reason) = options.device_map.refusal(options.device) {
        return Err(LoadError::DeviceMap(reason));
    }
    let dir = match resolve_source(&options.model)? {
        Source::Hub(id) => {
            let (offline, report_download) = (options.offline, report.clone());
            let dir =
                tokio::task::spawn_blocking(move || hub_snapshot(&id, offline, report_download))
                    .await
                    .map_err(|e| LoadError::Hub {
                        model: options.model.clone(),
                        reason: panic_text(e),
                    })??;
            report("loading the weights".into(), 1.0);
            dir
        }
        Source::Local(dir) => dir,
    };
    let config_path = dir.join("config.json");
    let ModelConfig {
        architecture,
        image_token_ids,
    } = read_config(&config_path)?;
    if let Some(arch) = &architecture {
        if MultimodalLoaderType::from_causal_lm_name(arch).is_err() {
            return Err(LoadError::NotVisionModel {
                architecture: arch.clone(),
            });
        }
        if let Some(what) = takes_no_images(arch) {
            return Err(LoadError::TakesNoImages {
                architecture: arch.clone(),
                what,
            });
        }
    }

    let on_gpu = on_gpu(options.device);
    if !on_gpu && options.device_map != DeviceMapChoice::Default {
        return Err(LoadError::DeviceMap(
            "a device map needs a CUDA GPU, and none was found".into(),
        ));
    }
    let dtype = resolve_dtype(options.dtype, on_gpu);
    if !on_gpu && dtype == mistralrs::ModelDType::BF16 {
        return Err(LoadError::Bf16OnCpu);
    }
    let isq = resolve_isq(options.isq, on_gpu);

    let model_arg = dir.display().to_string();
    let mut builder = MultimodalModelBuilder::new(&model_arg)
        .with_dtype(dtype)
        .with_token_source(if options.offline {
            TokenSource::None
        } else {
            TokenSource::CacheToken
        });
    if !on_gpu {
        builder = builder.with_force_cpu();
    }
    if let Some(isq) = isq {
        builder = builder.with_isq(isq);
    }
    if let Some(mapping) = device_mapping(&options.device_map) {
        builder = builder.with_device_mapping(mapping);
    }
    let style = PromptStyle::for_architecture(architecture.as_deref());
    let cache_is_correct = architecture
        .as_deref()
        .is_some_and(|a| super::PREFIX_CACHE_VERIFIED.contains(&a));
    if cache_is_correct {
        // A follow-up or a regenerate reuses the KV of the turns before it instead of
        // re-encoding the image and the whole history. A few entries are enough for a chat:
        // each holds a whole KV cache.
        builder = builder.with_prefix_cache_n(Some(PREFIX_CACHE_ENTRIES));
    }
    if let Some(template) = style.template_override() {
        let path = write_template(&options.cache_dir, template).map_err(|e| LoadError::Engine {
            model: options.model.clone(),
            reason: e,
        })?;
        builder = builder.with_jinja_explicit(path);
    }
    if options.offline && !super::options::offline_from_env() {
        // hf-hub only reads HF_HUB_OFFLINE, which `main` sets for `--offline` before the
        // runtime starts (it cannot be set safely from here, among running threads).
        tracing::warn!("offline asked for without HF_HUB_OFFLINE: hf-hub may still try the hub");
    }

    // mistral.rs loads synchronously inside its async builder; a panic in it must become an
    // error line, not a crashed app.
    let handle = tokio::runtime::Handle::current();
    let built = tokio::task::spawn_blocking(move || handle.block_on(builder.build())).await;
    let model = match built {
        Ok(Ok(model)) => model,
        Ok(Err(e)) => return Err(engine_failure(&options.model, &format!("{e:#}"))),
        Err(join) => {
            let reason = panic_text(join);
            return Err(engine_failure(&options.model, &reason));
        }
    };

    let info = ModelInfo {
        model: options.model.clone(),
        architecture: architecture.unwrap_or_else(|| "unknown".into()),
        device: if on_gpu { "cuda".into() } else { "cpu".into() },
        dtype: match dtype {
            mistralrs::ModelDType::Auto => "auto".into(),
            other => other.to_string(),
        },
        quantization: isq.map_or_else(|| "none".into(), |t| format!("{t:?}").to_lowercase()),
        one_image_per_request: style.one_image_per_request(),
        backend: "local".into(),
    };
    Ok(Arc::new(LoadedModel {
        model,
        info,
        style,
        image_token_ids,
    }))
}

/// mistral.rs's setting for a multi-GPU layout; `None` keeps its default.
fn device_mapping(choice: &DeviceMapChoice) -> Option<DeviceMapSetting> {
    match choice {
        DeviceMapChoice::Default => None,
        DeviceMapChoice::Auto => Some(DeviceMapSetting::Auto(
            AutoDeviceMapParams::default_multimodal(),
        )),
        DeviceMapChoice::Layers(layers) => Some(DeviceMapSetting::Map(
            DeviceMapMetadata::from_num_device_layers(
                layers
                    .iter()
                    .map(|&(ordinal, layers)| DeviceLayerMapMetadata { ordinal, layers })
                    .collect(),
            ),
        )),
    }
}

fn on_gpu(device: DeviceChoice) -> bool {
    match device {
        DeviceChoice::Cpu => false,
        DeviceChoice::Best => mistralrs::best_device(false).is_ok_and(|d| d.is_cuda()),
    }
}

fn resolve_source(model: &str) -> Result<Source, LoadError> {
    let path = Path::new(model);
    if path.exists() {
        if !path.is_dir() {
            return Err(LoadError::NotAModelFolder {
                path: model.into(),
                missing: "the folder itself (this is a file)".into(),
            });
        }
        for required in ["config.json", "tokenizer.json"] {
            if !path.join(required).is_file() {
                return Err(LoadError::NotAModelFolder {
                    path: model.into(),
                    missing: required.into(),
                });
            }
        }
        let has_weights = std::fs::read_dir(path)
            .map_err(|e| LoadError::BadConfig {
                path: model.into(),
                reason: e.to_string(),
            })?
            .filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|x| x == "safetensors"));
        if !has_weights {
            return Err(LoadError::NotAModelFolder {
                path: model.into(),
                missing: "a *.safetensors weights file".into(),
            });
        }
        let absolute = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        return Ok(Source::Local(absolute));
    }
    let looks_like_path = model.starts_with('/')
        || model.starts_with('.')
        || model.starts_with('~')
        || model.contains('\\')
        || model.matches('/').count() != 1;
    if looks_like_path {
        return Err(LoadError::NotFound(model.into()));
    }
    let valid_id = model.split('/').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    });
    if !valid_id {
        return Err(LoadError::BadModelName(model.into()));
    }
    Ok(Source::Hub(model.into()))
}

/// The folder of a hub model's files: downloaded (or found complete in the cache), or, offline,
/// the cached snapshot as it is.
fn hub_snapshot(
    model: &str,
    offline: bool,
    report: super::download::Report,
) -> Result<PathBuf, LoadError> {
    let fail = |reason: String| LoadError::Hub {
        model: model.into(),
        reason,
    };
    if offline {
        let config = hf_hub::Cache::from_env()
            .model(model.to_string())
            .get("config.json")
            .ok_or_else(|| {
                fail("it is not in the local Hugging Face cache and HF_HUB_OFFLINE is set".into())
            })?;
        return Ok(config.parent().map(Path::to_path_buf).unwrap_or(config));
    }
    super::download::fetch_model(&super::download::Hub::from_env(), model, report).map_err(fail)
}

/// Architectures that mistral.rs's multimodal loader accepts but that cannot see an image:
/// without this check they load and then fail on the first image, or answer without it.
fn takes_no_images(architecture: &str) -> Option<&'static str> {
    match architecture {
        // gemma-3-1b-it and gemma-3-270m: Gemma 3's text-only sizes.
        "Gemma3ForCausalLM" => Some("a text-only Gemma 3"),
        "VoxtralForConditionalGeneration" | "VoxtralRealtimeForConditionalGeneration" => {
            Some("an audio model")
        }
        _ => None,
    }
}

/// What vchat reads of a model's config.json itself.
struct ModelConfig {
    /// `architectures[0]`.
    architecture: Option<String>,
    /// The image and video placeholder ids under the names the model families use
    /// (`image_token_index`: LLaVA, Gemma 3; `image_token_id`, `video_token_id`: Qwen).
    image_token_ids: Vec<u32>,
}

fn read_config(path: &Path) -> Result<ModelConfig, LoadError> {
    let bad = |reason: String| LoadError::BadConfig {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not valid JSON ({e})")))?;
    let architecture = json
        .get("architectures")
        .and_then(|a| a.get(0))
        .and_then(|a| a.as_str())
        .map(str::to_string);
    let mut image_token_ids: Vec<u32> = ["image_token_index", "image_token_id", "video_token_id"]
        .iter()
        .filter_map(|key| json.get(key)?.as_u64()?.try_into().ok())
        .collect();
    if matches!(
        architecture.as_deref(),
        Some("LlavaForConditionalGeneration" | "LlavaNextForConditionalGeneration")
    ) {
        // mistral.rs 0.8.1 fills LLaVA's image positions with id 0 (`<unk>`), not the image
        // token (llava_inputs_processor.rs).
        image_token_ids = vec![0];
    }
    image_token_ids.dedup();
    Ok(ModelConfig {
        architecture,
        image_token_ids,
    })
}

fn write_template(cache_dir: &Path, template: &str) -> Result<String, String> {
    let dir = cache_dir.join("templates");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("llava-1.5.jinja");
    std::fs::write(&path, template).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path.display().to_string())
}

/// mistral.rs could not load the files (a hub model's are downloaded by then).
fn engine_failure(model: &str, reason: &str) -> LoadError {
    LoadError::Engine {
        model: model.into(),
        reason: one_line(reason),
    }
}

/// The message of a panic caught from a blocking task.
pub fn panic_text(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(payload) => {
            if let Some(s) = payload.downcast_ref::<&str>() {
                format!("internal error: {s}")
            } else if let Some(s) = payload.downcast_ref::<String>() {
                format!("internal error: {s}")
            } else {
                "internal error".into()
            }
        }
        Err(e) => e.to_string(),
    }
}
