//! Nellymoser Asao, the speech codec of Flash Player's microphone (FLV
//! sound formats 4 = 16 kHz, 5 = 8 kHz, 6 = rate from the FLV rate bits).
//! Our own implementation, written from the format's description.
//!
//! A block of [`NELLY_BLOCK_BYTES`] (64) bytes codes [`NELLY_BLOCK_SAMPLES`]
//! (256) mono samples at any of 8000, 11025, 16000, 22050 and 44100 Hz: the
//! bitstream does not depend on the rate. Each block holds
//!
//! - a spectral envelope of 23 bands: a 6-bit first exponent and 22 5-bit
//!   deltas (116 bits, `envelope.rs`);
//! - two sets of 198 bits for the 124 coded coefficients of the two MDCTs
//!   of the block (128 coefficients each, hop 128, `mdct.rs`); the bits per
//!   coefficient (0..=6) follow from the envelope alone (`alloc.rs`), and
//!   coefficients without bits are filled with noise at the band's level.
//!
//! Bits are packed least significant first (`bits.rs`). The encoder delays
//! the signal by 128 samples (half a block). Concealment of lost blocks
//! repeats the last block with a fade-out ([`crate::conceal::RepeatFade`]).
//!
//! Decoding is deterministic, including the noise fill (its signs follow
//! the same generator as libavcodec's decoder), so our output equals
//! libavcodec's to within one least significant bit
//! (tests/nellymoser_ffmpeg.rs).
//!
//! References: MultimediaWiki "Nelly Moser" (wiki.multimedia.cx): block
//! structure and encoding steps; libavcodec `nellymoser.c` (MIT licence,
//! derived from the nelly2pcm decoder): the tables and the bit-allocation
//! procedure, facts of the format that every decoder must follow exactly,
//! carried over as data and re-expressed in our own code.

mod alloc;
mod bits;
mod decoder;
mod encoder;
mod envelope;
mod fft;
mod mdct;
mod nearest;
mod noise;
mod tables;

pub use decoder::NellymoserDecoder;
pub use encoder::NellymoserEncoder;

use crate::CodecError;

/// Bytes of one coded block.
pub const NELLY_BLOCK_BYTES: usize = 64;
/// PCM samples coded by one block.
pub const NELLY_BLOCK_SAMPLES: usize = 256;
/// Sample rates Flash uses with Nellymoser, in Hz.
pub const NELLY_SAMPLE_RATES: [u32; 5] = [8000, 11025, 16000, 22050, 44100];

/// Accepts one of [`NELLY_SAMPLE_RATES`], else
/// [`CodecError::UnsupportedRate`].
fn check_rate(sample_rate: u32) -> Result<u32, CodecError> {
    if NELLY_SAMPLE_RATES.contains(&sample_rate) {
        Ok(sample_rate)
    } else {
        Err(CodecError::UnsupportedRate(sample_rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AudioDecoder, AudioEncoder};
    use std::f64::consts::TAU;

    fn tone(hz: f64, rate: u32, amplitude: f64, len: usize) -> Vec<i16> {
        (0..len)
            .map(|i| (amplitude * (TAU * hz * i as f64 / f64::from(rate)).sin()).round() as i16)
            .collect()
    }

    fn snr_db(reference: &[i16], output: &[i16]) -> f64 {
        let (mut signal, mut noise) = (0.0, 0.0);
        for (&r, &o) in reference.iter().zip(output) {
            signal += f64::from(r).powi(2);
            noise += (f64::from(r) - f64::from(o)).powi(2);
        }
        10.0 * (signal / noise.max(1e-9)).log10()
    }

    fn round_trip(rate: u32, pcm: &[i16]) -> Vec<i16> {
        let mut encoder = NellymoserEncoder::new(rate).unwrap();
        let mut decoder = NellymoserDecoder::new(rate).unwrap();
        let mut payload = Vec::new();
        for frame in pcm.chunks_exact(NELLY_BLOCK_SAMPLES) {
            encoder.encode(frame, &mut payload).unwrap();
        }
        assert_eq!(
            payload.len(),
            pcm.len() / NELLY_BLOCK_SAMPLES * NELLY_BLOCK_BYTES
        );
        let mut out = Vec::new();
        decoder.decode(&payload, &mut out).unwrap();
        out
    }

    #[test]
    fn rates_are_checked() {
        for rate in NELLY_SAMPLE_RATES {
            assert_eq!(NellymoserDecoder::new(rate).unwrap().sample_rate(), rate);
            assert_eq!(NellymoserEncoder::new(rate).unwrap().sample_rate(), rate);
        }
        for rate in [0, 12000, 32000, 48000] {
            assert_eq!(
                NellymoserDecoder::new(rate).err(),
                Some(CodecError::UnsupportedRate(rate))
            );
            assert!(NellymoserEncoder::new(rate).is_err());
        }
    }

    #[test]
    fn tone_round_trip_at_every_rate() {
        for rate in NELLY_SAMPLE_RATES {
            let pcm = tone(1000.0, rate, 10000.0, 40 * NELLY_BLOCK_SAMPLES);
            let out = round_trip(rate, &pcm);
            assert_eq!(out.len(), pcm.len());
            // Encoder delay 128 samples; skip the first block.
            let snr = snr_db(&pcm[256..pcm.len() - 128], &out[384..]);
            eprintln!("{rate} Hz: {snr:.1} dB");
            assert!(snr >= 20.0, "{rate} Hz: {snr:.1} dB");
        }
    }
}
