//! The RTMP side's audio codecs: which codec an FLV audio body carries
//! (Adobe "Video File Format Specification" v10, E.4.2.1 AUDIODATA, and
//! Enhanced RTMP v2 for Opus), the header we send for each, and how much
//! audio a payload holds.

use rtmp2sip_codecs::nellymoser::{NELLY_BLOCK_BYTES, NELLY_BLOCK_SAMPLES};
use rtmp2sip_codecs::opus::packet_samples;
use rtmp2sip_codecs::{is_speex_header_packet, speex_frame_count, G711Law, SpeexMode};

use crate::flv::{
    ex_audio, is_ex_audio, parse_audio, parse_ex_audio, AudioPacketType, AudioTagHeader, ExAudio,
    OpusHead, SoundFormat, SoundRate,
};

use super::super::MediaError;

/// FLV audio header byte we send for Speex: format 11, "5.5 kHz" rate
/// bits, 16-bit, mono (Flash's convention; the real rate is 16 kHz).
pub const RTMP_SPEEX_HEADER: u8 = 0xB2;

/// Samples per Nellymoser block (one 64-byte block).
pub const NELLY_SAMPLES: usize = NELLY_BLOCK_SAMPLES;

/// Longest audio we put in one Nellymoser message, in ms: as many whole
/// 256-sample blocks as fit (at least one).
const NELLY_MESSAGE_MS: u32 = 32;

/// A Nellymoser sample rate (the rates Flash Player publishes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NellyRate {
    /// 8000 Hz (FLV format 5).
    Hz8000,
    /// 11025 Hz (format 6, rate bits 1).
    Hz11025,
    /// 16000 Hz (format 4).
    Hz16000,
    /// 22050 Hz (format 6, rate bits 2).
    Hz22050,
    /// 44100 Hz (format 6, rate bits 3; what ffmpeg sends).
    Hz44100,
}

impl NellyRate {
    /// All rates.
    pub const ALL: [NellyRate; 5] = [
        NellyRate::Hz8000,
        NellyRate::Hz11025,
        NellyRate::Hz16000,
        NellyRate::Hz22050,
        NellyRate::Hz44100,
    ];

    /// The rate in Hz.
    pub const fn hz(self) -> u32 {
        match self {
            NellyRate::Hz8000 => 8000,
            NellyRate::Hz11025 => 11025,
            NellyRate::Hz16000 => 16000,
            NellyRate::Hz22050 => 22050,
            NellyRate::Hz44100 => 44100,
        }
    }

    /// The FLV header byte for Nellymoser at this rate, 16-bit mono:
    /// format 4 (16 kHz) and 5 (8 kHz) with rate bits 0 (as ffmpeg writes
    /// them), else format 6 with the rate bits.
    pub const fn header_byte(self) -> u8 {
        match self {
            NellyRate::Hz16000 => 0x42,
            NellyRate::Hz8000 => 0x52,
            NellyRate::Hz11025 => 0x60 | (1 << 2) | 0b10,
            NellyRate::Hz22050 => 0x60 | (2 << 2) | 0b10,
            NellyRate::Hz44100 => 0x60 | (3 << 2) | 0b10,
        }
    }
}

/// An audio codec on the RTMP side, with its rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RtmpCodec {
    /// Speex wideband, 16 kHz, 20 ms frames (FLV format 11).
    Speex,
    /// Nellymoser Asao, 256-sample blocks of 64 bytes (formats 4, 5, 6).
    Nellymoser(NellyRate),
    /// G.711 at 8 kHz mono (format 7 A-law, 8 µ-law).
    G711(G711Law),
    /// Opus at 48 kHz in Enhanced RTMP v2 (SoundFormat 9, FourCC `Opus`):
    /// one packet per CodedFrames message, 20 ms from the gateway.
    Opus,
}

