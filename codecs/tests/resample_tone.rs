//! Resampler round trips of a 1 kHz tone.

mod common;

use common::{aligned_snr_db, dominant_frequency, energy, sine};
use rtmp2sip_codecs::resample::{Resampler, DEFAULT_QUALITY, SUPPORTED_RATES};

/// Streams `pcm` through `resampler` in 20 ms frames.
fn stream(resampler: &mut Resampler, pcm: &[i16]) -> Vec<i16> {
    let frame = resampler.from_hz() as usize / 50;
    let mut out = Vec::new();
    for chunk in pcm.chunks(frame) {
        resampler.process(chunk, &mut out);
    }
    out
}

#[test]
fn sixteen_to_eight_and_back_keeps_25_db_snr() {
    let pcm = sine(1000.0, 16000, 10000.0, 16000);
    let mut down = Resampler::new(16000, 8000, DEFAULT_QUALITY).unwrap();
    let mut up = Resampler::new(8000, 16000, DEFAULT_QUALITY).unwrap();
    let narrow = stream(&mut down, &pcm);
    assert_eq!(narrow.len(), 8000);
    let back = stream(&mut up, &narrow);
    assert_eq!(back.len(), 16000);
    // Compare past the start-up transient; the tone's period is 16 samples,
    // so alignment within one period is enough.
    let reference = &pcm[1600..14000];
    let (snr, delay) = aligned_snr_db(reference, &back[1600..], 16);
    assert!(snr >= 25.0, "SNR {snr:.1} dB at delay {delay}");
}

#[test]
fn round_trip_delay_is_low_and_matches_the_reported_latency() {
    let mut impulse = vec![0i16; 3200];
    impulse[320] = 20000;
    let mut down = Resampler::voip(16000, 8000).unwrap();
    let mut up = Resampler::voip(8000, 16000).unwrap();
    let back = stream(&mut up, &stream(&mut down, &impulse));
    let peak = (0..back.len())
        .max_by_key(|&i| back[i].unsigned_abs())
        .unwrap();
    let delay = peak - 320;
    let reported = down.output_latency() * 2 + up.output_latency();
    assert!(
        delay.abs_diff(reported) <= 2,
        "delay {delay}, reported {reported}"
    );
    // Under 6 ms (96 samples at 16 kHz) for the round trip.
    assert!(delay <= 96, "{delay}");
}

#[test]
fn eight_to_forty_eight_keeps_the_tone() {
    let pcm = sine(1000.0, 8000, 10000.0, 8000);
    let mut up = Resampler::voip(8000, 48000).unwrap();
    let out = stream(&mut up, &pcm);
    assert_eq!(out.len(), 48000);
    let settled = &out[4800..];
    assert_eq!(dominant_frequency(settled, 48000, 100.0), 1000.0);
    let ratio = energy(settled) / energy(&pcm[800..]);
    assert!((0.9..1.1).contains(&ratio), "{ratio}");
}

#[test]
fn every_rate_pair_keeps_a_1_khz_tone() {
    for from in SUPPORTED_RATES {
        for to in SUPPORTED_RATES {
            let pcm = sine(1000.0, from, 10000.0, from as usize / 2);
            let mut resampler = Resampler::voip(from, to).unwrap();
            let out = stream(&mut resampler, &pcm);
            let settled = &out[to as usize / 10..];
            assert_eq!(
                dominant_frequency(settled, to, 50.0),
                1000.0,
                "{from}->{to}"
            );
            let ratio = energy(settled) / energy(&pcm[from as usize / 10..]);
            assert!((0.85..1.15).contains(&ratio), "{from}->{to}: {ratio}");
        }
    }
}
