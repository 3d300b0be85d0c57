//! Follow-ups on the models people use now: time to the first token of a first turn, a follow-up
//! about the same image and a regenerate, on larger random Qwen2.5-VL, Qwen3-VL and Gemma 3
//! written by transformers (`reference/make_hf_*.py --bench`, text hidden 1024 × 8 layers): does
//! a follow-up reuse the first turn's work, as it does for LLaVA-1.5? Printed and added to
//! BENCHMARKS.md. Run by `bench/run.sh`.
//!
//! Usage: follow_up_vlm RUNS NAME=MODEL_DIR...

use std::path::PathBuf;

#[path = "stats.rs"]
mod stats;
#[path = "turns.rs"]
mod turns;

use stats::{holds, median, replace_section, spread};
use turns::vchat_turns;
use vchat::conversation::ChatImage;

const MAX_TOKENS: usize = 16;
const GOAL: f64 = 0.25;

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((runs, models)) = args.split_first() else {
        return Err("usage: follow_up_vlm RUNS NAME=MODEL_DIR...".into());
    };
    let runs: usize = runs.parse().map_err(|_| "RUNS must be a number")?;
    let image = ChatImage::from_pixels("pattern.png", vchat::tiny_model::pattern_image(0));
    let mut rows = String::new();
    let mut all_hold = true;
    for model in models {
        let (name, dir) = model.split_once('=').ok_or("NAME=MODEL_DIR")?;
        let dir = PathBuf::from(dir);
        let (mut first, mut follow_up, mut regenerate) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..runs {
            let (f, u, r) = vchat_turns(&dir, &image, run, MAX_TOKENS).await?;
            eprintln!(
                "bench: {name} run {}/{runs}: first {:.0} ms, follow-up {:.0} ms, regenerate {:.0} ms",
                run + 1,
                f * 1e3,
                u * 1e3,
                r * 1e3
            );
            first.push(f);
            follow_up.push(u);
            regenerate.push(r);
        }
        let ratio = median(&follow_up) / median(&first);
        all_hold &= ratio <= GOAL;
        rows += &format!(
            "| {name} | {} | {} | {} | {ratio:.3} | {} |\n",
            spread(&first, 1e3, 0),
            spread(&follow_up, 1e3, 0),
            spread(&regenerate, 1e3, 0),
            holds(ratio <= GOAL)
        );
    }
    let measured = stats::measured_on();
    let section = format!(
        "\n## Follow-ups on Qwen2.5-VL, Qwen3-VL and Gemma 3\n\nMeasured {measured}. \
         Random models written by transformers at the benchmark's size (text hidden 1024 × 8 \
         layers; vision hidden 256 × 4 layers for the Qwen models; Gemma 3 with the hub's \
         1,024-token sliding window), F32 on CPU, the 336 × 336 pattern image, greedy, \
         {MAX_TOKENS} new tokens, {runs} runs each on a fresh engine; time to first token in ms, \
         median (spread). Goal for follow-up ÷ first turn: ≤ {GOAL}, as LLaVA-1.5's. The \
         follow-up and the regenerate come from mistral.rs's prefix cache (PATCHES.md 13 and \
         14).\n\n\
         | model | first turn | follow-up | regenerate | follow-up ÷ first | holds |\n\
         |---|---|---|---|---|---|\n{rows}"
    );
    print!("{section}");
    replace_section(&section, "\n## Follow-ups on Qwen2.5-VL")?;
    if all_hold {
        Ok(())
    } else {
        Err("a goal was missed (see the table)".into())
    }
}
