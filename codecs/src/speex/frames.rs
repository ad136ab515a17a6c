//! Counting Speex frames in a payload without decoding them.
//!
//! A Speex payload is a bit stream (most significant bit first) of frames
//! that are not byte-aligned, optionally padded to a byte boundary with a
//! terminator (a 0 bit followed by 1 bits). Each narrowband frame starts
//! with a 1-bit wideband flag (0) and a 4-bit mode: modes 0..=8 carry
//! speech (mode 0 is a 5-bit DTX/silence frame), 13 and 14 are in-band
//! requests to skip, 15 is the terminator. A wideband frame is a narrowband
//! frame followed by a high-band layer: a 1 bit and a 3-bit submode 0..=4.
//! This walker follows the same rules as libspeex 1.2.1's decoder (frame
//! sizes from the Speex manual, "Speex narrowband/wideband modes"), so that
//! RTP timestamps (RFC 5574 section 3.3: 320 samples per WB frame) can be
//! computed in passthrough without decoding.

use super::{SpeexMode, MAX_FRAMES_PER_PAYLOAD};

/// Bits of a whole narrowband frame, wideband flag and mode included, by mode.
const NB_FRAME_BITS: [usize; 9] = [5, 43, 119, 160, 220, 300, 364, 492, 79];
/// Bits of a high-band layer, its flag and submode included, by submode.
const WB_LAYER_BITS: [usize; 5] = [4, 36, 112, 192, 352];

/// Counts the complete frames in `payload`, at most
/// [`MAX_FRAMES_PER_PAYLOAD`]. Stops at the terminator, at the end of the
/// data, or at the first invalid mode; a truncated last frame is not
/// counted. Multiply by [`SpeexMode::frame_samples`] for the duration.
pub fn speex_frame_count(payload: &[u8], mode: SpeexMode) -> usize {
    let mut reader = BitReader::new(payload);
    let mut frames = 0;
    while frames < MAX_FRAMES_PER_PAYLOAD && next_frame(&mut reader, mode) {
        frames += 1;
    }
    frames
}

/// Advances over one frame; false at the end of the stream or on corruption.
fn next_frame(reader: &mut BitReader<'_>, mode: SpeexMode) -> bool {
    let Some(nb_mode) = narrowband_header(reader) else {
        return false;
    };
    let Some(bits) = NB_FRAME_BITS.get(nb_mode) else {
        return false;
    };
    reader.skip(bits - 5);
    if mode == SpeexMode::Wideband && reader.remaining() > 0 && reader.peek_bit() {
        reader.skip(1);
        let submode = reader.read(3) as usize;
        match WB_LAYER_BITS.get(submode) {
            Some(bits) => reader.skip(bits - 4),
            None => return false,
        }
    }
    !reader.overflowed()
}

/// Reads up to a narrowband mode 0..=8, skipping stray high-band layers and
/// in-band requests; `None` at the end of the stream or on corruption.
fn narrowband_header(reader: &mut BitReader<'_>) -> Option<usize> {
    // Every pass consumes at least 5 bits, so this loop ends.
    loop {
        if reader.remaining() < 5 {
            return None;
        }
        // At most two high-band layers may precede a narrowband frame.
        for layer in 0..3 {
            if !reader.peek_bit() {
                break;
            }
            if layer == 2 {
                return None;
            }
            reader.skip(1);
            let submode = reader.read(3) as usize;
            // Submode 0 and 5..=7 make libspeex rewind and then give up.
            let bits = WB_LAYER_BITS.get(submode).filter(|_| submode != 0)?;
            reader.skip(bits - 4);
            if layer == 0 && reader.remaining() < 5 {
                return None;
            }
        }
        if reader.remaining() < 5 {
            return None;
        }
        reader.skip(1);
        match reader.read(4) {
            m @ 0..=8 => return Some(m as usize),
            13 => {
                let bytes = reader.read(4) as usize;
                reader.skip(5 + 8 * bytes);
            }
            14 => {
                let id = reader.read(4);
                reader.skip(inband_bits(id));
            }
            _ => return None,
        }
    }
}

/// Payload bits of a Speex in-band request by its 4-bit id (Speex manual,
/// "In-band signalling").
fn inband_bits(id: u32) -> usize {
    match id {
        0..=1 => 1,
        2..=7 => 4,
        8..=9 => 8,
        10..=11 => 16,
        12..=13 => 32,
        _ => 64,
    }
}

/// MSB-first bit reader with libspeex's overflow semantics: reading past
/// the end sets a sticky flag and yields zeros.
struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits from the start.
    position: usize,
    overflow: bool,
}

impl<'a> BitReader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            position: 0,
            overflow: false,
        }
    }

    fn total(&self) -> usize {
        self.bytes.len().saturating_mul(8)
    }

    /// Bits left, or -1 after an overflow (like `speex_bits_remaining`).
    fn remaining(&self) -> isize {
        if self.overflow {
            -1
        } else {
            (self.total() - self.position) as isize
        }
    }

    fn overflowed(&self) -> bool {
        self.overflow
    }

    fn bit_at(&self, position: usize) -> bool {
        self.bytes
            .get(position / 8)
            .is_some_and(|byte| byte & (0x80 >> (position % 8)) != 0)
    }

    fn peek_bit(&self) -> bool {
        !self.overflow && self.bit_at(self.position)
    }

    fn read(&mut self, count: usize) -> u32 {
        if self.overflow || self.position + count > self.total() {
            self.overflow = true;
            return 0;
        }
        let mut value = 0u32;
        for _ in 0..count {
            value = (value << 1) | u32::from(self.bit_at(self.position));
            self.position += 1;
        }
        value
    }

    fn skip(&mut self, count: usize) {
        if self.overflow || self.position.saturating_add(count) > self.total() {
            self.overflow = true;
        } else {
            self.position += count;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_terminator_only_payloads_hold_no_frame() {
        assert_eq!(speex_frame_count(&[], SpeexMode::Wideband), 0);
        // 0 then 1s: wideband flag 0, mode 15 = terminator.
        assert_eq!(speex_frame_count(&[0x7F], SpeexMode::Wideband), 0);
    }

    #[test]
    fn silence_frames_are_five_bits() {
        // Narrowband mode 0 (00000), three of them, then terminator 0 1.
        let payload = [0b0000_0000, 0b0000_0001];
        assert_eq!(speex_frame_count(&payload, SpeexMode::Narrowband), 3);
    }

    #[test]
    fn wideband_dtx_frame_is_nine_bits() {
        // NB mode 0 (00000) + high-band layer 1 000 (submode 0), twice,
        // then the terminator 0 11111 to the byte boundary.
        let payload = [0b0000_0100, 0b0000_0010, 0b0001_1111];
        assert_eq!(speex_frame_count(&payload, SpeexMode::Wideband), 2);
    }

    #[test]
    fn truncated_frame_is_not_counted() {
        // Mode 1 needs 43 bits; only 16 present.
        assert_eq!(
            speex_frame_count(&[0b0000_1000, 0], SpeexMode::Narrowband),
            0
        );
    }

    #[test]
    fn invalid_mode_stops_counting() {
        // Mode 9 is reserved.
        assert_eq!(speex_frame_count(&[0b0100_1000], SpeexMode::Narrowband), 0);
    }

    #[test]
    fn count_is_bounded() {
        let payload = [0u8; 1000];
        assert_eq!(
            speex_frame_count(&payload, SpeexMode::Narrowband),
            MAX_FRAMES_PER_PAYLOAD
        );
    }
}
