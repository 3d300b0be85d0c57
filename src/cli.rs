//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::RemoteConfig;
use crate::engine::remote::{parse_seconds, ApiKey, RemoteImages, RemoteOptions};
use crate::engine::{
    Backend, DeviceChoice, DeviceMapChoice, DtypeChoice, EngineOptions, IsqChoice, DEFAULT_MODEL,
};
use crate::sampling::{SamplingSettings, SettingError};

/// Chat with a vision-language model (LLaVA and others) about images, in the terminal.
#[derive(Debug, Parser)]
#[command(name = "vchat", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub chat: ChatArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a small randomly initialised LLaVA-1.5 (llava-hf layout) to try vchat offline.
    MakeTinyModel(MakeTinyModelArgs),
    /// Export a saved chat (see --list) to Markdown or JSON, its images copied beside it.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The chat's id, as `vchat --list` prints it.
    pub id: String,
    #[arg(long, value_enum, default_value_t = crate::chats::ExportFormat::Md)]
    pub format: crate::chats::ExportFormat,
    /// Where to write (default: ./ID.md or ./ID.json); images go to a folder beside it.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Saved chats: where they are and which one to open.
#[derive(Debug, Args)]
pub struct SessionArgs {
    /// Reopen the last chat (or chat ID) instead of starting a new one.
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "")]
    pub resume: Option<String>,
    /// Print the saved chats (id, last saved, turns, title) and exit.
    #[arg(long)]
    pub list: bool,
    /// Do not save this chat.
    #[arg(long)]
    pub no_save: bool,
}

#[derive(Debug, Args)]
pub struct MakeTinyModelArgs {
    /// Folder to write the model into (created if missing).
    pub dir: PathBuf,
    /// `tiny` (a few MB, for tests), `large` (about 108M parameters, for benchmarks) or
    /// `llava-7b` (LLaVA-1.5-7B's shape in BF16, 14 GB: for measuring a GPU).
    #[arg(long, value_enum, default_value_t = TinySize::Tiny)]
    pub size: TinySize,
    /// Use the extended tokenizer (other token ids for the same text).
    #[arg(long)]
    pub extended_tokenizer: bool,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TinySize {
    Tiny,
    Large,
    #[value(name = "llava-7b")]
    Llava7b,
}

/// The terminal graphics protocol of the app's image pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImageProtocol {
    /// Ask the terminal; half-blocks when it does not answer.
    Auto,
    Halfblocks,
    Sixel,
    Kitty,
    Iterm2,
}

/// Options of a chat: one-shot with `--prompt`, else the full-screen app.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Hugging Face model id or local model folder.
    #[arg(short, long, default_value = crate::engine::DEFAULT_MODEL)]
    pub model: String,
    /// Image to talk about: a file path or an http(s) URL. Repeat for several (all go with the
    /// first question; a model that sees one image per request gets the last).
    #[arg(short, long)]
    pub image: Vec<String>,
    /// A video clip to talk about (MP4, WebM, MKV, MOV… through ffmpeg; animated GIF, APNG or
    /// WebP): a file path or an http(s) URL. Frames are sampled evenly and go with the first
    /// question with their times; a model that sees one image per request gets a contact sheet.
    #[arg(long)]
    pub video: Vec<String>,
    /// Frames to sample from each clip (1 to 32; default 8).
    #[arg(long, value_parser = parse_frames, conflicts_with = "fps")]
    pub frames: Option<usize>,
    /// Sample clips at this many frames per second instead (at most 32 frames a clip).
    #[arg(long, value_parser = parse_fps)]
    pub fps: Option<f64>,
    /// A question. Repeat to continue the same chat: each later prompt is a follow-up.
    #[arg(short, long, allow_hyphen_values = true)]
    pub prompt: Vec<String>,
    /// System prompt placed before the chat.
    #[arg(long, allow_hyphen_values = true)]
    pub system: Option<String>,

    /// Sampling temperature (0 to 5; default 0.2).
    #[arg(long, allow_hyphen_values = true)]
    pub temperature: Option<String>,
    /// Nucleus sampling threshold (above 0, at most 1; default 1 = off).
    #[arg(long, allow_hyphen_values = true)]
    pub top_p: Option<String>,
    /// Keep the k most likely tokens (0 = off, the default).
    #[arg(long, allow_hyphen_values = true)]
    pub top_k: Option<String>,
    /// Minimum probability relative to the most likely token (0 to 1; default 0 = off).
    #[arg(long, allow_hyphen_values = true)]
    pub min_p: Option<String>,
    /// Most tokens to generate per answer (default 1024).
    #[arg(long, allow_hyphen_values = true)]
    pub max_tokens: Option<String>,
    /// Repetition penalty (1 = off, the default).
    #[arg(long, allow_hyphen_values = true)]
    pub repetition_penalty: Option<String>,
    /// Sampler seed, for reproducible sampled answers (default: random per answer).
    #[arg(long, allow_hyphen_values = true)]
    pub seed: Option<String>,
    /// Sampling on or off (off = greedy decoding). Default on, as in the article.
    #[arg(long, value_name = "on|off")]
    pub sampling: Option<String>,
    /// Same as `--sampling off`.
    #[arg(long)]
    pub greedy: bool,

    /// In-situ quantization: auto (q8_0 on GPU, none on CPU), none, q8_0, q4k, q6k, …
    #[arg(long, default_value = "auto", value_parser = parse_isq)]
    pub isq: IsqChoice,
    /// Weight dtype: auto (f32 on CPU), f32, f16, bf16.
    #[arg(long, default_value = "auto", value_parser = parse_dtype)]
    pub dtype: DtypeChoice,
    /// Run on the CPU even when built with CUDA.
    #[arg(long)]
    pub cpu: bool,
    /// Never contact the Hugging Face hub (also set by HF_HUB_OFFLINE=1).
    #[arg(long)]
    pub offline: bool,

    /// Do not print the image in the terminal (it is never printed when stdout is not a terminal).
    #[arg(long)]
    pub no_image: bool,
    /// After the answers, print the conversation text exactly as the model saw it.
    #[arg(long)]
    pub show_prompt: bool,
    /// Print time to first token and tokens/s of each answer on stderr.
    #[arg(long)]
    pub stats: bool,
    /// Print each answer's generated token ids on stderr (to compare with another
    /// implementation of the same model, e.g. transformers).
    #[arg(long)]
    pub token_ids: bool,
    /// How the full-screen app draws images: auto (ask the terminal), halfblocks, sixel,
    /// kitty or iterm2.
    #[arg(long, value_enum, default_value_t = ImageProtocol::Auto)]
    pub image_protocol: ImageProtocol,
    /// Seconds to wait for an image URL.
    #[arg(long, default_value_t = 30.0, value_parser = parse_timeout)]
    pub fetch_timeout: f64,

    #[command(flatten)]
    pub sessions: SessionArgs,

    #[command(flatten)]
    pub backend: BackendArgs,
}

