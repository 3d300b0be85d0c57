//! Hub models through a hub stand-in on loopback: a small HTTP server that answers as the
//! Hugging Face hub does (the file list, and each file with its ETag, commit and ranges),
//! serving the tiny LLaVA. vchat is pointed at it with `HF_ENDPOINT`, as a user of a hub
//! mirror does, and must take every file from there, show the download's progress, resume a
//! download that was cut, and never load a file that came in short.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{test_png, tiny_model};
use sha2::{Digest, Sha256};
use vchat::engine::download::{fetch_model, Hub};

const REPO: &str = "vchat-test/tiny-llava";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const WEIGHTS: &str = "model.safetensors";

/// Each request the stand-in answered: its path and its Range header.
type RequestLog = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// The stand-in: serves the files of `dir` as `REPO`, records each request (path and range),
/// and cuts the next `cut_weights` downloads of the weights halfway.
struct HubStandIn {
    endpoint: String,
    requests: RequestLog,
    cut_weights: Arc<AtomicUsize>,
}

impl HubStandIn {
    fn serve(dir: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let cut_weights = Arc::new(AtomicUsize::new(0));
        let files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&p).unwrap())
            })
            .collect();
        let files = Arc::new(files);
        let (log, cut) = (requests.clone(), cut_weights.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (files, log, cut) = (files.clone(), log.clone(), cut.clone());
                std::thread::spawn(move || answer(stream, &files, &log, &cut));
            }
        });
        Self {
            endpoint,
            requests,
            cut_weights,
        }
    }

    /// The ranges asked for the weights, in order.
    fn weight_ranges(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(path, _)| path.ends_with(WEIGHTS))
            .filter_map(|(_, range)| range.clone())
            .collect()
    }

    fn paths(&self) -> Vec<String> {
        let requests = self.requests.lock().unwrap();
        requests.iter().map(|(path, _)| path.clone()).collect()
    }
}

fn answer(
    mut stream: TcpStream,
    files: &[(String, Vec<u8>)],
    log: &Mutex<Vec<(String, Option<String>)>>,
    cut: &AtomicUsize,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_string());
            }
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
    log.lock().unwrap().push((path.clone(), range.clone()));
    let bare = path.split('?').next().unwrap_or("");

    if bare == format!("/api/models/{REPO}/revision/main") {
        let siblings: Vec<String> = files
            .iter()
            .map(|(name, bytes)| {
                format!(
                    r#"{{"rfilename":"{name}","size":{},"lfs":{{"size":{}}}}}"#,
                    bytes.len(),
                    bytes.len()
                )
            })
            .collect();
        let body = format!(
            r#"{{"sha":"{COMMIT}","siblings":[{}]}}"#,
            siblings.join(",")
        );
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    let prefix = format!("/{REPO}/resolve/main/");
    let Some((name, bytes)) = bare
        .strip_prefix(&prefix)
        .and_then(|name| files.iter().find(|(n, _)| n == name))
    else {
        let _ = write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    };
    let size = bytes.len();
    let (start, end) = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .map(|(a, b)| {
            let a: usize = a.parse().unwrap_or(0);
            let b: usize = b.parse().unwrap_or(size - 1);
            (a.min(size), b.min(size - 1))
        })
        .unwrap_or((0, size - 1));
    let etag = format!("{:x}", Sha256::digest(bytes));
    let body = &bytes[start..=end];
    let _ = write!(
        stream,
        "HTTP/1.1 206 Partial Content\r\nETag: \"{etag}\"\r\nX-Repo-Commit: {COMMIT}\r\nContent-Range: bytes {start}-{end}/{size}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let whole_body = end > start;
    if name == WEIGHTS
        && whole_body
        && cut
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        // Half the body, then the connection drops.
        let _ = stream.write_all(&body[..body.len() / 2]);
        let _ = stream.flush();
        let _ = stream.shutdown(std::net::Shutdown::Both);
        return;
    }
    let _ = stream.write_all(body);
}

/// vchat one-shot on `model`, greedy, with the hub at `endpoint` and its cache in `hf_home`.
fn ask(model: &str, endpoint: &str, hf_home: &Path) -> std::process::Output {
    let scratch = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_vchat"))
        .args(["--model", model, "--image"])
        .arg(test_png(0))
        .args([
            "--prompt",
            "Describe the image",
            "--cpu",
            "--greedy",
            "--max-tokens",
            "8",
        ])
        .env_remove("HF_HUB_OFFLINE")
        .env("HF_ENDPOINT", endpoint)
        .env("HF_HOME", hf_home)
        .env("VCHAT_CACHE_DIR", scratch.path().join("cache"))
        .env("VCHAT_CONFIG_DIR", scratch.path().join("config"))
        .env("VCHAT_DATA_DIR", scratch.path().join("data"))
        .output()
        .unwrap()
}

