//! The CPU peer: vchat against llama.cpp (llama-mtmd-cli) on the same random LLaVA-1.5, the
//! same image and question, greedy, 256 new tokens, in F32 and in 8 bits (vchat: F32 weights
//! quantized to q8_0 at load; llama.cpp: the text model converted to q8_0, CLIP in F32).
//! Interleaved runs, each a process of its own; time to first token and decode tokens/s, and
//! vchat ÷ llama.cpp. A CPU user would otherwise pick llama.cpp: the ratio says whether to.
//!
//! Time to first token: vchat's `--stats` (request → first token: image preprocessing, CLIP,
//! prefill); llama.cpp's own timings, image encoding plus prompt evaluation (the image's tokens
//! and the text's). Decode: vchat's `--stats`; llama.cpp's "eval time" line.
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
         llama-mtmd-cli from the llama-cpp-python 0.3.36 sources, 2 threads, `--temp 0`, the \
         text model converted by its convert_hf_to_gguf.py to F32 or q8_0, CLIP and the \
         projector by its LLaVA-1.5 converter (`bench/llama-cpp/setup.sh`). Time to first \
         token: vchat's request → first token; llama.cpp's image encoding + prompt \
         evaluation, from its own timings (so its model loading is left out of both).\n\n\
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

fn run_llama(llama: &Path, text_model: &Path, gguf: &Path, image: &Path) -> Result<Run, String> {
    let output = Command::new(llama)
        .args(["-m".as_ref(), text_model.as_os_str()])
        .args(["--mmproj".as_ref(), gguf.join("mmproj.gguf").as_os_str()])
        .args(["--image".as_ref(), image.as_os_str()])
        .args([
            "-p", PROMPT, "-n", MAX_TOKENS, "--temp", "0", "-t", "2", "-c", "2048",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    let log = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("llama-mtmd-cli failed: {log}"));
    }
    // "image slice encoded in 812 ms"; "prompt eval time =  1234.56 ms /   600 tokens";
    // "       eval time =  5678.90 ms /   255 runs".
    let number_after = |line: &str, marker: &str| -> Option<f64> {
        line.split(marker)
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let encoded: f64 = log
        .lines()
        .filter_map(|l| number_after(l, "encoded in "))
        .sum();
    let prompt = log
        .lines()
        .find_map(|l| number_after(l, "prompt eval time ="))
        .ok_or_else(|| format!("no prompt eval time in: {log}"))?;
    let eval_line = log
        .lines()
        .find(|l| l.contains(" eval time =") && !l.contains("prompt eval"))
        .ok_or_else(|| format!("no eval time in: {log}"))?;
    let eval_ms = number_after(eval_line, "eval time =").ok_or("bad eval time")?;
    let eval_runs = eval_line
        .split('/')
        .nth(1)
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .ok_or("bad eval runs")?;
    Ok(((encoded + prompt) / 1000.0, eval_runs / (eval_ms / 1000.0)))
}
