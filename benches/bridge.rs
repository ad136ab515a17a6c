//! Cost of the media bridge per 20 ms of audio, path by path, next to the
//! bare codec calls of the same path (decode + resample + encode done
//! directly): the difference is the bridge's own overhead (FLV parsing,
//! re-framing, RTP packets, jitter buffer, timestamps, queues).
//!
//! `cargo bench --bench bridge -- --warm-up-time 1 --measurement-time 3`
//!
//! Every path runs on a virtual clock advancing 20 ms per iteration, with
//! a 1 kHz tone pre-encoded by the sender's codec. Nellymoser 8 kHz
//! messages hold one 256-sample block (32 ms): that benchmark's iteration
//! is 5 messages = 160 ms = 8 RTP packets.
//!
//! On a shared machine two criterion runs minutes apart differ by more
//! than the overhead being measured, so after criterion each path also
//! runs **paired**: bridge step and codec step alternate, each timed on
//! its own, and the medians are printed (`paired <path>: ...`); the
//! overhead figure comes from those.

use rtmp2sip::time::RtmpTimestamp;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rand::rngs::mock::StepRng;
use rtmp2sip::media::codec::{Codec, Direction, Negotiated};
use rtmp2sip::media::{Bridge, BridgeConfig, RtmpOut};
use rtmp2sip_codecs::{
    speex_frame_count, AudioDecoder, AudioEncoder, G711Decoder, G711Encoder, G711Law, G722Encoder,
    NellymoserDecoder, NellymoserEncoder, OpusEncoder, OpusEncoderConfig, Resampler, SpeexDecoder,
    SpeexEncoder, SpeexEncoderConfig, SpeexMode,
};

/// The client's Speex encoder complexity (the bridge's `[media]
/// speex_complexity` default).
const SPEEX_COMPLEXITY: u8 = 3;
/// Pre-encoded frames cycled through.
const FRAMES: usize = 50;
/// Paired iterations (after as many for warm-up).
const PAIRED: usize = 3000;

type Step = Box<dyn FnMut()>;

fn tone(rate: u32, len: usize, offset: usize) -> Vec<i16> {
    (offset..offset + len)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            ((t * 1000.0 * std::f64::consts::TAU).sin() * 8000.0) as i16
        })
        .collect()
}

fn speex_wb() -> SpeexEncoder {
    SpeexEncoder::new(SpeexEncoderConfig {
        complexity: SPEEX_COMPLEXITY,
        ..SpeexEncoderConfig::wideband()
    })
    .expect("speex")
}

fn peer() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 5004))
}

fn bridge(codec: Codec) -> (Bridge, Instant) {
    let t0 = Instant::now();
    let cfg = BridgeConfig {
        sip_codec: Negotiated {
            codec,
            pt: codec.default_pt(),
            recv_pt: codec.default_pt(),
            dtmf_pt: Some(101),
            recv_dtmf_pt: Some(101),
            ptime_ms: 20,
            direction: Direction::SendRecv,
            remote_rtp: peer(),
            remote_rtcp: SocketAddr::from(([192, 0, 2, 1], 5005)),
            rtcp_mux: false,
            srtp: None,
        },
        jitter_ms: 60,
        speex_quality: 8,
        // The gateway's defaults: 3 toward the client for wideband far
        // ends and toward SIP, 1 for audio from narrowband ones (PCMU).
        speex_complexity: rtmp2sip::media::SpeexComplexity::default(),
        // Narrowband frames toward the client for PCMU, as the gateway does.
        speex_mode_narrowband: rtmp2sip::media::SPEEX_MODE_NARROWBAND,
        speex_quality_narrowband: rtmp2sip::media::SPEEX_QUALITY_NARROWBAND,
        opus_complexity: 5,
        rtmp_out: RtmpOut::Speex,
        rtmp_out_max_ms: 400,
        rtp_timeout: Duration::from_secs(3600),
        ntp_at_start: 0,
        latching: rtmp2sip::media::LatchMode::Any,
    };
    let b = Bridge::new(cfg, t0, &mut StepRng::new(1, 1)).expect("bridge");
    (b, t0)
}

/// FLV bodies of 20 ms Speex WB frames (header 0xB2).
fn speex_bodies() -> Vec<Vec<u8>> {
    let mut enc = speex_wb();
    (0..FRAMES)
        .map(|i| {
            let mut body = vec![0xB2];
            enc.encode_packet(&tone(16_000, 320, 320 * i), &mut body)
                .expect("encode");
            body
        })
        .collect()
}

