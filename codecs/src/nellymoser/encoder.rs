//! Nellymoser encoder: 256 samples to one 64-byte block.
//!
//! Per block: two MDCTs over the last 128 samples of the previous frame
//! and the 256 new ones; band RMS values give the wanted exponents, coded
//! greedily; the envelope gives the bit allocation; each coefficient,
//! divided by its band gain, takes the nearest dequantisation level.

use super::alloc::Allocation;
use super::bits::BitWriter;
use super::envelope::{gains, EnvelopeCode};
use super::mdct::{Mdct, COEFFS, WINDOW};
use super::nearest::nearest_level;
use super::tables::{BANDS, BAND_SIZES, DETAIL_BITS, FILL_LEN, HEADER_BITS};
use super::{check_rate, NELLY_BLOCK_BYTES, NELLY_BLOCK_SAMPLES};
use crate::{AudioEncoder, CodecError};

/// The two MDCTs of one block.
struct Spectrum {
    halves: [[f32; COEFFS]; 2],
}

impl Spectrum {
    /// Wanted band exponents: `2048·log2(8·rms)` over both halves, at
    /// least 0 (an RMS of 1/8 sample).
    fn band_targets(&self) -> [f32; BANDS] {
        let mut targets = [0.0f32; BANDS];
        let mut start = 0;
        for (target, &size) in targets.iter_mut().zip(&BAND_SIZES) {
            let size = usize::from(size);
            let energy: f32 = self
                .halves
                .iter()
                .map(|half| {
                    half.get(start..start + size)
                        .map_or(0.0, |band| band.iter().map(|c| c * c).sum::<f32>())
                })
                .sum();
            let mean_square = energy / (2 * size) as f32;
            *target = 1024.0 * (64.0 * mean_square).max(1.0).log2();
            start += size;
        }
        targets
    }
}

/// Nellymoser encoder for one stream (mono, 16-bit PCM in).
///
/// Keeps the last 128 input samples (the overlap of the next block's first
/// transform), so its output lags its input by 128 samples.
#[derive(Debug, Clone)]
pub struct NellymoserEncoder {
    sample_rate: u32,
    mdct: Mdct,
    /// Last 128 samples of the previous frame.
    history: [f32; COEFFS],
}

impl NellymoserEncoder {
    /// An encoder for PCM at `sample_rate` Hz (8000, 11025, 16000, 22050
    /// or 44100); other rates give [`CodecError::UnsupportedRate`].
    pub fn new(sample_rate: u32) -> Result<Self, CodecError> {
        Ok(Self {
            sample_rate: check_rate(sample_rate)?,
            mdct: Mdct::new(),
            history: [0.0; COEFFS],
        })
    }

    /// Windows the history and the new frame into two MDCTs.
    fn analyse(&mut self, pcm: &[i16; NELLY_BLOCK_SAMPLES]) -> Spectrum {
        let mut signal = [0.0f32; COEFFS + NELLY_BLOCK_SAMPLES];
        let (old, new) = signal.split_at_mut(COEFFS);
        old.copy_from_slice(&self.history);
        for (s, &p) in new.iter_mut().zip(pcm) {
            *s = f32::from(p);
        }
        let mut halves = [[0.0f32; COEFFS]; 2];
        for (half, out) in halves.iter_mut().enumerate() {
            let mut window = [0.0f32; WINDOW];
            if let Some(part) = signal.get(half * COEFFS..half * COEFFS + WINDOW) {
                window.copy_from_slice(part);
            }
            self.mdct.forward(&window, out);
        }
        if let Some(tail) = signal.get(NELLY_BLOCK_SAMPLES..) {
            self.history.copy_from_slice(tail);
        }
        Spectrum { halves }
    }

    fn encode_block(&mut self, pcm: &[i16; NELLY_BLOCK_SAMPLES]) -> [u8; NELLY_BLOCK_BYTES] {
        let spectrum = self.analyse(pcm);
        let code = EnvelopeCode::quantize(&spectrum.band_targets());
        let exponents = code.exponents();
        let inverse_gains = gains(&exponents).map(|g| 1.0 / g);
        let allocation = Allocation::from_band_exponents(&exponents);
        let mut writer = BitWriter::new();
        code.write(&mut writer);
        for (half, coeffs) in spectrum.halves.iter().enumerate() {
            writer.pad_to(HEADER_BITS + half * DETAIL_BITS);
            write_coefficients(&mut writer, coeffs, &inverse_gains, &allocation);
        }
        writer.into_block()
    }
}

/// Quantises and writes the coefficients of one half block; `gains` are
/// the reciprocals of the band gains.
fn write_coefficients(
    writer: &mut BitWriter,
    coeffs: &[f32; COEFFS],
    gains: &[f32; FILL_LEN],
    allocation: &Allocation,
) {
    for ((&c, &gain), &bits) in coeffs.iter().zip(gains).zip(allocation.bits()) {
        if bits > 0 {
            let code = nearest_level(bits, c * gain);
            writer.write(bits, code as u8);
        }
    }
}

impl AudioEncoder for NellymoserEncoder {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn frame_samples(&self) -> usize {
        NELLY_BLOCK_SAMPLES
    }

    /// Encodes exactly 256 samples, appending one 64-byte block; another
    /// length gives [`CodecError::FrameLength`].
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        let frame =
            <&[i16; NELLY_BLOCK_SAMPLES]>::try_from(pcm).map_err(|_| CodecError::FrameLength {
                expected: NELLY_BLOCK_SAMPLES,
                got: pcm.len(),
            })?;
        out.extend_from_slice(&self.encode_block(frame));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nellymoser::NellymoserDecoder;
    use crate::AudioDecoder;

    #[test]
    fn wrong_frame_length_is_refused() {
        let mut encoder = NellymoserEncoder::new(8000).unwrap();
        let mut out = Vec::new();
        assert_eq!(
            encoder.encode(&[0; 255], &mut out),
            Err(CodecError::FrameLength {
                expected: 256,
                got: 255
            })
        );
        assert!(out.is_empty());
        assert_eq!(encoder.frame_samples(), 256);
    }

    #[test]
    fn silence_encodes_to_the_lowest_envelope() {
        let mut encoder = NellymoserEncoder::new(8000).unwrap();
        let mut out = Vec::new();
        encoder.encode(&[0; 256], &mut out).unwrap();
        assert_eq!(out.len(), NELLY_BLOCK_BYTES);
        let mut decoded = Vec::new();
        NellymoserDecoder::new(8000)
            .unwrap()
            .decode(&out, &mut decoded)
            .unwrap();
        assert!(decoded.iter().all(|s| s.abs() <= 4));
    }

    #[test]
    fn extreme_input_does_not_break_the_encoder() {
        let mut encoder = NellymoserEncoder::new(44100).unwrap();
        let mut out = Vec::new();
        let square: Vec<i16> = (0..256)
            .map(|i| if i % 2 == 0 { i16::MAX } else { i16::MIN })
            .collect();
        encoder.encode(&square, &mut out).unwrap();
        encoder.encode(&[i16::MIN; 256], &mut out).unwrap();
        assert_eq!(out.len(), 2 * NELLY_BLOCK_BYTES);
    }
}
