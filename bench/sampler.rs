//! What vchat's sampler costs per token, on the vocabulary sizes of the models people use
//! (LLaVA-1.5's 32k, Gemma 3's 262k, Qwen's 152k): the logits processor that picks each token
//! with the answer's seeded RNG, greedy and sampling, against a full sort of the vocabulary at
//! every token (what it did before; forced here with top-k = the vocabulary) and against the
//! floor every processor pays (the logits copied to the host and a mask built). Printed and added
//! to BENCHMARKS.md. Run by `bench/run.sh`.

use std::time::Instant;

#[path = "stats.rs"]
mod stats;

use mistralrs::{CustomLogitsProcessor, Device, Tensor};
use stats::{median, replace_section};
use vchat::engine::sampler::VchatSampler;
use vchat::rng::SplitMix64;
use vchat::sampling::SamplingSettings;

const TOKENS: usize = 60;
const BATCHES: usize = 5;

fn main() -> Result<(), String> {
    let mut rows = String::new();
    for vocab in [32_064usize, 151_936, 262_208] {
        let logits = realistic_logits(vocab)?;
        let default = SamplingSettings::default();
        let greedy = SamplingSettings {
            do_sample: false,
            ..SamplingSettings::default()
        };
        let nucleus = SamplingSettings {
            temperature: 0.7,
            top_p: 0.9,
            ..SamplingSettings::default()
        };
        let full_sort = SamplingSettings {
            top_k: vocab,
            ..SamplingSettings::default()
        };
        let mut costs = [Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        for _ in 0..BATCHES {
            costs[0].push(floor_cost(&logits)?);
            for (i, settings) in [&greedy, &default, &nucleus, &full_sort]
                .into_iter()
                .enumerate()
            {
                costs[i + 1].push(sampler_cost(&logits, settings)?);
            }
        }
        let [floor, greedy, default, nucleus, full] = costs.map(|c| median(&c));
        println!(
            "bench: vocabulary {vocab}: floor {floor:.0} µs, greedy {greedy:.0} µs, \
             temperature 0.2 {default:.0} µs, top-p 0.9 {nucleus:.0} µs, full sort {full:.0} µs"
        );
        rows += &format!(
            "| {vocab} | {floor:.0} | {greedy:.0} | {default:.0} | {nucleus:.0} | {full:.0} | {:.2} | {:.2} |\n",
            default / full,
            default / floor
        );
    }
    let measured = stats::measured_on();
    let section = format!(
        "\n## Sampler: cost per token\n\nMeasured {measured}. \
         vchat's logits processor on one CPU core, median µs per token over {BATCHES} batches of \
         {TOKENS} tokens, on logits shaped like a language model's (a few likely tokens, a long \
         flat tail). Floor: the logits copied to the host and the one-token mask built, which any \
         processor pays. Full sort: the whole vocabulary sorted at every token, as before \
         (top-k = the vocabulary). Sampling at vchat's default temperature 0.2. The picking \
         lives in the vchat-sampler crate, optimised in every profile (as in a release build); \
         the processor around it (the copy and the mask) is vchat's own code, at opt-level 0 in \
         the dev profile the benchmarks share with the tests. Before the picking moved there \
         (2026-12-02, same machine, opt-level 0) temperature 0.2 cost 3931, 17591 and 31420 µs. \
         mistral.rs 0.8.1 copies the logits to the host before any processor on a GPU too, so \
         these are host costs there as well.\n\n\
         | vocabulary | floor | greedy | temperature 0.2 | top-p 0.9 (T 0.7) | full sort | 0.2 ÷ full sort | 0.2 ÷ floor |\n\
         |---|---|---|---|---|---|---|---|\n{rows}"
    );
    print!("{section}");
    replace_section(&section, "\n## Sampler: cost per token")
}

/// Logits as a language model gives them: a handful of likely tokens over a wide, low tail.
fn realistic_logits(vocab: usize) -> Result<Tensor, String> {
    let mut rng = SplitMix64::new(7);
    let values: Vec<f32> = (0..vocab)
        .map(|i| {
            let tail = (rng.next_f64() as f32 - 0.5) * 6.0;
            if i % 4099 == 0 {
                12.0 + tail
            } else {
                tail
            }
        })
        .collect();
    Tensor::from_vec(values, vocab, &Device::Cpu).map_err(|e| e.to_string())
}

/// The mean µs per token of the processor over `TOKENS` calls.
fn sampler_cost(logits: &Tensor, settings: &SamplingSettings) -> Result<f64, String> {
    let sampler = VchatSampler::new(settings, 1);
    let context = vec![1u32; 600];
    let started = Instant::now();
    for _ in 0..TOKENS {
        sampler.apply(logits, &context).map_err(|e| e.to_string())?;
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / TOKENS as f64)
}

/// The host copy and the mask alone.
fn floor_cost(logits: &Tensor) -> Result<f64, String> {
    let started = Instant::now();
    for _ in 0..TOKENS {
        let values: Vec<f32> = logits.to_vec1().map_err(|e| e.to_string())?;
        let mut mask = vec![f32::NEG_INFINITY; values.len()];
        mask[0] = 0.0;
        Tensor::from_vec(mask, logits.shape(), logits.device()).map_err(|e| e.to_string())?;
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / TOKENS as f64)
}
