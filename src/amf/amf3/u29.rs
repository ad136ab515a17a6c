//! U29: the variable-length unsigned 29-bit integer (AMF 3 spec, 1.3.1).
//!
//! One to four bytes, big-endian groups: the first three bytes carry 7 bits
//! each with the high bit meaning "more follows", a fourth byte carries 8.

use crate::amf::cursor::Cursor;
use crate::amf::error::AmfError;

/// Largest value a U29 can hold (2^29 - 1).
pub const U29_MAX: u32 = 0x1FFF_FFFF;
/// Smallest integer-type value (-2^28); smaller numbers are sent as doubles.
pub const INT29_MIN: i32 = -0x1000_0000;
/// Largest integer-type value (2^28 - 1).
pub const INT29_MAX: i32 = 0x0FFF_FFFF;

/// Reads one U29.
pub(crate) fn read_u29(cursor: &mut Cursor<'_>) -> Result<u32, AmfError> {
    let mut value: u32 = 0;
    for _ in 0..3 {
        let byte = cursor.read_u8()?;
        value = (value << 7) | u32::from(byte & 0x7F);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    let byte = cursor.read_u8()?;
    Ok((value << 8) | u32::from(byte))
}

/// Reads a U29 and sign-extends it from 29 bits (integer-type, 3.6).
pub(crate) fn read_i29(cursor: &mut Cursor<'_>) -> Result<i32, AmfError> {
    let raw = read_u29(cursor)?;
    // Shift the 29-bit two's complement value to the top, then back.
    Ok(((raw << 3) as i32) >> 3)
}

/// Appends `value` as a U29; values above [`U29_MAX`] are clamped to it.
pub(crate) fn write_u29(value: u32, out: &mut Vec<u8>) {
    let v = value.min(U29_MAX);
    if v < 0x80 {
        out.push(v as u8);
    } else if v < 0x4000 {
        out.extend_from_slice(&[(v >> 7) as u8 | 0x80, (v & 0x7F) as u8]);
    } else if v < 0x20_0000 {
        out.extend_from_slice(&[
            (v >> 14) as u8 | 0x80,
            ((v >> 7) & 0x7F) as u8 | 0x80,
            (v & 0x7F) as u8,
        ]);
    } else {
        out.extend_from_slice(&[
            (v >> 22) as u8 | 0x80,
            ((v >> 15) & 0x7F) as u8 | 0x80,
            ((v >> 8) & 0x7F) as u8 | 0x80,
            (v & 0xFF) as u8,
        ]);
    }
}

/// Appends an integer in [`INT29_MIN`]..=[`INT29_MAX`] as a U29 (two's
/// complement in 29 bits).
pub(crate) fn write_i29(value: i32, out: &mut Vec<u8>) {
    write_u29((value as u32) & U29_MAX, out);
}

/// Appends a length or count `n` shifted left one with the low "inline"
/// flag set (U29S-value, U29A-value, ...); `n` is clamped to 2^28 - 1.
pub(crate) fn write_inline_len(n: usize, out: &mut Vec<u8>) {
    write_u29((inline_len(n) << 1) | 1, out);
}

/// `n` clamped to the largest length a flagged U29 can carry (2^28 - 1).
pub(crate) fn inline_len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX).min(U29_MAX >> 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: u32) -> Vec<u8> {
        let mut out = Vec::new();
        write_u29(v, &mut out);
        out
    }

    fn dec(bytes: &[u8]) -> Result<u32, AmfError> {
        read_u29(&mut Cursor::new(bytes))
    }

    /// The four size classes of the AMF 3 spec's table in 1.3.1.
    #[test]
    fn size_class_boundaries() {
        let cases: [(u32, &[u8]); 8] = [
            (0x00, &[0x00]),
            (0x7F, &[0x7F]),
            (0x80, &[0x81, 0x00]),
            (0x3FFF, &[0xFF, 0x7F]),
            (0x4000, &[0x81, 0x80, 0x00]),
            (0x1F_FFFF, &[0xFF, 0xFF, 0x7F]),
            (0x20_0000, &[0x80, 0xC0, 0x80, 0x00]),
            (0x1FFF_FFFF, &[0xFF, 0xFF, 0xFF, 0xFF]),
        ];
        for (value, bytes) in cases {
            assert_eq!(enc(value), bytes, "encoding {value:#x}");
            assert_eq!(dec(bytes), Ok(value), "decoding {bytes:02x?}");
        }
    }

    #[test]
    fn signed_integers_sign_extend() {
        let mut c = Cursor::new(&[
            0xFF, 0xFF, 0xFF, 0xFF, 0xC0, 0x80, 0x80, 0x00, 0xBF, 0xFF, 0xFF, 0xFF,
        ]);
        assert_eq!(read_i29(&mut c), Ok(-1));
        assert_eq!(read_i29(&mut c), Ok(INT29_MIN));
        assert_eq!(read_i29(&mut c), Ok(INT29_MAX));
        let mut out = Vec::new();
        write_i29(-1, &mut out);
        write_i29(INT29_MIN, &mut out);
        assert_eq!(out, [0xFF, 0xFF, 0xFF, 0xFF, 0xC0, 0x80, 0x80, 0x00]);
    }

    #[test]
    fn truncated_u29_is_eof() {
        assert_eq!(dec(&[0x81]), Err(AmfError::UnexpectedEof));
        assert_eq!(dec(&[0xFF, 0xFF, 0xFF]), Err(AmfError::UnexpectedEof));
    }

    #[test]
    fn every_value_round_trips_on_samples() {
        for v in (0..=U29_MAX).step_by(9_973).chain([U29_MAX]) {
            assert_eq!(dec(&enc(v)), Ok(v));
        }
    }
}
