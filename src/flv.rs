//! FLV audio tag header: the first byte(s) of an RTMP audio message
//! (Adobe "Video File Format Specification" v10, E.4.2.1 AUDIODATA).
//!
//! ```text
//! byte 0:  SoundFormat (4 bits) | SoundRate (2) | SoundSize (1) | SoundType (1)
//! byte 1:  AACPacketType, only when SoundFormat = 10 (AAC)
//! rest:    codec payload
//! ```
//!
//! Always classify by `format` (the top 4 bits), never by the whole byte:
//! Flash sends Speex as 0xB2, ffmpeg as 0xB6.

use bytes::{BufMut, BytesMut};
use thiserror::Error;

pub mod ex_audio;

pub use ex_audio::{is_ex_audio, parse_ex_audio, AudioPacketType, ExAudio, FourCc, OpusHead};

/// Errors parsing FLV audio data (all caused by the peer).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FlvError {
    /// The audio message had no bytes at all.
    #[error("empty FLV audio data")]
    Empty,
    /// An AAC message ended before its AACPacketType byte.
    #[error("AAC audio data without AACPacketType byte")]
    MissingAacPacketType,
    /// An AACPacketType other than 0 (sequence header) or 1 (raw).
    #[error("unknown AACPacketType {0}")]
    UnknownAacPacketType(u8),
    /// E-RTMP: the SoundFormat is not 9 (ExHeader).
    #[error("SoundFormat {0} is not the E-RTMP ExHeader (9)")]
    NotExHeader(u8),
    /// E-RTMP: the message ended inside the ExAudioTagHeader.
    #[error("truncated E-RTMP audio header")]
    Truncated,
    /// E-RTMP: a codec other than Opus.
    #[error("unsupported E-RTMP audio codec {0:?} (only \"Opus\")")]
    UnsupportedFourCc(FourCc),
    /// E-RTMP: an AudioPacketType we do not take (MultichannelConfig,
    /// reserved, nested Multitrack, too many ModEx).
    #[error("unsupported E-RTMP AudioPacketType {0}")]
    UnsupportedPacketType(u8),
    /// E-RTMP: a multitrack layout other than OneTrack (0).
    #[error("unsupported E-RTMP AvMultitrackType {0} (only OneTrack)")]
    UnsupportedMultitrack(u8),
    /// E-RTMP: a OneTrack message for a track other than 0.
    #[error("unsupported E-RTMP audio track {0} (only track 0)")]
    UnsupportedTrack(u8),
    /// E-RTMP: the SequenceStart's OpusHead is invalid (RFC 7845 §5.1).
    #[error("bad OpusHead: {0}")]
    BadOpusHead(&'static str),
}

/// SoundFormat, the top 4 bits of the first byte (FLV spec E.4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SoundFormat {
    /// 0: linear PCM, platform endian.
    LinearPcmPlatformEndian,
    /// 1: ADPCM.
    Adpcm,
    /// 2: MP3.
    Mp3,
    /// 3: linear PCM, little endian.
    LinearPcmLittleEndian,
    /// 4: Nellymoser 16 kHz mono.
    Nellymoser16k,
    /// 5: Nellymoser 8 kHz mono.
    Nellymoser8k,
    /// 6: Nellymoser, rate from the SoundRate bits.
    Nellymoser,
    /// 7: G.711 A-law (8 kHz).
    G711A,
    /// 8: G.711 mu-law (8 kHz).
    G711U,
    /// 10: AAC (an AACPacketType byte follows).
    Aac,
    /// 11: Speex (always 16 kHz mono, whatever the rate bits say).
    Speex,
    /// 14: MP3 8 kHz.
    Mp3_8k,
    /// 15: device-specific sound.
    DeviceSpecific,
    /// 9 (reserved), 12, 13: kept as the raw 4-bit value.
    Other(u8),
}