/// Who answers: the embedded engine (and how it spreads over GPUs) or a remote server.
#[derive(Debug, Args)]
pub struct BackendArgs {
    /// local (the embedded mistral.rs engine, the default) or remote (an OpenAI-compatible
    /// server at --url). `--url` alone implies remote.
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// The remote server's API base, e.g. http://gpu:8000/v1.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// API key for the remote server (better: the VCHAT_API_KEY environment variable).
    #[arg(long, value_name = "KEY", value_parser = parse_api_key)]
    pub api_key: Option<ApiKey>,
    /// Print the model ids the remote server offers (its /v1/models), one a line, and exit.
    #[arg(long)]
    pub list_models: bool,
    /// Seconds allowed to connect to the remote server (default 10).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub connect_timeout: Option<std::time::Duration>,
    /// Seconds of silence allowed from the remote server before and within an answer
    /// (default 120).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub idle_timeout: Option<std::time::Duration>,
    /// Images of the history sent to the remote server: latest (default; LLaVA-1.5 accepts one
    /// per request) or all.
    #[arg(long, value_name = "latest|all", value_parser = parse_remote_images)]
    pub remote_images: Option<RemoteImages>,
    /// Send images given as http(s) URLs to the remote server as those URLs (the server
    /// fetches them) instead of their pixels.
    #[arg(long)]
    pub send_image_urls: bool,
    /// Multi-GPU (builds with `cuda`): `auto` lets mistral.rs place layers by free memory.
    #[arg(long, value_name = "auto", value_parser = parse_device_map)]
    pub device_map: Option<DeviceMapChoice>,
    /// Multi-GPU (builds with `cuda`): layers per GPU, e.g. "0:16;1:16"; the rest stay on the
    /// CPU.
    #[arg(long, value_name = "ORD:LAYERS;…", value_parser = DeviceMapChoice::parse_layers, conflicts_with = "device_map")]
    pub device_layers: Option<DeviceMapChoice>,
}

/// `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    Local,
    Remote,
}

impl ChatArgs {
    /// The engine options the command line asks for, with `backend`/`[remote]` of the config
    /// file (and `VCHAT_API_KEY`) filling in what the flags leave open. A remote backend
    /// without a URL is reported by the engine, as a failed start.
    pub fn engine_options(&self, cache_dir: std::path::PathBuf) -> EngineOptions {
        let config = crate::config::load(crate::config::config_dir().as_deref());
        self.engine_options_with(cache_dir, &config.remote)
    }

