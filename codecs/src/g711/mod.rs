//! G.711 PCMU (µ-law) and PCMA (A-law), ITU-T G.711 (11/88); RTP payload
//! types 0 and 8 (RFC 3551 section 4.5.14).
//!
//! 8 kHz, one byte per sample, 160 samples per 20 ms frame. The codec is
//! sample-by-sample, so the encoder accepts any number of samples and the
//! decoder any number of bytes. Concealment repeats the last pitch period
//! with a fade-out ([`crate::pitch_conceal::PitchRepeat`], after G.711
//! Appendix I).

pub mod alaw;
pub mod mulaw;

use crate::pitch_conceal::PitchRepeat;
use crate::{AudioDecoder, AudioEncoder, CodecError};

/// G.711 sample rate, in Hz.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples (= bytes) in a 20 ms frame.
pub const FRAME_SAMPLES: usize = 160;

/// The companding law: µ-law (PCMU, North America/Japan) or A-law (PCMA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum G711Law {
    /// µ-law, RTP payload type 0 "PCMU".
    Pcmu,
    /// A-law, RTP payload type 8 "PCMA".
    Pcma,
}

impl G711Law {
    /// Compresses one 16-bit linear sample into one code byte.
    pub fn encode_sample(self, sample: i16) -> u8 {
        match self {
            Self::Pcmu => mulaw::encode(sample),
            Self::Pcma => alaw::encode(sample),
        }
    }

    /// Expands one code byte into a 16-bit linear sample.
    pub fn decode_sample(self, code: u8) -> i16 {
        match self {
            Self::Pcmu => mulaw::decode(code),
            Self::Pcma => alaw::decode(code),
        }
    }

    /// The code of (near) silence: 0xFF for µ-law, 0xD5 for A-law.
    pub fn silence(self) -> u8 {
        self.encode_sample(0)
    }
}

/// G.711 encoder: one byte per sample.
#[derive(Debug, Clone)]
pub struct G711Encoder {
    law: G711Law,
}

impl G711Encoder {
    /// Creates an encoder for `law`.
    pub fn new(law: G711Law) -> Self {
        Self { law }
    }

    /// The companding law in use.
    pub fn law(&self) -> G711Law {
        self.law
    }
}

impl AudioEncoder for G711Encoder {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn frame_samples(&self) -> usize {
        FRAME_SAMPLES
    }

    /// Encodes any number of samples (not only 160): one byte each.
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend(pcm.iter().map(|&s| self.law.encode_sample(s)));
        Ok(())
    }
}

/// G.711 decoder with repeat-and-fade concealment.
#[derive(Debug, Clone)]
pub struct G711Decoder {
    law: G711Law,
    plc: PitchRepeat,
}

impl G711Decoder {
    /// Creates a decoder for `law`.
    pub fn new(law: G711Law) -> Self {
        Self {
            law,
            plc: PitchRepeat::new(),
        }
    }

    /// The companding law in use.
    pub fn law(&self) -> G711Law {
        self.law
    }
}

impl AudioDecoder for G711Decoder {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    /// Decodes every byte of `payload` (any length, including 0); never fails.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        let start = out.len();
        out.extend(payload.iter().map(|&c| self.law.decode_sample(c)));
        if let Some(fresh) = out.get(start..) {
            self.plc.remember(fresh);
        }
        Ok(())
    }

    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        self.plc.conceal(samples, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_codes() {
        assert_eq!(G711Law::Pcmu.silence(), 0xFF);
        assert_eq!(G711Law::Pcma.silence(), 0xD5);
    }

    #[test]
    fn encoder_and_decoder_are_one_byte_per_sample() {
        for law in [G711Law::Pcmu, G711Law::Pcma] {
            let mut enc = G711Encoder::new(law);
            let mut dec = G711Decoder::new(law);
            let pcm: Vec<i16> = (0..FRAME_SAMPLES as i16).map(|i| i * 100 - 8000).collect();
            let mut bytes = Vec::new();
            enc.encode(&pcm, &mut bytes).unwrap();
            assert_eq!(bytes.len(), FRAME_SAMPLES);
            let mut back = Vec::new();
            dec.decode(&bytes, &mut back).unwrap();
            assert_eq!(back.len(), FRAME_SAMPLES);
            for (a, b) in pcm.iter().zip(&back) {
                assert!((a - b).abs() <= 130, "{law:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn concealment_repeats_then_fades() {
        let mut dec = G711Decoder::new(G711Law::Pcma);
        let mut out = Vec::new();
        dec.decode(&[0xAA; FRAME_SAMPLES], &mut out).unwrap();
        out.clear();
        dec.conceal(FRAME_SAMPLES * 4, &mut out);
        assert_eq!(out[0], 32256);
        assert!(out[FRAME_SAMPLES] < 32256 && out[FRAME_SAMPLES] > 16000);
        assert!(out[FRAME_SAMPLES * 3..].iter().all(|&s| s == 0));
    }
}
