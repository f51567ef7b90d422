//! Helpers that draw from a caller-supplied generator. `drydock-core` never owns a generator:
//! randomness enters only as an explicit `&mut dyn Rng` argument, so the caller decides the
//! algorithm and the stream (the simulator uses one named, seeded stream per component).

use rand_core::Rng;

/// A uniform integer in `0..n` by rejection sampling (no modulo bias). `n == 0` returns 0.
pub fn uniform_below(rng: &mut dyn Rng, n: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    // Largest multiple of n that fits in u64; reject draws at or above it.
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let x = rng.next_u64();
        if x < zone {
            return x % n;
        }
    }
}

/// A uniform float in `[0, 1)` with 53 bits of precision.
pub fn unit_f64(rng: &mut dyn Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
/// OOPSLA 2014): a tiny generator used to derive seeds, and handy in doctests and tests. The
/// simulator's streams are PCG64 seeded through it.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub const fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64-bit output.
    #[allow(clippy::should_implement_trait)] // an infinite stream, not an iterator
    pub fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl rand_core::TryRng for SplitMix64 {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.next() >> 32) as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.next())
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}
