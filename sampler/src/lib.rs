//! How vchat picks each generated token, apart from the engine: the distribution a user's
//! settings describe (temperature → top-k → top-p → min-p, the order transformers applies them
//! in), one uniform draw from a seeded random source, and the token it lands on. The same
//! settings, seed and logits give the same token on every machine and in every build.

/// A small deterministic random source (SplitMix64), used for the sampler's draws and for the
/// generated test model's weights: results must not change when a dependency's RNG does.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform with the given standard deviation, centred on zero.
    pub fn uniform_with_std(&mut self, std: f32) -> f32 {
        let half_width = std * 3f32.sqrt();
        ((self.next_f64() as f32) * 2.0 - 1.0) * half_width
    }
}

/// The parameters that shape the distribution (vchat's sampler is greedy when there is none).
#[derive(Debug, Clone)]
pub struct Distribution {
    pub temperature: f64,
    pub top_k: usize,
    pub top_p: f64,
    pub min_p: f64,
}

/// The first index of the largest value, as torch's argmax.
pub fn argmax(values: &[f32]) -> usize {
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
pub fn sample(logits: &[f32], d: &Distribution, draw: f64) -> usize {
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
        // weight(s) ≥ floor, compared as logits: one exponential per token (the total's), not
        // two. `ln(0)` is -∞, which every finite logit passes.
        let cutoff = best + floor.ln();
        let mut head: Vec<(usize, f64)> = finite().filter(|&(_, s)| s >= cutoff).collect();
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

pub fn normalise(probs: &mut [(usize, f64)]) {
    let total: f64 = probs.iter().map(|(_, p)| p).sum();
    if total > 0.0 {
        probs.iter_mut().for_each(|(_, p)| *p /= total);
    }
}
