//! Hub models are downloaded by vchat, not by mistral.rs, so that the user sees the download:
//! each file's name, the bytes so far of the whole model, the speed and the time left. mistral.rs
//! 0.8.1 only draws progress bars on stderr, hidden in the app, and reads `HF_ENDPOINT` for no
//! file; here every request, weights included, goes to the endpoint hf-hub reads from the
//! environment (`HF_ENDPOINT`, a hub mirror). mistral.rs then loads the downloaded snapshot
//! from its folder and needs no network.
//!
//! Interrupted downloads: hf-hub writes a file to `blobs/ETAG.sync.part`, appends to that on
//! the next attempt (an HTTP range request from its length) and renames it into place only
//! when the copy ends. A connection that closes early without an error would still end the
//! copy, so vchat checks each file's size against the size the hub announced before trusting
//! it, and removes a short one: a later run never loads a half file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hf_hub::api::sync::{Api, ApiBuilder};
use hf_hub::api::Progress;
use hf_hub::Cache;
use serde_json::Value;

/// Where hub files come from and go: the endpoint and the cache folder.
#[derive(Debug, Clone)]
pub struct Hub {
    /// The hub's address (`HF_ENDPOINT`, else huggingface.co).
    pub endpoint: String,
    /// hf-hub's cache (`HF_HOME/hub`, else `~/.cache/huggingface/hub`).
    pub cache: PathBuf,
}

impl Hub {
    /// As hf-hub reads the environment.
    pub fn from_env() -> Self {
        let endpoint = std::env::var("HF_ENDPOINT")
            .ok()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| "https://huggingface.co".into());
        Self {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            cache: Cache::from_env().path().clone(),
        }
    }

    fn api(&self) -> Result<Api, String> {
        let cache = Cache::new(self.cache.clone());
        // Gated models (Gemma 3) need the user's token: `HF_TOKEN`, else the one
        // `huggingface-cli login` saved (all hf-hub reads by itself).
        let token = std::env::var("HF_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .or_else(|| cache.token());
        ApiBuilder::from_cache(cache)
            .with_token(token)
            .with_endpoint(self.endpoint.clone())
            .with_progress(false)
            // A dropped connection is resumed from where it stopped, a few times, before the
            // download fails (and the next run resumes it again).
            .with_retries(3)
            .build()
            .map_err(|e| crate::text::one_line(&e.to_string()))
    }
}

/// One report: what is happening, and how far the whole download is (0..=1).
pub type Report = Arc<dyn Fn(String, f32) + Send + Sync>;

/// A file of the repository and its size, when the hub says.
#[derive(Debug, Clone, PartialEq)]
struct RepoFile {
    name: String,
    size: Option<u64>,
}

/// Downloads what mistral.rs needs of hub model `id` (or finds it in the cache) and returns
/// the snapshot folder holding it. Blocking.
pub fn fetch_model(hub: &Hub, id: &str, report: Report) -> Result<PathBuf, String> {
    let api = hub.api()?;
    let repo = api.model(id.to_string());
    report(format!("asking {} for {id}'s files", hub.endpoint), 0.0);
    let listing = repo
        .info_request()
        .query("blobs", "true")
        .call()
        .map_err(|e| crate::text::one_line(&e.to_string()))?
        .into_string()
        .map_err(|e| e.to_string())?;
    let files = needed_files(&listing)?;
    let total: Option<u64> = files.iter().map(|f| f.size).sum();
    let cached = Cache::new(hub.cache.clone()).model(id.to_string());
    let mut meter = Meter::new(report, files.len(), total);
    let mut snapshot = None;
    for (index, file) in files.iter().enumerate() {
        let path = match cached.get(&file.name).filter(|p| has_size(p, file.size)) {
            Some(path) => {
                meter.skip(file.size.unwrap_or(0));
                path
            }
            None => {
                let progress = FileProgress {
                    meter: &mut meter,
                    index,
                    name: file.name.clone(),
                    size: 0,
                    received: 0,
                };
                let path = repo
                    .download_with_progress(&file.name, progress)
                    .map_err(|e| {
                        format!(
                            "downloading {} stopped ({}); run again to resume it",
                            file.name,
                            crate::text::one_line(&e.to_string())
                        )
                    })?;
                let announced = file.size.or(meter.last_file_size);
                if !has_size(&path, announced) {
                    let got = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    forget(&path);
                    return Err(format!(
                        "the download of {} ended early ({got} of {} bytes); run again to fetch it",
                        file.name,
                        announced.unwrap_or(0)
                    ));
                }
                path
            }
        };
        snapshot.get_or_insert_with(|| path.parent().map(Path::to_path_buf));
    }
    snapshot
        .flatten()
        .ok_or_else(|| format!("{id} has no files vchat can load"))
}

