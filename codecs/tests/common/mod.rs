//! Test-only signal tools: a sine generator, a Goertzel power estimate and
//! a delay-aligned SNR.
#![allow(dead_code)]

use std::f64::consts::TAU;

/// `len` samples of a sine at `hz` and `amplitude`, sampled at `rate` Hz.
pub fn sine(hz: f64, rate: u32, amplitude: f64, len: usize) -> Vec<i16> {
    (0..len)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            (amplitude * (TAU * hz * t).sin()).round() as i16
        })
        .collect()
}

/// Power of `samples` at `hz` (Goertzel algorithm), normalised by length.
pub fn goertzel(samples: &[i16], hz: f64, rate: u32) -> f64 {
    let coeff = 2.0 * (TAU * hz / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    power / (samples.len() as f64).powi(2)
}

/// Frequency (on a `step` Hz grid from `step` to just below Nyquist) with
/// the most Goertzel power.
pub fn dominant_frequency(samples: &[i16], rate: u32, step: f64) -> f64 {
    let nyquist = f64::from(rate) / 2.0;
    let mut best = (0.0, f64::MIN);
    let mut hz = step;
    while hz < nyquist {
        let power = goertzel(samples, hz, rate);
        if power > best.1 {
            best = (hz, power);
        }
        hz += step;
    }
    best.0
}

/// Decibels of a power ratio.
pub fn db(ratio: f64) -> f64 {
    10.0 * ratio.log10()
}

/// Mean square of `samples`.
pub fn energy(samples: &[i16]) -> f64 {
    samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len().max(1) as f64
}

/// SNR in dB of `output` against `reference`, over `reference`'s length.
pub fn snr_db(reference: &[i16], output: &[i16]) -> f64 {
    let (mut signal, mut noise) = (0.0, 0.0);
    for (&r, &o) in reference.iter().zip(output) {
        signal += f64::from(r).powi(2);
        noise += (f64::from(r) - f64::from(o)).powi(2);
    }
    db(signal / noise.max(1e-9))
}

/// Best SNR in dB over output delays 0..=`max_delay` samples, and that delay.
pub fn aligned_snr_db(reference: &[i16], output: &[i16], max_delay: usize) -> (f64, usize) {
    (0..=max_delay)
        .filter_map(|delay| {
            output
                .get(delay..)
                .map(|shifted| (snr_db(reference, shifted), delay))
        })
        .fold((f64::MIN, 0), |best, x| if x.0 > best.0 { x } else { best })
}
