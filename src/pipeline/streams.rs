//! The random streams of a run, each seeded from the run's seed.

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;

/// Independent random streams, so that changing one step never shifts another's randomness.
#[derive(Debug, Clone, Copy)]
pub(super) enum Stream {
    PretextInit = 1,
    PretextShuffle = 2,
    HeadInit = 3,
    DownstreamShuffle = 4,
    /// Shifts of rotation's images, or the views of the two-view methods.
    PretextAugment = 5,
    DownstreamShifts = 6,
    SemiShuffle = 7,
    /// Labelled picks, weak and strong views of the semi-supervised phase.
    SemiAugment = 8,
}

pub(super) fn rng(seed: u64, stream: Stream) -> ChaCha12Rng {
    ChaCha12Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream as u64)
}
