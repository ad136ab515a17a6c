//! µ-law (PCMU) companding, ITU-T G.711 (11/88) section 3, computed rather
//! than table-driven.
//!
//! The 14-bit magnitude is biased by 33 (132 in 16-bit scale), split into a
//! 3-bit segment (exponent) and a 4-bit step (mantissa), and the whole code
//! is inverted for transmission. Decoded values therefore lie in
//! -32124..=32124 on the 16-bit scale; codes 0xFF and 0x7F both mean zero.

/// Bias added to the magnitude before segmenting, in 16-bit scale (33 << 2).
const BIAS: i32 = 0x84;
/// Largest magnitude that does not overflow the top segment after biasing.
const CLIP: i32 = 32635;

/// Encodes one 16-bit linear sample into a µ-law code (G.711 table 2a).
pub fn encode(sample: i16) -> u8 {
    let linear = i32::from(sample);
    let sign: u8 = if linear < 0 { 0x80 } else { 0x00 };
    let magnitude = linear.unsigned_abs().min(CLIP as u32) as i32 + BIAS;
    // Segment = position of the highest set bit above bit 7 (0..=7).
    let segment = (31 - magnitude.leading_zeros() as i32 - 7).clamp(0, 7);
    let step = (magnitude >> (segment + 3)) & 0x0F;
    let code = sign | ((segment as u8) << 4) | step as u8;
    !code
}

/// Decodes one µ-law code into a 16-bit linear sample (G.711 table 2a).
pub fn decode(code: u8) -> i16 {
    let code = !code;
    let segment = i32::from((code >> 4) & 0x07);
    let step = i32::from(code & 0x0F);
    let magnitude = (((step << 3) + BIAS) << segment) - BIAS;
    if code & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Zero: 0xFF (positive zero) and 0x7F (negative zero).
        assert_eq!(decode(0xFF), 0);
        assert_eq!(decode(0x7F), 0);
        assert_eq!(encode(0), 0xFF);
        // Full scale: 8031 in 14-bit units = 32124 in 16-bit scale.
        assert_eq!(decode(0x80), 32124);
        assert_eq!(decode(0x00), -32124);
        assert_eq!(encode(i16::MAX), 0x80);
        assert_eq!(encode(i16::MIN), 0x00);
        // First step of segment 0: 2 in 14-bit units = 8 in 16-bit scale.
        assert_eq!(decode(0xFE), 8);
        assert_eq!(decode(0x7E), -8);
        // Segment boundaries (14-bit decision values 31, 95, 223 -> 16-bit).
        assert_eq!(decode(0xEF), 132);
        assert_eq!(decode(0xDF), 396);
    }

    #[test]
    fn every_code_round_trips_except_negative_zero() {
        for code in 0..=255u8 {
            let back = encode(decode(code));
            if code == 0x7F {
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, code, "code {code:#04x}");
            }
        }
    }

    #[test]
    fn decoded_values_are_monotonic_in_magnitude() {
        // Within each sign, a larger inverted code is a larger magnitude.
        let mut previous = -1i32;
        for inverted in 0..=0x7Fu8 {
            let value = i32::from(decode(!inverted));
            assert!(value > previous, "{inverted:#04x}");
            previous = value;
        }
    }

    #[test]
    fn quantisation_error_is_within_half_a_step() {
        for sample in (i16::MIN..=i16::MAX).step_by(7) {
            let back = i32::from(decode(encode(sample)));
            let clipped = i32::from(sample).clamp(-32124, 32124);
            let segment = i32::from((!encode(sample) >> 4) & 0x07);
            let half_step = 4 << segment;
            assert!(
                (back - clipped).abs() <= half_step + 4,
                "{sample} -> {back}"
            );
        }
    }
}
