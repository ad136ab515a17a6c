//! Tone fidelity of each stage of the transcoding halves, and helpers
//! (SNR against a fitted sine) shared with the bridge tests.

use super::*;
use crate::media::codec::Codec;
use factory::{SPEEX_COMPLEXITY, SPEEX_MODE_NARROWBAND, SPEEX_QUALITY_NARROWBAND};
use rtmp2sip_codecs::{
    AudioDecoder, AudioEncoder, G711Law, Resampler, SpeexDecoder, SpeexEncoder, SpeexEncoderConfig,
    SpeexMode,
};

/// Samples per 20 ms Speex wideband frame.
pub(crate) const RTMP_FRAME: usize = 320;
/// Speex WB rate.
const RTMP_RATE: u32 = 16_000;

/// Bridge settings used in tests.
pub(crate) const SETTINGS: EncoderSettings = EncoderSettings {
    speex_quality: 8,
    // Complexity 3 for narrowband far ends too (the default there is
    // SPEEX_COMPLEXITY_NARROWBAND, 1): the tone tests measure the bridge,
    // and below 3 libspeex skips its open-loop pitch search, so a pure
    // 1 kHz tone through PCMU comes out at ~15 dB SNR instead of ~34 dB
    // (speech scores the same by PESQ). `pipeline::factory`'s tests check
    // which complexity each far end gets.
    speex_complexity: SpeexComplexity {
        wideband: SPEEX_COMPLEXITY,
        narrowband: SPEEX_COMPLEXITY,
    },
    opus_complexity: 5,
    speex_mode_narrowband: SPEEX_MODE_NARROWBAND,
    speex_quality_narrowband: SPEEX_QUALITY_NARROWBAND,
};

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

fn to_sip(rtmp: RtmpCodec, sip: Codec) -> ToSip {
    ToSip::new(rtmp, sip, &RealCodecs, SETTINGS).unwrap()
}

fn to_rtmp(sip: Codec, out: RtmpCodec) -> ToRtmp {
    ToRtmp::new(sip, out, &RealCodecs, SETTINGS).unwrap()
}

/// Pushes one RTMP payload; returns (decoded samples, [(payload, ticks)]).
fn push_rtmp(half: &mut ToSip, payload: &[u8]) -> (usize, Vec<(Vec<u8>, u32)>) {
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    let samples = half
        .push(payload, &mut scratch, &mut |p, ticks| {
            out.push((p.to_vec(), ticks));
            Ok(())
        })
        .unwrap();
    (samples, out)
}

fn push_rtp(half: &mut ToRtmp, payload: &[u8]) -> Vec<RtmpBody> {
    let mut out = Vec::new();
    half.push(payload, &mut |b| out.push(b)).unwrap();
    out
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
    let mut half = to_rtmp(Codec::Pcmu, RtmpCodec::Speex);
    assert!(!half.is_passthrough());
    let mut dec = SpeexDecoder::new(SpeexMode::Wideband).unwrap();
    let mut out = Vec::new();
    for frame in tone_8k().chunks(160) {
        let bodies = push_rtp(&mut half, &pcmu(frame));
        assert_eq!(bodies.len(), 1);
        assert_eq!(bodies[0].samples, 320);
        assert_eq!(bodies[0].body[0], 0xB2);
        dec.decode(&bodies[0].body[1..], &mut out).unwrap();
    }
    assert_eq!(out.len(), 80_000);
    let snr = tone_snr(&out, RTMP_RATE, 1000.0, 3200);
    assert!(snr > 34.0, "{snr}");
}

#[test]
fn to_sip_makes_one_packet_per_frame_and_keeps_the_tone() {
    let mut half = to_sip(RtmpCodec::Speex, Codec::Pcmu);
    let config = SpeexEncoderConfig {
        complexity: SPEEX_COMPLEXITY,
        ..SpeexEncoderConfig::wideband()
    };
    let mut enc = SpeexEncoder::new(config).unwrap();
    let mut out = Vec::new();
    for frame in tone(1000.0, RTMP_RATE, 80_000, 0).chunks(RTMP_FRAME) {
        let mut payload = Vec::new();
        enc.encode_packet(frame, &mut payload).unwrap();
        let (samples, packets) = push_rtmp(&mut half, &payload);
        assert_eq!(samples, 320);
        assert_eq!(packets.len(), 1);
        assert_eq!(packets[0].1, 160, "ticks");
        out.extend(packets[0].0.iter().map(|&c| G711Law::Pcmu.decode_sample(c)));
    }
    let snr = tone_snr(&out, 8000, 1000.0, 1600);
    assert!(snr > 34.0, "{snr}");
}

