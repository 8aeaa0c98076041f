//! The SIMD level our kernels' loops run at: the widest the CPU has, chosen at run time.
//!
//! The loops are plain Rust that the compiler vectorises. [`Level::run`] calls them inside a
//! function compiled with that level's target features, and the loops are `#[inline(always)]`
//! so that they are compiled there, once per level. Only instruction widths differ between
//! levels: no sum changes its order (the compiler does not fuse or reassociate float
//! operations), so every level gives the same bits, which a test checks on each level the
//! machine has.

/// A set of x86-64 target features our kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The build target's (SSE2 for plain x86-64; any other architecture's own).
    Baseline,
    /// AVX2 and FMA (x86-64-v3).
    Avx2,
    /// AVX-512 F, BW, CD, DQ and VL (x86-64-v4).
    Avx512,
}

impl Level {
    /// The widest level this CPU runs (asked at every convolution: no list is built).
    pub fn detected() -> Self {
        [Level::Avx512, Level::Avx2].into_iter().find(|level| level.supported()).unwrap_or(Level::Baseline)
    }

    /// Every level this CPU runs, narrowest first (the tests run each).
    #[cfg(test)]
    pub fn available() -> Vec<Self> {
        [Level::Baseline, Level::Avx2, Level::Avx512].into_iter().filter(|level| level.supported()).collect()
    }

    fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                Level::Baseline => true,
                Level::Avx2 => has!("avx2") && has!("fma"),
                Level::Avx512 => has!("avx512f") && has!("avx512bw") && has!("avx512cd") && has!("avx512dq") && has!("avx512vl"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Level::Baseline
        }
    }

    /// How provenance and the version line name it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Baseline => "the build target's",
            Level::Avx2 => "AVX2+FMA",
            Level::Avx512 => "AVX-512",
        }
    }

    /// `body`, compiled for this level (which the CPU must have).
    #[inline(always)]
    pub fn run<R>(self, body: impl FnOnce() -> R) -> R {
        assert!(self.supported(), "{self:?} code on a CPU without it");
        #[cfg(target_arch = "x86_64")]
        match self {
            // SAFETY: the CPU has the features, checked above.
            Level::Avx2 => return unsafe { avx2(body) },
            Level::Avx512 => return unsafe { avx512(body) },
            Level::Baseline => {}
        }
        body()
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<R>(body: impl FnOnce() -> R) -> R {
    body()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512cd,avx512dq,avx512vl")]
unsafe fn avx512<R>(body: impl FnOnce() -> R) -> R {
    body()
}