impl SoundFormat {
    /// From a 4-bit value (higher bits are ignored).
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0x0F {
            0 => Self::LinearPcmPlatformEndian,
            1 => Self::Adpcm,
            2 => Self::Mp3,
            3 => Self::LinearPcmLittleEndian,
            4 => Self::Nellymoser16k,
            5 => Self::Nellymoser8k,
            6 => Self::Nellymoser,
            7 => Self::G711A,
            8 => Self::G711U,
            10 => Self::Aac,
            11 => Self::Speex,
            14 => Self::Mp3_8k,
            15 => Self::DeviceSpecific,
            other => Self::Other(other),
        }
    }

    /// The 4-bit value (`Other` is masked to 4 bits).
    pub const fn bits(self) -> u8 {
        match self {
            Self::LinearPcmPlatformEndian => 0,
            Self::Adpcm => 1,
            Self::Mp3 => 2,
            Self::LinearPcmLittleEndian => 3,
            Self::Nellymoser16k => 4,
            Self::Nellymoser8k => 5,
            Self::Nellymoser => 6,
            Self::G711A => 7,
            Self::G711U => 8,
            Self::Aac => 10,
            Self::Speex => 11,
            Self::Mp3_8k => 14,
            Self::DeviceSpecific => 15,
            Self::Other(v) => v & 0x0F,
        }
    }
}

/// SoundRate, bits 3..2 (FLV spec E.4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SoundRate {
    /// 0: 5.5 kHz.
    Khz5_5,
    /// 1: 11 kHz.
    Khz11,
    /// 2: 22 kHz.
    Khz22,
    /// 3: 44 kHz.
    Khz44,
}

impl SoundRate {
    /// From the 2-bit value.
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0 => Self::Khz5_5,
            1 => Self::Khz11,
            2 => Self::Khz22,
            _ => Self::Khz44,
        }
    }

    /// The 2-bit value.
    pub const fn bits(self) -> u8 {
        match self {
            Self::Khz5_5 => 0,
            Self::Khz11 => 1,
            Self::Khz22 => 2,
            Self::Khz44 => 3,
        }
    }

    /// The rate in Hz: 5512, 11025, 22050 or 44100.
    pub const fn hz(self) -> u32 {
        match self {
            Self::Khz5_5 => 5512,
            Self::Khz11 => 11025,
            Self::Khz22 => 22050,
            Self::Khz44 => 44100,
        }
    }
}

/// SoundSize, bit 1: bits per sample of uncompressed formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SoundSize {
    /// 0: 8-bit samples.
    Bits8,
    /// 1: 16-bit samples (what compressed formats normally carry).
    Bits16,
}

/// SoundType, bit 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SoundType {
    /// 0: mono.
    Mono,
    /// 1: stereo.
    Stereo,
}

/// The AACPacketType byte after the header byte of AAC audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AacPacketType {
    /// 0: AudioSpecificConfig.
    SequenceHeader,
    /// 1: raw AAC frame.
    Raw,
}

impl AacPacketType {
    /// Wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::SequenceHeader => 0,
            Self::Raw => 1,
        }
    }
}

/// The FLV audio tag header byte, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AudioTagHeader {
    /// Codec (top 4 bits).
    pub format: SoundFormat,
    /// Nominal rate bits.
    pub rate: SoundRate,
    /// Sample size bit.
    pub size: SoundSize,
    /// Mono / stereo bit.
    pub channels: SoundType,
}

impl AudioTagHeader {
    /// Speex as Flash Player sends it: 0xB2 (rate bits 5.5 kHz, 16-bit,
    /// mono; the real rate is 16 kHz).
    pub const FLASH_SPEEX: Self = Self {
        format: SoundFormat::Speex,
        rate: SoundRate::Khz5_5,
        size: SoundSize::Bits16,
        channels: SoundType::Mono,
    };

