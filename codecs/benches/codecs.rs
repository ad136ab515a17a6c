//! Cost of one 20 ms frame through each codec (criterion).
//! Run with `cargo bench -p rtmp2sip-codecs --bench codecs`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rtmp2sip_codecs::resample::Resampler;
use rtmp2sip_codecs::{
    AudioDecoder, AudioEncoder, G711Decoder, G711Encoder, G711Law, SpeexDecoder, SpeexEncoder,
    SpeexEncoderConfig, SpeexMode,
};

fn tone(rate: u32, len: usize) -> Vec<i16> {
    (0..len)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            ((t * 1000.0 * std::f64::consts::TAU).sin() * 8000.0) as i16
        })
        .collect()
}

fn speex(c: &mut Criterion) {
    let pcm = tone(16000, 320);
    let mut encoder = SpeexEncoder::new(SpeexEncoderConfig::wideband()).expect("encoder");
    let mut payload = Vec::new();
    c.bench_function("speex_wb_encode_20ms", |b| {
        b.iter(|| {
            payload.clear();
            encoder
                .encode(black_box(&pcm), &mut payload)
                .expect("encode");
        })
    });
    let mut decoder = SpeexDecoder::new(SpeexMode::Wideband).expect("decoder");
    let mut out = Vec::with_capacity(320);
    c.bench_function("speex_wb_decode_20ms", |b| {
        b.iter(|| {
            out.clear();
            decoder
                .decode(black_box(&payload), &mut out)
                .expect("decode");
        })
    });
}

fn g711(c: &mut Criterion) {
    let pcm = tone(8000, 160);
    let mut encoder = G711Encoder::new(G711Law::Pcmu);
    let mut decoder = G711Decoder::new(G711Law::Pcmu);
    let mut payload = Vec::with_capacity(160);
    c.bench_function("pcmu_encode_20ms", |b| {
        b.iter(|| {
            payload.clear();
            encoder
                .encode(black_box(&pcm), &mut payload)
                .expect("encode");
        })
    });
    let mut out = Vec::with_capacity(160);
    c.bench_function("pcmu_decode_20ms", |b| {
        b.iter(|| {
            out.clear();
            decoder
                .decode(black_box(&payload), &mut out)
                .expect("decode");
        })
    });
}

/// The C resampler (`Resampler`, libspeexdsp) and, for comparison, the
/// pure-Rust port it replaced (`speexdsp-resampler` 0.1, fed f32 as the old
/// `Resampler` did), one 20 ms frame per iteration.
fn resample(c: &mut Criterion) {
    for (from, to) in [(16000, 8000), (8000, 16000), (48000, 16000), (16000, 48000)] {
        let pcm = tone(from, from as usize / 50);
        let mut resampler = Resampler::voip(from, to).expect("resampler");
        let mut out = Vec::with_capacity(to as usize / 50);
        let name = format!("resample_{}k_to_{}k_20ms", from / 1000, to / 1000);
        c.bench_function(&name, |b| {
            b.iter(|| {
                out.clear();
                resampler.process(black_box(&pcm), &mut out);
            })
        });
    }
    for (from, to) in [(16000, 8000), (8000, 16000)] {
        let pcm: Vec<f32> = tone(from, from as usize / 50)
            .iter()
            .map(|&s| f32::from(s))
            .collect();
        let mut state =
            speexdsp_resampler::State::new(1, from as usize, to as usize, 3).expect("port");
        let mut buf = vec![0.0f32; to as usize / 50 + 16];
        let mut out: Vec<i16> = Vec::with_capacity(to as usize / 50);
        let name = format!("resample_port_{}k_to_{}k_20ms", from / 1000, to / 1000);
        c.bench_function(&name, |b| {
            b.iter(|| {
                out.clear();
                let (_, written) = state
                    .process_float(0, black_box(&pcm), &mut buf)
                    .expect("process");
                out.extend(buf[..written].iter().map(|&s| s.round() as i16));
            })
        });
    }
}

criterion_group!(benches, speex, g711, resample);
criterion_main!(benches);
