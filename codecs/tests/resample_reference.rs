//! The C resampler (libspeexdsp, [`Resampler`]) against the pure-Rust
//! port it replaced (`speexdsp-resampler` 0.1, the same `resample.c`
//! algorithm): over every pair of [`SUPPORTED_RATES`], fed a speech-like
//! signal (harmonics of a gliding pitch plus noise) in 20 ms chunks as the
//! bridge does, the outputs match sample for sample to within rounding
//! (SNR of the difference well above 60 dB), with the same length and delay.

mod common;
#[path = "common/tone_fit.rs"]
mod tone_fit;

use common::snr_db;
use rtmp2sip_codecs::resample::{Resampler, DEFAULT_QUALITY, SUPPORTED_RATES};
use speexdsp_resampler::State;
use std::f64::consts::TAU;
use tone_fit::chunk_len;

/// 1 s of a voiced-speech stand-in at `rate`: ten harmonics of a pitch
/// gliding 120..220 Hz, with a 1/k spectral tilt, plus deterministic noise.
fn speech_like(rate: u32) -> Vec<i16> {
    let mut phase = 0.0f64;
    let mut noise = 0x1234_5678u32;
    (0..rate as usize)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            phase += TAU * (120.0 + 100.0 * t) / f64::from(rate);
            let voiced: f64 = (1..=10).map(|k| (phase * k as f64).sin() / k as f64).sum();
            noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let white = f64::from(noise >> 16) / 32768.0 - 1.0;
            (voiced * 6000.0 + white * 500.0).round() as i16
        })
        .collect()
}

/// `pcm` through the C resampler in 20 ms chunks.
fn through_c(from: u32, to: u32, pcm: &[i16]) -> Vec<i16> {
    let mut resampler = Resampler::new(from, to, DEFAULT_QUALITY).unwrap();
    let mut out = Vec::new();
    let (mut start, mut index) = (0, 0);
    while start < pcm.len() {
        let end = (start + chunk_len(from, index)).min(pcm.len());
        resampler.process(&pcm[start..end], &mut out);
        start = end;
        index += 1;
    }
    out
}

/// `pcm` through the pure-Rust port in the same chunks, rounded as the
/// old `Resampler` rounded its float output.
fn through_port(from: u32, to: u32, pcm: &[i16]) -> Vec<i16> {
    let mut state = State::new(1, from as usize, to as usize, DEFAULT_QUALITY.into()).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0.0f32; to as usize / 10 + 16];
    let (mut start, mut index) = (0, 0);
    while start < pcm.len() {
        let end = (start + chunk_len(from, index)).min(pcm.len());
        let input: Vec<f32> = pcm[start..end].iter().map(|&s| f32::from(s)).collect();
        let mut consumed = 0;
        while consumed < input.len() {
            let (used, written) = state
                .process_float(0, &input[consumed..], &mut buf)
                .unwrap();
            out.extend(
                buf[..written]
                    .iter()
                    .map(|s| s.round().clamp(-32768.0, 32767.0) as i16),
            );
            if used == 0 && written == 0 {
                break;
            }
            consumed += used;
        }
        start = end;
        index += 1;
    }
    out
}

#[test]
fn c_resampler_matches_the_pure_rust_port_for_every_pair() {
    for from in SUPPORTED_RATES {
        for to in SUPPORTED_RATES.into_iter().filter(|&to| to != from) {
            let pcm = speech_like(from);
            let c = through_c(from, to, &pcm);
            let port = through_port(from, to, &pcm);
            assert!(
                c.len().abs_diff(port.len()) <= 1,
                "{from}->{to}: {} vs {}",
                c.len(),
                port.len()
            );
            let n = c.len().min(port.len());
            let snr = snr_db(&port[..n], &c[..n]);
            eprintln!("{from}->{to}: SNR {snr:.1} dB against the port");
            assert!(snr > 60.0, "{from}->{to}: SNR {snr:.1} dB against the port");
            let c_latency = Resampler::new(from, to, DEFAULT_QUALITY)
                .unwrap()
                .output_latency();
            let port_latency = State::new(1, from as usize, to as usize, DEFAULT_QUALITY.into())
                .unwrap()
                .get_output_latency();
            assert_eq!(c_latency, port_latency, "{from}->{to}");
        }
    }
}
