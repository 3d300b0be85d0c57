//! vchat's own sampler, run as a mistral.rs logits processor.
//!
//! mistral.rs 0.8.1 samples with one RNG shared by every request and seeded once, so a user's
//! seed cannot be honoured through it. vchat therefore samples itself: the processor draws the
//! next token with a per-answer seeded RNG (temperature → top-k → top-p → min-p, the order
//! transformers applies them in) and masks every other token, so mistral.rs's greedy pick
//! returns exactly that token. Repetition penalty stays with mistral.rs, which applies it to
//! the logits before this processor sees them.
//!
//! Greedy decoding goes through the same path (the processor takes the argmax), so the
//! processor knows every generated token id and when the first and last were picked: exact
//! statistics, whatever the detokenizer holds back.
//!
//! What it costs per token: on a GPU too, mistral.rs 0.8.1 copies the logits to the host before
//! any processor runs (`Sampler::sample`: `logits.to_vec1()`), so this processor adds no device
//! transfer; it reads the host copy, picks (vchat-sampler: no sort of the whole vocabulary, one
//! exponential per token for the softmax total) and writes a one-token mask on the host.

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use mistralrs::{CustomLogitsProcessor, Tensor};

use crate::conversation::PromptSize;
use crate::sampling::SamplingSettings;
use vchat_sampler::{argmax, sample, Distribution, SplitMix64};

/// The tokens of one answer, with the time the first and the last were picked.
#[derive(Debug, Clone, Default)]
pub struct TokenLog {
    pub ids: Vec<u32>,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

/// Picks each generated token (argmax when greedy) and records it.
pub struct VchatSampler {
    distribution: Option<Distribution>,
    rng: Mutex<SplitMix64>,
    log: Mutex<TokenLog>,
    /// The model's context length, once known: the answer ends there.
    context_limit: OnceLock<usize>,
    /// The ids of image positions, and how many images the request sent.
    image_tokens: Option<(Vec<u32>, usize)>,
    /// The prompt as the model ran it, seen when the first token is picked.
    prompt: OnceLock<PromptSize>,
}

/// What the user reads when the chat has filled the model's context.
pub fn context_full_message(limit: usize) -> String {
    format!(
        "the chat fills the model's context ({limit} tokens): start a new chat (Ctrl-N, /new) \
         or shorten this one (/edit)"
    )
}

impl VchatSampler {
    /// A sampler for `settings`, seeded with `seed` when sampling.
    pub fn new(settings: &SamplingSettings, seed: u64) -> Self {
        let distribution = (!settings.is_greedy()).then_some(Distribution {
            temperature: settings.temperature,
            top_k: settings.top_k,
            top_p: settings.top_p,
            min_p: settings.min_p,
        });
        Self {
            distribution,
            rng: Mutex::new(SplitMix64::new(seed)),
            log: Mutex::new(TokenLog::default()),
            context_limit: OnceLock::new(),
            image_tokens: None,
            prompt: OnceLock::new(),
        }
    }

    /// Counts the prompt's positions with one of `ids` as the positions of the request's
    /// `images` images.
    pub fn count_image_tokens(mut self, ids: &[u32], images: usize) -> Self {
        self.image_tokens = Some((ids.to_vec(), images));
        self
    }

    /// The prompt's size, once the first token has been picked.
    pub fn prompt(&self) -> Option<PromptSize> {
        self.prompt.get().copied()
    }

    /// Ends the answer when the sequence reaches `tokens`, the model's context length. Without
    /// this, mistral.rs 0.8.1 runs the model past its last position and fails with a tensor
    /// error (`narrow invalid args …`).
    pub fn limit_context(&self, tokens: usize) {
        let _ = self.context_limit.set(tokens);
    }

    /// The model's context length, when known.
    pub fn context_limit(&self) -> Option<usize> {
        self.context_limit.get().copied()
    }

    /// The tokens picked so far.
    pub fn log(&self) -> TokenLog {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn record(&self, id: u32) {
        let now = Instant::now();
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.ids.push(id);
        log.first.get_or_insert(now);
        log.last = Some(now);
    }
}

impl CustomLogitsProcessor for VchatSampler {
    fn apply(&self, logits: &Tensor, context: &[u32]) -> mistralrs::Result<Tensor> {
        // `context` is the whole sequence (prompt, image positions, answer so far): the token
        // picked now would be run at position `context.len()`, past the model's last one.
        if let Some(&limit) = self.context_limit.get() {
            if context.len() >= limit {
                return Err(candle_core::Error::Msg(context_full_message(limit)));
            }
        }
        // Called first with the prompt alone: the whole prompt, whatever the prefix cache kept.
        self.prompt.get_or_init(|| {
            let (ids, images) = self
                .image_tokens
                .as_ref()
                .map_or((&[][..], 0), |(ids, n)| (&ids[..], *n));
            PromptSize {
                tokens: context.len(),
                images,
                image_tokens: (!ids.is_empty())
                    .then(|| context.iter().filter(|id| ids.contains(id)).count()),
            }
        });
        // Text-only requests hand over [1, vocab], image requests [vocab]: keep the shape.
        let values: Vec<f32> = logits
            .flatten_all()?
            .to_dtype(mistralrs::DType::F32)?
            .to_vec1()?;
        let chosen = match &self.distribution {
            None => argmax(&values),
            Some(distribution) => {
                let draw = self
                    .rng
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .next_f64();
                sample(&values, distribution, draw)
            }
        };
        self.record(chosen as u32);
        let mut masked = vec![f32::NEG_INFINITY; values.len()];
        masked[chosen] = 0.0;
        Tensor::from_vec(masked, logits.shape(), logits.device())?.to_dtype(logits.dtype())
    }
}

// The picking itself lives in the `vchat-sampler` crate (optimised even in debug builds); its
// tests are here, where `cargo test` runs them.
#[cfg(test)]
mod tests {
    use super::*;
    use vchat_sampler::normalise;

