//! Speex header and comment packets (Ogg Speex, as sent by GStreamer's
//! speexenc before the audio): recognising them so they can be skipped.
//!
//! The header packet is 80 bytes starting with `"Speex   "` (Speex manual,
//! "Ogg file format", table "Ogg/Speex header packet layout"; all integers
//! little-endian 32-bit). The comment packet that follows is a
//! Vorbis-comment structure: vendor length + vendor string, comment count,
//! then each comment as length + bytes.

/// Magic bytes at the start of a Speex header packet.
pub const SPEEX_HEADER_MAGIC: &[u8; 8] = b"Speex   ";
/// Size of the Speex header packet, in bytes.
pub const SPEEX_HEADER_LEN: usize = 80;
/// Largest comment count accepted when recognising a comment packet.
const MAX_COMMENTS: u32 = 1024;

/// The useful fields of a Speex header packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeexHeader {
    /// Sample rate, in Hz (16000 for wideband).
    pub rate: u32,
    /// Mode id: 0 narrowband, 1 wideband, 2 ultra-wideband.
    pub mode: u32,
    /// Number of channels (1 or 2).
    pub channels: u32,
    /// Samples per frame (320 for wideband).
    pub frame_size: u32,
    /// Whether variable bit rate was used.
    pub vbr: bool,
    /// Frames in each audio packet.
    pub frames_per_packet: u32,
}

impl SpeexHeader {
    /// Parses a Speex header packet; `None` if `payload` is not one.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        if payload.len() < SPEEX_HEADER_LEN || !payload.starts_with(SPEEX_HEADER_MAGIC) {
            return None;
        }
        Some(Self {
            rate: le_u32(payload, 36)?,
            mode: le_u32(payload, 40)?,
            channels: le_u32(payload, 48)?,
            frame_size: le_u32(payload, 56)?,
            vbr: le_u32(payload, 60)? != 0,
            frames_per_packet: le_u32(payload, 64)?,
        })
    }
}

/// True for packets that carry no audio and must be skipped: a Speex
/// header packet (starts with `"Speex   "`) or a Vorbis-comment packet
/// whose lengths add up exactly (a random audio frame practically never
/// does: its first four bytes would have to encode a tiny length).
pub fn is_speex_header_packet(payload: &[u8]) -> bool {
    payload.starts_with(SPEEX_HEADER_MAGIC) || is_comment_packet(payload)
}

/// True if `payload` parses exactly as a Vorbis-comment packet (an optional
/// final framing byte of 1 allowed).
fn is_comment_packet(payload: &[u8]) -> bool {
    let Some(vendor_len) = le_u32(payload, 0) else {
        return false;
    };
    let Some(mut offset) = (vendor_len as usize).checked_add(4) else {
        return false;
    };
    let Some(count) = le_u32(payload, offset) else {
        return false;
    };
    if count > MAX_COMMENTS {
        return false;
    }
    offset += 4;
    for _ in 0..count {
        let Some(len) = le_u32(payload, offset) else {
            return false;
        };
        match offset.checked_add(4 + len as usize) {
            Some(next) if next <= payload.len() => offset = next,
            _ => return false,
        }
    }
    matches!(payload.get(offset..), Some([] | [1]))
}

fn le_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let raw = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes(raw.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_packet() -> Vec<u8> {
        let mut packet = Vec::from(&SPEEX_HEADER_MAGIC[..]);
        packet.extend_from_slice(b"speex-1.2.1\0\0\0\0\0\0\0\0\0");
        for value in [1u32, 80, 16000, 1, 4, 1, 0xFFFF_FFFF, 320, 0, 2, 0, 0, 0] {
            packet.extend_from_slice(&value.to_le_bytes());
        }
        packet
    }

    #[test]
    fn parses_a_wideband_header() {
        let packet = header_packet();
        assert_eq!(packet.len(), SPEEX_HEADER_LEN);
        let header = SpeexHeader::parse(&packet).unwrap();
        assert_eq!(header.rate, 16000);
        assert_eq!(header.mode, 1);
        assert_eq!(header.channels, 1);
        assert_eq!(header.frame_size, 320);
        assert!(!header.vbr);
        assert_eq!(header.frames_per_packet, 2);
        assert!(is_speex_header_packet(&packet));
        assert_eq!(SpeexHeader::parse(&packet[..79]), None);
    }

    #[test]
    fn recognises_a_comment_packet() {
        let mut packet = Vec::new();
        let vendor = b"Encoded with GStreamer Speexenc";
        packet.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        packet.extend_from_slice(vendor);
        packet.extend_from_slice(&1u32.to_le_bytes());
        packet.extend_from_slice(&9u32.to_le_bytes());
        packet.extend_from_slice(b"TITLE=abc");
        assert!(is_speex_header_packet(&packet));
        packet.push(1);
        assert!(is_speex_header_packet(&packet));
        packet.push(0);
        assert!(!is_speex_header_packet(&packet));
    }

    #[test]
    fn audio_is_not_a_header() {
        assert!(!is_speex_header_packet(&[]));
        assert!(!is_speex_header_packet(&[
            0x1E, 0x9D, 0x48, 0x70, 0x32, 0x00
        ]));
        assert!(!is_speex_header_packet(b"Speex"));
    }
}
