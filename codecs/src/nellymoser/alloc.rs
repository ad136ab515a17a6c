//! Bit allocation: how many bits each of the 124 coefficients of a half
//! block gets, derived from the spectral envelope alone.
//!
//! Encoder and decoder must agree on every bit, so this is integer
//! arithmetic with the format's fixed rounding (the procedure of the
//! original codec, as recovered by the nelly2pcm decoder and kept in
//! libavcodec's `ff_nelly_get_sample_bits`; re-expressed here):
//!
//! 1. The exponents (1/2048 log2 units, one per coefficient, i.e. each
//!    band's repeated over its width) are scaled so the largest sits just
//!    below 2^15, then multiplied by 3/4, giving fixed-point "levels" with
//!    `fraction` fractional bits.
//! 2. A coefficient gets `clamp(round((level - offset) / 2^fraction), 0, 6)`
//!    bits. A common `offset` is searched so the total is
//!    [`DETAIL_BITS`] (198): a first estimate from the mean level, then
//!    steps of an estimated size until the total crosses 198, then
//!    bisection, 20 probes at most; the closer of the two bracketing
//!    offsets wins (the lower total on a tie).
//! 3. If the total still exceeds 198, the allocation is cut at 198 bits
//!    from the low frequencies up.
//!
//! Overflowing intermediate values wrap (two's complement), as in the
//! 32-bit reference arithmetic; they only occur on nonsense envelopes.
//!
//! All coefficients of a band share its level, so sums over the 124
//! coefficients are computed as sums over the 23 bands weighted by their
//! widths (same result, a fifth of the work).

use super::tables::{BANDS, BAND_SIZES, DETAIL_BITS, FILL_LEN, MAX_COEFF_BITS};

/// Target total of bits per half block.
const TARGET: i32 = DETAIL_BITS as i32;
/// 4228 / 2^15 ~ 16 / 124: spreads a bit-count error over the coefficients.
const SPREAD: i32 = 4228;
/// Binary exponent that goes with [`SPREAD`].
const SPREAD_SHIFT: i32 = 19;
/// Most bit counts evaluated while searching the offset (besides the first).
const MAX_PROBES: u32 = 20;

/// Bits per coefficient of one half block (both halves use the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    bits: [u8; FILL_LEN],
}

impl Allocation {
    /// Allocates [`DETAIL_BITS`] bits (or fewer) from the band exponents
    /// (1/2048 log2 units).
    pub fn from_band_exponents(exponents: &[i32; BANDS]) -> Self {
        let levels = Levels::new(exponents);
        let Probe { offset, total } = levels.search_offset();
        let mut bits = [0u8; FILL_LEN];
        let mut rest = &mut bits[..];
        for (&level, &size) in levels.values.iter().zip(&BAND_SIZES) {
            let (band, tail) = rest.split_at_mut(usize::from(size).min(rest.len()));
            band.fill(levels.bits_of(level, offset));
            rest = tail;
        }
        let mut allocation = Self { bits };
        if total > TARGET {
            allocation.cut_to_target();
        }
        allocation
    }

    /// Bits of each coefficient, 0..=6.
    pub fn bits(&self) -> &[u8; FILL_LEN] {
        &self.bits
    }

    /// Sum of all coefficient bits (at most 198).
    #[cfg(test)]
    pub fn total(&self) -> usize {
        self.bits.iter().map(|&b| usize::from(b)).sum()
    }

    /// Keeps the first 198 bits, counted from coefficient 0 upwards.
    fn cut_to_target(&mut self) {
        let mut budget = DETAIL_BITS;
        for b in self.bits.iter_mut() {
            let granted = usize::from(*b).min(budget);
            budget -= granted;
            *b = granted as u8;
        }
    }
}

/// One evaluated offset and the bit total it gives.
#[derive(Debug, Clone, Copy)]
struct Probe {
    offset: i32,
    total: i32,
}

impl Probe {
    fn miss(self) -> i32 {
        self.total - TARGET
    }
}

/// Fixed-point levels of the 23 bands.
struct Levels {
    values: [i16; BANDS],
    /// Fractional bits of `values` (7..=26).
    fraction: i32,
}

impl Levels {
    fn new(exponents: &[i32; BANDS]) -> Self {
        let peak = exponents.iter().copied().fold(0, i32::max);
        let scale = headroom(peak) - 16;
        let mut values = [0i16; BANDS];
        for (v, &e) in values.iter_mut().zip(exponents) {
            let scaled = i32::from(shift(e, scale) as i16);
            *v = ((3 * scaled) >> 2) as i16;
        }
        Self {
            values,
            fraction: scale + 11,
        }
    }

    /// Bits of one coefficient at `offset`.
    fn bits_of(&self, level: i16, offset: i32) -> u8 {
        let excess = i32::from(level).wrapping_sub(offset);
        let rounded = excess
            .wrapping_shr((self.fraction - 1) as u32)
            .wrapping_add(1)
            >> 1;
        rounded.clamp(0, i32::from(MAX_COEFF_BITS)) as u8
    }

    fn probe(&self, offset: i32) -> Probe {
        let total = self
            .values
            .iter()
            .zip(&BAND_SIZES)
            .map(|(&level, &size)| i32::from(self.bits_of(level, offset)) * i32::from(size))
            .sum();
        Probe { offset, total }
    }

