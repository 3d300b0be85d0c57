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

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use mistralrs::{CustomLogitsProcessor, Tensor};

use crate::rng::SplitMix64;
use crate::sampling::SamplingSettings;

/// The tokens of one answer, with the time the first and the last were picked.
#[derive(Debug, Clone, Default)]
pub struct TokenLog {
    pub ids: Vec<u32>,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

/// The parameters that shape the distribution (greedy when `None`).
#[derive(Debug, Clone)]
struct Distribution {
    temperature: f64,
    top_k: usize,
    top_p: f64,
    min_p: f64,
}

/// Picks each generated token (argmax when greedy) and records it.
pub struct VchatSampler {
    distribution: Option<Distribution>,
    rng: Mutex<SplitMix64>,
    log: Mutex<TokenLog>,
    /// The model's context length, once known: the answer ends there.
    context_limit: OnceLock<usize>,
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
        }
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

/// The first index of the largest value, as torch's argmax.
fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
        .0
}

/// Picks a token index from `logits` given a uniform draw in [0, 1): temperature, then top-k,
/// top-p and min-p, in the order transformers applies them.
///
/// Sorting the whole vocabulary at every token cost more than the rest of the step on a large
/// vocabulary (Qwen's 152k). At the temperatures people use, all but the first few hundred
/// tokens hold a negligible share, so only the tokens that could matter are sorted: with top-k
/// exactly the k best, otherwise those whose weight is at least `floor` of the best one's; the
/// walk goes deeper only when top-p or the draw reaches past them. The tokens and their order
/// are the full sort's; only the total the shares are divided by may be summed in another order
/// (a last-bit difference).
fn sample(logits: &[f32], d: &Distribution, draw: f64) -> usize {
    let scaled = |l: f32| f64::from(l) / d.temperature;
    let finite = || {
        logits
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_finite())
            .map(|(i, &l)| (i, scaled(l)))
    };
    let best = finite().fold(f64::NEG_INFINITY, |m, (_, s)| m.max(s));
    if best == f64::NEG_INFINITY {
        return 0;
    }
    // Best first; equal logits by index, as a stable sort of the whole vocabulary leaves them.
    let by_rank = |a: &(usize, f64), b: &(usize, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    let weight = |s: f64| (s - best).exp();
    let sorted_total = |head: &[(usize, f64)]| head.iter().map(|&(_, s)| weight(s)).sum::<f64>();

    if d.top_k > 0 {
        let mut head: Vec<(usize, f64)> = finite().collect();
        if head.len() > d.top_k {
            head.select_nth_unstable_by(d.top_k - 1, by_rank);
            head.truncate(d.top_k);
        }
        head.sort_by(by_rank);
        let total = sorted_total(&head);
        return choose(&head, best, total, true, d, draw).unwrap_or(0);
    }
    let total: f64 = finite().map(|(_, s)| weight(s)).sum();
    // Below min-p's threshold a token is dropped anyway: the head must hold every token above it.
    let mut floor = if d.min_p > 0.0 {
        (d.min_p / 2.0).min(1e-4)
    } else {
        1e-4
    };
    loop {
        let mut head: Vec<(usize, f64)> = finite()
            .filter(|&(_, s)| floor == 0.0 || weight(s) >= floor)
            .collect();
        head.sort_by(by_rank);
        let complete = floor == 0.0;
        let total = if complete { sorted_total(&head) } else { total };
        if let Some(index) = choose(&head, best, total, complete, d, draw) {
            return index;
        }
        floor = if floor > 1e-200 { floor * 1e-8 } else { 0.0 };
    }
}

/// The walk over `head` (best first, each token's logit ÷ temperature): top-p, min-p, then the
/// draw. `None` when the walk would go past `head` while `head` is not every candidate.
fn choose(
    head: &[(usize, f64)],
    best: f64,
    total: f64,
    mut complete: bool,
    d: &Distribution,
    draw: f64,
) -> Option<usize> {
    let mut probs: Vec<(usize, f64)> = head
        .iter()
        .map(|&(i, s)| (i, (s - best).exp() / total))
        .collect();
    if d.top_p < 1.0 {
        let mut cumulative = 0.0;
        let nucleus = probs.iter().position(|&(_, p)| {
            cumulative += p;
            cumulative >= d.top_p
        });
        match nucleus {
            Some(last) => probs.truncate(last + 1),
            None if !complete => return None,
            None => {}
        }
        complete = true;
        normalise(&mut probs);
    }
    if d.min_p > 0.0 {
        // Every token above the threshold is in `head` (see `floor` in `sample`).
        let threshold = probs[0].1 * d.min_p;
        probs.retain(|&(_, p)| p >= threshold);
        complete = true;
        normalise(&mut probs);
    }
    let mut cumulative = 0.0;
    for &(index, p) in &probs {
        cumulative += p;
        if draw < cumulative {
            return Some(index);
        }
    }
    complete.then(|| probs.last().map_or(0, |&(i, _)| i))
}

fn normalise(probs: &mut [(usize, f64)]) {
    let total: f64 = probs.iter().map(|(_, p)| p).sum();
    if total > 0.0 {
        probs.iter_mut().for_each(|(_, p)| *p /= total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
