//! The CSPRNG behind [`crate::Os::fill_random`].
//!
//! ChaCha20 (from `rand_chacha`) seeded once at boot with 32 bytes the
//! platform gathered: the tender's `getrandom` mixed with RDRAND on the
//! guest targets, `getrandom` on unix. TCP initial sequence numbers, DNS
//! ids and TLS draw on it.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// A source of cryptographically secure random bytes. Protocol code takes
/// one of these (TCP initial sequence numbers, DNS ids, TLS) instead of
/// reaching for a global, so tests can pass a seeded one.
pub trait Random {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);

    /// A random `u64`.
    fn next_u64(&self) -> u64 {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        u64::from_le_bytes(b)
    }

    /// A random `u32`.
    fn next_u32(&self) -> u32 {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        u32::from_le_bytes(b)
    }
}

/// A seeded ChaCha20 generator.
pub struct Csprng(ChaCha20Rng);

impl Csprng {
    /// A generator seeded with `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Csprng {
        Csprng(ChaCha20Rng::from_seed(seed))
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        self.0.fill_bytes(buf);
    }

    /// A random `u64`.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}

/// XORs `extra` into `seed` word by word: the result is at least as
/// unpredictable as the better of the two sources when they are independent.
pub fn mix_seed(seed: &mut [u8; 32], extra: &[u64; 4]) {
    for (chunk, word) in seed.chunks_exact_mut(8).zip(extra) {
        let mixed =
            u64::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7]]) ^ word;
        chunk.copy_from_slice(&mixed.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        let mut a = Csprng::from_seed([7; 32]);
        let mut b = Csprng::from_seed([7; 32]);
        let mut c = Csprng::from_seed([8; 32]);
        let (x, y, z) = (a.next_u64(), b.next_u64(), c.next_u64());
        assert_eq!(x, y);
        assert_ne!(x, z);
    }

    #[test]
    fn mixing_changes_the_seed() {
        let mut seed = [0u8; 32];
        mix_seed(&mut seed, &[1, 0, 0, u64::MAX]);
        assert_eq!(seed[0], 1);
        assert_eq!(&seed[24..], &[0xff; 8]);
    }
}