    /// Offset whose bit total is 198, or the closest one found.
    fn search_offset(&self) -> Probe {
        let first = self.probe(self.first_offset());
        if first.miss() == 0 {
            return first;
        }
        let step = self.step(first.miss());
        let (mut above, mut below, used) = self.march(first, step);
        for _ in used..MAX_PROBES {
            if above.miss() == 0 || below.miss() == 0 {
                break;
            }
            let probe = self.probe(above.offset.wrapping_add(below.offset) >> 1);
            if probe.miss() > 0 {
                above = probe;
            } else {
                below = probe;
            }
        }
        if above.miss().abs() < below.miss().abs() {
            above
        } else {
            below
        }
    }

    /// The mean-based estimate: the offset at which the levels, minus
    /// the offset, average 198/124 units.
    fn first_offset(&self) -> i32 {
        let sum: i32 = self
            .values
            .iter()
            .zip(&BAND_SIZES)
            .map(|(&v, &size)| i32::from(v) * i32::from(size))
            .sum();
        let excess = sum.wrapping_sub(TARGET.wrapping_shl(self.fraction as u32));
        let room = headroom(excess);
        let normalised = excess.wrapping_mul(1i32.wrapping_shl(room as u32));
        let estimate = (SPREAD * (normalised >> 16)) >> 15;
        // 2^(fraction - (SPREAD_SHIFT + fraction + room - 31))
        shift(estimate, 31 - SPREAD_SHIFT - room)
    }

    /// Offset change expected to remove a bit-total error of `miss` (≠ 0).
    fn step(&self, miss: i32) -> i32 {
        let mut normalised = miss;
        let mut doublings = 0;
        while normalised.abs() <= 16383 {
            normalised *= 2;
            doublings += 1;
        }
        let step = (normalised * SPREAD) >> 15;
        shift(step, self.fraction - (SPREAD_SHIFT + doublings - 15))
    }

    /// Moves the offset by `step` until the total crosses 198 (at most 19
    /// moves). Returns the bracket (total above 198, total at or below)
    /// and the probes spent, [`MAX_PROBES`] when it never crossed.
    fn march(&self, start: Probe, step: i32) -> (Probe, Probe, u32) {
        let mut previous = start;
        let mut current = start;
        let mut used = MAX_PROBES;
        for moves in 1..MAX_PROBES {
            previous = current;
            current = self.probe(current.offset.wrapping_add(step));
            if current.miss() * previous.miss() <= 0 {
                used = moves;
                break;
            }
        }
        if current.miss() > 0 {
            (current, previous, used)
        } else {
            (previous, current, used)
        }
    }
}

/// Left shift for positive `amount`, arithmetic right shift otherwise;
/// wraps like 32-bit hardware.
fn shift(value: i32, amount: i32) -> i32 {
    if amount > 0 {
        (value as u32).wrapping_shl(amount as u32) as i32
    } else {
        value.wrapping_shr(amount.unsigned_abs())
    }
}

/// How far `value` can be shifted left before its top bit reaches bit 30
/// (31 for zero).
fn headroom(value: i32) -> i32 {
    if value == 0 {
        return 31;
    }
    let log2 = 31 - value.unsigned_abs().leading_zeros() as i32;
    30 - log2
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn flat_envelope_is_cut_from_the_top() {
        // Equal levels can only give 124 x 1 or 124 x 2 bits; 248 is closer
        // to 198, so the low 99 coefficients keep 2 bits and the rest none.
        let alloc = Allocation::from_band_exponents(&[20000; BANDS]);
        assert!(alloc.bits()[..99].iter().all(|&b| b == 2));
        assert!(alloc.bits()[99..].iter().all(|&b| b == 0));
        assert_eq!(alloc.total(), DETAIL_BITS);
    }

    #[test]
    fn loud_bands_get_more_bits() {
        let mut bands = [6000; BANDS];
        bands[3] = 26000;
        let alloc = Allocation::from_band_exponents(&bands);
        let bits = alloc.bits();
        assert_eq!(bits[6], MAX_COEFF_BITS);
        assert_eq!(bits[7], MAX_COEFF_BITS);
        assert!(bits[100] < bits[6]);
        assert!(alloc.total() <= DETAIL_BITS);
    }

    #[test]
    fn falling_spectrum_gets_falling_bits() {
        // A speech-like envelope falling 1.5 dB per band.
        let bands: [i32; BANDS] = core::array::from_fn(|b| 22000 - 500 * b as i32);
        let alloc = Allocation::from_band_exponents(&bands);
        assert!(alloc.total() <= DETAIL_BITS && alloc.total() >= DETAIL_BITS - 6);
        assert!(alloc.bits().windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn shift_and_headroom() {
        assert_eq!(shift(3, 2), 12);
        assert_eq!(shift(-12, -2), -3);
        assert_eq!(shift(-1, -5), -1);
        assert_eq!(headroom(0), 31);
        assert_eq!(headroom(1), 30);
        assert_eq!(headroom(1 << 30), 0);
        assert_eq!(headroom(-(1 << 20)), 10);
    }

    proptest! {
        #[test]
        fn never_exceeds_the_budget(bands in proptest::array::uniform23(-300_000i32..320_000)) {
            let alloc = Allocation::from_band_exponents(&bands);
            prop_assert!(alloc.total() <= DETAIL_BITS);
            prop_assert!(alloc.bits().iter().all(|&b| b <= MAX_COEFF_BITS));
        }
    }
}