#[test]
fn echo_through_both_halves_keeps_the_tone() {
    // Speex WB -> PCMU -> Speex WB, as a SIP peer echoing the call back.
    let mut up = to_sip(RtmpCodec::Speex, Codec::Pcmu);
    let mut down = to_rtmp(Codec::Pcmu, RtmpCodec::Speex);
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
        for (g711, _) in push_rtmp(&mut up, &speex).1 {
            for b in push_rtp(&mut down, &g711) {
                dec.decode(&b.body[1..], &mut out).unwrap();
            }
        }
    }
    let snr = tone_snr(&out, RTMP_RATE, 1000.0, 3200);
    assert!(snr > 30.0, "{snr}");
}

#[test]
fn nellymoser_blocks_are_reframed_into_20_ms_packets() {
    // 256-sample blocks at 44.1 kHz -> 160-sample PCMU packets: the RTP
    // ticks sent follow the audio in, within one packet.
    let rate = NellyRate::Hz44100;
    let mut half = to_sip(RtmpCodec::Nellymoser(rate), Codec::Pcmu);
    let mut enc = rtmp2sip_codecs::NellymoserEncoder::new(rate.hz()).unwrap();
    let (mut samples_in, mut ticks_out) = (0u64, 0u64);
    for block in tone(1000.0, rate.hz(), 256 * 400, 0).chunks(256) {
        let mut payload = Vec::new();
        enc.encode(block, &mut payload).unwrap();
        assert_eq!(payload.len(), 64);
        let (samples, packets) = push_rtmp(&mut half, &payload);
        samples_in += samples as u64;
        for (p, ticks) in packets {
            assert_eq!((p.len(), ticks), (160, 160));
            ticks_out += u64::from(ticks);
        }
    }
    let expected = samples_in * 8000 / 44_100;
    assert!(expected - ticks_out <= 160 + 8, "{expected} vs {ticks_out}");
}

#[test]
fn nellymoser_out_packs_whole_blocks_per_message() {
    for (rate, blocks) in [
        (NellyRate::Hz8000, 1),
        (NellyRate::Hz16000, 2),
        (NellyRate::Hz44100, 5),
    ] {
        let mut half = to_rtmp(Codec::Pcmu, RtmpCodec::Nellymoser(rate));
        let mut bodies = Vec::new();
        for frame in tone_8k()[..8000].chunks(160) {
            bodies.extend(push_rtp(&mut half, &pcmu(frame)));
        }
        assert!(!bodies.is_empty());
        for b in &bodies {
            assert_eq!(b.body[0], rate.header_byte());
            assert_eq!(b.body.len(), 1 + 64 * blocks, "{rate:?}");
            assert_eq!(b.samples, 256 * blocks);
        }
        let total: usize = bodies.iter().map(|b| b.samples).sum();
        let expected = rate.hz() as usize;
        assert!(expected - total < 256 * blocks + 64, "{rate:?}: {total}");
    }
}

#[test]
fn g711_passthrough_recuts_bytes_unchanged() {
    let mut half = to_sip(RtmpCodec::G711(G711Law::Pcma), Codec::Pcma);
    assert!(half.is_passthrough());
    let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut sent = Vec::new();
    for chunk in bytes.chunks(93) {
        for (p, ticks) in push_rtmp(&mut half, chunk).1 {
            assert_eq!((p.len(), ticks), (160, 160));
            sent.extend(p);
        }
    }
    assert_eq!(sent, bytes[..960]);
    let mut back = to_rtmp(Codec::Pcma, RtmpCodec::G711(G711Law::Pcma));
    assert!(back.is_passthrough());
    let b = push_rtp(&mut back, &bytes[..160]);
    assert_eq!(b[0].body[0], 0x72);
    assert_eq!(&b[0].body[1..], &bytes[..160]);
    assert_eq!(b[0].samples, 160);
    // A lost packet: 160 bytes of A-law concealment (the last packet
    // repeated with a fade), 20 ms on the timeline.
    let mut lost = Vec::new();
    back.conceal(160, None, &mut |b| lost.push(b));
    assert_eq!(lost.len(), 1);
    assert_eq!((lost[0].body.len(), lost[0].samples), (161, 160));
    assert_eq!(lost[0].body[0], 0x72);
    // Speex passthrough still leaves it to the client's decoder.
    let mut speex = to_rtmp(Codec::Speex16k, RtmpCodec::Speex);
    let mut none = Vec::new();
    speex.conceal(320, None, &mut |b| none.push(b));
    assert!(none.is_empty());
}
