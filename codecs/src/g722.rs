//! G.722 wideband ADPCM at 64 kbit/s, ITU-T G.722 (09/2012), mode 1; RTP
//! payload type 9 (RFC 3551 section 4.5.2).
//!
//! PCM is 16000 Hz mono; the encoder splits it into two sub-bands (QMF) and
//! writes one byte per pair of samples (6 bits low band, 2 bits high band),
//! so a 20 ms frame of 320 samples becomes 160 bytes. RFC 3551 section
//! 4.5.2 keeps the RTP clock at 8000 Hz ([`RTP_CLOCK_RATE`]) for historical
//! reasons: the RTP timestamp advances by one per byte, 160 per 20 ms.
//!
//! The arithmetic is the `libg722` module of the `ezk-g722` crate (a port of
//! the public-domain spandsp/libg722 code). G.722 has no concealment of its
//! own: lost frames repeat the last frame with a 60 ms fade-out
//! ([`RepeatFade`]).

use crate::conceal::RepeatFade;
use crate::{AudioDecoder, AudioEncoder, CodecError};
use ezk_g722::libg722::decoder::Decoder;
use ezk_g722::libg722::encoder::Encoder;
use ezk_g722::libg722::Bitrate;

/// PCM sample rate, in Hz.
pub const SAMPLE_RATE: u32 = 16000;
/// RTP clock rate of payload type 9, in Hz (RFC 3551 section 4.5.2).
pub const RTP_CLOCK_RATE: u32 = 8000;
/// PCM samples in a 20 ms frame.
pub const FRAME_SAMPLES: usize = 320;
/// Payload bytes of a 20 ms frame at 64 kbit/s.
pub const FRAME_BYTES: usize = 160;
/// Largest payload [`G722Decoder::decode`] accepts, in bytes (4.096 s; far
/// above any RTP packet).
pub const MAX_PAYLOAD_BYTES: usize = 65_536;
/// Largest PCM input [`G722Encoder::encode`] accepts, in samples.
pub const MAX_INPUT_SAMPLES: usize = 2 * MAX_PAYLOAD_BYTES;

/// G.722 encoder, 64 kbit/s (mode 1).
pub struct G722Encoder {
    encoder: Encoder,
}

impl G722Encoder {
    /// Creates a 64 kbit/s encoder for 16 kHz PCM.
    ///
    /// Never fails today; the `Result` keeps the shape of the other codecs.
    pub fn new() -> Result<Self, CodecError> {
        Ok(Self {
            encoder: Encoder::new(Bitrate::Mode1_64000, false, false),
        })
    }
}

impl AudioEncoder for G722Encoder {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn frame_samples(&self) -> usize {
        FRAME_SAMPLES
    }

    /// Encodes an even number of samples (320 for 20 ms), appending one byte
    /// per two samples.
    ///
    /// Errors: [`CodecError::FrameLength`] (expected 320) for an odd count
    /// or more than [`MAX_INPUT_SAMPLES`].
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        if pcm.len() % 2 != 0 || pcm.len() > MAX_INPUT_SAMPLES {
            return Err(CodecError::FrameLength {
                expected: FRAME_SAMPLES,
                got: pcm.len(),
            });
        }
        out.extend_from_slice(&self.encoder.encode(pcm));
        Ok(())
    }
}

/// G.722 decoder, 64 kbit/s (mode 1), with repeat-and-fade concealment.
pub struct G722Decoder {
    decoder: Decoder,
    plc: RepeatFade,
}

impl G722Decoder {
    /// Creates a 64 kbit/s decoder producing 16 kHz PCM.
    ///
    /// Never fails today; the `Result` keeps the shape of the other codecs.
    pub fn new() -> Result<Self, CodecError> {
        Ok(Self {
            decoder: Decoder::new(Bitrate::Mode1_64000, false, false),
            plc: RepeatFade::with_rate(FRAME_SAMPLES, SAMPLE_RATE),
        })
    }
}