/// What one RTMP audio message body holds for the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtmpPayload<'a> {
    /// Audio in `codec`: the payload after the FLV/E-RTMP header.
    Audio {
        /// The codec.
        codec: RtmpCodec,
        /// The codec payload (one Opus packet for Opus).
        payload: &'a [u8],
    },
    /// An E-RTMP Opus SequenceStart and its OpusHead.
    OpusHead(OpusHead),
    /// Nothing to bridge: an empty payload, a Speex header packet, an
    /// E-RTMP SequenceEnd.
    Skip,
}

impl<'a> RtmpPayload<'a> {
    /// Classifies an audio message body: E-RTMP (first nibble 9) or
    /// legacy FLV.
    ///
    /// Errors (peer): [`MediaError::MalformedAudio`] for an empty body,
    /// [`MediaError::ExAudio`] for E-RTMP other than Opus or malformed,
    /// else those of [`RtmpCodec::from_header`].
    pub fn classify(body: &'a [u8]) -> Result<Self, MediaError> {
        if is_ex_audio(body) {
            return match parse_ex_audio(body).map_err(MediaError::ExAudio)? {
                ExAudio::SequenceStart(head) => Ok(RtmpPayload::OpusHead(head)),
                ExAudio::SequenceEnd => Ok(RtmpPayload::Skip),
                ExAudio::CodedFrames([]) => Ok(RtmpPayload::Skip),
                ExAudio::CodedFrames(payload) => Ok(RtmpPayload::Audio {
                    codec: RtmpCodec::Opus,
                    payload,
                }),
            };
        }
        let (header, payload) =
            parse_audio(body).map_err(|_| MediaError::MalformedAudio("empty FLV audio body"))?;
        let codec = RtmpCodec::from_header(header)?;
        if payload.is_empty() || (codec == RtmpCodec::Speex && is_speex_header_packet(payload)) {
            return Ok(RtmpPayload::Skip);
        }
        Ok(RtmpPayload::Audio { codec, payload })
    }
}

/// Which codec the bridge sends to the RTMP client (`[media]
/// rtmp_out_codec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RtmpOut {
    /// Speex wideband, which every Flash Player plays.
    #[default]
    Speex,
    /// The codec and rate the client publishes; Speex until it publishes
    /// (never Opus: a client gets Opus only as [`RtmpOut::Opus`]).
    Match,
    /// Enhanced RTMP Opus from the start, for a client that announced it
    /// can decode Opus in `connect` (chosen per connection).
    Opus,
    /// G.711 of this law at 8 kHz (FLV SoundFormat 8 µ-law, 7 A-law) from
    /// the first message, for a client whose `connect` `audioCodecs` mask
    /// lacks Speex (chosen per connection); passthrough when the far end
    /// sends the same law. Publishing never changes it.
    G711(G711Law),
}

impl RtmpOut {
    /// The codec sent before the client publishes.
    pub const fn initial_codec(self) -> RtmpCodec {
        match self {
            RtmpOut::Speex | RtmpOut::Match => RtmpCodec::Speex,
            RtmpOut::Opus => RtmpCodec::Opus,
            RtmpOut::G711(law) => RtmpCodec::G711(law),
        }
    }
}

