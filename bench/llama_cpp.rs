//! The CPU peer: vchat against llama.cpp (llama-mtmd-cli) on the same random LLaVA-1.5, the
//! same image and question, greedy, 256 new tokens, in F32 and in 8 bits (vchat: F32 weights
//! quantized to q8_0 at load; llama.cpp: the text model converted to q8_0, CLIP in F32).
//! Interleaved runs, each a process of its own; time to first token and decode tokens/s, and
//! vchat ÷ llama.cpp. A CPU user would otherwise pick llama.cpp: the ratio says whether to.
//!
//! Time to first token: vchat's `--stats` (request → first token: image preprocessing, CLIP,
//! prefill); llama.cpp: from the start of the image's encoding (its log) to its first output.
//! Decode: vchat's `--stats`; llama.cpp: see `run_llama`.
//!
//! Usage: llama_cpp VCHAT_BINARY LLAMA_MTMD_CLI GGUF_DIR [RUNS]   (GGUF_DIR: from
//! bench/llama-cpp/setup.sh, for the model in target/bench-models/llava-1024x8)

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "stats.rs"]
mod stats;

use stats::{median, paired_ratios, replace_section, spread};

const PROMPT: &str = "Describe the image";
const MAX_TOKENS: &str = "256";

/// One process's figures: seconds to the first token, decode tokens/s.
type Run = (f64, f64);

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: llama_cpp VCHAT_BINARY LLAMA_MTMD_CLI GGUF_DIR [RUNS]";
    let [vchat, llama, gguf] = [1, 2, 3].map(|i| args.get(i).map(PathBuf::from));
    let (vchat, llama, gguf) = (vchat.ok_or(usage)?, llama.ok_or(usage)?, gguf.ok_or(usage)?);
    let runs: usize = args
        .get(4)
        .map_or(Ok(3), |r| r.parse())
        .map_err(|_| "bad RUNS")?;
    let model = stats::project_root().join("target/bench-models/llava-1024x8");
    let image = model.join("example.png");

    let mut rows = String::new();
    let mut ratio_rows = String::new();
    for (name, isq, text_model) in [
        ("F32", "none", "text-f32.gguf"),
        ("8-bit (q8_0)", "q8_0", "text-q8_0.gguf"),
    ] {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            ours.push(run_vchat(&vchat, &model, &image, isq)?);
            theirs.push(run_llama(&llama, &gguf.join(text_model), &gguf, &image)?);
        }
        let pick = |v: &[Run], f: fn(&Run) -> f64| v.iter().map(f).collect::<Vec<f64>>();
        let (our_ttft, their_ttft) = (pick(&ours, |r| r.0), pick(&theirs, |r| r.0));
        let (our_tps, their_tps) = (pick(&ours, |r| r.1), pick(&theirs, |r| r.1));
        println!(
            "bench: {name}: vchat first token {:.2} s, {:.1} tokens/s; llama.cpp {:.2} s, {:.1} tokens/s",
            median(&our_ttft),
            median(&our_tps),
            median(&their_ttft),
            median(&their_tps)
        );
        rows += &format!(
            "| {name} | vchat | {} s | {} |\n| {name} | llama.cpp | {} s | {} |\n",
            spread(&our_ttft, 1.0, 2),
            spread(&our_tps, 1.0, 1),
            spread(&their_ttft, 1.0, 2),
            spread(&their_tps, 1.0, 1),
        );
        ratio_rows += &format!(
            "| {name} | {} | {} |\n",
            spread(&paired_ratios(&our_ttft, &their_ttft), 1.0, 2),
            spread(&paired_ratios(&our_tps, &their_tps), 1.0, 2),
        );
    }
    let section = format!(
        "\n## CPU peer: llama.cpp\n\n\
         Measured {}. The 108M-parameter random LLaVA-1.5 (text hidden 1024 × 8 layers, CLIP \
         256 × 4 layers), one 336 × 336 PNG, \"{PROMPT}\", greedy, {MAX_TOKENS} new tokens; \
         {runs} interleaved runs per row, each a process of its own; median (spread). vchat: \
         one-shot, `--cpu`, F32 weights, `--isq none` or `--isq q8_0`. llama.cpp: \
         llama-mtmd-cli from the llama-cpp-python 0.3.36 sources, 2 threads, `--temp 0 \
         --ignore-eos --chat-template vicuna`, the text model converted by its \
         convert_hf_to_gguf.py to F32 or q8_0, CLIP and the projector by its LLaVA-1.5 \
         converter (`bench/llama-cpp/setup.sh`). Time to first token: vchat's request → first \
         token; llama.cpp: the start of the image's encoding (its log line) → its first output \
         (model loading is left out of both). Decode: vchat's `--stats`; llama.cpp: \
         {MAX_TOKENS} tokens (`--ignore-eos`) over the time from its first output to its last.\n\n\
         | weights | program | time to first token | decode tokens/s |\n|---|---|---|---|\n\
         {rows}\n\
         Each ratio is the median of the runs' own ratios (each vchat run ÷ the llama.cpp run \
         after it). Below 1 is faster for the first token; above 1 is faster decoding.\n\n\
         | weights | time to first token, vchat ÷ llama.cpp | decode tokens/s, vchat ÷ llama.cpp |\n\
         |---|---|---|\n{ratio_rows}",
        stats::measured_on()
    );
    println!("{section}");
    replace_section(&section, "\n## CPU peer: llama.cpp")
}