/// The files mistral.rs reads, at the repository's top level: configs, tokenizer, chat
/// template and safetensors weights (not other weight formats, not a second copy of the
/// weights in Mistral's `consolidated` format when the usual shards are there).
fn needed_files(listing: &str) -> Result<Vec<RepoFile>, String> {
    let json: Value = serde_json::from_str(listing)
        .map_err(|e| format!("the hub's file list is not JSON ({e})"))?;
    let siblings = json
        .get("siblings")
        .and_then(Value::as_array)
        .ok_or("the hub's answer lists no files")?;
    let all: Vec<RepoFile> = siblings
        .iter()
        .filter_map(|s| {
            let name = s.get("rfilename")?.as_str()?.to_string();
            let size = s
                .get("lfs")
                .and_then(|l| l.get("size"))
                .or_else(|| s.get("size"))
                .and_then(Value::as_u64);
            Some(RepoFile { name, size })
        })
        .filter(|f| !f.name.contains('/'))
        .collect();
    let has_shards = all
        .iter()
        .any(|f| f.name.ends_with(".safetensors") && !f.name.starts_with("consolidated"));
    Ok(all
        .into_iter()
        .filter(|f| {
            let n = f.name.as_str();
            let weights =
                n.ends_with(".safetensors") && !(has_shards && n.starts_with("consolidated"));
            weights || n.ends_with(".json") || n.ends_with(".jinja") || n == "tokenizer.model"
        })
        .collect())
}

fn has_size(path: &Path, size: Option<u64>) -> bool {
    match (std::fs::metadata(path), size) {
        (Ok(meta), Some(size)) => meta.len() == size,
        (Ok(_), None) => true,
        (Err(_), _) => false,
    }
}

/// Removes a file that is not what the hub announced: the snapshot's link and the blob.
fn forget(path: &Path) {
    if let Ok(blob) = std::fs::canonicalize(path) {
        let _ = std::fs::remove_file(blob);
    }
    let _ = std::fs::remove_file(path);
}

/// The whole download's progress, reported at most every quarter second.
struct Meter {
    report: Report,
    files: usize,
    total: Option<u64>,
    /// Bytes of the finished files and of the current one so far.
    done: u64,
    /// What the current file's download added, for the speed (cached files do not count).
    started: Instant,
    downloaded: u64,
    last_report: Option<Instant>,
    /// The size hf-hub announced for the file being downloaded.
    last_file_size: Option<u64>,
}

impl Meter {
    fn new(report: Report, files: usize, total: Option<u64>) -> Self {
        Self {
            report,
            files,
            total,
            done: 0,
            started: Instant::now(),
            downloaded: 0,
            last_report: None,
            last_file_size: None,
        }
    }

    fn skip(&mut self, bytes: u64) {
        self.done += bytes;
    }