    /// [`Self::engine_options`] with the config file's remote part given.
    pub fn engine_options_with(
        &self,
        cache_dir: std::path::PathBuf,
        remote: &RemoteConfig,
    ) -> EngineOptions {
        let mut options = EngineOptions::new(&self.model, cache_dir);
        options.isq = self.isq;
        options.dtype = self.dtype;
        options.offline |= self.offline;
        if self.cpu {
            options.device = DeviceChoice::Cpu;
        }
        let args = &self.backend;
        if let Some(map) = args
            .device_layers
            .clone()
            .or_else(|| args.device_map.clone())
        {
            options.device_map = map;
        }
        let remote_wanted = match args.backend {
            Some(kind) => kind == BackendKind::Remote,
            None => args.url.is_some() || remote.enabled,
        };
        if remote_wanted {
            let remote = self.remote_options(remote);
            // What the status line shows until the server names its model.
            options.model = remote.model.clone().unwrap_or_else(|| remote.url.clone());
            options.backend = Backend::Remote(remote);
        }
        options
    }

    fn remote_options(&self, config: &RemoteConfig) -> RemoteOptions {
        let args = &self.backend;
        let url = args.url.clone().or_else(|| config.url.clone());
        let mut remote = RemoteOptions::new(url.unwrap_or_default());
        remote.api_key = args
            .api_key
            .clone()
            .or_else(|| std::env::var("VCHAT_API_KEY").ok().and_then(ApiKey::new))
            .or_else(|| config.api_key.clone());
        // `--model` keeps the local default unless given; then the config's, then the
        // server's only model.
        remote.model = if self.model != DEFAULT_MODEL {
            Some(self.model.clone())
        } else {
            config.model.clone()
        };
        remote.connect_timeout = args
            .connect_timeout
            .or(config.connect_timeout)
            .unwrap_or(remote.connect_timeout);
        remote.idle_timeout = args
            .idle_timeout
            .or(config.idle_timeout)
            .unwrap_or(remote.idle_timeout);
        remote.images = args.remote_images.or(config.images).unwrap_or_default();
        remote.send_image_urls = args.send_image_urls || config.send_image_urls.unwrap_or(false);
        remote
    }

    /// A backend choice that cannot work, found before anything starts (for one-shot mode's
    /// usage errors): a remote backend without a URL or with a bad one, or a GPU layout
    /// where there is no GPU.
    pub fn backend_problem(&self, options: &EngineOptions) -> Option<String> {
        match &options.backend {
            Backend::Remote(remote) => remote.base_url().err(),
            Backend::Local => options.device_map.refusal(options.device),
        }
    }

    /// The sampling settings: defaults, then each flag given, validated with the shared rules.
    pub fn sampling_settings(&self) -> Result<SamplingSettings, SettingError> {
        self.sampling_settings_from(SamplingSettings::default())
    }

    /// The sampling settings: `base` (e.g. from the config file), then each flag given.
    pub fn sampling_settings_from(
        &self,
        base: SamplingSettings,
    ) -> Result<SamplingSettings, SettingError> {
        let mut settings = base;
        let flags = [
            ("temperature", &self.temperature),
            ("top_p", &self.top_p),
            ("top_k", &self.top_k),
            ("min_p", &self.min_p),
            ("max_tokens", &self.max_tokens),
            ("repetition_penalty", &self.repetition_penalty),
            ("seed", &self.seed),
            ("sampling", &self.sampling),
        ];
        for (name, value) in flags {
            if let Some(value) = value {
                settings.set(name, value)?;
            }
        }
        if self.greedy {
            settings.do_sample = false;
        }
        Ok(settings)
    }
}

fn parse_isq(s: &str) -> Result<IsqChoice, String> {
    s.parse()
}

fn parse_dtype(s: &str) -> Result<DtypeChoice, String> {
    s.parse()
}

fn parse_api_key(s: &str) -> Result<ApiKey, String> {
    s.parse()
}

fn parse_frames(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=crate::media::video::MAX_FRAMES).contains(&n) => Ok(n),
        _ => Err(format!(
            "frames must be a whole number from 1 to {} (got '{s}')",
            crate::media::video::MAX_FRAMES
        )),
    }
}

fn parse_fps(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= 30.0 => Ok(r),
        _ => Err(format!(
            "fps must be a number above 0 and at most 30 (got '{s}')"
        )),
    }
}

impl ChatArgs {
    /// How many frames to take from each clip.
    pub fn frame_sampling(&self) -> crate::media::video::FrameSampling {
        use crate::media::video::FrameSampling;
        match (self.frames, self.fps) {
            (_, Some(fps)) => FrameSampling::PerSecond(fps),
            (Some(n), None) => FrameSampling::Count(n),
            (None, None) => FrameSampling::default(),
        }
    }
}

fn parse_remote_images(s: &str) -> Result<RemoteImages, String> {
    s.parse()
}

fn parse_device_map(s: &str) -> Result<DeviceMapChoice, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(DeviceMapChoice::Auto),
        _ => Err(format!(
            "'{s}' is not a device map; use auto, or --device-layers \"0:16;1:16\""
        )),
    }
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!(
            "must be a number of seconds above 0 and at most 3600 (got '{s}')"
        )),
    }
}
