//! Random sources: the deterministic one (SplitMix64) for the generated model's weights and
//! vchat's seeded sampler, and a fresh seed for answers sampled without one.

// Kept with the sampler, which draws from it once per token (optimised in every profile).
pub use vchat_sampler::SplitMix64;

/// A seed that differs from run to run (for answers sampled without a seed, and ids).
pub fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}