    fn dist(top_k: usize, top_p: f64, min_p: f64) -> Distribution {
        Distribution {
            temperature: 1.0,
            top_k,
            top_p,
            min_p,
        }
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[0.5, 2.0, 2.0, f32::NEG_INFINITY]), 1);
    }

    #[test]
    fn top_k_one_is_argmax_whatever_the_draw() {
        let logits = [0.1, 3.0, 2.0, -1.0];
        for draw in [0.0, 0.5, 0.999] {
            assert_eq!(sample(&logits, &dist(1, 1.0, 0.0), draw), 1);
        }
    }

    #[test]
    fn top_p_keeps_the_smallest_nucleus() {
        // probabilities ≈ 0.665, 0.245, 0.090: top_p 0.6 keeps only the first.
        let logits = [2.0, 1.0, 0.0];
        assert_eq!(sample(&logits, &dist(0, 0.6, 0.0), 0.99), 0);
        assert_eq!(sample(&logits, &dist(0, 1.0, 0.0), 0.99), 2);
    }

    /// The sampler before it stopped sorting the whole vocabulary: the picks must not change.
    fn full_sort_sample(logits: &[f32], d: &Distribution, draw: f64) -> usize {
        let mut candidates: Vec<(usize, f64)> = logits
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_finite())
            .map(|(i, &l)| (i, l as f64 / d.temperature))
            .collect();
        if candidates.is_empty() {
            return 0;
        }
        candidates.sort_by(|a, b| b.1.total_cmp(&a.1));
        if d.top_k > 0 {
            candidates.truncate(d.top_k);
        }
        let max = candidates[0].1;
        let mut probs: Vec<(usize, f64)> = candidates
            .iter()
            .map(|&(i, l)| (i, (l - max).exp()))
            .collect();
        normalise(&mut probs);
        if d.top_p < 1.0 {
            let mut cumulative = 0.0;
            let keep = probs
                .iter()
                .position(|&(_, p)| {
                    cumulative += p;
                    cumulative >= d.top_p
                })
                .map_or(probs.len(), |i| i + 1);
            probs.truncate(keep);
            normalise(&mut probs);
        }
        if d.min_p > 0.0 {
            let threshold = probs[0].1 * d.min_p;
            probs.retain(|&(_, p)| p >= threshold);
            normalise(&mut probs);
        }
        let mut cumulative = 0.0;
        for &(index, p) in &probs {
            cumulative += p;
            if draw < cumulative {
                return index;
            }
        }
        probs.last().map_or(0, |&(i, _)| i)
    }

    #[test]
    fn picks_equal_a_full_sort_of_the_vocabulary() {
        // Seeded random vocabularies (with ties, masked tokens and flat or peaked logits),
        // settings and draws, some of them close to 1 so that the walk goes deep.
        let mut rng = SplitMix64::new(20261201);
        for case in 0..3000 {
            let vocab = 1 + (rng.next_u64() % 4000) as usize;
            let spread = [0.5f32, 4.0, 20.0][case % 3];
            let logits: Vec<f32> = (0..vocab)
                .map(|_| match rng.next_u64() % 10 {
                    0 => f32::NEG_INFINITY,
                    1 => 1.0, // ties
                    _ => (rng.next_f64() as f32 - 0.5) * spread,
                })
                .collect();
            let d = Distribution {
                temperature: [0.05, 0.2, 0.7, 1.0, 2.0][(rng.next_u64() % 5) as usize],
                top_k: [0, 0, 1, 5, 50, 5000][(rng.next_u64() % 6) as usize],
                top_p: [1.0, 1.0, 0.9, 0.5][(rng.next_u64() % 4) as usize],
                min_p: [0.0, 0.0, 0.05, 1e-9][(rng.next_u64() % 4) as usize],
            };
            let draw = match case % 4 {
                0 => 1.0 - rng.next_f64() * 1e-9,
                _ => rng.next_f64(),
            };
            assert_eq!(
                sample(&logits, &d, draw),
                full_sort_sample(&logits, &d, draw),
                "case {case}: vocab {vocab}, {d:?}, draw {draw}"
            );
        }
    }

    #[test]
    fn min_p_drops_unlikely_tokens() {
        let logits = [2.0, 1.0, 0.0];
        // 0.090 < 0.2 × 0.665: the last token is gone, so a high draw lands on the second.
        assert_eq!(sample(&logits, &dist(0, 1.0, 0.2), 0.99), 1);
    }
}
