//! Enhanced RTMP v2 audio (veovera enhanced-rtmp v2, "Enhanced Audio"):
//! the ExAudioTagHeader that SoundFormat 9 introduces, with the FourCC
//! `Opus` and the OpusHead of RFC 7845 §5.1.
//!
//! ```text
//! byte 0:   0x90 | AudioPacketType (SoundFormat 9 = ExHeader)
//!           AudioPacketType 7 (ModEx): [size-1 u8 (0xFF: size-1 u16 BE)]
//!             [modifier] [ModExType (4 bits) | AudioPacketType (4)] ..., then as below
//!           AudioPacketType 5 (Multitrack): [MultitrackType (4) | AudioPacketType (4)]
//! FourCC:   4 bytes, "Opus" = 4F 70 75 73
//! track:    Multitrack OneTrack only: track id u8
//! body:     SequenceStart (0): OpusHead; CodedFrames (1): one Opus packet;
//!           SequenceEnd (2): nothing
//! ```
//!
//! Only Opus in one track is taken: other FourCCs, MultichannelConfig and
//! multitrack layouts other than OneTrack are refused by name
//! ([`FlvError::UnsupportedFourCc`], [`FlvError::UnsupportedPacketType`],
//! [`FlvError::UnsupportedMultitrack`]).

use bytes::{BufMut, BytesMut};

use super::FlvError;

/// SoundFormat 9: an ExAudioTagHeader follows (E-RTMP v2).
pub const SOUND_FORMAT_EX_HEADER: u8 = 9;

/// Most ModEx modifiers read before a packet is refused (each costs one
/// pass over at most 65 536 bytes; real streams send one or none).
const MAX_MOD_EX: usize = 4;

/// A FourCC codec tag, as four ASCII bytes on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FourCc(pub [u8; 4]);

impl FourCc {
    /// `Opus` (4F 70 75 73).
    pub const OPUS: FourCc = FourCc(*b"Opus");

    /// The tag as text when it is printable ASCII.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0)
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
    }
}

impl std::fmt::Debug for FourCc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.as_str() {
            Some(s) => write!(f, "FourCc({s:?})"),
            None => write!(f, "FourCc({:02x?})", self.0),
        }
    }
}

/// AudioPacketType, the low 4 bits of byte 0 (E-RTMP v2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioPacketType {
    /// 0: codec configuration (OpusHead for Opus).
    SequenceStart,
    /// 1: coded audio (one Opus packet).
    CodedFrames,
    /// 2: end of the sequence.
    SequenceEnd,
    /// 4: channel layout.
    MultichannelConfig,
    /// 5: multitrack framing follows.
    Multitrack,
    /// 7: modifiers/extensions follow.
    ModEx,
    /// 3, 6, 8-15: reserved.
    Reserved(u8),
}

impl AudioPacketType {
    /// From a 4-bit value (higher bits ignored).
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0x0F {
            0 => Self::SequenceStart,
            1 => Self::CodedFrames,
            2 => Self::SequenceEnd,
            4 => Self::MultichannelConfig,
            5 => Self::Multitrack,
            7 => Self::ModEx,
            other => Self::Reserved(other),
        }
    }

    /// The 4-bit value.
    pub const fn bits(self) -> u8 {
        match self {
            Self::SequenceStart => 0,
            Self::CodedFrames => 1,
            Self::SequenceEnd => 2,
            Self::MultichannelConfig => 4,
            Self::Multitrack => 5,
            Self::ModEx => 7,
            Self::Reserved(v) => v & 0x0F,
        }
    }
}

/// The Opus identification header (RFC 7845 §5.1), channel mapping
/// family 0 (mono or stereo) only.
///
/// ```text
/// "OpusHead" | version 1 | channels u8 | pre-skip u16 LE (48 kHz samples)
/// | input rate u32 LE (Hz, informational) | output gain i16 LE (Q7.8 dB)
/// | mapping family u8 (0)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpusHead {
    /// Output channels, 1 or 2.
    pub channels: u8,
    /// Samples at 48 kHz to drop from the decoder's start.
    pub pre_skip: u16,
    /// The encoder's input rate in Hz (only informational).
    pub input_rate_hz: u32,
    /// Output gain in Q7.8 dB.
    pub output_gain: i16,
}

impl OpusHead {
    /// Length of a family-0 OpusHead, in bytes.
    pub const LEN: usize = 19;
    /// The magic signature.
    pub const MAGIC: &'static [u8; 8] = b"OpusHead";