impl RtmpCodec {
    /// The codec of an FLV audio header. Only the format nibble and, for
    /// format 6, the rate bits matter; G.711 is always 8 kHz mono and
    /// Speex 16 kHz.
    ///
    /// Errors (peer): [`MediaError::UnsupportedRtmpFormat`] for formats
    /// other than 4-8 and 11; [`MediaError::UnsupportedRtmpRate`] for
    /// Nellymoser at "5.5 kHz" (format 6, rate bits 0).
    pub fn from_header(header: AudioTagHeader) -> Result<Self, MediaError> {
        let nelly = RtmpCodec::Nellymoser;
        match header.format {
            SoundFormat::Speex => Ok(RtmpCodec::Speex),
            SoundFormat::Nellymoser16k => Ok(nelly(NellyRate::Hz16000)),
            SoundFormat::Nellymoser8k => Ok(nelly(NellyRate::Hz8000)),
            SoundFormat::Nellymoser => match header.rate {
                SoundRate::Khz11 => Ok(nelly(NellyRate::Hz11025)),
                SoundRate::Khz22 => Ok(nelly(NellyRate::Hz22050)),
                SoundRate::Khz44 => Ok(nelly(NellyRate::Hz44100)),
                SoundRate::Khz5_5 => Err(MediaError::UnsupportedRtmpRate {
                    format: header.format.bits(),
                    rate_hz: header.rate.hz(),
                }),
            },
            SoundFormat::G711A => Ok(RtmpCodec::G711(G711Law::Pcma)),
            SoundFormat::G711U => Ok(RtmpCodec::G711(G711Law::Pcmu)),
            other => Err(MediaError::UnsupportedRtmpFormat(other.bits())),
        }
    }

    /// Sample rate of the audio, in Hz.
    pub const fn audio_rate(self) -> u32 {
        match self {
            RtmpCodec::Speex => 16_000,
            RtmpCodec::Nellymoser(rate) => rate.hz(),
            RtmpCodec::G711(_) => 8000,
            RtmpCodec::Opus => 48_000,
        }
    }

    /// The FLV header byte we send with this codec: Speex `0xB2`,
    /// Nellymoser per [`NellyRate::header_byte`], A-law `0x72`, µ-law
    /// `0x82` (16-bit mono, rate bits 0, as ffmpeg writes G.711); for
    /// Opus the first byte of its E-RTMP header, `0x91` (CodedFrames).
    pub const fn header_byte(self) -> u8 {
        match self {
            RtmpCodec::Speex => RTMP_SPEEX_HEADER,
            RtmpCodec::Nellymoser(rate) => rate.header_byte(),
            RtmpCodec::G711(G711Law::Pcma) => 0x72,
            RtmpCodec::G711(G711Law::Pcmu) => 0x82,
            RtmpCodec::Opus => ex_audio::opus_header(AudioPacketType::CodedFrames)[0],
        }
    }

    /// Appends the header of an audio message in this codec: the FLV
    /// byte, or for Opus the five bytes `91 'Opus'` (E-RTMP CodedFrames).
    pub fn write_header(self, body: &mut Vec<u8>) {
        match self {
            RtmpCodec::Opus => {
                body.extend_from_slice(&ex_audio::opus_header(AudioPacketType::CodedFrames))
            }
            other => body.push(other.header_byte()),
        }
    }

    /// Codec frames we put in one RTMP message: one 20 ms frame for Speex
    /// and G.711 (160 samples), and as many 256-sample Nellymoser blocks
    /// as fit in 32 ms (1 at 8 and 11.025 kHz, 2 at 16 and 22.05 kHz, 5
    /// at 44.1 kHz).
    pub fn frames_per_message(self) -> usize {
        match self {
            RtmpCodec::Speex | RtmpCodec::G711(_) | RtmpCodec::Opus => 1,
            RtmpCodec::Nellymoser(rate) => {
                let fit = rate.hz() * NELLY_MESSAGE_MS / 1000 / NELLY_SAMPLES as u32;
                fit.max(1) as usize
            }
        }
    }

