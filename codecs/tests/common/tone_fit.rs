//! Test-only: fit a sinusoid of known frequency to a signal (least squares
//! on sine, cosine and a constant), which measures a tone's level and its
//! signal-to-noise-and-distortion ratio without knowing the codec's delay.
#![allow(dead_code)]

use std::f64::consts::TAU;

/// Result of [`fit_tone`].
#[derive(Debug, Clone, Copy)]
pub struct ToneFit {
    /// Peak amplitude of the fitted sinusoid.
    pub amplitude: f64,
    /// Phase of the fitted sinusoid at the first sample, in radians.
    pub phase: f64,
    /// Fitted tone power over residual power, in dB.
    pub snr_db: f64,
}

/// Fits `a sin(wt) + b cos(wt) + c` at `hz` to `samples` (sampled at `rate`
/// Hz) and returns the tone's amplitude and its SNR against the residual.
pub fn fit_tone(samples: &[i16], hz: f64, rate: u32) -> ToneFit {
    let w = TAU * hz / f64::from(rate);
    // Normal equations of the 3-parameter fit.
    let mut m = [[0.0f64; 3]; 3];
    let mut v = [0.0f64; 3];
    for (i, &x) in samples.iter().enumerate() {
        let basis = [(w * i as f64).sin(), (w * i as f64).cos(), 1.0];
        for r in 0..3 {
            for c in 0..3 {
                m[r][c] += basis[r] * basis[c];
            }
            v[r] += basis[r] * f64::from(x);
        }
    }
    let [a, b, c] = solve3(m, v);
    let mut residual = 0.0;
    for (i, &x) in samples.iter().enumerate() {
        let model = a * (w * i as f64).sin() + b * (w * i as f64).cos() + c;
        residual += (f64::from(x) - model).powi(2);
    }
    let amplitude = a.hypot(b);
    let tone_power = amplitude * amplitude / 2.0 * samples.len() as f64;
    ToneFit {
        amplitude,
        phase: b.atan2(a),
        snr_db: 10.0 * (tone_power / residual.max(1e-9)).log10(),
    }
}

/// Solves a 3x3 linear system by Cramer's rule.
fn solve3(m: [[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&m);
    let mut x = [0.0; 3];
    for (col, out) in x.iter_mut().enumerate() {
        let mut replaced = m;
        for row in 0..3 {
            replaced[row][col] = v[row];
        }
        *out = det(&replaced) / d;
    }
    x
}

/// Sample count of the `index`-th 20 ms chunk of a stream at `rate` Hz, so
/// that chunks 0..n hold exactly `n * rate / 50` samples (rounded down)
/// even at 11025 Hz (220.5 samples per 20 ms).
pub fn chunk_len(rate: u32, index: u64) -> usize {
    let end = (index + 1) * u64::from(rate) / 50;
    let start = index * u64::from(rate) / 50;
    (end - start) as usize
}