    /// What the gateway announces: mono, 48 kHz, `pre_skip` samples.
    pub const fn mono(pre_skip: u16) -> Self {
        Self {
            channels: 1,
            pre_skip,
            input_rate_hz: 48_000,
            output_gain: 0,
        }
    }

    /// Parses an OpusHead (RFC 7845 §5.1); bytes after a family-0 header
    /// are ignored.
    ///
    /// # Errors
    /// [`FlvError::BadOpusHead`] for a short header, a wrong magic, a
    /// version whose major part is not 0 (upper nibble), 0 or more than 2
    /// channels, or a mapping family other than 0.
    pub fn parse(data: &[u8]) -> Result<Self, FlvError> {
        let head = data
            .get(..Self::LEN)
            .ok_or(FlvError::BadOpusHead("shorter than 19 bytes"))?;
        let (magic, rest) = head.split_at(8);
        if magic != Self::MAGIC {
            return Err(FlvError::BadOpusHead("no OpusHead magic"));
        }
        let [version, channels, p0, p1, r0, r1, r2, r3, g0, g1, family] = rest else {
            return Err(FlvError::BadOpusHead("shorter than 19 bytes"));
        };
        if version >> 4 != 0 {
            return Err(FlvError::BadOpusHead("unknown major version"));
        }
        if !(1..=2).contains(channels) {
            return Err(FlvError::BadOpusHead("channels not 1 or 2"));
        }
        if *family != 0 {
            return Err(FlvError::BadOpusHead("channel mapping family not 0"));
        }
        Ok(Self {
            channels: *channels,
            pre_skip: u16::from_le_bytes([*p0, *p1]),
            input_rate_hz: u32::from_le_bytes([*r0, *r1, *r2, *r3]),
            output_gain: i16::from_le_bytes([*g0, *g1]),
        })
    }

    /// Appends the 19-byte header (version 1, mapping family 0).
    pub fn write(&self, out: &mut BytesMut) {
        out.reserve(Self::LEN);
        out.put_slice(Self::MAGIC);
        out.put_u8(1);
        out.put_u8(self.channels);
        out.put_u16_le(self.pre_skip);
        out.put_u32_le(self.input_rate_hz);
        out.put_i16_le(self.output_gain);
        out.put_u8(0);
    }
}

/// One E-RTMP Opus audio message, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExAudio<'a> {
    /// SequenceStart with its OpusHead.
    SequenceStart(OpusHead),
    /// CodedFrames: one Opus packet (TOC byte first, RFC 6716 §3.1).
    CodedFrames(&'a [u8]),
    /// SequenceEnd.
    SequenceEnd,
}

/// Whether an audio message body starts with an ExAudioTagHeader.
pub fn is_ex_audio(body: &[u8]) -> bool {
    body.first()
        .is_some_and(|b| b >> 4 == SOUND_FORMAT_EX_HEADER)
}

/// Parses an E-RTMP audio message body (byte 0 is `0x9X`).
///
/// # Errors
/// [`FlvError::Empty`]; [`FlvError::NotExHeader`] when SoundFormat is not 9;
/// [`FlvError::Truncated`]; [`FlvError::UnsupportedFourCc`] for any
/// codec but Opus; [`FlvError::UnsupportedPacketType`] (MultichannelConfig,
/// reserved values, nested Multitrack); [`FlvError::UnsupportedMultitrack`]
/// for ManyTracks layouts and OneTrack with a track id other than 0;
/// [`FlvError::BadOpusHead`].
pub fn parse_ex_audio(body: &[u8]) -> Result<ExAudio<'_>, FlvError> {
    let (&first, rest) = body.split_first().ok_or(FlvError::Empty)?;
    if first >> 4 != SOUND_FORMAT_EX_HEADER {
        return Err(FlvError::NotExHeader(first >> 4));
    }
    let (packet_type, rest) = skip_mod_ex(AudioPacketType::from_bits(first), rest)?;
    let (packet_type, rest) = match packet_type {
        AudioPacketType::Multitrack => one_track(rest)?,
        other => {
            let (fourcc, rest) = take_fourcc(rest)?;
            check_opus(fourcc)?;
            (other, rest)
        }
    };
    opus_body(packet_type, rest)
}

