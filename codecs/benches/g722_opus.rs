//! Cost of one 20 ms frame through G.722, Opus and the resampler
//! (criterion). Run with `cargo bench -p rtmp2sip-codecs --bench g722_opus`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rtmp2sip_codecs::resample::Resampler;
use rtmp2sip_codecs::{
    AudioDecoder, AudioEncoder, G722Decoder, G722Encoder, OpusDecoder, OpusEncoder,
    OpusEncoderConfig,
};

/// `len` samples of a 1 kHz tone with a little 3.1 kHz, at `rate` Hz.
fn tone(rate: u32, len: usize) -> Vec<i16> {
    (0..len)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let x = (t * 1000.0 * std::f64::consts::TAU).sin() * 8000.0
                + (t * 3100.0 * std::f64::consts::TAU).sin() * 2000.0;
            x as i16
        })
        .collect()
}

fn g722(c: &mut Criterion) {
    let pcm = tone(16000, 320);
    let mut encoder = G722Encoder::new().expect("encoder");
    let mut payload = Vec::with_capacity(160);
    c.bench_function("g722_encode_20ms", |b| {
        b.iter(|| {
            payload.clear();
            encoder
                .encode(black_box(&pcm), &mut payload)
                .expect("encode");
        })
    });
    let mut decoder = G722Decoder::new().expect("decoder");
    let mut out = Vec::with_capacity(320);
    c.bench_function("g722_decode_20ms", |b| {
        b.iter(|| {
            out.clear();
            decoder
                .decode(black_box(&payload), &mut out)
                .expect("decode");
        })
    });
}

fn opus_encode(c: &mut Criterion) {
    for rate in [48000, 16000] {
        for complexity in [5, 9] {
            let config = OpusEncoderConfig {
                sample_rate: rate,
                complexity,
                ..OpusEncoderConfig::default()
            };
            let mut encoder = OpusEncoder::new(config).expect("encoder");
            // A few seconds of signal, so the encoder sees a changing input.
            let pcm = tone(rate, rate as usize * 2);
            let mut frames = pcm.chunks_exact(encoder.frame_samples()).cycle();
            let mut payload = Vec::with_capacity(1500);
            let name = format!("opus_encode_{}k_c{complexity}_20ms", rate / 1000);
            c.bench_function(&name, |b| {
                b.iter(|| {
                    payload.clear();
                    let frame = frames.next().expect("cycle");
                    encoder
                        .encode(black_box(frame), &mut payload)
                        .expect("encode");
                })
            });
        }
    }
}

fn opus_decode(c: &mut Criterion) {
    for rate in [48000, 16000] {
        let config = OpusEncoderConfig {
            sample_rate: rate,
            ..OpusEncoderConfig::default()
        };
        let mut encoder = OpusEncoder::new(config).expect("encoder");
        let pcm = tone(rate, rate as usize * 2);
        let packets: Vec<Vec<u8>> = pcm
            .chunks_exact(encoder.frame_samples())
            .map(|frame| {
                let mut packet = Vec::new();
                encoder.encode(frame, &mut packet).expect("encode");
                packet
            })
            .collect();
        let mut decoder = OpusDecoder::new(rate).expect("decoder");
        let mut next = packets.iter().cycle();
        let mut out = Vec::with_capacity(rate as usize / 50);
        let name = format!("opus_decode_{}k_20ms", rate / 1000);
        c.bench_function(&name, |b| {
            b.iter(|| {
                out.clear();
                let packet = next.next().expect("cycle");
                decoder.decode(black_box(packet), &mut out).expect("decode");
            })
        });
        let mut out = Vec::with_capacity(rate as usize / 50);
        let name = format!("opus_conceal_{}k_20ms", rate / 1000);
        c.bench_function(&name, |b| {
            b.iter(|| {
                out.clear();
                decoder.conceal(black_box(rate as usize / 50), &mut out);
            })
        });
    }
}

fn resample(c: &mut Criterion) {
    for (from, to) in [
        (16000, 8000),
        (8000, 16000),
        (16000, 48000),
        (48000, 16000),
        (44100, 8000),
    ] {
        let pcm = tone(from, from as usize / 50);
        let mut resampler = Resampler::voip(from, to).expect("resampler");
        let mut out = Vec::with_capacity(to as usize / 50 + 2);
        let name = format!("resample_{}_to_{}_20ms", from, to);
        c.bench_function(&name, |b| {
            b.iter(|| {
                out.clear();
                resampler.process(black_box(&pcm), &mut out);
            })
        });
    }
}

criterion_group!(benches, g722, opus_encode, opus_decode, resample);
criterion_main!(benches);