/// RTMP -> SIP through the bridge: `per_step` messages of `ms` each per
/// step, RTP drained.
fn bridge_up(codec: Codec, bodies: Vec<Vec<u8>>, ms: u32, per_step: usize) -> Step {
    let (mut b, t0) = bridge(codec);
    let mut i = 0u32;
    Box::new(move || {
        for _ in 0..per_step {
            let body = &bodies[i as usize % bodies.len()];
            let now = t0 + Duration::from_millis(u64::from(i * ms));
            b.handle_rtmp_audio(now, RtmpTimestamp(i * ms), black_box(body))
                .expect("audio");
            while let Some(t) = b.poll_transmit() {
                black_box(t);
            }
            i += 1;
        }
    })
}

/// SIP -> RTMP through the bridge: one RTP packet per step at its arrival
/// time; due frames play, RTMP audio drained.
fn bridge_down(codec: Codec, payloads: Vec<Vec<u8>>) -> Step {
    let (mut b, t0) = bridge(codec);
    let mut i = 0u32;
    Box::new(move || {
        let payload = &payloads[i as usize % payloads.len()];
        let now = t0 + Duration::from_millis(20 * u64::from(i));
        let pkt = rtp(codec.default_pt(), i as u16, i.wrapping_mul(160), payload);
        b.handle_rtp(now, peer(), black_box(&pkt)).expect("rtp");
        if b.poll_timeout().is_some_and(|t| t <= now) {
            b.handle_timeout(now);
        }
        while let Some(a) = b.poll_rtmp_audio() {
            black_box(a);
        }
        while let Some(t) = b.poll_transmit() {
            black_box(t);
        }
        i += 1;
    })
}

fn rtp(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload.len());
    p.extend_from_slice(&[0x80, pt]);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x5151_5151u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Criterion for both steps, then the paired medians.
fn run(c: &mut Criterion, name: &str, mut bridge: Step, mut codecs: Step) {
    c.bench_function(&format!("{name}/bridge"), |b| b.iter(&mut bridge));
    c.bench_function(&format!("{name}/codecs"), |b| b.iter(&mut codecs));
    let (mut tb, mut tc) = (Vec::with_capacity(PAIRED), Vec::with_capacity(PAIRED));
    for k in 0..2 * PAIRED {
        let t = Instant::now();
        bridge();
        let b = t.elapsed();
        let t = Instant::now();
        codecs();
        let c = t.elapsed();
        if k >= PAIRED {
            tb.push(b);
            tc.push(c);
        }
    }
    let mut diff: Vec<f64> = tb
        .iter()
        .zip(&tc)
        .map(|(b, c)| b.as_secs_f64() - c.as_secs_f64())
        .collect();
    diff.sort_by(f64::total_cmp);
    let d = diff[PAIRED / 2] * 1e6;
    tb.sort();
    tc.sort();
    let (b, c) = (
        tb[PAIRED / 2].as_secs_f64() * 1e6,
        tc[PAIRED / 2].as_secs_f64() * 1e6,
    );
    // A percentage only where a codec runs.
    let pct = if c > 1.0 {
        format!("{:.1}%", 100.0 * (b - c) / c)
    } else {
        "-".into()
    };
    println!(
        "paired {name}: bridge {b:.3} us, codecs {c:.3} us (medians), overhead {:.3} us = {pct}; \
         median of paired differences {d:.3} us",
        b - c
    );
}

/// The bare codec calls of one step of a transcoding path: decode
/// `per_step` payloads (after `skip` header bytes), resample when `rs` is
/// given, and encode whole encoder frames as the bridge does (the
/// resampler's first call is short by its latency).
fn bare_transcode(
    payloads: Vec<Vec<u8>>,
    skip: usize,
    per_step: usize,
    mut dec: Box<dyn AudioDecoder>,
    mut rs: Option<Resampler>,
    mut enc: Box<dyn AudioEncoder>,
) -> Step {
    let frame = enc.frame_samples();
    let (mut pcm, mut pending, mut out) = (Vec::new(), Vec::new(), Vec::new());
    let mut i = 0;
    Box::new(move || {
        pcm.clear();
        out.clear();
        for _ in 0..per_step {
            dec.decode(black_box(&payloads[i % FRAMES][skip..]), &mut pcm)
                .expect("dec");
            i += 1;
        }
        match rs.as_mut() {
            Some(rs) => rs.process(&pcm, &mut pending),
            None => pending.extend_from_slice(&pcm),
        }
        let whole = pending.len() - pending.len() % frame;
        for f in pending[..whole].chunks_exact(frame) {
            enc.encode(f, &mut out).expect("enc");
        }
        pending.drain(..whole);
        black_box(&out);
    })
}

fn speex_wb_decoder() -> Box<dyn AudioDecoder> {
    Box::new(SpeexDecoder::new(SpeexMode::Wideband).expect("dec"))
}

