//! The inference boundary. The engine owns the model on a background task: commands go in
//! (generate, cancel, render the prompt), events come out, each tagged with the id of the
//! request it answers. Nothing here touches the terminal.

pub mod download;
mod load;
mod options;
mod prompt;
pub mod remote;
pub mod sampler;
mod serve;
mod worker;

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::conversation::{AnswerStats, Conversation};
use crate::sampling::SamplingSettings;
pub use options::{
    offline_from_env, Backend, DeviceChoice, DeviceMapChoice, DtypeChoice, EngineOptions,
    IsqChoice, DEFAULT_MODEL,
};

/// Identifies one request; every event carries the id of the request it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl RequestId {
    /// The id carried by loading events, which answer no request.
    pub const LOAD: RequestId = RequestId(0);
}

/// What was loaded, for the status line and the stats.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// The Hugging Face id or local folder the user named.
    pub model: String,
    /// The `architectures` entry of config.json, e.g. `LlavaForConditionalGeneration`.
    pub architecture: String,
    pub device: String,
    pub dtype: String,
    pub quantization: String,
    /// LLaVA-1.5 and LLaVA-NeXT see one image per request; others may see several.
    pub one_image_per_request: bool,
    /// Who answers: `local` (the embedded engine) or `remote URL`.
    pub backend: String,
}

/// The architectures whose answers the test suite checks against Hugging Face transformers
/// token for token (the README's "Models" table): `tests/conformance.rs` and
/// `tests/conformance_vlm.rs`.
pub const VERIFIED_ARCHITECTURES: &[&str] = &[
    "LlavaForConditionalGeneration",
    "Gemma3ForConditionalGeneration",
    "Qwen2_5_VLForConditionalGeneration",
    "Qwen3VLForConditionalGeneration",
];

/// Architectures whose answers from mistral.rs's prefix cache (a follow-up or a regenerate
/// reusing the KV of the chat so far) equal a full prefill's, with vchat's patch (PATCHES.md)
/// and checked by the tests. Elsewhere the cache stays off, as upstream leaves it for most.
pub const PREFIX_CACHE_VERIFIED: &[&str] = &[
    "LlavaForConditionalGeneration",
    "Qwen2_5_VLForConditionalGeneration",
    "Qwen3VLForConditionalGeneration",
    "Gemma3ForConditionalGeneration",
];

impl ModelInfo {
    /// One line for the user when the local engine runs an architecture whose answers are not
    /// checked against transformers. (A remote server's answers are the server's own.)
    pub fn unverified_warning(&self) -> Option<String> {
        let verified = VERIFIED_ARCHITECTURES.contains(&self.architecture.as_str());
        (self.backend == "local" && !verified).then(|| {
            format!(
                "{} is not verified against transformers: answers may differ from the model's \
                 own (see the README's Models table)",
                crate::text::one_line(&self.architecture)
            )
        })
    }

    /// Who answered, as a session records it with each answer: the model, and for a remote
    /// backend also the server, e.g. `llava (remote http://gpu:8000/v1)`.
    pub fn answered_by(&self) -> String {
        if self.backend == "local" {
            self.model.clone()
        } else {
            format!("{} ({})", self.model, self.backend)
        }
    }
}

/// Everything the engine reports.
#[derive(Debug, Clone)]
pub enum EngineEvent {
    /// Loading made progress; `fraction` is in 0..=1.
    Loading {
        request: RequestId,
        stage: String,
        fraction: f32,
    },
    /// The model is loaded and requests will be answered.
    Ready { request: RequestId, info: ModelInfo },
    /// The model could not be loaded; every later request gets this reason as an error.
    LoadFailed { request: RequestId, message: String },
    /// A piece of the answer (raw model text: sanitise before printing).
    Token { request: RequestId, text: String },
    /// The answer ended (also when cancelled, keeping the partial text).
    Done {
        request: RequestId,
        stats: AnswerStats,
        /// Every generated token id, end-of-sequence included.
        token_ids: Vec<u32>,
    },
    /// The request failed; one readable line.
    Error { request: RequestId, message: String },
    /// The conversation text as the model sees it (answer to [`Engine::render_prompt`]).
    Prompt { request: RequestId, text: String },
}

impl EngineEvent {
    /// The request this event answers.
    pub fn request(&self) -> RequestId {
        match self {
            Self::Loading { request, .. }
            | Self::Ready { request, .. }
            | Self::LoadFailed { request, .. }
            | Self::Token { request, .. }
            | Self::Done { request, .. }
            | Self::Error { request, .. }
            | Self::Prompt { request, .. } => *request,
        }
    }
}

/// Commands to the background task.
#[derive(Debug)]
pub(crate) enum Command {
    Generate {
        request: RequestId,
        conversation: Conversation,
        settings: SamplingSettings,
    },
    Cancel(RequestId),
    RenderPrompt {
        request: RequestId,
        conversation: Conversation,
        add_generation_prompt: bool,
    },
}

/// A handle to the engine task. Dropping it (and every clone) stops the task.
#[derive(Debug)]
pub struct Engine {
    commands: mpsc::UnboundedSender<Command>,
    next_id: AtomicU64,
}

impl Engine {
    /// Starts loading the model (or connecting to the remote server) in the background and
    /// returns at once. Requests sent before the model is ready are queued and answered when
    /// it is.
    pub fn start(options: EngineOptions) -> (Engine, mpsc::UnboundedReceiver<EngineEvent>) {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (events, event_rx) = mpsc::unbounded_channel();
        match options.backend.clone() {
            Backend::Local => {
                tokio::spawn(worker::run(options, command_rx, events));
            }
            Backend::Remote(remote) => {
                tokio::spawn(remote::run(remote, command_rx, events));
            }
        }
        let engine = Engine {
            commands,
            next_id: AtomicU64::new(1),
        };
        (engine, event_rx)
    }

    /// Like [`start`](Self::start), for an engine that takes over from `previous`: its request
    /// ids go on from the previous engine's, so that no id means two requests.
    pub fn start_after(
        options: EngineOptions,
        previous: &Engine,
    ) -> (Engine, mpsc::UnboundedReceiver<EngineEvent>) {
        let (engine, events) = Self::start(options);
        engine
            .next_id
            .store(previous.next_id.load(Ordering::Relaxed), Ordering::Relaxed);
        (engine, events)
    }

    /// Asks for the next assistant answer of `conversation` (which ends with a user turn).
    pub fn generate(&self, conversation: &Conversation, settings: &SamplingSettings) -> RequestId {
        let request = self.new_id();
        self.send(Command::Generate {
            request,
            conversation: conversation.clone(),
            settings: settings.clone(),
        });
        request
    }

    /// Stops a running generation within a token; its `Done` event reports `Cancelled`.
    pub fn cancel(&self, request: RequestId) {
        self.send(Command::Cancel(request));
    }

    /// Asks for the conversation text exactly as the model sees it (chat template applied,
    /// special tokens shown), answered by an [`EngineEvent::Prompt`].
    pub fn render_prompt(
        &self,
        conversation: &Conversation,
        add_generation_prompt: bool,
    ) -> RequestId {
        let request = self.new_id();
        self.send(Command::RenderPrompt {
            request,
            conversation: conversation.clone(),
            add_generation_prompt,
        });
        request
    }

    fn new_id(&self) -> RequestId {
        RequestId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    fn send(&self, command: Command) {
        // The worker only stops when every handle is gone, so this cannot fail while `self`
        // exists; a failure would mean the runtime is shutting down, when nothing matters.
        let _ = self.commands.send(command);
    }
}
