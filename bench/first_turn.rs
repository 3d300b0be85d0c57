//! vchat's benchmark (run it with `bench/run.sh`): time to the first token of a first turn, a
//! follow-up about the same image and a regenerate, on a larger random LLaVA-1.5 (text hidden
//! 1024, 8 layers), against plain mistral.rs 0.8.1 (`bench/plain-mistralrs`). Runs are
//! interleaved (vchat, plain, vchat, plain, …); each figure is a median with its spread. The
//! table is printed and written to BENCHMARKS.md.
//!
//! Usage: first_turn PLAIN_BINARY RUNS   (PLAIN_BINARY `-`: no baseline, vchat's own ratios only)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use vchat::conversation::ChatImage;
use vchat::tiny_model::{write_tiny_llava, TinyLlavaSpec};

#[path = "stats.rs"]
mod stats;
#[path = "turns.rs"]
mod turns;

use turns::vchat_turns;

const MAX_TOKENS: usize = 16;

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let [_, plain, runs] = &args[..] else {
        return Err("usage: first_turn PLAIN_BINARY|- RUNS".into());
    };
    let plain = (plain != "-").then(|| PathBuf::from(plain));
    let runs: usize = runs.parse().map_err(|_| "RUNS must be a number")?;
    let root = stats::project_root();
    let model = root.join("target/bench-models/llava-1024x8");
    if !model.join("model.safetensors").is_file() {
        eprintln!(
            "bench: writing the 108M-parameter random LLaVA-1.5 to {}",
            model.display()
        );
        write_tiny_llava(&model, &TinyLlavaSpec::large()).map_err(|e| e.to_string())?;
    }
    let image_path = model.join("example.png");
    let image = ChatImage::from_pixels(
        "example.png",
        image::open(&image_path).map_err(|e| e.to_string())?,
    );

    let mut first = Vec::new();
    let mut follow_up = Vec::new();
    let mut regenerate = Vec::new();
    let mut plain_first = Vec::new();
    for run in 0..runs {
        let (f, u, r) = vchat_turns(&model, &image, run, MAX_TOKENS).await?;
        first.push(f);
        follow_up.push(u);
        regenerate.push(r);
        if let Some(plain) = &plain {
            plain_first.push(plain_first_turn(plain, &model, &image_path)?);
        }
        eprintln!(
            "bench: run {}/{runs}: vchat first {:.0} ms, follow-up {:.0} ms, regenerate {:.0} ms{}",
            run + 1,
            ms(f),
            ms(u),
            ms(r),
            plain_first
                .last()
                .map(|p| format!("; plain mistral.rs first {:.0} ms", ms(*p)))
                .unwrap_or_default()
        );
    }

    let first_m = median(&first);
    let mut rows = vec![
        Row::new(
            "follow-up ÷ first turn (vchat)",
            median(&follow_up) / first_m,
            0.25,
        ),
        Row::new(
            "regenerate ÷ first turn (vchat)",
            median(&regenerate) / first_m,
            0.10,
        ),
    ];
    let mut series: Vec<(&str, &Vec<f64>)> = vec![
        ("vchat first turn", &first),
        ("vchat follow-up (same image)", &follow_up),
        ("vchat regenerate", &regenerate),
    ];
    if !plain_first.is_empty() {
        rows.push(Row::new(
            "first turn: vchat ÷ plain mistral.rs 0.8.1",
            first_m / median(&plain_first),
            0.50,
        ));
        series.push(("plain mistral.rs 0.8.1 first turn", &plain_first));
    }
    let report = report(&series, &rows, runs);
    println!("{report}");
    std::fs::write(root.join("BENCHMARKS.md"), report).map_err(|e| e.to_string())?;
    if rows.iter().all(|r| r.holds()) {
        Ok(())
    } else {
        Err("a goal was missed (see the table)".into())
    }
}

fn plain_first_turn(plain: &Path, model: &Path, image: &Path) -> Result<f64, String> {
    let output = Command::new(plain)
        .arg(model)
        .arg(image)
        .arg("Describe the image")
        .arg(MAX_TOKENS.to_string())
        .arg("1")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", plain.display()))?;
    if !output.status.success() {
        return Err(format!(
            "plain mistral.rs failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let millis: f64 = text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("unexpected output: {text}"))?;
    Ok(Duration::from_secs_f64(millis / 1000.0).as_secs_f64())
}

struct Row {
    name: &'static str,
    ratio: f64,
    goal: f64,
}

impl Row {
    fn new(name: &'static str, ratio: f64, goal: f64) -> Self {
        Self { name, ratio, goal }
    }
    fn holds(&self) -> bool {
        self.ratio <= self.goal
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

fn ms(seconds: f64) -> f64 {
    seconds * 1000.0
}

fn report(timings: &[(&str, &Vec<f64>)], rows: &[Row], runs: usize) -> String {
    let mut out = String::from("# Benchmarks\n\n");
    out += &format!(
        "Measured {}, by `bench/run.sh`. Random \
         LLaVA-1.5 with text hidden 1024 × 8 layers and vision hidden 256 × 4 layers (108M \
         parameters), F32 on CPU, one 336 × 336 PNG, greedy, {MAX_TOKENS} new tokens; {runs} \
         interleaved runs, a fresh engine for each vchat run. Time to first token is vchat's \
         (request → first token picked) and, for plain mistral.rs, request → first streamed \
         chunk. Absolute times on a shared 2-core machine are noise; the ratios are the result.\n\n",
        stats::measured_on()
    );
    out += "## Time to first token\n\n| what | median | spread (min – max) |\n|---|---|---|\n";
    for (name, values) in timings {
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(0.0, f64::max);
        out += &format!(
            "| {name} | {:.0} ms | {:.0} – {:.0} ms |\n",
            ms(median(values)),
            ms(min),
            ms(max)
        );
    }
    out += "\n## Ratios (issue: answers that match the reference, follow-ups that reuse the first turn)\n\n| ratio | measured | goal | holds |\n|---|---|---|---|\n";
    for row in rows {
        out += &format!(
            "| {} | {:.3} | ≤ {:.2} | {} |\n",
            row.name,
            row.ratio,
            row.goal,
            stats::holds(row.holds())
        );
    }
    out
}