    /// Decodes the header byte (every byte value is a valid header).
    pub const fn from_byte(byte: u8) -> Self {
        Self {
            format: SoundFormat::from_bits(byte >> 4),
            rate: SoundRate::from_bits(byte >> 2),
            size: if byte & 0b10 == 0 {
                SoundSize::Bits8
            } else {
                SoundSize::Bits16
            },
            channels: if byte & 1 == 0 {
                SoundType::Mono
            } else {
                SoundType::Stereo
            },
        }
    }

    /// Encodes the header byte: `format<<4 | rate<<2 | size<<1 | type`.
    pub const fn to_byte(self) -> u8 {
        let size = match self.size {
            SoundSize::Bits8 => 0,
            SoundSize::Bits16 => 1,
        };
        let channels = match self.channels {
            SoundType::Mono => 0,
            SoundType::Stereo => 1,
        };
        (self.format.bits() << 4) | (self.rate.bits() << 2) | (size << 1) | channels
    }

    /// The real sample rate in Hz: fixed for Speex (16000), Nellymoser
    /// 16k/8k and G.711 (8000), else the rate bits. For AAC the real rate is
    /// in the AudioSpecificConfig; this returns the rate bits' value.
    pub const fn sample_rate_hz(self) -> u32 {
        match self.format {
            SoundFormat::Speex | SoundFormat::Nellymoser16k => 16000,
            SoundFormat::Nellymoser8k
            | SoundFormat::G711A
            | SoundFormat::G711U
            | SoundFormat::Mp3_8k => 8000,
            _ => self.rate.hz(),
        }
    }

    /// Appends the header byte, the AACPacketType byte when the format is
    /// AAC (`aac` defaults to [`AacPacketType::Raw`]), then `payload`.
    pub fn encode(self, aac: Option<AacPacketType>, payload: &[u8], out: &mut BytesMut) {
        out.reserve(2 + payload.len());
        out.put_u8(self.to_byte());
        if self.format == SoundFormat::Aac {
            out.put_u8(aac.unwrap_or(AacPacketType::Raw).to_u8());
        }
        out.put_slice(payload);
    }
}

/// FLV audio data, parsed: header, AACPacketType (AAC only), codec payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioData<'a> {
    /// The header byte.
    pub header: AudioTagHeader,
    /// `Some` exactly when `header.format` is AAC.
    pub aac_packet_type: Option<AacPacketType>,
    /// The codec payload after the header byte(s).
    pub payload: &'a [u8],
}

/// Parses an audio message body (RTMP message type 8).
///
/// # Errors
/// [`FlvError::Empty`], and for AAC [`FlvError::MissingAacPacketType`] or
/// [`FlvError::UnknownAacPacketType`].
pub fn parse_audio_data(data: &[u8]) -> Result<AudioData<'_>, FlvError> {
    let (&first, rest) = data.split_first().ok_or(FlvError::Empty)?;
    let header = AudioTagHeader::from_byte(first);
    if header.format != SoundFormat::Aac {
        return Ok(AudioData {
            header,
            aac_packet_type: None,
            payload: rest,
        });
    }
    let (&kind, payload) = rest.split_first().ok_or(FlvError::MissingAacPacketType)?;
    let aac = match kind {
        0 => AacPacketType::SequenceHeader,
        1 => AacPacketType::Raw,
        other => return Err(FlvError::UnknownAacPacketType(other)),
    };
    Ok(AudioData {
        header,
        aac_packet_type: Some(aac),
        payload,
    })
}