impl AudioDecoder for G722Decoder {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    /// Decodes every byte of `payload` (any length, including 0), appending
    /// two samples per byte.
    ///
    /// Errors: [`CodecError::InvalidPayload`] above [`MAX_PAYLOAD_BYTES`]
    /// (nothing is appended). Every byte is a valid code word.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(CodecError::InvalidPayload("G.722 payload over 65536 bytes"));
        }
        let pcm = self.decoder.decode(payload);
        self.plc.remember(&pcm);
        out.extend_from_slice(&pcm);
        Ok(())
    }

    /// Appends exactly `samples` samples: the last frame repeated with a
    /// 60 ms fade-out, then silence.
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        self.plc.conceal(samples, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sine(hz: f64, amplitude: f64, len: usize) -> Vec<i16> {
        (0..len)
            .map(|i| {
                let t = i as f64 / f64::from(SAMPLE_RATE);
                (amplitude * (t * hz * std::f64::consts::TAU).sin()).round() as i16
            })
            .collect()
    }

    /// Best SNR (dB) of `output` against `reference` over delays 0..=max.
    fn best_snr(
        reference: &[i16],
        output: &[i16],
        delays: std::ops::RangeInclusive<usize>,
    ) -> (f64, usize) {
        let mut best = (f64::MIN, 0);
        for delay in delays {
            let (mut signal, mut noise) = (0.0, 0.0);
            for (r, o) in reference.iter().zip(&output[delay..]) {
                signal += f64::from(*r).powi(2);
                noise += (f64::from(*r) - f64::from(*o)).powi(2);
            }
            let snr = 10.0 * (signal / noise.max(1e-9)).log10();
            if snr > best.0 {
                best = (snr, delay);
            }
        }
        best
    }

    fn round_trip(pcm: &[i16]) -> Vec<i16> {
        let mut encoder = G722Encoder::new().unwrap();
        let mut decoder = G722Decoder::new().unwrap();
        let mut out = Vec::new();
        for frame in pcm.chunks(FRAME_SAMPLES) {
            let mut payload = Vec::new();
            encoder.encode(frame, &mut payload).unwrap();
            assert_eq!(payload.len(), frame.len() / 2);
            decoder.decode(&payload, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn tone_round_trip_keeps_the_waveform() {
        // Low band (0-4 kHz) at 48 kbit/s, high band at 16 kbit/s: measured
        // 47.5, 54.0 and 22.6 dB.
        for (hz, amplitude, min_snr) in [
            (1000.0, 10000.0, 40.0),
            (440.0, 3000.0, 45.0),
            (5000.0, 8000.0, 18.0),
        ] {
            let pcm = sine(hz, amplitude, 16000);
            let out = round_trip(&pcm);
            assert_eq!(out.len(), pcm.len());
            // The two QMF banks delay the signal by 22 samples in all (the
            // search stays within one period of 1 kHz around it).
            let (snr, delay) = best_snr(&pcm[1600..14000], &out[1600..], 16..=30);
            assert_eq!(delay, 22, "{hz} Hz");
            assert!(snr >= min_snr, "{hz} Hz: {snr:.1} dB");
        }
    }

    #[test]
    fn frame_and_payload_lengths() {
        let mut encoder = G722Encoder::new().unwrap();
        assert_eq!(encoder.sample_rate(), 16000);
        assert_eq!(encoder.frame_samples(), 320);
        let mut payload = Vec::new();
        encoder.encode(&[0; FRAME_SAMPLES], &mut payload).unwrap();
        assert_eq!(payload.len(), FRAME_BYTES);
        assert_eq!(
            encoder.encode(&[0; 3], &mut payload),
            Err(CodecError::FrameLength {
                expected: 320,
                got: 3
            })
        );
        assert_eq!(payload.len(), FRAME_BYTES);
        let mut decoder = G722Decoder::new().unwrap();
        let mut out = Vec::new();
        decoder.decode(&payload, &mut out).unwrap();
        assert_eq!(out.len(), FRAME_SAMPLES);
        decoder.decode(&[0x55; 7], &mut out).unwrap();
        assert_eq!(out.len(), FRAME_SAMPLES + 14);
        decoder.decode(&[], &mut out).unwrap();
        assert_eq!(out.len(), FRAME_SAMPLES + 14);
        assert!(decoder
            .decode(&vec![0; MAX_PAYLOAD_BYTES + 1], &mut out)
            .is_err());
        assert_eq!(out.len(), FRAME_SAMPLES + 14);
    }

    #[test]
    fn concealment_repeats_the_tone_then_fades_to_silence() {
        let pcm = sine(1000.0, 10000.0, 3200);
        let mut encoder = G722Encoder::new().unwrap();
        let mut decoder = G722Decoder::new().unwrap();
        let mut out = Vec::new();
        for frame in pcm.chunks(FRAME_SAMPLES) {
            let mut payload = Vec::new();
            encoder.encode(frame, &mut payload).unwrap();
            decoder.decode(&payload, &mut out).unwrap();
        }
        let mut lost = Vec::new();
        decoder.conceal(FRAME_SAMPLES * 4, &mut lost);
        assert_eq!(lost.len(), 1280);
        // 320 samples are whole periods of 1 kHz: the first concealed frame
        // continues the tone, at a falling level.
        let (snr, _) = best_snr(&out[out.len() - 320..out.len() - 160], &lost[..160], 0..=0);
        assert!(snr > 15.0, "{snr:.1} dB");
        let peak = |s: &[i16]| s.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
        assert!(peak(&lost[..160]) > 8000);
        assert!(peak(&lost[640..800]) < peak(&lost[..160]) / 2);
        assert!(lost[960..].iter().all(|&s| s == 0));
    }

    proptest! {
        #[test]
        fn any_bytes_decode_to_two_samples_each(payload in proptest::collection::vec(any::<u8>(), 0..800), lost in 0usize..2000) {
            let mut decoder = G722Decoder::new().unwrap();
            let mut out = Vec::new();
            decoder.decode(&payload, &mut out).unwrap();
            prop_assert_eq!(out.len(), payload.len() * 2);
            decoder.conceal(lost, &mut out);
            prop_assert_eq!(out.len(), payload.len() * 2 + lost);
            decoder.decode(&payload, &mut out).unwrap();
            prop_assert_eq!(out.len(), payload.len() * 4 + lost);
        }

        #[test]
        fn any_even_pcm_encodes_to_one_byte_per_pair(pcm in proptest::collection::vec(any::<i16>(), 0..640)) {
            let mut encoder = G722Encoder::new().unwrap();
            let even = &pcm[..pcm.len() / 2 * 2];
            let mut payload = Vec::new();
            encoder.encode(even, &mut payload).unwrap();
            prop_assert_eq!(payload.len(), even.len() / 2);
        }
    }
}
