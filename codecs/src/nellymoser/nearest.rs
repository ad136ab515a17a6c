//! Nearest-entry search in the ascending code books, without branches on
//! the data: the entry nearest to `x` is the number of decision points
//! (midpoints between neighbouring entries) below `x`, found by a
//! fixed-length binary search. Code books have 2^k entries, so 2^k - 1
//! decision points.

use super::tables::{levels, EXPONENT_DELTAS, FIRST_EXPONENTS, MAX_COEFF_BITS};

/// Decision points of the level tables: those of the `b`-bit levels are
/// `LEVEL_POINTS[2^b - 1 .. 2^(b+1) - 2]`.
static LEVEL_POINTS: [f32; 127] = level_points();
/// Decision points of [`FIRST_EXPONENTS`].
static FIRST_POINTS: [f32; 63] = midpoints(&FIRST_EXPONENTS);
/// Decision points of [`EXPONENT_DELTAS`].
static DELTA_POINTS: [f32; 31] = midpoints(&EXPONENT_DELTAS);

const fn midpoints<const N: usize, const M: usize>(table: &[i32; N]) -> [f32; M] {
    let mut out = [0.0f32; M];
    let mut i = 0;
    while i < M && i + 1 < N {
        out[i] = (table[i] as f32 + table[i + 1] as f32) * 0.5;
        i += 1;
    }
    out
}

const fn level_points() -> [f32; 127] {
    let mut out = [0.0f32; 127];
    let mut bits = 1;
    while bits <= MAX_COEFF_BITS {
        let table = levels(bits);
        let start = (1usize << bits) - 1;
        let mut i = 0;
        while i + 1 < table.len() {
            out[start + i] = (table[i] + table[i + 1]) * 0.5;
            i += 1;
        }
        bits += 1;
    }
    out
}

/// Count of `points` (ascending, length 2^k - 1) below `x`; 0 for NaN.
fn count_below(points: &[f32], x: f32) -> usize {
    let mut index = 0;
    let mut step = points.len().div_ceil(2);
    while step > 0 {
        let below = points.get(index + step - 1).is_some_and(|&p| p < x);
        index += usize::from(below) * step;
        step /= 2;
    }
    index
}

/// Index of the `bits`-bit level nearest to `x` (the lower on a tie).
pub fn nearest_level(bits: u8, x: f32) -> usize {
    let count = (1usize << bits.min(MAX_COEFF_BITS)) - 1;
    let points = LEVEL_POINTS.get(count..2 * count).unwrap_or(&[]);
    count_below(points, x)
}

/// Index of the [`FIRST_EXPONENTS`] entry nearest to `x`.
pub fn nearest_first_exponent(x: f32) -> usize {
    count_below(&FIRST_POINTS, x)
}

/// Index of the [`EXPONENT_DELTAS`] entry nearest to `x`.
pub fn nearest_delta(x: f32) -> usize {
    count_below(&DELTA_POINTS, x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_distance(table: &[f32], x: f32) -> usize {
        let mut best = 0;
        for (i, &t) in table.iter().enumerate() {
            if (x - t).abs() < (x - table[best]).abs() {
                best = i;
            }
        }
        best
    }

    #[test]
    fn levels_match_a_linear_search() {
        for bits in 1..=MAX_COEFF_BITS {
            let table = levels(bits);
            let mut x = -3.0f32;
            while x < 3.0 {
                assert_eq!(
                    nearest_level(bits, x),
                    by_distance(table, x),
                    "{bits} bits at {x}"
                );
                x += 0.0007;
            }
        }
    }

    #[test]
    fn code_books_match_a_linear_search() {
        let first: Vec<f32> = FIRST_EXPONENTS.iter().map(|&e| e as f32).collect();
        let deltas: Vec<f32> = EXPONENT_DELTAS.iter().map(|&e| e as f32).collect();
        for x in (-40000..40000).step_by(7).map(|x| x as f32) {
            assert_eq!(nearest_first_exponent(x), by_distance(&first, x), "{x}");
            assert_eq!(nearest_delta(x), by_distance(&deltas, x), "{x}");
        }
    }

    #[test]
    fn extremes_and_nan() {
        assert_eq!(nearest_level(6, -1e9), 0);
        assert_eq!(nearest_level(6, 1e9), 63);
        assert_eq!(nearest_level(1, f32::NAN), 0);
        assert_eq!(nearest_delta(f32::INFINITY), 31);
        assert_eq!(nearest_first_exponent(f32::NEG_INFINITY), 0);
        assert_eq!(nearest_level(0, 1.0), 0);
    }
}
