//! Constant data of the Nellymoser Asao format: band layout, envelope
//! code books and dequantisation levels.
//!
//! The values are facts of the bitstream (every conforming encoder and
//! decoder uses the same ones); they are published in the MultimediaWiki
//! "Nellymoser" page's references and in the common tables of libavcodec
//! (`nellymoser.c`, MIT licence).

/// Number of frequency bands of the spectral envelope.
pub const BANDS: usize = 23;

/// Coefficients covered by the bands (the top 4 of 128 are always zero).
pub const FILL_LEN: usize = 124;

/// Bits of the block header: a 6-bit first exponent and 22 5-bit deltas.
pub const HEADER_BITS: usize = 116;

/// Bits of the coefficient payload of each of the two half blocks.
pub const DETAIL_BITS: usize = 198;

/// Largest number of bits one coefficient can receive.
pub const MAX_COEFF_BITS: u8 = 6;

/// Width in coefficients of each band, low to high frequency; sums to
/// [`FILL_LEN`].
pub const BAND_SIZES: [u8; BANDS] = [
    2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 4, 4, 5, 6, 6, 7, 8, 9, 10, 12, 14, 15,
];

/// Code book of the first band's exponent (6-bit index), in 1/2048 of a
/// binary logarithm (ascending).
pub const FIRST_EXPONENTS: [i32; 64] = [
    3134, 5342, 6870, 7792, 8569, 9185, 9744, 10191, 10631, 11061, 11434, 11770, 12116, 12513,
    12925, 13300, 13674, 14027, 14352, 14716, 15117, 15477, 15824, 16157, 16513, 16804, 17090,
    17401, 17679, 17948, 18238, 18520, 18764, 19078, 19381, 19640, 19921, 20205, 20500, 20813,
    21162, 21465, 21794, 22137, 22453, 22756, 23067, 23350, 23636, 23926, 24227, 24521, 24819,
    25107, 25414, 25730, 26120, 26497, 26895, 27344, 27877, 28463, 29426, 31355,
];

/// Code book of the exponent change from one band to the next (5-bit
/// index), in 1/2048 of a binary logarithm (ascending).
pub const EXPONENT_DELTAS: [i32; 32] = [
    -11725, -9420, -7910, -6801, -5948, -5233, -4599, -4039, -3507, -3030, -2596, -2170, -1774,
    -1383, -1016, -660, -329, -1, 337, 696, 1085, 1512, 1962, 2433, 2968, 3569, 4314, 5279, 6622,
    8154, 10076, 12975,
];

/// Dequantisation levels in units of the band's gain: the levels of an
/// `n`-bit coefficient are `LEVELS[2^n - 1 .. 2^(n+1) - 1]`, ascending, so a
/// code `v` means `LEVELS[2^n - 1 + v]`. Index 0 is unused (0 bits).
// The values as published (more digits than an f32 holds).
#[allow(clippy::excessive_precision)]
const LEVELS: [f32; 127] = [
    0.0000000000,
    // 1 bit
    -0.8472560048,
    0.7224709988,
    // 2 bits
    -1.5247479677,
    -0.4531480074,
    0.3753609955,
    1.4717899561,
    // 3 bits
    -1.9822579622,
    -1.1929379702,
    -0.5829370022,
    -0.0693780035,
    0.3909569979,
    0.9069200158,
    1.4862740040,
    2.2215409279,
    // 4 bits
    -2.3887870312,
    -1.8067539930,
    -1.4105420113,
    -1.0773609877,
    -0.7995010018,
    -0.5558109879,
    -0.3334020078,
    -0.1324490011,
    0.0568020009,
    0.2548770010,
    0.4773550034,
    0.7386850119,
    1.0443060398,
    1.3954459429,
    1.8098750114,
    2.3918759823,
    // 5 bits
    -2.3893830776,
    -1.9884680510,
    -1.7514040470,
    -1.5643119812,
    -1.3922129869,
    -1.2164649963,
    -1.0469499826,
    -0.8905100226,
    -0.7645580173,
    -0.6454579830,
    -0.5259280205,
    -0.4059549868,
    -0.3029719889,
    -0.2096900046,
    -0.1239869967,
    -0.0479229987,
    0.0257730000,
    0.1001340002,
    0.1737180054,
    0.2585540116,
    0.3522900045,
    0.4569880068,
    0.5767750144,
    0.7003160119,
    0.8425520062,
    1.0093879700,
    1.1821349859,
    1.3534560204,
    1.5320819616,
    1.7332619429,
    1.9722349644,
    2.3978140354,
    // 6 bits
    -2.5756309032,
    -2.0573320389,
    -1.8984919786,
    -1.7727810144,
    -1.6662600040,
    -1.5742180347,
    -1.4993319511,
    -1.4316639900,
    -1.3652280569,
    -1.3000990152,
    -1.2280930281,
    -1.1588579416,
    -1.0921250582,
    -1.0135740042,
    -0.9202849865,
    -0.8287050128,
    -0.7374889851,
    -0.6447759867,
    -0.5590940118,
    -0.4857139885,
    -0.4110319912,
    -0.3459700048,
    -0.2851159871,
    -0.2341620028,
    -0.1870580018,
    -0.1442500055,
    -0.1107169986,
    -0.0739680007,
    -0.0365610011,
    -0.0073290002,
    0.0203610007,
    0.0479039997,
    0.0751969963,
    0.0980999991,
    0.1220389977,
    0.1458999962,
    0.1694349945,
    0.1970459968,
    0.2252430022,
    0.2556869984,
    0.2870100141,
    0.3197099864,
    0.3525829911,
    0.3889069855,
    0.4334920049,
    0.4769459963,
    0.5204820037,
    0.5644530058,
    0.6122040153,
    0.6685929894,
    0.7341650128,
    0.8032159805,
    0.8784040213,
    0.9566209912,
    1.0397069454,
    1.1293770075,
    1.2211159468,
    1.3080279827,
    1.4024800062,
    1.5056819916,
    1.6227730513,
    1.7724959850,
    1.9430880547,
    2.2903931141,
];

