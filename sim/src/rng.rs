//! Named random streams derived from one master seed.
//!
//! Each component draws from its own stream, seeded from `(master_seed, stream_name)` through
//! FNV-1a (of the name) and SplitMix64 (of the mix), so adding a component never shifts the
//! numbers another component sees. The generator is PCG64 (`rand_pcg::Pcg64`, a named
//! algorithm whose output is stable across releases); `std`'s hashers and `StdRng` are never
//! used.

use drydock_core::rng::SplitMix64;
use rand_core::SeedableRng;
use rand_pcg::Pcg64;

/// 64-bit FNV-1a of `bytes` (stable, documented constants).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The stream named `name` for master seed `seed`.
pub fn stream(seed: u64, name: &str) -> Pcg64 {
    let mut mix = SplitMix64::new(seed ^ fnv1a64(name.as_bytes()));
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&mix.next().to_le_bytes());
    }
    Pcg64::from_seed(bytes)
}

#[cfg(test)]
mod tests {
    use rand_core::Rng;

    use super::*;

    #[test]
    fn streams_are_stable_and_independent() {
        let a1 = stream(42, "failures").next_u64();
        let a2 = stream(42, "failures").next_u64();
        let b = stream(42, "scheduler").next_u64();
        let c = stream(43, "failures").next_u64();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
    }

    #[test]
    fn fnv1a_matches_reference_vector() {
        // Reference values of FNV-1a 64.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