    /// Samples (at [`RtmpCodec::audio_rate`]) in a payload, without
    /// decoding: Speex frames x 320 (bit walk), whole Nellymoser blocks x
    /// 256, G.711 bytes, Opus from the packet's TOC (RFC 6716 §3.1; 0 for
    /// an invalid packet).
    pub fn samples_in(self, payload: &[u8]) -> usize {
        match self {
            RtmpCodec::Speex => {
                speex_frame_count(payload, SpeexMode::Wideband)
                    * SpeexMode::Wideband.frame_samples()
            }
            RtmpCodec::Nellymoser(_) => payload.len() / NELLY_BLOCK_BYTES * NELLY_SAMPLES,
            RtmpCodec::G711(_) => payload.len(),
            RtmpCodec::Opus => packet_samples(payload, 48_000).unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::AudioTagHeader;

    fn codec(byte: u8) -> Result<RtmpCodec, MediaError> {
        RtmpCodec::from_header(AudioTagHeader::from_byte(byte))
    }

    #[test]
    fn codec_from_the_format_nibble() {
        assert_eq!(codec(0xB2), Ok(RtmpCodec::Speex));
        assert_eq!(codec(0xB6), Ok(RtmpCodec::Speex), "ffmpeg");
        assert_eq!(codec(0xBF), Ok(RtmpCodec::Speex));
        assert_eq!(codec(0x42), Ok(RtmpCodec::Nellymoser(NellyRate::Hz16000)));
        assert_eq!(codec(0x4E), Ok(RtmpCodec::Nellymoser(NellyRate::Hz16000)));
        assert_eq!(codec(0x52), Ok(RtmpCodec::Nellymoser(NellyRate::Hz8000)));
        assert_eq!(codec(0x66), Ok(RtmpCodec::Nellymoser(NellyRate::Hz11025)));
        assert_eq!(codec(0x6A), Ok(RtmpCodec::Nellymoser(NellyRate::Hz22050)));
        assert_eq!(codec(0x6E), Ok(RtmpCodec::Nellymoser(NellyRate::Hz44100)));
        assert_eq!(
            codec(0x62),
            Err(MediaError::UnsupportedRtmpRate {
                format: 6,
                rate_hz: 5512
            })
        );
        assert_eq!(codec(0x72), Ok(RtmpCodec::G711(G711Law::Pcma)));
        assert_eq!(codec(0x7F), Ok(RtmpCodec::G711(G711Law::Pcma)));
        assert_eq!(codec(0x82), Ok(RtmpCodec::G711(G711Law::Pcmu)));
        assert_eq!(codec(0x8E), Ok(RtmpCodec::G711(G711Law::Pcmu)));
        for byte in [0x22, 0xA2, 0x02, 0x32, 0x92, 0xC2, 0xE2, 0xF2] {
            assert_eq!(
                codec(byte),
                Err(MediaError::UnsupportedRtmpFormat(byte >> 4))
            );
        }
    }

    #[test]
    fn header_bytes_round_trip() {
        for rate in NellyRate::ALL {
            let c = RtmpCodec::Nellymoser(rate);
            assert_eq!(codec(c.header_byte()), Ok(c));
            assert_eq!(
                AudioTagHeader::from_byte(c.header_byte()).sample_rate_hz(),
                rate.hz()
            );
        }
        for c in [
            RtmpCodec::Speex,
            RtmpCodec::G711(G711Law::Pcma),
            RtmpCodec::G711(G711Law::Pcmu),
        ] {
            assert_eq!(codec(c.header_byte()), Ok(c));
        }
        assert_eq!(RtmpCodec::Speex.header_byte(), 0xB2);
        assert_eq!(NellyRate::Hz44100.header_byte(), 0x6E);
    }

    #[test]
    fn nellymoser_messages_hold_up_to_32_ms() {
        let blocks: Vec<usize> = NellyRate::ALL
            .iter()
            .map(|&r| RtmpCodec::Nellymoser(r).frames_per_message())
            .collect();
        assert_eq!(blocks, [1, 1, 2, 2, 5]);
        assert_eq!(RtmpCodec::Speex.frames_per_message(), 1);
    }

    #[test]
    fn samples_in_payloads() {
        let nelly = RtmpCodec::Nellymoser(NellyRate::Hz44100);
        assert_eq!(nelly.samples_in(&[0; 64 * 3]), 768);
        assert_eq!(nelly.samples_in(&[0; 63]), 0);
        assert_eq!(RtmpCodec::G711(G711Law::Pcmu).samples_in(&[0; 123]), 123);
        assert_eq!(RtmpCodec::Speex.samples_in(&[]), 0);
    }
}