/// The `2^bits` ascending dequantisation levels of a `bits`-bit coefficient
/// (`bits` in 1..=6); an empty slice for any other count.
pub const fn levels(bits: u8) -> &'static [f32] {
    if bits == 0 || bits > MAX_COEFF_BITS {
        return &[];
    }
    let count = 1usize << bits;
    let (_, tail) = LEVELS.split_at(count - 1);
    tail.split_at(count).0
}

/// Initial state (words 8..64) of the lagged Fibonacci generator whose low
/// bits give the signs of noise-filled coefficients. It is the MD5 chain
/// `state[i..i+4] = MD5(le32(0) ++ [i] ++ previous digest[5..16])` for
/// `i = 8, 12, .., 60`, i.e. the seed-0 state of libavutil's `AVLFG`, so
/// that our noise fill equals libavcodec's and the two decoders can be
/// compared sample by sample. The format itself leaves the noise free.
pub const NOISE_SEED: [u32; 56] = [
    0x3B376B5E, 0xF56BE763, 0xCBA2A7FC, 0x9751B2C7, 0x5B1FE69A, 0x860B05AF, 0x2B2650CA, 0x92A97FB0,
    0x7315E8EB, 0x8B6287A3, 0x2DDBD8B3, 0x1D098CA2, 0x6A65B478, 0xC9B22DB4, 0x9637FBCF, 0xD4427934,
    0xB390E2B5, 0x92A84D32, 0x2110B086, 0x25A9182F, 0x239295F1, 0xC6F846F7, 0x5C5B3A51, 0xE6A7BA34,
    0xD6597325, 0xA537E3DF, 0xCB80E534, 0xEAECF2DC, 0x9BBB6BD1, 0x2EA8BD11, 0x8C06CE60, 0x6859AF1D,
    0xF159F64E, 0xC213BD06, 0x2A5D7785, 0xE621DC54, 0xB8CB9A8E, 0xE6A491F8, 0x85D7DF25, 0x917D9AEE,
    0xB156C513, 0x5BD929DD, 0xF6A9DAB1, 0xC3EC5F2A, 0x5215230D, 0xE2B677D7, 0x701E36E7, 0x5405E2C7,
    0xDDCB3AE2, 0x95B866EA, 0x1EB13C9A, 0x346646C2, 0x8BA48526, 0xB325E9BF, 0x29F07D49, 0xC986CF38,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_the_filled_coefficients() {
        let total: usize = BAND_SIZES.iter().map(|&s| usize::from(s)).sum();
        assert_eq!(total, FILL_LEN);
        assert!(BAND_SIZES.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn block_layout_fills_64_bytes() {
        assert_eq!(6 + 5 * (BANDS - 1), HEADER_BITS);
        assert_eq!(HEADER_BITS + 2 * DETAIL_BITS, 64 * 8);
    }

    #[test]
    fn code_books_are_ascending() {
        assert!(FIRST_EXPONENTS.windows(2).all(|w| w[0] < w[1]));
        assert!(EXPONENT_DELTAS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(FIRST_EXPONENTS[0], 3134);
        assert_eq!(EXPONENT_DELTAS[17], -1);
    }

    #[test]
    fn levels_are_ascending_and_roughly_unit_variance() {
        for bits in 1..=MAX_COEFF_BITS {
            let l = levels(bits);
            assert_eq!(l.len(), 1 << bits);
            assert!(l.windows(2).all(|w| w[0] < w[1]), "{bits} bits");
            let mean_square = l.iter().map(|x| x * x).sum::<f32>() / l.len() as f32;
            assert!((0.4..2.0).contains(&mean_square), "{bits}: {mean_square}");
        }
        assert!(levels(0).is_empty());
        assert!(levels(7).is_empty());
        let one_bit = levels(1);
        assert!((one_bit[0] + 0.847_256).abs() < 1e-6 && (one_bit[1] - 0.722_471).abs() < 1e-6);
    }
}
