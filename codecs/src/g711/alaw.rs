//! A-law (PCMA) companding, ITU-T G.711 (11/88) section 2, computed rather
//! than table-driven.
//!
//! The 13-bit magnitude (16-bit sample >> 3) is split into a 3-bit segment
//! and a 4-bit step; even bits are inverted for transmission (XOR 0x55) and
//! the sign bit is 1 for positive values. Decoded values lie in
//! -32256..=32256 on the 16-bit scale; there is no code for exact zero
//! (0xD5 = +8, 0x55 = -8).

/// Even-bit inversion applied to every transmitted code (G.711 table 1a note).
const EVEN_BITS: u8 = 0x55;

/// Encodes one 16-bit linear sample into an A-law code (G.711 table 1a).
pub fn encode(sample: i16) -> u8 {
    let linear = i32::from(sample) >> 3;
    let (sign, magnitude) = if linear >= 0 {
        (0x80u8, linear)
    } else {
        // Negative decision values sit one unit lower (-1 maps to step 0).
        (0x00u8, -linear - 1)
    };
    let magnitude = magnitude.min(0x0FFF);
    let segment = if magnitude < 32 {
        0
    } else {
        // Highest set bit is 5 for segment 1, ... 11 for segment 7.
        31 - magnitude.leading_zeros() as i32 - 4
    };
    let shift = if segment == 0 { 1 } else { segment };
    let step = (magnitude >> shift) & 0x0F;
    (sign | ((segment as u8) << 4) | step as u8) ^ EVEN_BITS
}

/// Decodes one A-law code into a 16-bit linear sample (G.711 table 1a).
pub fn decode(code: u8) -> i16 {
    let code = code ^ EVEN_BITS;
    let segment = i32::from((code >> 4) & 0x07);
    let step = i32::from(code & 0x0F);
    // Reconstruction at the middle of the interval, in 16-bit scale.
    let magnitude = if segment == 0 {
        (step << 4) + 8
    } else {
        ((step << 4) + 0x108) << (segment - 1)
    };
    if code & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(decode(0xD5), 8);
        assert_eq!(decode(0x55), -8);
        assert_eq!(encode(0), 0xD5);
        assert_eq!(encode(-1), 0x55);
        assert_eq!(decode(0xAA), 32256);
        assert_eq!(decode(0x2A), -32256);
        assert_eq!(encode(i16::MAX), 0xAA);
        assert_eq!(encode(i16::MIN), 0x2A);
        // First code of segment 1: 13-bit value 33 -> 264 in 16-bit scale.
        assert_eq!(decode(0x80 ^ 0x10 ^ EVEN_BITS), 264);
    }

    #[test]
    fn every_code_round_trips() {
        for code in 0..=255u8 {
            assert_eq!(encode(decode(code)), code, "code {code:#04x}");
        }
    }

    #[test]
    fn decoded_values_are_monotonic_in_magnitude() {
        let mut previous = 0i32;
        for raw in 0..=0x7Fu8 {
            let value = i32::from(decode((0x80 | raw) ^ EVEN_BITS));
            assert!(value > previous, "{raw:#04x}");
            previous = value;
        }
    }

    #[test]
    fn quantisation_error_is_within_half_a_step() {
        for sample in (i16::MIN..=i16::MAX).step_by(7) {
            let code = encode(sample);
            let back = i32::from(decode(code));
            let clipped = i32::from(sample).clamp(-32256, 32256);
            let segment = i32::from(((code ^ EVEN_BITS) >> 4) & 0x07);
            let half_step = if segment == 0 { 8 } else { 8 << (segment - 1) };
            assert!(
                (back - clipped).abs() <= half_step + 8,
                "{sample} -> {back}"
            );
        }
    }
}
