//! Nellymoser decoder: 64-byte blocks to 256 samples each.

use std::f32::consts::FRAC_1_SQRT_2;

use super::alloc::Allocation;
use super::bits::BitReader;
use super::envelope::{gains, EnvelopeCode};
use super::mdct::{Mdct, COEFFS, WINDOW};
use super::noise::NoiseSigns;
use super::tables::{levels, DETAIL_BITS, FILL_LEN, HEADER_BITS};
use super::{check_rate, NELLY_BLOCK_BYTES, NELLY_BLOCK_SAMPLES};
use crate::conceal::RepeatFade;
use crate::{AudioDecoder, CodecError};

/// The header of one block, parsed: what every coefficient is worth.
struct BlockHeader {
    /// Gain of each coded coefficient, sample units.
    gains: [f32; FILL_LEN],
    /// Bits of each coded coefficient (same for both halves).
    allocation: Allocation,
}

impl BlockHeader {
    fn parse(block: &[u8; NELLY_BLOCK_BYTES]) -> Self {
        let code = EnvelopeCode::read(&mut BitReader::at(block, 0));
        let exponents = code.exponents();
        Self {
            gains: gains(&exponents),
            allocation: Allocation::from_band_exponents(&exponents),
        }
    }
}

/// Nellymoser decoder for one stream (mono, 16-bit PCM out).
///
/// Keeps the second half of the last synthesis for the overlap-add, the
/// noise-sign sequence and the concealment history; no allocation per
/// block.
#[derive(Debug, Clone)]
pub struct NellymoserDecoder {
    sample_rate: u32,
    mdct: Mdct,
    noise: NoiseSigns,
    /// Windowed second half of the previous synthesis.
    overlap: [f32; COEFFS],
    plc: RepeatFade,
}

impl NellymoserDecoder {
    /// A decoder for PCM at `sample_rate` Hz (8000, 11025, 16000, 22050 or
    /// 44100; the rate only labels the output). Other rates give
    /// [`CodecError::UnsupportedRate`].
    pub fn new(sample_rate: u32) -> Result<Self, CodecError> {
        Ok(Self {
            sample_rate: check_rate(sample_rate)?,
            mdct: Mdct::new(),
            noise: NoiseSigns::new(),
            overlap: [0.0; COEFFS],
            plc: RepeatFade::with_rate(NELLY_BLOCK_SAMPLES, sample_rate),
        })
    }

    /// Decodes one block into 256 samples.
    fn decode_block(
        &mut self,
        block: &[u8; NELLY_BLOCK_BYTES],
        pcm: &mut [i16; NELLY_BLOCK_SAMPLES],
    ) {
        let header = BlockHeader::parse(block);
        for (half, out) in pcm.chunks_exact_mut(COEFFS).enumerate() {
            let mut reader = BitReader::at(block, HEADER_BITS + half * DETAIL_BITS);
            let coeffs = self.dequantize(&header, &mut reader);
            self.synthesize(&coeffs, out);
        }
    }

    /// The 128 coefficients of one half block; the top 4 stay zero.
    fn dequantize(&mut self, header: &BlockHeader, reader: &mut BitReader<'_>) -> [f32; COEFFS] {
        let mut coeffs = [0.0f32; COEFFS];
        let bits = header.allocation.bits();
        for ((c, &gain), &b) in coeffs.iter_mut().zip(&header.gains).zip(bits) {
            *c = if b == 0 {
                self.noise.apply_sign(FRAC_1_SQRT_2 * gain)
            } else {
                let code = usize::from(reader.read(b));
                levels(b).get(code).copied().unwrap_or(0.0) * gain
            };
        }
        coeffs
    }

    /// Inverse MDCT, overlap-add with the previous half, 128 samples out.
    fn synthesize(&mut self, coeffs: &[f32; COEFFS], out: &mut [i16]) {
        let mut windowed = [0.0f32; WINDOW];
        self.mdct.inverse(coeffs, &mut windowed);
        let (first, second) = windowed.split_at(COEFFS);
        for ((o, &now), &before) in out.iter_mut().zip(first).zip(&self.overlap) {
            *o = to_sample(now + before);
        }
        self.overlap.copy_from_slice(second);
    }
}

/// Rounds to the nearest 16-bit sample (ties to even), saturating; NaN
/// gives 0.
fn to_sample(x: f32) -> i16 {
    // Adding 1.5·2^23 leaves no fraction bits, so the FPU rounds (to
    // nearest, ties to even) exactly; cheaper than a call to rintf.
    const ROUNDER: f32 = 12_582_912.0;
    let clamped = x.clamp(f32::from(i16::MIN), f32::from(i16::MAX));
    ((clamped + ROUNDER) - ROUNDER) as i16
}

