//! Test-only FLV audio reading and writing (Adobe FLV spec v10.1, annex
//! E.4): enough to carry codec payloads to and from ffmpeg.
#![allow(dead_code)]

/// FLV tag type of audio.
const AUDIO_TAG: u8 = 8;
/// Bytes of the FLV file header.
const HEADER_LEN: usize = 9;
/// Bytes of a tag header.
const TAG_HEADER_LEN: usize = 11;

/// One audio tag: the sound header byte
/// (`format << 4 | rate << 2 | size << 1 | type`) and the codec payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioTag {
    pub timestamp_ms: u32,
    pub sound_header: u8,
    pub payload: Vec<u8>,
}

fn be24(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(3)
        .fold(0, |acc, &b| (acc << 8) | u32::from(b))
}

/// The audio tags of an FLV file, in order; panics on a malformed file
/// (test input only).
pub fn read_audio_tags(file: &[u8]) -> Vec<AudioTag> {
    assert_eq!(&file[..3], b"FLV", "not an FLV file");
    let header_len = u32::from_be_bytes(file[5..9].try_into().unwrap()) as usize;
    assert!(header_len >= HEADER_LEN);
    let mut pos = header_len + 4; // PreviousTagSize0
    let mut tags = Vec::new();
    while pos + TAG_HEADER_LEN <= file.len() {
        let tag_type = file[pos] & 0x1F;
        let size = be24(&file[pos + 1..]) as usize;
        let timestamp = be24(&file[pos + 4..]) | u32::from(file[pos + 7]) << 24;
        let data = &file[pos + TAG_HEADER_LEN..pos + TAG_HEADER_LEN + size];
        if tag_type == AUDIO_TAG && !data.is_empty() {
            tags.push(AudioTag {
                timestamp_ms: timestamp,
                sound_header: data[0],
                payload: data[1..].to_vec(),
            });
        }
        pos += TAG_HEADER_LEN + size + 4;
    }
    tags
}

/// An FLV file with an audio track only, one tag per payload; payload `i`
/// gets timestamp `i * ms_per_payload` (rounded down).
pub fn write_audio_flv(sound_header: u8, payloads: &[Vec<u8>], ms_per_payload: f64) -> Vec<u8> {
    let mut file = b"FLV\x01\x04\x00\x00\x00\x09".to_vec();
    file.extend_from_slice(&0u32.to_be_bytes());
    for (i, payload) in payloads.iter().enumerate() {
        let size = payload.len() + 1;
        let timestamp = (i as f64 * ms_per_payload) as u32;
        file.push(AUDIO_TAG);
        file.extend_from_slice(&(size as u32).to_be_bytes()[1..]);
        file.extend_from_slice(&timestamp.to_be_bytes()[1..]);
        file.push((timestamp >> 24) as u8);
        file.extend_from_slice(&[0, 0, 0]);
        file.push(sound_header);
        file.extend_from_slice(payload);
        file.extend_from_slice(&((TAG_HEADER_LEN + size) as u32).to_be_bytes());
    }
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_tags_read_back() {
        let payloads = vec![vec![1u8; 64], vec![2u8; 128]];
        let file = write_audio_flv(0x52, &payloads, 32.0);
        let tags = read_audio_tags(&file);
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[1].timestamp_ms, 32);
        assert_eq!(tags[1].sound_header, 0x52);
        assert_eq!(tags[1].payload, payloads[1]);
    }
}
