//! The remote backend against a real OpenAI-compatible server: mistral.rs's own server
//! (`mistralrs-server-core`, as `mistralrs serve` runs it) on loopback with the tiny model.
//! A raw TCP responder covers what no real server sends: refused keys, error statuses,
//! malformed streams, silence.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;

use common::*;
use mistralrs_core::{AutoDeviceMapParams, ModelDType, ModelSelected, TokenSource};
use mistralrs_server_core::mistralrs_for_server_builder::MistralRsForServerBuilder;
use mistralrs_server_core::mistralrs_server_router_builder::MistralRsServerRouterBuilder;
use tokio::sync::mpsc::UnboundedReceiver;
use vchat::conversation::{AssistantTurn, Conversation, FinishReason};
use vchat::engine::remote::{ApiKey, RemoteOptions};
use vchat::engine::{Backend, Engine, EngineEvent, EngineOptions, RequestId};
use vchat::sampling::SamplingSettings;

const KEY: &str = "sk-test-7f3a9c1e5b";

// ---------------------------------------------------------------------------------------------
// The real server

/// The mistral.rs server on 127.0.0.1, in a runtime of its own: stopping it drops every
/// connection at once, as a killed server does.
struct MistralRsServer {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MistralRsServer {
    fn start() -> Self {
        let (url_tx, url_rx) = std_mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let model = tiny_model().display().to_string();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("server runtime");
            runtime.block_on(async move {
                let state = MistralRsForServerBuilder::new()
                    .with_cpu(true)
                    .with_token_source(TokenSource::None)
                    .with_model(tiny_model_selected(model))
                    .build()
                    .await
                    .expect("the server loads the tiny model");
                let router = MistralRsServerRouterBuilder::new()
                    .with_mistralrs(state)
                    .build()
                    .await
                    .expect("router");
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind loopback");
                let address = listener.local_addr().expect("address");
                tokio::spawn(async move {
                    let _ = axum::serve(listener, router).await;
                });
                url_tx
                    .send(format!("http://{address}/v1"))
                    .expect("send url");
                let _ = stop_rx.await;
            });
            runtime.shutdown_background();
        });
        let url = url_rx.recv().expect("the server started");
        Self {
            url,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops the server: its runtime, the listener and every open connection go away.
    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MistralRsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What `mistralrs serve multimodal-plain -m DIR --dtype f32 --cpu` selects.
fn tiny_model_selected(model_id: String) -> ModelSelected {
    ModelSelected::MultimodalPlain {
        model_id,
        tokenizer_json: None,
        arch: None,
        dtype: ModelDType::F32,
        topology: None,
        write_uqff: None,
        from_uqff: None,
        max_edge: None,
        calibration_file: None,
        imatrix: None,
        max_seq_len: AutoDeviceMapParams::DEFAULT_MAX_SEQ_LEN,
        max_batch_size: AutoDeviceMapParams::DEFAULT_MAX_BATCH_SIZE,
        max_num_images: AutoDeviceMapParams::DEFAULT_MAX_NUM_IMAGES,
        max_image_length: AutoDeviceMapParams::DEFAULT_MAX_IMAGE_LENGTH,
        hf_cache_path: None,
        matformer_config_path: None,
        matformer_slice_name: None,
        organization: None,
    }
}

async fn start_server() -> MistralRsServer {
    tokio::task::spawn_blocking(MistralRsServer::start)
        .await
        .expect("server thread")
}

// ---------------------------------------------------------------------------------------------
// The engine, pointed at a server

fn remote(url: &str) -> RemoteOptions {
    let mut remote = RemoteOptions::new(url);
    remote.api_key = ApiKey::new(KEY);
    remote
}

fn engine_options(remote: RemoteOptions) -> EngineOptions {
    let mut options = EngineOptions::new("unused", scratch_dir().join("cache"));
    options.backend = Backend::Remote(remote);
    options
}

fn greedy(max_tokens: usize) -> SamplingSettings {
    SamplingSettings {
        do_sample: false,
        max_new_tokens: max_tokens,
        ..SamplingSettings::default()
    }
}

/// Waits for the start-up outcome: `Ok(model)` or the failure line.
async fn started(events: &mut UnboundedReceiver<EngineEvent>) -> Result<String, String> {
    loop {
        match events.recv().await.expect("engine events") {
            EngineEvent::Ready { info, .. } => return Ok(info.model),
            EngineEvent::LoadFailed { message, .. } => return Err(message),
            _ => {}
        }
    }
}

/// An answer that ended in an error: the text streamed before it and the message.
async fn failed(
    events: &mut UnboundedReceiver<EngineEvent>,
    request: RequestId,
) -> (String, String) {
    let mut text = String::new();
    loop {
        match events.recv().await.expect("engine events") {
            EngineEvent::Token {
                request: r,
                text: t,
            } if r == request => text.push_str(&t),
            EngineEvent::Error {
                request: r,
                message,
            } if r == request => return (text, message),
            EngineEvent::Done {
                request: r, stats, ..
            } if r == request => {
                panic!("expected an error, got an answer: {text:?} {stats:?}")
            }
            _ => {}
        }
    }
}

/// Waits for the first piece of `request`'s answer.
async fn first_token(events: &mut UnboundedReceiver<EngineEvent>, request: RequestId) -> String {
    loop {
        match events.recv().await.expect("engine events") {
            EngineEvent::Token { request: r, text } if r == request => return text,
            EngineEvent::Error {
                request: r,
                message,
            } if r == request => panic!("{message}"),
            EngineEvent::Done { request: r, .. } if r == request => panic!("ended early"),
            _ => {}
        }
    }
}

fn answer(text: String) -> AssistantTurn {
    AssistantTurn {
        text,
        settings: SamplingSettings::default(),
        stats: None,
        answered_by: None,
    }
}

/// A readable failure: one line, no key, no panic text.
fn assert_one_line(message: &str) {
    assert!(!message.is_empty());
    assert!(!message.contains('\n'), "one line: {message:?}");
    assert!(!message.contains(KEY), "the key leaked: {message}");
    assert!(!message.contains("panicked"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// Against the mistral.rs server

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_turn_chat_with_two_images_streams_from_the_server() {
    let server = start_server().await;
    let (engine, mut events) = Engine::start(engine_options(remote(&server.url)));
    let mut info = None;
    while info.is_none() {
        match events.recv().await.expect("events") {
            EngineEvent::Ready { info: i, .. } => info = Some(i),
            EngineEvent::LoadFailed { message, .. } => panic!("{message}"),
            _ => {}
        }
    }
    let info = info.unwrap();
    assert_eq!(
        info.model,
        tiny_model().display().to_string(),
        "the server's only model"
    );
    assert!(info.device.starts_with("remote: 127.0.0.1:"), "{info:?}");
    assert!(
        info.backend.starts_with("remote http://127.0.0.1:"),
        "{info:?}"
    );
    assert!(!format!("{info:?}").contains(KEY));

    let mut chat = Conversation::default();
    chat.push_user("Describe the image", Some(chat_image(0)));
    let first = collect(&mut events, engine.generate(&chat, &greedy(12))).await;
    assert!(!first.text.is_empty(), "an answer");
    assert!(first.tokens_events >= 2, "streamed, not in one piece");
    assert_eq!(
        first.stats.tokens, first.tokens_events,
        "tokens are counted client-side"
    );
    assert!(first.stats.tokens <= 12);
    assert!(first.stats.time_to_first_token.as_nanos() > 0);
    assert!(
        first.token_ids.is_empty(),
        "a server sends text, not token ids"
    );

    // A second image: LLaVA-1.5 (and mistral.rs serving it) takes one image per request, so
    // only the newest is sent and the first is named in its turn.
    chat.push_assistant(answer(first.text.clone()));
    chat.push_user("And this one?", Some(chat_image(1)));
    let second = collect(&mut events, engine.generate(&chat, &greedy(12))).await;
    assert!(!second.text.is_empty(), "a follow-up answer");

    chat.push_assistant(answer(second.text.clone()));
    let prompt = prompt_text(&mut events, engine.render_prompt(&chat, false)).await;
    let messages: serde_json::Value =
        serde_json::from_str(&prompt).expect("the prompt view is the JSON sent");
    assert_eq!(messages.as_array().map(Vec::len), Some(4), "{prompt}");
    assert_eq!(
        messages[0]["content"],
        serde_json::json!("[earlier image: pattern-0.png]\nDescribe the image")
    );
    assert_eq!(messages[1]["content"], serde_json::json!(first.text));
    let url = messages[2]["content"][0]["image_url"]["url"]
        .as_str()
        .unwrap();
    assert!(
        url.starts_with("data:image/png;base64,…(") && url.ends_with(" bytes)"),
        "{url}"
    );
    assert_eq!(
        messages[2]["content"][1]["text"],
        serde_json::json!("And this one?")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_image_with_remote_images_all_and_one_line_when_the_server_cannot() {
    let server = start_server().await;
    let mut options = remote(&server.url);
    options.images = vchat::engine::remote::RemoteImages::All;
    let (engine, mut events) = Engine::start(engine_options(options));
    started(&mut events).await.expect("connected");
    let mut chat = Conversation::default();
    chat.push_user("Describe the image", Some(chat_image(0)));
    let first = collect(&mut events, engine.generate(&chat, &greedy(4))).await;
    chat.push_assistant(answer(first.text));
    chat.push_user("And this one?", Some(chat_image(1)));

    let prompt = prompt_text(&mut events, engine.render_prompt(&chat, false)).await;
    assert_eq!(
        prompt.matches("data:image/png;base64,").count(),
        2,
        "{prompt}"
    );
    // LLaVA-1.5 in mistral.rs takes one image per request: the server's engine fails and
    // closes the stream. vchat says so in one line (which is why `latest` is the default).
    let (text, message) = failed(&mut events, engine.generate(&chat, &greedy(4))).await;
    assert_eq!(text, "");
    assert_one_line(&message);
    assert!(
        message.contains("closed the stream before the answer ended"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_settings_change_the_servers_answer() {
    let server = start_server().await;
    let (engine, mut events) = Engine::start(engine_options(remote(&server.url)));
    started(&mut events).await.expect("connected");
    let mut chat = Conversation::default();
    chat.push_user("What is in this picture?", Some(chat_image(2)));

    let short = collect(&mut events, engine.generate(&chat, &greedy(3))).await;
    assert!(
        short.stats.tokens <= 3,
        "max_tokens reaches the server: {:?}",
        short.stats
    );

    let plain = collect(&mut events, engine.generate(&chat, &greedy(24))).await;
    let again = collect(&mut events, engine.generate(&chat, &greedy(24))).await;
    assert_eq!(plain.text, again.text, "greedy answers repeat");
    let penalised = SamplingSettings {
        repetition_penalty: 3.0,
        ..greedy(24)
    };
    let different = collect(&mut events, engine.generate(&chat, &penalised)).await;
    assert_ne!(
        plain.text, different.text,
        "repetition_penalty reaches the server and changes the answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_closes_the_stream_and_keeps_the_partial_answer() {
    let server = start_server().await;
    let (engine, mut events) = Engine::start(engine_options(remote(&server.url)));
    started(&mut events).await.expect("connected");
    let mut chat = Conversation::default();
    chat.push_user("Describe the image in detail", Some(chat_image(0)));

    let long = engine.generate(&chat, &greedy(2000));
    let first = first_token(&mut events, long).await;
    engine.cancel(long);
    let rest = collect(&mut events, long).await;
    assert_eq!(rest.stats.finish, FinishReason::Cancelled);
    assert!(!first.is_empty());
    assert!(rest.stats.tokens < 2000, "stopped early: {:?}", rest.stats);

    // The server and the engine go on: the next answer arrives in full.
    let next = collect(&mut events, engine.generate(&chat, &greedy(4))).await;
    assert!(!next.text.is_empty());
    assert_ne!(next.stats.finish, FinishReason::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_mid_answer_leaves_a_marked_partial_answer() {
    let mut server = start_server().await;
    let (engine, mut events) = Engine::start(engine_options(remote(&server.url)));
    started(&mut events).await.expect("connected");
    let mut chat = Conversation::default();
    chat.push_user("Describe the image in detail", Some(chat_image(0)));

    let long = engine.generate(&chat, &greedy(2000));
    let first = first_token(&mut events, long).await;
    server.stop();
    let (rest, message) = failed(&mut events, long).await;
    assert!(
        !(first + &rest).is_empty(),
        "the partial answer was streamed"
    );
    assert_one_line(&message);
    assert!(message.contains("127.0.0.1"), "{message}");
    assert!(message.ends_with("(partial answer kept)"), "{message}");

    // The engine stays usable: the next request gets its own one-line error naming the server
    // (usually "connection refused"; a pooled connection the server closed as it stopped can
    // fail first, with a different wording).
    let (_, message) = failed(&mut events, engine.generate(&chat, &greedy(4))).await;
    assert_one_line(&message);
    assert!(message.contains("127.0.0.1"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_records_the_remote_backend_per_answer_and_saves_no_key() {
    use vchat::app::{Action, ModelStatus, State};
    use vchat::chats::{to_markdown, ChatStore, TurnRecord};
    use vchat::conversation::Turn;
    use vchat::tui::{start_info, Session};

    let server = start_server().await;
    let data = tempfile::tempdir().unwrap();
    let options = engine_options(remote(&server.url));
    let state = State::new(start_info(&options), greedy(8), None);
    let mut session = Session::start(state, options, vchat::media::MediaOptions::default());
    session.save_to(ChatStore::new(data.path()));
    while !matches!(session.state.model, ModelStatus::Ready(_)) {
        assert!(session.step().await, "the engine stopped");
    }
    session.dispatch(Action::AttachImage(test_png(0).display().to_string()));
    while session.state.image_loading.is_some() {
        assert!(session.step().await);
    }
    session.dispatch(Action::Insert("What is in the picture?".into()));
    session.dispatch(Action::Submit);
    while session.state.is_busy() {
        assert!(session.step().await, "the engine stopped");
    }
    session.finish();
    let Some(Turn::Assistant(answer)) = session.state.conversation.turns.last() else {
        panic!("an answer");
    };
    assert!(!answer.text.is_empty());
    assert!(answer.stats.as_ref().is_some_and(|s| s.tokens > 0));

    let store = ChatStore::new(data.path());
    let (chats, problems) = store.list();
    assert!(problems.is_empty(), "{problems:?}");
    let loaded = store.load(&chats[0].id).expect("the chat was saved");
    let Some(TurnRecord::Assistant { answered_by, .. }) = loaded.file.turns.last() else {
        panic!("the saved chat ends with the answer");
    };
    let answered_by = answered_by.clone().unwrap_or_default();
    assert!(
        answered_by.contains(&format!("(remote {})", server.url)),
        "the session records the backend and model: {answered_by}"
    );
    assert!(
        answered_by.starts_with(&tiny_model().display().to_string()),
        "{answered_by}"
    );

    let markdown = to_markdown(&loaded.file, "images");
    assert!(!markdown.contains(KEY), "the export holds no key");
    for entry in walk(data.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(KEY),
            "{} holds the key",
            entry.display()
        );
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

// ---------------------------------------------------------------------------------------------
// The real binary

fn vchat(args: &[&str], config_dir: &Path, cache_dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vchat"));
    command
        .args(args)
        .env("VCHAT_CACHE_DIR", cache_dir)
        .env("VCHAT_CONFIG_DIR", config_dir)
        // Everything, HTTP internals included, goes to the log file the key must not reach.
        .env("VCHAT_LOG", "trace")
        .env_remove("VCHAT_API_KEY")
        .env_remove("RUST_BACKTRACE");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run vchat")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn log_of(cache_dir: &Path) -> String {
    std::fs::read_to_string(cache_dir.join("vchat.log")).unwrap_or_default()
}

#[test]
fn the_binary_answers_lists_models_and_reads_the_config_file() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(start_server());
    let dirs = tempfile::tempdir().unwrap();
    let (config, cache) = (dirs.path().join("config"), dirs.path().join("cache"));
    std::fs::create_dir_all(&config).unwrap();
    let png = test_png(0);

    let o = vchat(
        &[
            "--backend",
            "remote",
            "--url",
            &server.url,
            "--api-key",
            KEY,
            "--image",
            png.to_str().unwrap(),
            "--prompt",
            "Describe the image",
            "--max-tokens",
            "16",
            "--greedy",
            "--stats",
        ],
        &config,
        &cache,
        &[],
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "stderr: {err}");
    assert!(!out.trim().is_empty(), "an answer on stdout");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "the model line and the stats line: {err}");
    assert!(
        lines[0].starts_with("[model] ") && lines[0].contains("remote http://127.0.0.1:"),
        "{err}"
    );
    assert!(lines[1].starts_with("[answer 1] "), "{err}");

    let listed = vchat(
        &["--list-models", "--url", &server.url],
        &config,
        &cache,
        &[("VCHAT_API_KEY", KEY)],
    );
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    let ids = text(&listed.stdout);
    assert!(
        ids.lines()
            .any(|id| id == tiny_model().display().to_string()),
        "{ids}"
    );

    // The same server, chosen in config.toml; the key from the environment.
    std::fs::write(
        config.join("config.toml"),
        format!(
            "backend = \"remote\"\n[remote]\nurl = \"{}\"\nidle_timeout = 60\n",
            server.url
        ),
    )
    .unwrap();
    let o = vchat(
        &["--prompt", "Hello", "--max-tokens", "8", "--greedy"],
        &config,
        &cache,
        &[("VCHAT_API_KEY", KEY)],
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    assert!(!text(&o.stdout).trim().is_empty());

    let log = log_of(&cache);
    assert!(log.contains("remote backend ready"), "the log was written");
    assert!(!log.contains(KEY), "the key is not in the log file");
    drop(server);
}

#[test]
fn an_image_url_is_passed_to_the_server_when_asked() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(start_server());
    // A web server for the image: vchat fetches it to show it, the server to answer.
    let png = std::fs::read(test_png(3)).unwrap();
    let mut image = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        png.len()
    )
    .into_bytes();
    image.extend_from_slice(&png);
    let reply = Reply {
        bytes: image,
        hold: false,
    };
    let (host, fetches) = responder(reply.clone(), reply);
    let image_url = host.replace("/v1", "/pattern-3.png");
    let dirs = tempfile::tempdir().unwrap();
    let (config, cache) = (dirs.path().join("config"), dirs.path().join("cache"));
    std::fs::create_dir_all(&config).unwrap();

    let o = vchat(
        &[
            "--url",
            &server.url,
            "--image",
            &image_url,
            "--send-image-urls",
            "--prompt",
            "Describe the image",
            "--max-tokens",
            "4",
            "--greedy",
            "--show-prompt",
        ],
        &config,
        &cache,
        &[],
    );
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    assert!(
        out.contains(&format!("\"url\": \"{image_url}\"")),
        "sent as its URL: {out}"
    );
    assert!(!out.contains("base64"), "{out}");
    let fetched: Vec<String> = fetches.try_iter().collect();
    assert_eq!(
        fetched.len(),
        2,
        "vchat and the server each fetched the image: {fetched:?}"
    );
    assert!(
        fetched
            .iter()
            .all(|head| head.starts_with("GET /pattern-3.png ")),
        "{fetched:?}"
    );
}

#[test]
fn usage_errors_of_the_backend_flags_exit_2() {
    let dirs = tempfile::tempdir().unwrap();
    let (config, cache) = (dirs.path().join("config"), dirs.path().join("cache"));
    std::fs::create_dir_all(&config).unwrap();
    let model = tiny_model().to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--backend", "remote", "--prompt", "hi"],
            "needs the server's URL",
        ),
        (
            &["--url", "gpu:8000", "--prompt", "hi"],
            "is not an http(s) server URL",
        ),
        (&["--list-models"], "--list-models asks a remote server"),
        (
            &[
                "--model",
                model,
                "--device-map",
                "auto",
                "--cpu",
                "--prompt",
                "hi",
            ],
            "--device-map auto",
        ),
        (
            &[
                "--model",
                model,
                "--device-layers",
                "0:2;1:2",
                "--prompt",
                "hi",
                "--cpu",
            ],
            "--device-layers",
        ),
    ];
    for (args, expected) in cases {
        let o = vchat(args, &config, &cache, &[]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    if !cfg!(feature = "cuda") {
        let o = vchat(
            &["--model", model, "--device-layers", "0:2", "--prompt", "hi"],
            &config,
            &cache,
            &[],
        );
        assert_eq!(o.status.code(), Some(2));
        assert!(
            text(&o.stderr).contains("needs vchat built with CUDA"),
            "{}",
            text(&o.stderr)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A raw responder for what real servers do not send

/// How the responder answers a chat request.
#[derive(Clone)]
struct Reply {
    /// The raw HTTP response.
    bytes: Vec<u8>,
    /// Keep the connection open after writing, until the client closes it.
    hold: bool,
}

fn reply(status: &str, content_type: &str, body: &str) -> Reply {
    Reply {
        bytes: format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
        hold: false,
    }
}

/// An SSE response whose body is `events` as written; the stream ends when the connection
/// closes (or never, with `hold`).
fn sse(events: &str, hold: bool) -> Reply {
    Reply {
        bytes: format!("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n{events}")
            .into_bytes(),
        hold,
    }
}

fn chunk(text: &str) -> String {
    format!(
        "data: {}\n\n",
        serde_json::json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
    )
}

/// A loopback responder: `/v1/models` gets `models`, every other request gets `chat`. Returns
/// the URL and a channel of the request heads it received.
fn responder(models: Reply, chat: Reply) -> (String, std_mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let (heads_tx, heads) = std_mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let (models, chat, heads_tx) = (models.clone(), chat.clone(), heads_tx.clone());
            std::thread::spawn(move || serve_one(stream, &models, &chat, &heads_tx));
        }
    });
    (url, heads)
}

fn serve_one(
    mut stream: TcpStream,
    models: &Reply,
    chat: &Reply,
    heads: &std_mpsc::Sender<String>,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let reply = if head.starts_with("GET /v1/models") {
        models
    } else {
        chat
    };
    let _ = heads.send(head);
    let _ = stream.write_all(&reply.bytes);
    let _ = stream.flush();
    if reply.hold {
        // Silent until the client gives up and closes the connection.
        let mut sink = [0u8; 1024];
        while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
    }
}

fn one_model() -> Reply {
    reply(
        "200 OK",
        "application/json",
        r#"{"object":"list","data":[{"id":"llava","object":"model"}]}"#,
    )
}

/// The error line for one chat request answered by `chat`, and the text streamed before it.
async fn chat_failure(chat: Reply, idle_timeout: Option<std::time::Duration>) -> (String, String) {
    let (url, _heads) = responder(one_model(), chat);
    let mut options = remote(&url);
    if let Some(timeout) = idle_timeout {
        options.idle_timeout = timeout;
    }
    let (engine, mut events) = Engine::start(engine_options(options));
    assert_eq!(started(&mut events).await.as_deref(), Ok("llava"));
    let mut conversation = Conversation::default();
    conversation.push_user("hi", Some(chat_image(0)));
    let (text, message) = failed(&mut events, engine.generate(&conversation, &greedy(8))).await;
    assert_one_line(&message);
    (text, message)
}

#[test]
fn a_refused_key_is_one_line_that_never_shows_the_key() {
    let echo = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {KEY}","type":"invalid_request_error"}}}}"#
    );
    let (url, heads) = responder(
        reply("401 Unauthorized", "application/json", &echo),
        one_model(),
    );
    let dirs = tempfile::tempdir().unwrap();
    let (config, cache) = (dirs.path().join("config"), dirs.path().join("cache"));
    std::fs::create_dir_all(&config).unwrap();

    for (args, env) in [
        (
            vec!["--url", url.as_str(), "--api-key", KEY, "--prompt", "hi"],
            vec![],
        ),
        (
            vec!["--url", url.as_str(), "--prompt", "hi"],
            vec![("VCHAT_API_KEY", KEY)],
        ),
    ] {
        let o = vchat(&args, &config, &cache, &env);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(4), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("refused the API key (HTTP 401): Incorrect API key provided: ***"),
            "{err}"
        );
        assert!(!err.contains(KEY) && o.stdout.is_empty(), "{err}");
        let head = heads.recv().expect("a request");
        assert!(
            head.contains(&format!("authorization: Bearer {KEY}")),
            "the key is sent: {head}"
        );
    }
    let log = log_of(&cache);
    assert!(log.contains("refused the API key"), "logged");
    assert!(!log.contains(KEY), "the key is not in the log file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_quote_the_server_in_one_line() {
    let (_, message) = chat_failure(
        reply(
            "403 Forbidden",
            "application/json",
            &format!(r#"{{"error":"key {KEY} lacks access"}}"#),
        ),
        None,
    )
    .await;
    assert!(
        message.contains("refused the API key (HTTP 403): key *** lacks access"),
        "{message}"
    );

    let (_, message) = chat_failure(
        reply(
            "404 Not Found",
            "application/json",
            r#"{"error":{"message":"The model `llava` does not exist.","code":404}}"#,
        ),
        None,
    )
    .await;
    assert!(
        message.ends_with(
            "does not serve model 'llava' (HTTP 404): The model `llava` does not exist."
        ),
        "{message}"
    );

    let (_, message) = chat_failure(
        reply(
            "429 Too Many Requests",
            "application/json",
            r#"{"error":{"message":"Rate limit reached"}}"#,
        ),
        None,
    )
    .await;
    assert!(
        message.contains("too many requests (HTTP 429): Rate limit reached"),
        "{message}"
    );

    let (_, message) = chat_failure(
        reply(
            "500 Internal Server Error",
            "application/json",
            r#"{"message":"CUDA out of memory.\nTried to allocate 2 GiB"}"#,
        ),
        None,
    )
    .await;
    assert!(
        message.ends_with("failed (HTTP 500): CUDA out of memory."),
        "{message}"
    );

    let (_, message) = chat_failure(
        reply(
            "502 Bad Gateway",
            "text/html",
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        ),
        None,
    )
    .await;
    assert!(message.ends_with("failed (HTTP 502)"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_streams_keep_the_partial_answer_and_say_why() {
    let (text, message) = chat_failure(
        sse(
            &format!(
                "{}data: {{\"choices\": [{{\"delta\": {{\"content\": \n\n",
                chunk("Hello")
            ),
            false,
        ),
        None,
    )
    .await;
    assert_eq!(text, "Hello");
    assert!(
        message.contains("sent a malformed stream (an event is not valid JSON"),
        "{message}"
    );
    assert!(message.ends_with("(partial answer kept)"), "{message}");

    let (text, message) = chat_failure(
        sse(&format!("{}{}", chunk("Hel"), chunk("lo")), false),
        None,
    )
    .await;
    assert_eq!(text, "Hello");
    assert!(
        message.contains("closed the stream before the answer ended (partial answer kept)"),
        "{message}"
    );

    let (text, message) = chat_failure(
        sse(
            "data: Engine failure: out of blocks\n\ndata: [DONE]\n\n",
            false,
        ),
        None,
    )
    .await;
    assert_eq!(text, "");
    assert!(
        message.ends_with("reported an error: Engine failure: out of blocks"),
        "{message}"
    );

    let (_, message) = chat_failure(
        sse("data: {\"object\": \"chat.completion.chunk\"}\n\n", false),
        None,
    )
    .await;
    assert!(
        message.contains("malformed stream (an event has no \"choices\")"),
        "{message}"
    );

    let (_, message) = chat_failure(
        reply("200 OK", "application/json", "{\"choices\": [oops"),
        None,
    )
    .await;
    assert!(
        message.contains("malformed stream (the answer is not valid JSON"),
        "{message}"
    );

    let (text, message) = chat_failure(
        sse(&chunk("Hi"), true),
        Some(std::time::Duration::from_secs(1)),
    )
    .await;
    assert_eq!(text, "Hi");
    assert!(message.contains("no answer from 127.0.0.1:"), "{message}");
    assert!(
        message.ends_with("for 1 s (idle timeout) (partial answer kept)"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_without_done_but_with_a_finish_reason_is_complete() {
    let end = format!(
        "data: {}\n\n",
        serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
    );
    let (url, _heads) = responder(
        one_model(),
        sse(&format!("{}{}{end}", chunk("A"), chunk("B")), false),
    );
    let (engine, mut events) = Engine::start(engine_options(remote(&url)));
    started(&mut events).await.expect("connected");
    let mut conversation = Conversation::default();
    conversation.push_user("hi", None);
    let answer = collect(&mut events, engine.generate(&conversation, &greedy(2))).await;
    assert_eq!(answer.text, "AB");
    assert_eq!(answer.stats.finish, FinishReason::Length);
    assert_eq!(answer.stats.tokens, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_servers_fail_to_start_in_one_line() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_engine, mut events) = Engine::start(engine_options(remote(&format!(
        "http://127.0.0.1:{port}/v1"
    ))));
    let message = started(&mut events).await.expect_err("nothing listens");
    assert_one_line(&message);
    assert_eq!(
        message,
        format!("cannot connect to 127.0.0.1:{port}: connection refused (is the server running?)")
    );

    let (_engine, mut events) =
        Engine::start(engine_options(remote("http://vchat-test.invalid:8000/v1")));
    let message = started(&mut events).await.expect_err("no such host");
    assert_eq!(
        message,
        "cannot find the server vchat-test.invalid:8000 (DNS lookup failed)"
    );

    // TLS to a server that answers in plain HTTP.
    let plain = TcpListener::bind("127.0.0.1:0").unwrap();
    let https = format!("https://{}/v1", plain.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in plain.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        }
    });
    let (_engine, mut events) = Engine::start(engine_options(remote(&https)));
    let message = started(&mut events).await.expect_err("not TLS");
    assert_one_line(&message);
    assert!(message.starts_with("TLS with 127.0.0.1:"), "{message}");

    // Several models and none chosen.
    let several = reply(
        "200 OK",
        "application/json",
        r#"{"data":[{"id":"a"},{"id":"b"}]}"#,
    );
    let (url, _heads) = responder(several, one_model());
    let (_engine, mut events) = Engine::start(engine_options(remote(&url)));
    let message = started(&mut events).await.expect_err("ambiguous");
    assert!(
        message.ends_with("serves several models (a, b); choose one with --model"),
        "{message}"
    );
}