    fn advance(&mut self, index: usize, name: &str, file: (u64, u64), bytes: u64, last: bool) {
        self.done += bytes;
        self.downloaded += bytes;
        let now = Instant::now();
        if !last
            && self
                .last_report
                .is_some_and(|t| now.duration_since(t) < Duration::from_millis(250))
        {
            return;
        }
        self.last_report = Some(now);
        let seconds = now.duration_since(self.started).as_secs_f64();
        let rate = if seconds > 0.0 {
            self.downloaded as f64 / seconds
        } else {
            0.0
        };
        let (fraction, amount) = match self.total.filter(|t| *t > 0) {
            Some(total) => (
                self.done as f64 / total as f64,
                format!("{} of {}", bytes_text(self.done), bytes_text(total)),
            ),
            None => (
                (index as f64 + file.0 as f64 / file.1.max(1) as f64) / self.files as f64,
                format!("{} of {}", bytes_text(file.0), bytes_text(file.1)),
            ),
        };
        let left = match self.total {
            Some(total) if rate > 0.0 && total > self.done => {
                format!(
                    " · {} left",
                    duration_text((total - self.done) as f64 / rate)
                )
            }
            _ => String::new(),
        };
        (self.report)(
            format!(
                "downloading {name} ({}/{}): {amount} · {}/s{left}",
                index + 1,
                self.files,
                bytes_text(rate as u64)
            ),
            fraction.clamp(0.0, 1.0) as f32,
        );
    }
}

/// hf-hub's progress for one file, fed into the [`Meter`].
struct FileProgress<'a> {
    meter: &'a mut Meter,
    index: usize,
    name: String,
    size: u64,
    received: u64,
}

impl Progress for FileProgress<'_> {
    fn init(&mut self, size: usize, _filename: &str) {
        // Called again when a dropped connection is resumed; hf-hub then reports the part
        // already there as one update, so what was counted for this file is taken back.
        self.meter.done = self.meter.done.saturating_sub(self.received);
        self.meter.downloaded = self.meter.downloaded.saturating_sub(self.received);
        self.received = 0;
        self.size = size as u64;
        self.meter.last_file_size = Some(self.size);
    }

    fn update(&mut self, size: usize) {
        // hf-hub reports a resumed file's existing part first, as one update.
        self.received += size as u64;
        self.meter.advance(
            self.index,
            &self.name,
            (self.received, self.size),
            size as u64,
            false,
        );
    }

    fn finish(&mut self) {
        self.meter
            .advance(self.index, &self.name, (self.received, self.size), 0, true);
    }
}

/// "1.4 GB", "312 MB", "18 kB", "512 B" (powers of 1000, as download tools show them).
pub fn bytes_text(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

/// "2 h 05 min", "3 min 20 s", "42 s".
pub fn duration_text(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_mistral_rs_reads_is_fetched() {
        let listing = r#"{"sha":"abc","siblings":[
            {"rfilename":"config.json","size":600},
            {"rfilename":"model-00001-of-00002.safetensors","lfs":{"size":4900000000}},
            {"rfilename":"model-00002-of-00002.safetensors","lfs":{"size":100}},
            {"rfilename":"consolidated.safetensors","lfs":{"size":5000000000}},
            {"rfilename":"pytorch_model.bin","lfs":{"size":5000000000}},
            {"rfilename":"onnx/model.onnx"},
            {"rfilename":"tokenizer.json"},
            {"rfilename":"chat_template.jinja"},
            {"rfilename":"README.md"}]}"#;
        let names: Vec<String> = needed_files(listing)
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(
            names,
            [
                "config.json",
                "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors",
                "tokenizer.json",
                "chat_template.jinja"
            ]
        );
        assert!(needed_files("not json").is_err());
    }

    #[test]
    fn sizes_and_times_read_as_download_tools_write_them() {
        assert_eq!(bytes_text(14_100_000_000), "14.1 GB");
        assert_eq!(bytes_text(48_200_000), "48 MB");
        assert_eq!(bytes_text(999), "999 B");
        assert_eq!(duration_text(7500.0), "2 h 05 min");
        assert_eq!(duration_text(200.0), "3 min 20 s");
        assert_eq!(duration_text(42.4), "42 s");
    }
}
