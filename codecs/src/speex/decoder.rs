//! Speex decoder: payloads of one or more frames in, PCM out.

use super::ffi::{Bits, DecoderState, FrameResult};
use super::{SpeexMode, MAX_FRAMES_PER_PAYLOAD};
use crate::{AudioDecoder, CodecError};

/// Speex decoder over libspeex, with libspeex's own packet-loss
/// concealment.
pub struct SpeexDecoder {
    mode: SpeexMode,
    state: DecoderState,
    bits: Bits,
    /// One decoded frame.
    frame: Vec<i16>,
}

impl SpeexDecoder {
    /// Creates a decoder for `mode`.
    ///
    /// Errors: [`CodecError::Init`] if libspeex fails.
    pub fn new(mode: SpeexMode) -> Result<Self, CodecError> {
        let state = DecoderState::new(mode)?;
        let frame = vec![0; state.frame_size()];
        Ok(Self {
            mode,
            state,
            bits: Bits::new()?,
            frame,
        })
    }

    /// The band mode.
    pub fn mode(&self) -> SpeexMode {
        self.mode
    }

    /// Decodes every complete frame of `payload` (at most
    /// [`MAX_FRAMES_PER_PAYLOAD`]), appending `frames * frame_samples`
    /// samples to `out`, and returns the number of frames.
    ///
    /// Stops at the terminator or when less than a frame is left; a
    /// truncated last frame is dropped. An empty or terminator-only payload
    /// yields `Ok(0)`.
    ///
    /// Errors: [`CodecError::InvalidPayload`] if the payload is larger than
    /// [`super::MAX_PAYLOAD_BYTES`], or if its first frame is corrupt or
    /// truncated (frames decoded before a corrupt one are kept).
    pub fn decode_frames(
        &mut self,
        payload: &[u8],
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError> {
        self.bits.load(payload)?;
        let mut frames = 0;
        while frames < MAX_FRAMES_PER_PAYLOAD {
            // A frame needs at least 5 bits (wideband flag + 4-bit mode).
            if self.bits.remaining() < 5 {
                break;
            }
            match self.state.decode(Some(&mut self.bits), &mut self.frame) {
                FrameResult::Decoded if self.bits.remaining() >= 0 => {
                    out.extend_from_slice(&self.frame);
                    frames += 1;
                }
                FrameResult::Decoded => return truncated(frames),
                FrameResult::EndOfStream => break,
                FrameResult::Corrupt => return corrupt(frames),
            }
        }
        Ok(frames)
    }
}

/// A frame read past the end of the payload: keep what came before.
fn truncated(frames: usize) -> Result<usize, CodecError> {
    if frames == 0 {
        Err(CodecError::InvalidPayload("truncated Speex frame"))
    } else {
        Ok(frames)
    }
}

/// An invalid mode: keep the frames decoded before it.
fn corrupt(frames: usize) -> Result<usize, CodecError> {
    if frames == 0 {
        Err(CodecError::InvalidPayload("corrupt Speex frame"))
    } else {
        Ok(frames)
    }
}

impl AudioDecoder for SpeexDecoder {
    fn sample_rate(&self) -> u32 {
        self.mode.sample_rate()
    }

    /// See [`SpeexDecoder::decode_frames`].
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        self.decode_frames(payload, out).map(|_| ())
    }

    /// Runs libspeex's concealment (decode with no bits) for
    /// `ceil(samples / frame_samples)` frames and appends exactly `samples`
    /// samples; ask for whole frames to keep the decoder in step.
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        let frame = self.frame.len().max(1);
        let target = out.len() + samples;
        for _ in 0..samples.div_ceil(frame) {
            if self.state.decode(None, &mut self.frame) != FrameResult::Decoded {
                self.frame.fill(0);
            }
            out.extend_from_slice(&self.frame);
        }
        out.truncate(target);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{speex_frame_count, SpeexEncoder, SpeexEncoderConfig};
    use super::*;

    fn speechlike(frames: usize, rate: f64) -> Vec<i16> {
        (0..frames * (rate as usize / 50))
            .map(|i| {
                let t = i as f64 / rate;
                let env = 0.5 + 0.5 * (t * 3.0 * std::f64::consts::TAU).sin();
                let s = (t * 220.0 * std::f64::consts::TAU).sin()
                    + 0.5 * (t * 660.0 * std::f64::consts::TAU).sin()
                    + 0.25 * (t * 1500.0 * std::f64::consts::TAU).sin();
                (s * env * 6000.0) as i16
            })
            .collect()
    }

    #[test]
    fn decodes_every_frame_of_a_packet() {
        for config in [
            SpeexEncoderConfig::wideband(),
            SpeexEncoderConfig::narrowband(),
        ] {
            let mode = config.mode;
            let mut encoder = SpeexEncoder::new(config).unwrap();
            let mut decoder = SpeexDecoder::new(mode).unwrap();
            let pcm = speechlike(3, f64::from(mode.sample_rate()));
            let mut payload = Vec::new();
            assert_eq!(encoder.encode_packet(&pcm, &mut payload), Ok(3));
            assert_eq!(speex_frame_count(&payload, mode), 3);
            let mut out = Vec::new();
            assert_eq!(decoder.decode_frames(&payload, &mut out), Ok(3));
            assert_eq!(out.len(), 3 * mode.frame_samples());
        }
    }