fn run_vchat(vchat: &Path, model: &Path, image: &Path, isq: &str) -> Result<Run, String> {
    let output = Command::new(vchat)
        .args(["--model".as_ref(), model.as_os_str()])
        .args(["--image".as_ref(), image.as_os_str()])
        .args(["--prompt", PROMPT, "--greedy", "--max-tokens", MAX_TOKENS])
        .args(["--dtype", "f32", "--isq", isq])
        .args(["--cpu", "--offline", "--no-image", "--stats"])
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("[answer 1]"))
        .ok_or_else(|| format!("vchat gave no figures: {stderr}"))?;
    let number_before = |suffix: &str| -> Option<f64> {
        let part = line.split(" · ").find(|p| p.ends_with(suffix))?;
        part.trim_end_matches(suffix)
            .split(' ')
            .next_back()?
            .parse()
            .ok()
    };
    Ok((
        number_before(" s").ok_or("no first-token time")?,
        number_before(" tokens/s").ok_or("no decode rate")?,
    ))
}

/// llama-mtmd-cli prints no timings of its own in one-shot mode (its perf summary does not
/// reach the log in 0.3.36's tree), so they are taken here from its output streams: the image's
/// encoding starts when its log says so (the model is loaded by then), the first token is the
/// first generated text on stdout, and `--ignore-eos` makes every answer exactly MAX_TOKENS long,
/// so decode is (MAX_TOKENS − 1) ÷ (last output − first output).
fn run_llama(llama: &Path, text_model: &Path, gguf: &Path, image: &Path) -> Result<Run, String> {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;
    use std::time::Instant;
    let mut child = Command::new(llama)
        .args(["-m".as_ref(), text_model.as_os_str()])
        .args(["--mmproj".as_ref(), gguf.join("mmproj.gguf").as_os_str()])
        .args(["--image".as_ref(), image.as_os_str()])
        .args([
            "-p", PROMPT, "-n", MAX_TOKENS, "--temp", "0", "-t", "2", "-c", "2048",
        ])
        .args(["--ignore-eos", "--chat-template", "vicuna"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let log = std::thread::spawn(move || {
        let mut encoding_started = None;
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if encoding_started.is_none() && line.contains("encoding mtmd batch") {
                encoding_started = Some(Instant::now());
            }
            text.push_str(&line);
            text.push('\n');
        }
        (encoding_started, text)
    });
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let (mut first, mut last) = (None, None);
    let mut buffer = [0u8; 4096];
    loop {
        let n = stdout.read(&mut buffer).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        let now = Instant::now();
        if buffer[..n].iter().any(|b| !b.is_ascii_whitespace()) {
            first.get_or_insert(now);
            last = Some(now);
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let (encoding_started, log) = log.join().map_err(|_| "log reader")?;
    if !status.success() {
        return Err(format!("llama-mtmd-cli failed: {log}"));
    }
    let started = encoding_started.ok_or_else(|| format!("no image encoding in: {log}"))?;
    let (first, last) = (first.ok_or("no answer")?, last.ok_or("no answer")?);
    let tokens: f64 = MAX_TOKENS.parse().map_err(|_| "bad MAX_TOKENS")?;
    Ok((
        (first - started).as_secs_f64(),
        (tokens - 1.0) / (last - first).as_secs_f64(),
    ))
}
