//! Speex encoder: PCM frames in, Speex payloads out.

use super::ffi::{Bits, EncoderSetting, EncoderState};
use super::{SpeexMode, MAX_FRAMES_PER_PAYLOAD};
use crate::{AudioEncoder, CodecError};

/// Encoder settings (Speex manual, "Codec options").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeexEncoderConfig {
    /// Band mode (sample rate and frame size).
    pub mode: SpeexMode,
    /// Quality 0..=10 (constant bit rate); 8 gives 27.8 kbit/s in wideband.
    pub quality: u8,
    /// Encoder complexity 1..=10 (CPU versus quality).
    pub complexity: u8,
    /// Voice activity detection: non-speech is coded at a low rate.
    pub vad: bool,
    /// Discontinuous transmission: silence becomes tiny frames (needs VAD).
    pub dtx: bool,
}

impl SpeexEncoderConfig {
    /// Wideband, quality 8, complexity 2, no VAD/DTX (what Flash sends).
    pub fn wideband() -> Self {
        Self {
            mode: SpeexMode::Wideband,
            quality: 8,
            complexity: 2,
            vad: false,
            dtx: false,
        }
    }

    /// Narrowband, quality 8, complexity 2, no VAD/DTX.
    pub fn narrowband() -> Self {
        Self {
            mode: SpeexMode::Narrowband,
            ..Self::wideband()
        }
    }
}

impl Default for SpeexEncoderConfig {
    fn default() -> Self {
        Self::wideband()
    }
}

/// Speex encoder over libspeex.
pub struct SpeexEncoder {
    config: SpeexEncoderConfig,
    state: EncoderState,
    bits: Bits,
    /// Copy of one input frame: libspeex may overwrite its input.
    scratch: Vec<i16>,
}

impl SpeexEncoder {
    /// Creates an encoder.
    ///
    /// Errors: [`CodecError::InvalidConfig`] for quality > 10 or complexity
    /// outside 1..=10, [`CodecError::Init`] if libspeex fails.
    pub fn new(config: SpeexEncoderConfig) -> Result<Self, CodecError> {
        if config.quality > 10 {
            return Err(CodecError::InvalidConfig("Speex quality must be 0..=10"));
        }
        if !(1..=10).contains(&config.complexity) {
            return Err(CodecError::InvalidConfig("Speex complexity must be 1..=10"));
        }
        let mut state = EncoderState::new(config.mode)?;
        state.set(EncoderSetting::Quality, i32::from(config.quality))?;
        state.set(EncoderSetting::Complexity, i32::from(config.complexity))?;
        state.set(EncoderSetting::Vad, i32::from(config.vad))?;
        state.set(EncoderSetting::Dtx, i32::from(config.dtx))?;
        let scratch = vec![0; state.frame_size()];
        Ok(Self {
            config,
            state,
            bits: Bits::new()?,
            scratch,
        })
    }

    /// The settings in use.
    pub fn config(&self) -> SpeexEncoderConfig {
        self.config
    }

    /// Encodes 1..=[`MAX_FRAMES_PER_PAYLOAD`] whole frames into one payload
    /// (frames packed bit after bit, then terminator padding), as Flash
    /// does with framesPerPacket > 1 and RFC 5574 section 3.3 allows.
    /// Returns the number of frames.
    ///
    /// Errors: [`CodecError::FrameLength`] if `pcm` is empty, not a
    /// multiple of the frame size, or longer than the frame limit.
    pub fn encode_packet(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<usize, CodecError> {
        let frame = self.state.frame_size();
        let frames = pcm.len() / frame.max(1);
        if pcm.is_empty() || pcm.len() % frame != 0 || frames > MAX_FRAMES_PER_PAYLOAD {
            return Err(CodecError::FrameLength {
                expected: frame * frames.clamp(1, MAX_FRAMES_PER_PAYLOAD),
                got: pcm.len(),
            });
        }
        self.bits.reset();
        for chunk in pcm.chunks_exact(frame) {
            self.scratch.clear();
            self.scratch.extend_from_slice(chunk);
            self.state.encode(&mut self.scratch, &mut self.bits)?;
        }
        self.bits.write_to(out);
        Ok(frames)
    }
}

impl AudioEncoder for SpeexEncoder {
    fn sample_rate(&self) -> u32 {
        self.config.mode.sample_rate()
    }

    fn frame_samples(&self) -> usize {
        self.state.frame_size()
    }

    /// Encodes exactly one frame (320 samples wideband, 160 narrowband).
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        let frame = self.state.frame_size();
        if pcm.len() != frame {
            return Err(CodecError::FrameLength {
                expected: frame,
                got: pcm.len(),
            });
        }
        self.encode_packet(pcm, out).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_settings() {
        let mut config = SpeexEncoderConfig::wideband();
        config.quality = 11;
        assert!(matches!(
            SpeexEncoder::new(config),
            Err(CodecError::InvalidConfig(_))
        ));
        config.quality = 8;
        config.complexity = 0;
        assert!(SpeexEncoder::new(config).is_err());
    }

    #[test]
    fn wideband_quality_8_frame_is_70_bytes() {
        // 27.8 kbit/s * 20 ms = 556 bits: NB mode 5 (300) + WB submode 3 (192)
        // would be 492 bits; q8 WB uses NB mode 6 (364) + WB 3 (192) = 556.
        let mut encoder = SpeexEncoder::new(SpeexEncoderConfig::wideband()).unwrap();
        assert_eq!(encoder.frame_samples(), 320);
        assert_eq!(encoder.sample_rate(), 16000);
        let mut out = Vec::new();
        encoder.encode(&[0; 320], &mut out).unwrap();
        assert_eq!(out.len(), 556usize.div_ceil(8));
    }

    #[test]
    fn narrowband_quality_8_frame_is_38_bytes() {
        // 15 kbit/s: mode 5, 300 bits per 20 ms.
        let mut encoder = SpeexEncoder::new(SpeexEncoderConfig::narrowband()).unwrap();
        let mut out = Vec::new();
        encoder.encode(&[0; 160], &mut out).unwrap();
        assert_eq!(out.len(), 300usize.div_ceil(8));
    }

    #[test]
    fn packet_of_two_frames_is_bit_packed() {
        let mut encoder = SpeexEncoder::new(SpeexEncoderConfig::wideband()).unwrap();
        let mut out = Vec::new();
        assert_eq!(encoder.encode_packet(&[0; 640], &mut out), Ok(2));
        assert_eq!(out.len(), (2 * 556usize).div_ceil(8));
    }

    #[test]
    fn rejects_wrong_lengths() {
        let mut encoder = SpeexEncoder::new(SpeexEncoderConfig::narrowband()).unwrap();
        let mut out = Vec::new();
        assert!(encoder.encode(&[0; 320], &mut out).is_err());
        assert!(encoder.encode_packet(&[], &mut out).is_err());
        assert!(encoder.encode_packet(&[0; 161], &mut out).is_err());
        assert!(encoder.encode_packet(&[0; 160 * 33], &mut out).is_err());
        assert!(out.is_empty());
    }
}