impl AudioDecoder for NellymoserDecoder {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Decodes a payload of whole 64-byte blocks (0 or more), appending 256
    /// samples per block. A length that is not a multiple of 64 gives
    /// [`CodecError::InvalidPayload`] and appends nothing.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        if payload.len() % NELLY_BLOCK_BYTES != 0 {
            return Err(CodecError::InvalidPayload(
                "Nellymoser payload is not a whole number of 64-byte blocks",
            ));
        }
        out.reserve(payload.len() / NELLY_BLOCK_BYTES * NELLY_BLOCK_SAMPLES);
        let mut pcm = [0i16; NELLY_BLOCK_SAMPLES];
        for chunk in payload.chunks_exact(NELLY_BLOCK_BYTES) {
            let Ok(block) = <&[u8; NELLY_BLOCK_BYTES]>::try_from(chunk) else {
                continue;
            };
            self.decode_block(block, &mut pcm);
            out.extend_from_slice(&pcm);
            self.plc.remember(&pcm);
        }
        Ok(())
    }

    /// Appends exactly `samples` samples repeating the last block with a
    /// fade-out over 60 ms; the next block then starts without overlap.
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        self.plc.conceal(samples, out);
        self.overlap = [0.0; COEFFS];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_partial_blocks_without_output() {
        let mut decoder = NellymoserDecoder::new(8000).unwrap();
        let mut out = vec![7];
        assert!(matches!(
            decoder.decode(&[0; 100], &mut out),
            Err(CodecError::InvalidPayload(_))
        ));
        assert_eq!(out, vec![7]);
        decoder.decode(&[], &mut out).unwrap();
        assert_eq!(out, vec![7]);
    }

    #[test]
    fn decodes_several_blocks_per_payload() {
        let mut decoder = NellymoserDecoder::new(44100).unwrap();
        let mut out = Vec::new();
        decoder
            .decode(&[0x55; 8 * NELLY_BLOCK_BYTES], &mut out)
            .unwrap();
        assert_eq!(out.len(), 8 * NELLY_BLOCK_SAMPLES);
    }

    #[test]
    fn all_zero_block_is_quiet_noise() {
        // Index 0 everywhere: first exponent 3134, every delta -11725, so
        // only the lowest band is audible and that barely (gain ~0.36).
        let mut decoder = NellymoserDecoder::new(8000).unwrap();
        let mut out = Vec::new();
        decoder
            .decode(&[0; 2 * NELLY_BLOCK_BYTES], &mut out)
            .unwrap();
        assert!(out.iter().all(|s| s.abs() <= 4), "{out:?}");
    }

    #[test]
    fn loudest_envelope_saturates_without_failing() {
        // Index 63 and every delta +12975: exponents far beyond any signal.
        let mut decoder = NellymoserDecoder::new(22050).unwrap();
        let mut out = Vec::new();
        decoder
            .decode(&[0xFF; 2 * NELLY_BLOCK_BYTES], &mut out)
            .unwrap();
        assert_eq!(out.len(), 2 * NELLY_BLOCK_SAMPLES);
        assert!(out.iter().any(|&s| s == i16::MAX || s == i16::MIN));
    }

    #[test]
    fn concealment_appends_exactly_the_requested_samples() {
        let mut decoder = NellymoserDecoder::new(16000).unwrap();
        let mut out = Vec::new();
        decoder
            .decode(&[0xA7; NELLY_BLOCK_BYTES], &mut out)
            .unwrap();
        let last: Vec<i16> = out.clone();
        for samples in [0, 1, 160, 256, 1000] {
            let mut concealed = Vec::new();
            decoder.conceal(samples, &mut concealed);
            assert_eq!(concealed.len(), samples);
        }
        let mut concealed = Vec::new();
        NellymoserDecoder::new(16000)
            .unwrap()
            .conceal(300, &mut concealed);
        assert_eq!(concealed, vec![0; 300]);
        // Right after a block, concealment starts from that block's samples.
        let mut decoder = NellymoserDecoder::new(16000).unwrap();
        let mut out = Vec::new();
        decoder
            .decode(&[0xA7; NELLY_BLOCK_BYTES], &mut out)
            .unwrap();
        let mut concealed = Vec::new();
        decoder.conceal(1, &mut concealed);
        assert_eq!(concealed[0], last[0]);
    }

    #[test]
    fn samples_round_to_nearest_even_and_saturate() {
        assert_eq!(to_sample(0.5), 0);
        assert_eq!(to_sample(1.5), 2);
        assert_eq!(to_sample(-2.5), -2);
        assert_eq!(to_sample(2.51), 3);
        assert_eq!(to_sample(-7.49), -7);
        assert_eq!(to_sample(1e9), i16::MAX);
        assert_eq!(to_sample(-1e9), i16::MIN);
        assert_eq!(to_sample(f32::NAN), 0);
    }

    proptest! {
        #[test]
        fn any_block_decodes_to_256_samples(block in proptest::collection::vec(any::<u8>(), NELLY_BLOCK_BYTES), rate in proptest::sample::select(&crate::nellymoser::NELLY_SAMPLE_RATES[..])) {
            let mut decoder = NellymoserDecoder::new(rate).unwrap();
            let mut out = Vec::new();
            decoder.decode(&block, &mut out).unwrap();
            decoder.decode(&block, &mut out).unwrap();
            prop_assert_eq!(out.len(), 2 * NELLY_BLOCK_SAMPLES);
        }
    }
}
