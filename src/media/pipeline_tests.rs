//! Tone fidelity of each stage of the transcoding halves, and helpers
//! (SNR against a fitted sine) shared with the bridge tests.

use super::*;
use rtmp2sip_codecs::{AudioDecoder, G711Law};

/// A sine at `freq` Hz, amplitude 8000, samples `offset..offset + len`.
pub(crate) fn tone(freq: f64, rate: u32, len: usize, offset: usize) -> Vec<i16> {
    (offset..offset + len)
        .map(|i| {
            ((i as f64 * freq * std::f64::consts::TAU / f64::from(rate)).sin() * 8000.0) as i16
        })
        .collect()
}

/// SNR in dB of `pcm` against its least-squares fit by a sine at `freq`
/// Hz (any phase and amplitude, plus DC), skipping the first `skip`
/// samples (codec start-up). Everything else counts as noise.
pub(crate) fn tone_snr(pcm: &[i16], rate: u32, freq: f64, skip: usize) -> f64 {
    let body = pcm.get(skip..).unwrap_or_default();
    let w = freq * std::f64::consts::TAU / f64::from(rate);
    let basis = |i: usize| [(w * i as f64).sin(), (w * i as f64).cos(), 1.0];
    let mut a = [[0.0f64; 3]; 3];
    let mut y = [0.0f64; 3];
    for (i, &s) in body.iter().enumerate() {
        let b = basis(i);
        for r in 0..3 {
            y[r] += b[r] * f64::from(s);
            for c in 0..3 {
                a[r][c] += b[r] * b[c];
            }
        }
    }
    let x = solve3(a, y);
    let (mut signal, mut noise) = (0.0, 0.0);
    for (i, &s) in body.iter().enumerate() {
        let b = basis(i);
        let fit = x[0] * b[0] + x[1] * b[1];
        signal += fit * fit;
        noise += (f64::from(s) - fit - x[2] * b[2]).powi(2);
    }
    10.0 * (signal / noise.max(1e-9)).log10()
}

/// Gaussian elimination for a 3x3 system.
fn solve3(mut a: [[f64; 3]; 3], mut y: [f64; 3]) -> [f64; 3] {
    for k in 0..3 {
        for r in k + 1..3 {
            let pivot = a[k];
            let f = a[r][k] / pivot[k];
            for (v, p) in a[r].iter_mut().zip(pivot).skip(k) {
                *v -= f * p;
            }
            y[r] -= f * y[k];
        }
    }
    let mut x = [0.0; 3];
    for k in (0..3).rev() {
        let s: f64 = (k + 1..3).map(|c| a[k][c] * x[c]).sum();
        x[k] = (y[k] - s) / a[k][k];
    }
    x
}

/// Speex WB q8 encode then decode of 16 kHz PCM, 20 ms frame by frame.
pub(crate) fn speex_wb_round_trip(pcm: &[i16], complexity: u8) -> Vec<i16> {
    let config = SpeexEncoderConfig {
        complexity,
        ..SpeexEncoderConfig::wideband()
    };
    let mut enc = SpeexEncoder::new(config).unwrap();
    let mut dec = SpeexDecoder::new(SpeexMode::Wideband).unwrap();
    let mut out = Vec::new();
    for frame in pcm.chunks_exact(RTMP_FRAME) {
        let mut bytes = Vec::new();
        enc.encode_packet(frame, &mut bytes).unwrap();
        dec.decode(&bytes, &mut out).unwrap();
    }
    out
}

fn pcmu(pcm: &[i16]) -> Vec<u8> {
    pcm.iter()
        .map(|&s| G711Law::Pcmu.encode_sample(s))
        .collect()
}

/// 5 s of a 1 kHz tone at 8 kHz.
fn tone_8k() -> Vec<i16> {
    tone(1000.0, 8000, 40_000, 0)
}

#[test]
fn snr_of_a_clean_tone_is_high_and_of_a_noisy_one_is_right() {
    let clean = tone_8k();
    assert!(tone_snr(&clean, 8000, 1000.0, 0) > 75.0);
    // Add a 1050 Hz tone 20 dB down: SNR 20 dB.
    let noisy: Vec<i16> = clean
        .iter()
        .zip(tone(1050.0, 8000, clean.len(), 0))
        .map(|(&a, b)| a + b / 10)
        .collect();
    let snr = tone_snr(&noisy, 8000, 1000.0, 0);
    assert!((snr - 20.0).abs() < 0.5, "{snr}");
}

#[test]
fn g711_keeps_the_tone() {
    let decoded: Vec<i16> = pcmu(&tone_8k())
        .iter()
        .map(|&c| G711Law::Pcmu.decode_sample(c))
        .collect();
    let snr = tone_snr(&decoded, 8000, 1000.0, 0);
    assert!(snr > 35.0, "{snr}");
}