    #[test]
    fn counter_agrees_with_libspeex_for_every_setting() {
        for mode in [SpeexMode::Wideband, SpeexMode::Narrowband] {
            for quality in 0..=10u8 {
                for (vad, dtx) in [(false, false), (true, false), (true, true)] {
                    let config = SpeexEncoderConfig {
                        mode,
                        quality,
                        complexity: 2,
                        vad,
                        dtx,
                    };
                    let mut encoder = SpeexEncoder::new(config).unwrap();
                    let mut decoder = SpeexDecoder::new(mode).unwrap();
                    let mut pcm = speechlike(4, f64::from(mode.sample_rate()));
                    // Two frames of silence to exercise VAD/DTX frames.
                    pcm.extend(std::iter::repeat_n(0, 2 * mode.frame_samples()));
                    let mut payload = Vec::new();
                    for packet in pcm.chunks(2 * mode.frame_samples()) {
                        payload.clear();
                        encoder.encode_packet(packet, &mut payload).unwrap();
                        let mut out = Vec::new();
                        let decoded = decoder.decode_frames(&payload, &mut out).unwrap();
                        assert_eq!(decoded, 2, "{config:?}");
                        assert_eq!(speex_frame_count(&payload, mode), 2, "{config:?}");
                    }
                }
            }
        }
    }

    /// Speex's wideband layer is embedded (Speex manual, "Formats and
    /// standards": a wideband decoder may decode just the embedded
    /// narrowband part; libspeex's `sb_decode` reads the "wideband bit"
    /// after each narrowband frame): a wideband decoder reads a narrowband
    /// frame as the low band with an empty high band, 320 samples at 16 kHz
    /// per frame. The gateway relies on it to send narrowband frames to
    /// RTMP clients.
    #[test]
    fn a_wideband_decoder_plays_narrowband_frames_as_the_low_band() {
        for quality in [4u8, 8, 10] {
            let mut encoder = SpeexEncoder::new(SpeexEncoderConfig {
                quality,
                complexity: 1,
                ..SpeexEncoderConfig::narrowband()
            })
            .unwrap();
            let mut wide = SpeexDecoder::new(SpeexMode::Wideband).unwrap();
            let mut narrow = SpeexDecoder::new(SpeexMode::Narrowband).unwrap();
            let pcm = speechlike(25, 8000.0);
            let (mut out_wide, mut out_narrow) = (Vec::new(), Vec::new());
            for packet in pcm.chunks_exact(2 * 160) {
                let mut payload = Vec::new();
                assert_eq!(encoder.encode_packet(packet, &mut payload), Ok(2));
                assert_eq!(speex_frame_count(&payload, SpeexMode::Wideband), 2);
                assert_eq!(wide.decode_frames(&payload, &mut out_wide), Ok(2));
                assert_eq!(narrow.decode_frames(&payload, &mut out_narrow), Ok(2));
            }
            assert_eq!(out_wide.len(), 2 * out_narrow.len());
            // The 16 kHz output, taken at every other sample, is the 8 kHz
            // decode up to the QMF synthesis's delay and filtering: compare
            // energies per 20 ms frame after the first few frames.
            let energy = |s: &[i16]| s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
            for (i, (w, n)) in out_wide
                .chunks(320)
                .zip(out_narrow.chunks(160))
                .enumerate()
                .skip(4)
            {
                let ratio = energy(w) / 2.0 / energy(n).max(1.0);
                assert!(
                    (0.5..2.0).contains(&ratio),
                    "q{quality} frame {i}: energy ratio {ratio}"
                );
            }
        }
    }

    #[test]
    fn empty_and_terminator_payloads_decode_to_nothing() {
        let mut decoder = SpeexDecoder::new(SpeexMode::Wideband).unwrap();
        let mut out = Vec::new();
        assert_eq!(decoder.decode_frames(&[], &mut out), Ok(0));
        assert_eq!(decoder.decode_frames(&[0x7F], &mut out), Ok(0));
        assert!(out.is_empty());
    }

    #[test]
    fn truncated_and_corrupt_payloads_are_errors() {
        let mut decoder = SpeexDecoder::new(SpeexMode::Wideband).unwrap();
        let mut out = Vec::new();
        // Mode 6 announced, 11 bytes missing.
        assert!(decoder.decode_frames(&[0b0011_0000, 0], &mut out).is_err());
        // Mode 10 is invalid.
        assert!(decoder.decode_frames(&[0b0101_0000, 0], &mut out).is_err());
        assert!(decoder
            .decode_frames(&vec![0; super::super::MAX_PAYLOAD_BYTES + 1], &mut out)
            .is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn concealment_yields_exactly_the_samples_asked() {
        let mut decoder = SpeexDecoder::new(SpeexMode::Wideband).unwrap();
        let mut out = Vec::new();
        decoder.conceal(640, &mut out);
        assert_eq!(out.len(), 640);
        decoder.conceal(100, &mut out);
        assert_eq!(out.len(), 740);
    }
}