/// Parses an audio message body into its header and codec payload (for
/// AAC, the payload after the AACPacketType byte; use
/// [`parse_audio_data`] to see that byte).
///
/// # Errors
/// As [`parse_audio_data`].
pub fn parse_audio(data: &[u8]) -> Result<(AudioTagHeader, &[u8]), FlvError> {
    parse_audio_data(data).map(|d| (d.header, d.payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn flash_and_ffmpeg_speex_bytes() {
        let (flash, payload) = parse_audio(&[0xB2, 1, 2, 3]).unwrap();
        assert_eq!(flash, AudioTagHeader::FLASH_SPEEX);
        assert_eq!(payload, &[1, 2, 3]);
        let (ffmpeg, _) = parse_audio(&[0xB6, 9]).unwrap();
        assert_eq!(ffmpeg.format, SoundFormat::Speex);
        assert_eq!(ffmpeg.rate, SoundRate::Khz11);
        assert_ne!(ffmpeg, flash);
        assert_eq!(ffmpeg.sample_rate_hz(), 16000);
        assert_eq!(AudioTagHeader::FLASH_SPEEX.to_byte(), 0xB2);
    }

    #[test]
    fn formats_by_top_nibble() {
        let cases = [
            (0x42, SoundFormat::Nellymoser16k, 16000),
            (0x52, SoundFormat::Nellymoser8k, 8000),
            (0x6E, SoundFormat::Nellymoser, 44100),
            (0x72, SoundFormat::G711A, 8000),
            (0x82, SoundFormat::G711U, 8000),
            (0xE2, SoundFormat::Mp3_8k, 8000),
            (0xF2, SoundFormat::DeviceSpecific, 5512),
            (0x92, SoundFormat::Other(9), 5512),
            (0xC2, SoundFormat::Other(12), 5512),
            (0x2F, SoundFormat::Mp3, 44100),
        ];
        for (byte, format, hz) in cases {
            let (h, _) = parse_audio(&[byte]).unwrap();
            assert_eq!(h.format, format, "{byte:#x}");
            assert_eq!(h.sample_rate_hz(), hz, "{byte:#x}");
            assert_eq!(h.to_byte(), byte);
        }
        let stereo = AudioTagHeader::from_byte(0x2F);
        assert_eq!(stereo.channels, SoundType::Stereo);
        assert_eq!(stereo.size, SoundSize::Bits16);
        assert_eq!(AudioTagHeader::from_byte(0x00).size, SoundSize::Bits8);
    }

    #[test]
    fn aac_packet_type() {
        let d = parse_audio_data(&[0xAF, 0x00, 0x12, 0x10]).unwrap();
        assert_eq!(d.header.format, SoundFormat::Aac);
        assert_eq!(d.aac_packet_type, Some(AacPacketType::SequenceHeader));
        assert_eq!(d.payload, &[0x12, 0x10]);
        assert_eq!(parse_audio(&[0xAF, 0x01, 7]).unwrap().1, &[7]);
        assert_eq!(parse_audio(&[0xAF]), Err(FlvError::MissingAacPacketType));
        assert_eq!(
            parse_audio(&[0xAF, 2]),
            Err(FlvError::UnknownAacPacketType(2))
        );
        assert_eq!(parse_audio(&[]), Err(FlvError::Empty));
        let mut out = BytesMut::new();
        d.header
            .encode(Some(AacPacketType::SequenceHeader), &[0x12, 0x10], &mut out);
        assert_eq!(&out[..], &[0xAF, 0x00, 0x12, 0x10]);
    }

    #[test]
    fn encode_non_aac() {
        let mut out = BytesMut::new();
        AudioTagHeader::FLASH_SPEEX.encode(Some(AacPacketType::Raw), &[5, 6], &mut out);
        assert_eq!(&out[..], &[0xB2, 5, 6]);
    }

    #[test]
    fn every_byte_round_trips() {
        for b in 0..=255u8 {
            assert_eq!(AudioTagHeader::from_byte(b).to_byte(), b);
            assert_eq!(SoundFormat::from_bits(b >> 4).bits(), b >> 4);
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_payload_is_a_suffix(data in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(d) = parse_audio_data(&data) {
                prop_assert!(data.ends_with(d.payload));
                let header_len = if d.aac_packet_type.is_some() { 2 } else { 1 };
                prop_assert_eq!(d.payload.len() + header_len, data.len());
                let mut out = BytesMut::new();
                d.header.encode(d.aac_packet_type, d.payload, &mut out);
                prop_assert_eq!(&out[..], &data[..]);
            }
        }
    }
}
