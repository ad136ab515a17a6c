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

fn resample(c: &mut Criterion) {
    let pcm = tone(16000, 320);
    let mut resampler = Resampler::voip(16000, 8000).expect("resampler");
    let mut out = Vec::with_capacity(160);
    c.bench_function("resample_16k_to_8k_20ms", |b| {
        b.iter(|| {
            out.clear();
            resampler.process(black_box(&pcm), &mut out);
        })
    });
}

criterion_group!(benches, speex, g711, resample);
criterion_main!(benches);
