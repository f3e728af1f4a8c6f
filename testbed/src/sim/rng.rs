//! The simulator's randomness: one seeded stream per concern, all derived from the run's seed, so
//! adding a draw in one place does not reshuffle every other choice of the run.

pub use kvip_core::rng::SeededRng;

/// Derives an independent stream for `purpose` from the run's seed.
pub fn stream(seed: u64, purpose: u64) -> SeededRng {
    let mut mix = SeededRng::new(seed ^ purpose.wrapping_mul(0xA076_1D64_78BD_642F));
    SeededRng::new(mix.next_u64())
}

/// Helpers on top of the raw stream.
pub trait Draw {
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64;
    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool;
    /// A uniform index into a slice of `len` (0 when empty).
    fn pick(&mut self, len: usize) -> usize;
}

impl Draw for SeededRng {
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    fn pick(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
}