/// Skips ModEx modifiers (their data is not used: TimestampOffsetNano
/// refines the ms timestamp below 1 ms).
fn skip_mod_ex(
    mut packet_type: AudioPacketType,
    mut rest: &[u8],
) -> Result<(AudioPacketType, &[u8]), FlvError> {
    for _ in 0..MAX_MOD_EX {
        if packet_type != AudioPacketType::ModEx {
            return Ok((packet_type, rest));
        }
        let (&size, after) = rest.split_first().ok_or(FlvError::Truncated)?;
        let (size, after) = if size == 0xFF {
            let [hi, lo, tail @ ..] = after else {
                return Err(FlvError::Truncated);
            };
            (usize::from(u16::from_be_bytes([*hi, *lo])) + 1, tail)
        } else {
            (usize::from(size) + 1, after)
        };
        let after = after.get(size..).ok_or(FlvError::Truncated)?;
        let (&next, after) = after.split_first().ok_or(FlvError::Truncated)?;
        packet_type = AudioPacketType::from_bits(next);
        rest = after;
    }
    Err(FlvError::UnsupportedPacketType(
        AudioPacketType::ModEx.bits(),
    ))
}

/// Multitrack: only OneTrack (type 0) carrying track 0.
fn one_track(rest: &[u8]) -> Result<(AudioPacketType, &[u8]), FlvError> {
    let (&kinds, rest) = rest.split_first().ok_or(FlvError::Truncated)?;
    let multitrack = kinds >> 4;
    if multitrack != 0 {
        return Err(FlvError::UnsupportedMultitrack(multitrack));
    }
    let packet_type = AudioPacketType::from_bits(kinds);
    if matches!(
        packet_type,
        AudioPacketType::Multitrack | AudioPacketType::ModEx
    ) {
        return Err(FlvError::UnsupportedPacketType(packet_type.bits()));
    }
    let (fourcc, rest) = take_fourcc(rest)?;
    check_opus(fourcc)?;
    let (&track, rest) = rest.split_first().ok_or(FlvError::Truncated)?;
    if track != 0 {
        return Err(FlvError::UnsupportedTrack(track));
    }
    Ok((packet_type, rest))
}

fn take_fourcc(rest: &[u8]) -> Result<(FourCc, &[u8]), FlvError> {
    let [a, b, c, d, tail @ ..] = rest else {
        return Err(FlvError::Truncated);
    };
    Ok((FourCc([*a, *b, *c, *d]), tail))
}

fn check_opus(fourcc: FourCc) -> Result<(), FlvError> {
    if fourcc == FourCc::OPUS {
        Ok(())
    } else {
        Err(FlvError::UnsupportedFourCc(fourcc))
    }
}

fn opus_body(packet_type: AudioPacketType, body: &[u8]) -> Result<ExAudio<'_>, FlvError> {
    match packet_type {
        AudioPacketType::SequenceStart => OpusHead::parse(body).map(ExAudio::SequenceStart),
        AudioPacketType::CodedFrames => Ok(ExAudio::CodedFrames(body)),
        AudioPacketType::SequenceEnd => Ok(ExAudio::SequenceEnd),
        other => Err(FlvError::UnsupportedPacketType(other.bits())),
    }
}

/// Appends an Opus SequenceStart: `90 'Opus'` + the 19-byte OpusHead.
pub fn write_opus_sequence_start(head: &OpusHead, out: &mut BytesMut) {
    write_opus_header(AudioPacketType::SequenceStart, out);
    head.write(out);
}

/// Appends an Opus CodedFrames message: `91 'Opus'` + the packet.
pub fn write_opus_coded_frames(packet: &[u8], out: &mut BytesMut) {
    out.reserve(5 + packet.len());
    write_opus_header(AudioPacketType::CodedFrames, out);
    out.put_slice(packet);
}

/// Appends an Opus SequenceEnd: `92 'Opus'`.
pub fn write_opus_sequence_end(out: &mut BytesMut) {
    write_opus_header(AudioPacketType::SequenceEnd, out);
}

/// The five header bytes `0x90 | type` + `Opus`.
pub const fn opus_header(packet_type: AudioPacketType) -> [u8; 5] {
    let [a, b, c, d] = FourCc::OPUS.0;
    [
        (SOUND_FORMAT_EX_HEADER << 4) | packet_type.bits(),
        a,
        b,
        c,
        d,
    ]
}

fn write_opus_header(packet_type: AudioPacketType, out: &mut BytesMut) {
    out.put_slice(&opus_header(packet_type));
}

#[cfg(test)]
#[path = "ex_audio_tests.rs"]
mod tests;