fn speex_to_pcmu(c: &mut Criterion) {
    let bodies = speex_bodies();
    let bridge = bridge_up(Codec::Pcmu, bodies.clone(), 20, 1);
    let rs = Resampler::voip(16_000, 8000).expect("rs");
    let enc = Box::new(G711Encoder::new(G711Law::Pcmu));
    let codecs = bare_transcode(bodies, 1, 1, speex_wb_decoder(), Some(rs), enc);
    run(c, "speex_to_pcmu", bridge, codecs);
}

fn speex_to_opus(c: &mut Criterion) {
    let bodies = speex_bodies();
    let bridge = bridge_up(Codec::Opus, bodies.clone(), 20, 1);
    let rs = Resampler::voip(16_000, 48_000).expect("rs");
    let enc = OpusEncoder::new(OpusEncoderConfig {
        sample_rate: 48_000,
        complexity: 5,
        bitrate: Some(32_000),
        fec: true,
        packet_loss_percent: 10,
    })
    .expect("opus");
    let codecs = bare_transcode(bodies, 1, 1, speex_wb_decoder(), Some(rs), Box::new(enc));
    run(c, "speex_to_opus", bridge, codecs);
}

fn speex_to_g722(c: &mut Criterion) {
    let bodies = speex_bodies();
    let bridge = bridge_up(Codec::G722, bodies.clone(), 20, 1);
    let enc = Box::new(G722Encoder::new().expect("g722"));
    let codecs = bare_transcode(bodies, 1, 1, speex_wb_decoder(), None, enc);
    run(c, "speex_to_g722", bridge, codecs);
}

fn speex_passthrough(c: &mut Criterion) {
    let bodies = speex_bodies();
    let bridge = bridge_up(Codec::Speex16k, bodies.clone(), 20, 1);
    let mut i = 0;
    let codecs = Box::new(move || {
        black_box(speex_frame_count(
            black_box(&bodies[i % FRAMES][1..]),
            SpeexMode::Wideband,
        ));
        i += 1;
    });
    run(c, "speex_passthrough", bridge, codecs);
}

fn g711_passthrough(c: &mut Criterion) {
    let mut enc = G711Encoder::new(G711Law::Pcmu);
    let bodies: Vec<Vec<u8>> = (0..FRAMES)
        .map(|i| {
            let mut body = vec![0x82];
            enc.encode(&tone(8000, 160, 160 * i), &mut body)
                .expect("enc");
            body
        })
        .collect();
    let bridge = bridge_up(Codec::Pcmu, bodies.clone(), 20, 1);
    let mut i = 0;
    // No codec runs: the bare step only touches the bytes.
    let codecs = Box::new(move || {
        black_box(&bodies[i % FRAMES]);
        i += 1;
    });
    run(c, "g711_passthrough", bridge, codecs);
}

fn pcmu_to_speex(c: &mut Criterion) {
    let mut g711 = G711Encoder::new(G711Law::Pcmu);
    let payloads: Vec<Vec<u8>> = (0..FRAMES)
        .map(|i| {
            let mut p = Vec::new();
            g711.encode(&tone(8000, 160, 160 * i), &mut p).expect("enc");
            p
        })
        .collect();
    let bridge = bridge_down(Codec::Pcmu, payloads.clone());
    let dec = Box::new(G711Decoder::new(G711Law::Pcmu));
    let rs = Resampler::voip(8000, 16_000).expect("rs");
    let codecs = bare_transcode(payloads, 0, 1, dec, Some(rs), Box::new(speex_wb()));
    run(c, "pcmu_to_speex", bridge, codecs);
}

fn nelly8k_to_pcmu(c: &mut Criterion) {
    let mut nelly = NellymoserEncoder::new(8000).expect("nelly");
    let bodies: Vec<Vec<u8>> = (0..FRAMES)
        .map(|i| {
            let mut body = vec![0x52];
            nelly
                .encode(&tone(8000, 256, 256 * i), &mut body)
                .expect("enc");
            body
        })
        .collect();
    // 5 one-block messages = 160 ms per step.
    let bridge = bridge_up(Codec::Pcmu, bodies.clone(), 32, 5);
    let dec = Box::new(NellymoserDecoder::new(8000).expect("dec"));
    let enc = Box::new(G711Encoder::new(G711Law::Pcmu));
    let codecs = bare_transcode(bodies, 1, 5, dec, None, enc);
    run(c, "nelly8k_to_pcmu_160ms", bridge, codecs);
}

criterion_group!(
    benches,
    speex_to_pcmu,
    pcmu_to_speex,
    nelly8k_to_pcmu,
    speex_to_opus,
    speex_to_g722,
    speex_passthrough,
    g711_passthrough
);
criterion_main!(benches);