fn blobs(hf_home: &Path) -> Vec<PathBuf> {
    let dir = hf_home
        .join("hub")
        .join(format!("models--{}", REPO.replace('/', "--")))
        .join("blobs");
    std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// The one-shot answer from the hub stand-in equals the answer from the folder itself, every
/// file came from `HF_ENDPOINT`, and a connection cut mid-file is resumed in the same run.
#[test]
fn a_hub_model_comes_from_hf_endpoint_and_answers_as_the_folder_does() {
    let local = tiny_model();
    let hub = HubStandIn::serve(local);
    hub.cut_weights.store(1, Ordering::SeqCst);
    let hf_home = tempfile::tempdir().unwrap();

    let from_hub = ask(REPO, &hub.endpoint, hf_home.path());
    let stderr = String::from_utf8_lossy(&from_hub.stderr);
    assert!(from_hub.status.success(), "{stderr}");
    let from_folder = ask(local.to_str().unwrap(), &hub.endpoint, hf_home.path());
    assert!(from_folder.status.success());
    assert_eq!(
        String::from_utf8_lossy(&from_hub.stdout),
        String::from_utf8_lossy(&from_folder.stdout),
        "the same weights, the same answer"
    );
    // No progress on stderr when it is not a terminal.
    assert!(!stderr.contains("downloading"), "{stderr}");

    let paths = hub.paths();
    for file in ["config.json", "tokenizer.json", WEIGHTS] {
        assert!(
            paths
                .iter()
                .any(|p| p.ends_with(&format!("/resolve/main/{file}"))),
            "{file} fetched from the stand-in: {paths:?}"
        );
    }
    // The cut download went on from where it stopped.
    let ranges = hub.weight_ranges();
    assert!(
        ranges.iter().any(|r| r
            .strip_prefix("bytes=")
            .is_some_and(|r| !r.starts_with("0-"))),
        "a resumed range: {ranges:?}"
    );

    // Run again: everything is in the cache, nothing is downloaded again.
    let before = hub.weight_ranges().len();
    let again = ask(REPO, &hub.endpoint, hf_home.path());
    assert!(again.status.success());
    assert_eq!(again.stdout, from_hub.stdout);
    assert_eq!(hub.weight_ranges().len(), before, "the weights were cached");
}

/// A download that keeps failing stops with one line and leaves only its partial file, which
/// no run loads; the next run resumes it from there.
#[test]
fn a_download_that_keeps_failing_is_resumed_by_the_next_run() {
    let hub = HubStandIn::serve(tiny_model());
    hub.cut_weights.store(100, Ordering::SeqCst);
    let hf_home = tempfile::tempdir().unwrap();

    let failed = ask(REPO, &hub.endpoint, hf_home.path());
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(
        lines[0].contains(WEIGHTS) && lines[0].contains("run again"),
        "{stderr}"
    );
    // A blob is named by its ETag, the SHA-256 of its content: every one that is not a
    // partial download (or hf-hub's lock file) must be whole.
    let left = blobs(hf_home.path());
    let partial = |b: &&PathBuf| {
        let name = b.to_string_lossy();
        name.ends_with(".part") || name.ends_with(".lock")
    };
    for blob in left.iter().filter(|b| !partial(b)) {
        let name = blob.file_name().unwrap().to_string_lossy().into_owned();
        let digest = format!("{:x}", Sha256::digest(std::fs::read(blob).unwrap()));
        assert_eq!(name, digest, "a blob that is not whole was left in place");
    }
    assert!(
        left.iter().any(|b| b.to_string_lossy().ends_with(".part")),
        "the partial download is kept to resume: {left:?}"
    );

    hub.cut_weights.store(0, Ordering::SeqCst);
    let asked_before = hub.weight_ranges().len();
    let resumed = ask(REPO, &hub.endpoint, hf_home.path());
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let ranges = hub.weight_ranges()[asked_before..].to_vec();
    assert!(
        ranges.iter().any(|r| r
            .strip_prefix("bytes=")
            .is_some_and(|r| !r.starts_with("0-"))),
        "resumed from the partial file: {ranges:?}"
    );
}

/// What the app and one-shot show while a model downloads: each file, the bytes of the whole
/// model, a speed; the fraction never goes back and ends at 1.
#[test]
fn the_download_reports_files_bytes_and_speed() {
    let hub = HubStandIn::serve(tiny_model());
    let cache = tempfile::tempdir().unwrap();
    let reports: Arc<Mutex<Vec<(String, f32)>>> = Arc::default();
    let sink = reports.clone();
    let dir = fetch_model(
        &Hub {
            endpoint: hub.endpoint.clone(),
            cache: cache.path().to_path_buf(),
        },
        REPO,
        Arc::new(move |stage, fraction| sink.lock().unwrap().push((stage, fraction))),
    )
    .expect("downloaded");
    assert!(dir.join("config.json").is_file() && dir.join(WEIGHTS).is_file());
    assert_eq!(
        std::fs::read(dir.join(WEIGHTS)).unwrap(),
        std::fs::read(tiny_model().join(WEIGHTS)).unwrap()
    );
    let reports = reports.lock().unwrap();
    let weights = reports
        .iter()
        .find(|(stage, _)| stage.starts_with(&format!("downloading {WEIGHTS} (")))
        .unwrap_or_else(|| panic!("the weights' progress: {reports:?}"));
    assert!(
        weights.0.contains(" of ") && weights.0.contains("/s"),
        "{}",
        weights.0
    );
    let fractions: Vec<f32> = reports.iter().map(|(_, f)| *f).collect();
    assert!(
        fractions.windows(2).all(|w| w[0] <= w[1]),
        "never backwards: {fractions:?}"
    );
    assert_eq!(fractions.last(), Some(&1.0));
}
