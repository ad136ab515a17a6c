//! Random signs for the noise fill of coefficients that get no bits.
//!
//! An additive lagged Fibonacci generator (lags 24 and 55, Knuth TAOCP
//! vol. 2, 3.2.2) over 32-bit words; the sign is the low bit. Seeded with
//! [`NOISE_SEED`] so that the sequence equals libavcodec's decoder.

use super::tables::NOISE_SEED;

const WORDS: usize = 64;
const SHORT_LAG: u32 = 24;
const LONG_LAG: u32 = 55;

/// Sign source of one decoder; the sequence continues across blocks.
#[derive(Debug, Clone)]
pub struct NoiseSigns {
    state: [u32; WORDS],
    index: u32,
}

impl NoiseSigns {
    /// A generator at the start of its sequence.
    pub fn new() -> Self {
        let mut state = [0u32; WORDS];
        if let Some(tail) = state.get_mut(WORDS - NOISE_SEED.len()..) {
            tail.copy_from_slice(&NOISE_SEED);
        }
        Self { state, index: 0 }
    }

    fn word(&self, back: u32) -> u32 {
        self.state[(self.index.wrapping_sub(back) as usize) % WORDS]
    }

    /// The next 32-bit word.
    pub fn next_word(&mut self) -> u32 {
        let value = self.word(SHORT_LAG).wrapping_add(self.word(LONG_LAG));
        self.state[self.index as usize % WORDS] = value;
        self.index = self.index.wrapping_add(1);
        value
    }

    /// `magnitude`, negated when the next word is odd (without a branch:
    /// the low bit goes to the sign bit).
    pub fn apply_sign(&mut self, magnitude: f32) -> f32 {
        let sign = (self.next_word() & 1) << 31;
        f32::from_bits(magnitude.to_bits() ^ sign)
    }
}

impl Default for NoiseSigns {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_words_follow_the_recurrence() {
        let mut noise = NoiseSigns::new();
        // x[64] = x[40] + x[9] over the seed (index 0 replaces word 0).
        assert_eq!(
            noise.next_word(),
            NOISE_SEED[32].wrapping_add(NOISE_SEED[1])
        );
        assert_eq!(
            noise.next_word(),
            NOISE_SEED[33].wrapping_add(NOISE_SEED[2])
        );
    }

    #[test]
    fn sign_follows_the_low_bit() {
        let mut a = NoiseSigns::new();
        let mut b = NoiseSigns::new();
        for _ in 0..100 {
            let odd = a.next_word() & 1 == 1;
            assert_eq!(b.apply_sign(0.5), if odd { -0.5 } else { 0.5 });
        }
    }

    #[test]
    fn signs_are_balanced() {
        let mut noise = NoiseSigns::new();
        let negative = (0..10_000).filter(|_| noise.apply_sign(1.0) < 0.0).count();
        assert!((4_700..5_300).contains(&negative), "{negative}");
    }
}
