//! The 256-sample MDCT of Nellymoser: 128 coefficients per transform, a
//! sine window, 50 % overlap (hop 128), two transforms per block.
//!
//! With `M = 128`, `N = 2M` and the sine window
//! `w[n] = sin(π(n + ½)/N)`:
//!
//! - analysis: `X[k] = (2/M) Σ_{n<N} w[n]·x[n]·cos(π/M·(n + ½ + M/2)(k + ½))`
//! - synthesis: `y[n] = w[n] Σ_{k<M} X[k]·cos(π/M·(n + ½ + M/2)(k + ½))`
//!
//! Adding the second half of one synthesis to the first half of the next
//! gives back the input (time-domain aliasing cancellation, Princen and
//! Bradley 1986). Both directions fold the 256 samples onto a 128-point
//! DCT-IV, computed with a 64-point complex FFT between two rotations.

use std::f64::consts::PI;

use super::fft::{Complex, Fft64, FFT_LEN};

/// Coefficients per transform (`M`).
pub const COEFFS: usize = 128;
/// Samples per transform window (`N = 2M`).
pub const WINDOW: usize = 2 * COEFFS;
const QUARTER: usize = COEFFS / 2;

/// Precomputed MDCT of 256 samples.
#[derive(Debug, Clone)]
pub struct Mdct {
    fft: Fft64,
    /// `e^(-iπ(4n+1)/(4M))`, rotation before the FFT.
    pre: [Complex; FFT_LEN],
    /// `e^(-iπk/M)`, rotation after the FFT.
    post: [Complex; FFT_LEN],
    /// Sine window.
    window: [f32; WINDOW],
    /// Sine window times `2/M` (analysis).
    analysis_window: [f32; WINDOW],
}

impl Mdct {
    /// Precomputes window and rotations.
    pub fn new() -> Self {
        let m = COEFFS as f64;
        let window: [f32; WINDOW] =
            core::array::from_fn(|n| (PI * (n as f64 + 0.5) / WINDOW as f64).sin() as f32);
        Self {
            fft: Fft64::new(),
            pre: core::array::from_fn(|n| Complex::unit(-PI * (4 * n + 1) as f64 / (4.0 * m))),
            post: core::array::from_fn(|k| Complex::unit(-PI * k as f64 / m)),
            window,
            analysis_window: window.map(|w| 2.0 * w / COEFFS as f32),
        }
    }

    /// Analysis of 256 samples into 128 coefficients.
    pub fn forward(&self, input: &[f32; WINDOW], out: &mut [f32; COEFFS]) {
        let mut x = [0.0f32; WINDOW];
        for ((x, &s), &w) in x.iter_mut().zip(input).zip(&self.analysis_window) {
            *x = s * w;
        }
        // Fold (a, b, c, d) into (-c_r - d, a - b_r), quarters of 64.
        let mut folded = [0.0f32; COEFFS];
        let (first, second) = folded.split_at_mut(QUARTER);
        for (m, u) in first.iter_mut().enumerate() {
            *u = -x[3 * QUARTER - 1 - m] - x[3 * QUARTER + m];
        }
        for (m, u) in second.iter_mut().enumerate() {
            *u = x[m] - x[2 * QUARTER - 1 - m];
        }
        self.dct4(&folded, out);
    }

    /// Synthesis of 128 coefficients into 256 windowed samples, to be
    /// overlap-added with the neighbouring transforms.
    pub fn inverse(&self, coeffs: &[f32; COEFFS], out: &mut [f32; WINDOW]) {
        let mut v = [0.0f32; COEFFS];
        self.dct4(coeffs, &mut v);
        // y = (v[64..128], -v_r, -v[0..64]) over quarters (64, 128, 64).
        let (head, rest) = out.split_at_mut(QUARTER);
        let (middle, tail) = rest.split_at_mut(COEFFS);
        for (n, y) in head.iter_mut().enumerate() {
            *y = v[QUARTER + n];
        }
        for (n, y) in middle.iter_mut().enumerate() {
            *y = -v[COEFFS - 1 - n];
        }
        for (n, y) in tail.iter_mut().enumerate() {
            *y = -v[n];
        }
        for (y, &w) in out.iter_mut().zip(&self.window) {
            *y *= w;
        }
    }

    /// Unnormalised DCT-IV: `X[k] = Σ u[n]·cos(π/M·(n + ½)(k + ½))`.
    fn dct4(&self, input: &[f32; COEFFS], out: &mut [f32; COEFFS]) {
        let mut z = [Complex::default(); FFT_LEN];
        for (n, &rot) in self.pre.iter().enumerate() {
            z[self.fft.reversed(n)] =
                Complex::new(input[2 * n], input[COEFFS - 1 - 2 * n]).mul(rot);
        }
        self.fft.process_permuted(&mut z);
        for (k, (z, &rot)) in z.iter().zip(&self.post).enumerate() {
            let y = z.mul(rot);
            out[2 * k] = y.re;
            out[COEFFS - 1 - 2 * k] = -y.im;
        }
    }
}

impl Default for Mdct {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn basis(n: usize, k: usize) -> f64 {
        let m = COEFFS as f64;
        (PI / m * (n as f64 + 0.5 + m / 2.0) * (k as f64 + 0.5)).cos()
    }

    fn sine(n: usize) -> f64 {
        (PI * (n as f64 + 0.5) / WINDOW as f64).sin()
    }

    #[test]
    fn forward_matches_the_definition() {
        let input: [f32; WINDOW] = core::array::from_fn(|n| ((n * 37) % 23) as f32 - 11.0);
        let mut out = [0.0; COEFFS];
        Mdct::new().forward(&input, &mut out);
        for (k, &got) in out.iter().enumerate() {
            let want: f64 = (0..WINDOW)
                .map(|n| sine(n) * f64::from(input[n]) * basis(n, k))
                .sum::<f64>()
                * 2.0
                / COEFFS as f64;
            assert!((f64::from(got) - want).abs() < 1e-4, "{k}: {got} vs {want}");
        }
    }

    #[test]
    fn inverse_matches_the_definition() {
        let coeffs: [f32; COEFFS] = core::array::from_fn(|k| ((k * 53) % 17) as f32 - 8.0);
        let mut out = [0.0; WINDOW];
        Mdct::new().inverse(&coeffs, &mut out);
        for (n, &got) in out.iter().enumerate() {
            let want: f64 = sine(n)
                * (0..COEFFS)
                    .map(|k| f64::from(coeffs[k]) * basis(n, k))
                    .sum::<f64>();
            assert!((f64::from(got) - want).abs() < 1e-3, "{n}: {got} vs {want}");
        }
    }

    proptest! {
        #[test]
        fn overlap_add_reconstructs_the_input(signal in proptest::collection::vec(-32768.0f32..32768.0, 3 * COEFFS)) {
            let mdct = Mdct::new();
            let mut first = [0.0; WINDOW];
            let mut second = [0.0; WINDOW];
            let mut coeffs = [0.0; COEFFS];
            let window = |start: usize| -> [f32; WINDOW] { core::array::from_fn(|n| signal[start + n]) };
            mdct.forward(&window(0), &mut coeffs);
            mdct.inverse(&coeffs, &mut first);
            mdct.forward(&window(COEFFS), &mut coeffs);
            mdct.inverse(&coeffs, &mut second);
            for n in 0..COEFFS {
                let got = first[COEFFS + n] + second[n];
                prop_assert!((got - signal[COEFFS + n]).abs() < 0.05, "{}: {} vs {}", n, got, signal[COEFFS + n]);
            }
        }
    }
}
