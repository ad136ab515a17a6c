//! The spectral envelope: one exponent per band, coded in the block header
//! as a 6-bit index into [`FIRST_EXPONENTS`] followed by 22 5-bit indices
//! into [`EXPONENT_DELTAS`]. Exponents are in 1/2048 of a binary logarithm;
//! a band's gain (the RMS of its coefficients, in 16-bit sample units on
//! the scale of [`super::mdct`]) is `2^(exponent/2048) / 8`.

use super::bits::{BitReader, BitWriter};
use super::nearest::{nearest_delta, nearest_first_exponent};
use super::tables::{BANDS, BAND_SIZES, EXPONENT_DELTAS, FILL_LEN, FIRST_EXPONENTS};

/// Bits of the first band's index.
const FIRST_BITS: u8 = 6;
/// Bits of each delta index.
const DELTA_BITS: u8 = 5;
/// Exponents are clamped to this range before computing gains, so that
/// nonsense headers give neither infinities nor denormals (2^-24 .. 2^40).
const GAIN_EXPONENT_RANGE: (i32, i32) = (-21 * 2048, 43 * 2048);

/// The coded envelope of one block: code book indices as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeCode {
    first: u8,
    deltas: [u8; BANDS - 1],
}

impl EnvelopeCode {
    /// Reads the 116-bit header from the start of a block.
    pub fn read(reader: &mut BitReader<'_>) -> Self {
        let first = reader.read(FIRST_BITS);
        let deltas = core::array::from_fn(|_| reader.read(DELTA_BITS));
        Self { first, deltas }
    }

    /// Writes the 116-bit header.
    pub fn write(&self, writer: &mut BitWriter) {
        writer.write(FIRST_BITS, self.first);
        for &delta in &self.deltas {
            writer.write(DELTA_BITS, delta);
        }
    }

    /// Codes `targets` (wanted band exponents, 1/2048 log2 units). Targets
    /// are first raised where the next band rises faster than the largest
    /// delta allows, so a spectral peak is reached in time instead of
    /// being coded too quiet (clipped); then each band takes the code book
    /// entry nearest to its target, given the exponent already reached by
    /// the bands below it.
    pub fn quantize(targets: &[f32; BANDS]) -> Self {
        let targets = &reachable(targets);
        let first = nearest_first_exponent(targets[0]);
        let mut exponent = FIRST_EXPONENTS.get(first).copied().unwrap_or(0);
        let mut deltas = [0u8; BANDS - 1];
        for (delta, &target) in deltas.iter_mut().zip(&targets[1..]) {
            let index = nearest_delta(target - exponent as f32);
            exponent += EXPONENT_DELTAS.get(index).copied().unwrap_or(0);
            *delta = index as u8;
        }
        Self {
            first: first as u8,
            deltas,
        }
    }

    /// The band exponents this code stands for.
    pub fn exponents(&self) -> [i32; BANDS] {
        let mut exponents = [0i32; BANDS];
        let mut exponent = FIRST_EXPONENTS
            .get(usize::from(self.first))
            .copied()
            .unwrap_or(0);
        exponents[0] = exponent;
        for (out, &delta) in exponents[1..].iter_mut().zip(&self.deltas) {
            exponent += EXPONENT_DELTAS
                .get(usize::from(delta))
                .copied()
                .unwrap_or(0);
            *out = exponent;
        }
        exponents
    }
}

/// Raises targets from the top band down so that no band must rise by
/// more than the largest delta.
fn reachable(targets: &[f32; BANDS]) -> [f32; BANDS] {
    let max_rise = EXPONENT_DELTAS.last().copied().unwrap_or(0) as f32;
    let mut out = *targets;
    for b in (0..BANDS - 1).rev() {
        out[b] = out[b].max(out[b + 1] - max_rise);
    }
    out
}

/// Gain (coefficient RMS, sample units) of each coefficient's band.
pub fn gains(bands: &[i32; BANDS]) -> [f32; FILL_LEN] {
    let mut out = [0.0f32; FILL_LEN];
    fill_bands(&bands.map(gain), &mut out);
    out
}

/// `2^(exponent/2048) / 8`, the exponent clamped to a sane range.
pub fn gain(exponent: i32) -> f32 {
    let (low, high) = GAIN_EXPONENT_RANGE;
    let e = f64::from(exponent.clamp(low, high));
    ((e / 2048.0).exp2() / 8.0) as f32
}

fn fill_bands<T: Copy>(bands: &[T; BANDS], out: &mut [T; FILL_LEN]) {
    let mut rest = &mut out[..];
    for (&value, &size) in bands.iter().zip(&BAND_SIZES) {
        let (band, tail) = rest.split_at_mut(usize::from(size).min(rest.len()));
        band.fill(value);
        rest = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nellymoser::NELLY_BLOCK_BYTES;

    #[test]
    fn read_gives_running_sums_of_deltas() {
        let mut w = BitWriter::new();
        w.write(FIRST_BITS, 0);
        for _ in 1..BANDS {
            w.write(DELTA_BITS, 31);
        }
        let block = w.into_block();
        let code = EnvelopeCode::read(&mut BitReader::at(&block, 0));
        let e = code.exponents();
        assert_eq!(e[0], 3134);
        assert_eq!(e[1], 3134 + 12975);
        assert_eq!(e[BANDS - 1], 3134 + 22 * 12975);
    }

    #[test]
    fn write_then_read_round_trips() {
        let code = EnvelopeCode {
            first: 41,
            deltas: core::array::from_fn(|i| (i * 7 % 32) as u8),
        };
        let mut w = BitWriter::new();
        code.write(&mut w);
        assert_eq!(w.position(), 116);
        let block: [u8; NELLY_BLOCK_BYTES] = w.into_block();
        assert_eq!(EnvelopeCode::read(&mut BitReader::at(&block, 0)), code);
    }

    #[test]
    fn quantize_tracks_the_targets() {
        let targets: [f32; BANDS] = core::array::from_fn(|b| 24000.0 - 700.0 * b as f32);
        let code = EnvelopeCode::quantize(&targets);
        for (got, want) in code.exponents().iter().zip(&targets) {
            assert!((*got as f32 - want).abs() < 400.0, "{got} vs {want}");
        }
    }

    #[test]
    fn gains_follow_the_exponent() {
        assert_eq!(gain(0), 0.125);
        assert_eq!(gain(2048 * 4), 2.0);
        assert!(gain(i32::MAX).is_finite());
        assert!(gain(i32::MIN) > 0.0);
        let g = gains(&[2048; BANDS]);
        assert!(g.iter().all(|&x| x == 0.25));
    }
}