#[test]
fn resampling_frame_by_frame_equals_one_call() {
    let input = tone_8k();
    let mut whole = Vec::new();
    Resampler::voip(8000, RTMP_RATE)
        .unwrap()
        .process(&input, &mut whole);
    let mut framed = Vec::new();
    let mut r = Resampler::voip(8000, RTMP_RATE).unwrap();
    for frame in input.chunks(160) {
        let before = framed.len();
        r.process(frame, &mut framed);
        assert_eq!(framed.len() - before, RTMP_FRAME);
    }
    assert_eq!(framed, whole);
    let snr = tone_snr(&framed, RTMP_RATE, 1000.0, 320);
    assert!(snr > 60.0, "{snr}");
}

#[test]
fn speex_complexity_sets_the_tone_snr() {
    // libspeex skips its open-loop pitch search at complexity <= 2.
    let pcm = tone(1000.0, RTMP_RATE, 80_000, 0);
    let coarse = tone_snr(&speex_wb_round_trip(&pcm, 2), RTMP_RATE, 1000.0, 3200);
    let ours = tone_snr(
        &speex_wb_round_trip(&pcm, SPEEX_COMPLEXITY),
        RTMP_RATE,
        1000.0,
        3200,
    );
    assert!(coarse < 28.0, "complexity 2: {coarse}");
    assert!(ours > 36.0, "complexity {SPEEX_COMPLEXITY}: {ours}");
}

#[test]
fn to_rtmp_makes_one_frame_per_packet_and_keeps_the_tone() {
    let (_, mut to_rtmp) = transcoders(Codec::Pcmu, 8).unwrap();
    let mut dec = SpeexDecoder::new(SpeexMode::Wideband).unwrap();
    let mut out = Vec::new();
    for frame in tone_8k().chunks(160) {
        to_rtmp.push_payload(&pcmu(frame)).unwrap();
        let mut bytes = Vec::new();
        assert!(to_rtmp.next_frame(&mut bytes).unwrap());
        assert!(!to_rtmp.next_frame(&mut Vec::new()).unwrap());
        dec.decode(&bytes, &mut out).unwrap();
    }
    assert_eq!(out.len(), 80_000);
    let snr = tone_snr(&out, RTMP_RATE, 1000.0, 3200);
    assert!(snr > 34.0, "{snr}");
}

#[test]
fn to_sip_makes_one_packet_per_frame_and_keeps_the_tone() {
    let (mut to_sip, _) = transcoders(Codec::Pcmu, 8).unwrap();
    let config = SpeexEncoderConfig {
        complexity: SPEEX_COMPLEXITY,
        ..SpeexEncoderConfig::wideband()
    };
    let mut enc = SpeexEncoder::new(config).unwrap();
    let mut out = Vec::new();
    for frame in tone(1000.0, RTMP_RATE, 80_000, 0).chunks(RTMP_FRAME) {
        let mut payload = Vec::new();
        enc.encode_packet(frame, &mut payload).unwrap();
        assert_eq!(to_sip.push_speex(&payload).unwrap(), 1);
        let mut bytes = Vec::new();
        assert_eq!(to_sip.next_frame(&mut bytes).unwrap(), Some(160));
        assert_eq!(to_sip.next_frame(&mut Vec::new()).unwrap(), None);
        out.extend(bytes.iter().map(|&c| G711Law::Pcmu.decode_sample(c)));
    }
    let snr = tone_snr(&out, 8000, 1000.0, 1600);
    assert!(snr > 34.0, "{snr}");
}

#[test]
fn echo_through_both_halves_keeps_the_tone() {
    // Speex WB -> PCMU -> Speex WB, as a SIP peer echoing the call back.
    let (mut to_sip, mut to_rtmp) = transcoders(Codec::Pcmu, 8).unwrap();
    let config = SpeexEncoderConfig {
        complexity: SPEEX_COMPLEXITY,
        ..SpeexEncoderConfig::wideband()
    };
    let mut enc = SpeexEncoder::new(config).unwrap();
    let mut dec = SpeexDecoder::new(SpeexMode::Wideband).unwrap();
    let mut out = Vec::new();
    for frame in tone(1000.0, RTMP_RATE, 80_000, 0).chunks(RTMP_FRAME) {
        let mut speex = Vec::new();
        enc.encode_packet(frame, &mut speex).unwrap();
        to_sip.push_speex(&speex).unwrap();
        let mut g711 = Vec::new();
        while to_sip.next_frame(&mut g711).unwrap().is_some() {
            to_rtmp.push_payload(&g711).unwrap();
            g711.clear();
        }
        let mut back = Vec::new();
        while to_rtmp.next_frame(&mut back).unwrap() {
            dec.decode(&back, &mut out).unwrap();
            back.clear();
        }
    }
    let snr = tone_snr(&out, RTMP_RATE, 1000.0, 3200);
    assert!(snr > 30.0, "{snr}");
}
