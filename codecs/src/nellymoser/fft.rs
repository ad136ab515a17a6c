//! A 64-point complex FFT (radix 2, decimation in time), the core of the
//! 256-sample MDCT. Twiddles and the bit-reversal order are computed once;
//! the first two stages, whose twiddles are 1 and -i, need no products.

use std::f64::consts::PI;

/// Transform length.
pub const FFT_LEN: usize = 64;
const STAGES: u32 = FFT_LEN.trailing_zeros();
/// Twiddles of stages 3..=6 (half-sizes 4, 8, 16, 32), back to back.
const TWIDDLE_COUNT: usize = 4 + 8 + 16 + 32;

/// A complex number of two `f32`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Complex {
    pub re: f32,
    pub im: f32,
}

impl Complex {
    /// `re + i·im`.
    pub const fn new(re: f32, im: f32) -> Self {
        Self { re, im }
    }

    /// `e^(i·angle)`, computed in double precision.
    pub fn unit(angle: f64) -> Self {
        Self::new(angle.cos() as f32, angle.sin() as f32)
    }

    /// Complex product.
    #[inline(always)]
    pub fn mul(self, other: Self) -> Self {
        Self::new(
            self.re * other.re - self.im * other.im,
            self.re * other.im + self.im * other.re,
        )
    }

    #[inline(always)]
    fn add(self, other: Self) -> Self {
        Self::new(self.re + other.re, self.im + other.im)
    }

    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        Self::new(self.re - other.re, self.im - other.im)
    }

    /// `-i·self`.
    #[inline(always)]
    fn times_minus_i(self) -> Self {
        Self::new(self.im, -self.re)
    }
}

/// Forward transform `X[k] = Σ x[n] e^(-2πi·nk/64)`, unnormalised.
#[derive(Debug, Clone)]
pub struct Fft64 {
    /// For the stage of half-size `h` (4..=32): `e^(-iπk/h)`, k < h,
    /// starting at offset `h - 4`.
    twiddles: [Complex; TWIDDLE_COUNT],
    /// `reversed[n]` is `n` with its 6 bits in reverse order.
    reversed: [u8; FFT_LEN],
}

impl Fft64 {
    /// Precomputes twiddles and the permutation.
    pub fn new() -> Self {
        let mut twiddles = [Complex::default(); TWIDDLE_COUNT];
        let mut half = 4;
        while half < FFT_LEN {
            for k in 0..half {
                twiddles[half - 4 + k] = Complex::unit(-PI * k as f64 / half as f64);
            }
            half *= 2;
        }
        let reversed = core::array::from_fn(|n| ((n as u32).reverse_bits() >> (32 - STAGES)) as u8);
        Self { twiddles, reversed }
    }

    /// Position in bit-reversed order of input `n` (for callers that load
    /// their data permuted and call [`Fft64::process_permuted`]).
    pub fn reversed(&self, n: usize) -> usize {
        usize::from(self.reversed[n % FFT_LEN])
    }

    /// Transforms `data` (natural order) in place.
    #[cfg(test)]
    pub fn process(&self, data: &mut [Complex; FFT_LEN]) {
        let input = *data;
        for (n, &x) in input.iter().enumerate() {
            data[self.reversed(n)] = x;
        }
        self.process_permuted(data);
    }

    /// Transforms `data`, given in bit-reversed order, in place; the output
    /// is in natural order.
    pub fn process_permuted(&self, data: &mut [Complex; FFT_LEN]) {
        // Stages 1 and 2 together: 4-point transforms.
        for quad in data.chunks_exact_mut(4) {
            let (a, b, c, d) = (quad[0], quad[1], quad[2], quad[3]);
            let (s0, d0) = (a.add(b), a.sub(b));
            let (s1, d1) = (c.add(d), c.sub(d));
            let d1 = d1.times_minus_i();
            quad[0] = s0.add(s1);
            quad[2] = s0.sub(s1);
            quad[1] = d0.add(d1);
            quad[3] = d0.sub(d1);
        }
        let mut half = 4;
        while half < FFT_LEN {
            let twiddles = &self.twiddles[half - 4..2 * half - 4];
            for group in data.chunks_exact_mut(2 * half) {
                let (low, high) = group.split_at_mut(half);
                for ((a, b), &w) in low.iter_mut().zip(high.iter_mut()).zip(twiddles) {
                    let t = b.mul(w);
                    *b = a.sub(t);
                    *a = a.add(t);
                }
            }
            half *= 2;
        }
    }
}

impl Default for Fft64 {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_direct_dft() {
        let input: [Complex; FFT_LEN] = core::array::from_fn(|n| {
            Complex::new(
                ((n * 7919) % 13) as f32 - 6.0,
                ((n * 104729) % 11) as f32 - 5.0,
            )
        });
        let mut data = input;
        Fft64::new().process(&mut data);
        for (k, got) in data.iter().enumerate() {
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for (n, x) in input.iter().enumerate() {
                let a = -2.0 * PI * (n * k) as f64 / FFT_LEN as f64;
                re += f64::from(x.re) * a.cos() - f64::from(x.im) * a.sin();
                im += f64::from(x.re) * a.sin() + f64::from(x.im) * a.cos();
            }
            assert!(
                (f64::from(got.re) - re).abs() < 1e-3,
                "{k}: {} vs {re}",
                got.re
            );
            assert!(
                (f64::from(got.im) - im).abs() < 1e-3,
                "{k}: {} vs {im}",
                got.im
            );
        }
    }

    #[test]
    fn bit_reversal() {
        let fft = Fft64::new();
        assert_eq!(fft.reversed(1), 32);
        assert_eq!(fft.reversed(6), 24);
        assert_eq!(fft.reversed(63), 63);
    }
}
