//! Per-codec behaviour of the bridge: G.711 passthrough byte for byte, a
//! client switching codecs mid-call, loss concealment for every SIP codec,
//! and corrupt input of every codec.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use rtmp2sip_codecs::G711Law;

use super::bridge::{Bridge, MediaEvent, RtmpAudio};
use super::matrix_tests::assert_sample_timestamps;
use super::pipeline::{sip_codec, NellyRate, RtmpCodec, RtmpOut};
use super::test_support::*;
use crate::media::codec::Codec;
use crate::time::RtmpTimestamp;

/// Arbitrary bytes, deterministic.
fn noise_bytes(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

#[test]
fn g711_passthrough_is_byte_identical_both_ways() {
    for (law, sip) in [(G711Law::Pcmu, Codec::Pcmu), (G711Law::Pcma, Codec::Pcma)] {
        let t0 = Instant::now();
        let mut b = bridge(config(sip, RtmpOut::Match), t0);
        let codec = RtmpCodec::G711(law);
        // Messages of uneven sizes: 93..=250 bytes.
        let bytes = noise_bytes(16_000, 7);
        let (mut at, mut sent) = (0usize, Vec::new());
        for size in (0..).map(|i| 93 + (i * 37) % 158) {
            let Some(chunk) = bytes.get(at..at + size) else {
                break;
            };
            let mut body = vec![codec.header_byte()];
            body.extend_from_slice(chunk);
            let ms = (at / 8) as u32;
            b.handle_rtmp_audio(
                t0 + Duration::from_millis(u64::from(ms)),
                RtmpTimestamp(ms),
                &body,
            )
            .unwrap();
            take_rtp(&mut b, &mut sent);
            at += size;
        }
        let carried: Vec<u8> = sent.iter().flat_map(|p| p.payload.clone()).collect();
        assert_eq!(
            carried,
            bytes[..carried.len()],
            "{sip}: every byte, in order"
        );
        assert!(at - carried.len() < 160);
        for w in sent.windows(2) {
            assert_eq!(w[0].payload.len(), 160);
            assert_eq!(w[1].ts.wrapping_sub(w[0].ts), 160);
        }
        // Back: each payload unchanged after the G.711 header byte.
        assert_eq!(b.rtmp_out_codec(), codec);
        let mut out = Vec::new();
        for i in 0..50u16 {
            let now = t0 + Duration::from_millis(20 * u64::from(i));
            run_timers(&mut b, now, &mut out);
            let payload = &bytes[160 * usize::from(i)..160 * usize::from(i + 1)];
            let pkt = rtp_packet(sip.default_pt(), i, 160 * u32::from(i), i == 0, payload);
            b.handle_rtp(now, peer(), &pkt).unwrap();
        }
        run_timers(&mut b, t0 + Duration::from_secs(2), &mut out);
        assert_eq!(out.len(), 50);
        for (i, a) in out.iter().enumerate() {
            assert_eq!(a.body[0], codec.header_byte());
            assert_eq!(&a.body[1..], &bytes[160 * i..160 * (i + 1)], "{sip}");
        }
        assert_sample_timestamps(codec, &out);
    }
}

#[test]
fn a_client_switching_codecs_mid_call_is_followed() {
    let t0 = Instant::now();
    let mut b = bridge(config(Codec::Pcmu, RtmpOut::Match), t0);
    let codecs = [
        RtmpCodec::Speex,
        RtmpCodec::Nellymoser(NellyRate::Hz44100),
        RtmpCodec::G711(G711Law::Pcmu),
        RtmpCodec::Nellymoser(NellyRate::Hz8000),
    ];
    let mut peer_ = Peer::new(Codec::Pcmu);
    let (mut start_ms, mut seq_next) = (0u64, None::<u16>);
    let mut ts_next = None::<u32>;
    for (k, codec) in codecs.into_iter().enumerate() {
        let mut client = Client::new(codec);
        let mut sent = Vec::new();
        let mut out: Vec<RtmpAudio> = Vec::new();
        for (ms, body) in client.tone_messages(1.0) {
            let ms = start_ms + u64::from(ms);
            let now = t0 + Duration::from_millis(ms);
            run_timers(&mut b, now, &mut out);
            b.handle_rtmp_audio(now, RtmpTimestamp(ms as u32), &body)
                .unwrap();
            if ms % 20 < 10 {
                // The peer talks too.
                b.handle_rtp(now, peer(), &peer_.next_packet()).unwrap();
            }
            take_rtp(&mut b, &mut sent);
        }
        start_ms += 1000;
        let events: Vec<MediaEvent> = std::iter::from_fn(|| b.poll_event()).collect();
        let from = k.checked_sub(1).map(|p| codecs[p]);
        assert!(
            events.contains(&MediaEvent::RtmpCodecChanged { from, to: codec }),
            "{events:?}"
        );
        assert_eq!(b.rtmp_in_codec(), Some(codec));
        assert_eq!(b.rtmp_out_codec(), codec, "match follows the client");
        // The RTP stream continues: one sequence, 20 ms steps, one talkspurt.
        let audio: Vec<&SentRtp> = sent.iter().filter(|p| p.pt == 0).collect();
        for p in &audio {
            if let (Some(seq), Some(ts)) = (seq_next, ts_next) {
                assert_eq!((p.seq, p.ts), (seq, ts), "{codec:?}");
            }
            assert_eq!(p.marker, seq_next.is_none());
            seq_next = Some(p.seq.wrapping_add(1));
            ts_next = Some(p.ts.wrapping_add(160));
        }
        let owned: Vec<SentRtp> = audio.into_iter().cloned().collect();
        let pcm = decode_sip(Codec::Pcmu, &owned);
        let snr = tone_snr(&pcm, 8000, 1000.0, 1600);
        assert!(
            snr > 20.0,
            "{codec:?} -> PCMU after the switch: {snr:.1} dB"
        );
        // What reaches the client is in its new codec, after the first
        // messages of the old one still queued.
        let last = out.last().unwrap();
        assert_eq!(last.body[0], codec.header_byte(), "{codec:?}");
    }
    assert_eq!(b.stats().rtmp_in_gaps, 0);
    assert_eq!(b.stats().rtmp_invalid, 0);
}

#[test]
fn speex_stays_the_output_until_the_client_publishes_and_in_speex_mode() {
    let t0 = Instant::now();
    let mut b = bridge(config(Codec::Pcma, RtmpOut::Speex), t0);
    let mut client = Client::new(RtmpCodec::Nellymoser(NellyRate::Hz16000));
    publish(&mut b, t0, &client.tone_messages(0.2));
    assert_eq!(b.rtmp_out_codec(), RtmpCodec::Speex);
    let mut b = bridge(config(Codec::Pcma, RtmpOut::Match), t0);
    assert_eq!(b.rtmp_out_codec(), RtmpCodec::Speex);
    // A refused format changes nothing.
    assert!(b
        .handle_rtmp_audio(t0, RtmpTimestamp(0), &[0x22, 1, 2, 3])
        .is_err());
    assert!(
        b.handle_rtmp_audio(t0, RtmpTimestamp(0), &[0x62; 65])
            .is_err(),
        "Nellymoser 5.5 kHz"
    );
    assert_eq!(b.rtmp_out_codec(), RtmpCodec::Speex);
    assert_eq!(b.rtmp_in_codec(), None);
}

/// Plays 2 s of tone from the peer with every 10th packet lost; returns
/// the RTMP output.
fn lossy_stream(sip: Codec, mode: RtmpOut, client: Option<RtmpCodec>) -> (Vec<RtmpAudio>, u64) {
    let t0 = Instant::now();
    let mut b = bridge(config(sip, mode), t0);
    if let Some(codec) = client {
        let msg = Client::new(codec).tone_messages(0.1).remove(0);
        b.handle_rtmp_audio(t0, RtmpTimestamp(0), &msg.1).unwrap();
    }
    let mut peer_ = Peer::new(sip);
    let mut out = Vec::new();
    for i in 0..100u64 {
        let now = t0 + Duration::from_millis(20 * i);
        run_timers(&mut b, now, &mut out);
        let pkt = peer_.next_packet();
        if i % 10 != 5 {
            b.handle_rtp(now, peer(), &pkt).unwrap();
        }
        while b.poll_transmit().is_some() {}
    }
    run_timers(&mut b, t0 + Duration::from_millis(2500), &mut out);
    (out, b.stats().jitter.lost)
}

#[test]
fn every_sip_codec_conceals_loss_toward_rtmp() {
    for sip in SIP_CODECS {
        // speex/16000 and speex/8000 to Speex are passthrough: use a
        // Nellymoser client.
        let (mode, client, out_codec) = match sip {
            Codec::Speex16k | Codec::Speex8k => (
                RtmpOut::Match,
                Some(RtmpCodec::Nellymoser(NellyRate::Hz16000)),
                RtmpCodec::Nellymoser(NellyRate::Hz16000),
            ),
            _ => (RtmpOut::Speex, None, RtmpCodec::Speex),
        };
        let (out, lost) = lossy_stream(sip, mode, client);
        assert_eq!(lost, 10, "{sip}");
        // Concealed audio fills the holes: one unbroken run of samples.
        assert_sample_timestamps(out_codec, &out);
        let samples: usize = out.iter().map(|a| out_codec.samples_in(&a.body[1..])).sum();
        let ms = samples as u32 * 1000 / out_codec.audio_rate();
        assert!(ms > 2000 - 60, "{sip}: {ms} ms");
        let pcm = decode_rtmp(out_codec, &out);
        let rate = out_codec.audio_rate();
        let snr = tone_snr(&pcm, rate, 1000.0, rate as usize / 5);
        eprintln!("SNR with 10% loss {sip} -> {out_codec:?}: {snr:.1} dB");
        // Against a sine fitted over the whole stream, a concealed frame
        // counts fully as noise unless it keeps the tone's phase: G.711
        // and G.722 repeat whole periods of 1 kHz (~24-25 dB measured);
        // the Speex and Opus models do not (~6-7 dB).
        let floor = match sip {
            Codec::Pcmu | Codec::Pcma | Codec::G722 => 20.0,
            _ => 4.0,
        };
        assert!(snr > floor, "{sip}: {snr:.1} dB");
    }
}

#[test]
fn speex_passthrough_leaves_a_lost_packet_to_the_clients_decoder() {
    // speex/8000 passes through too: narrowband frames toward the client.
    for sip in [Codec::Speex16k, Codec::Speex8k] {
        let (out, lost) = lossy_stream(sip, RtmpOut::Speex, None);
        assert_eq!((lost, out.len()), (10, 90), "{sip}");
        let steps: Vec<u32> = out
            .windows(2)
            .map(|w| w[1].timestamp_ms - w[0].timestamp_ms)
            .collect();
        assert_eq!(steps.iter().filter(|&&s| s == 40).count(), 10, "{steps:?}");
        assert!(steps.iter().all(|&s| s == 20 || s == 40));
        assert!(out
            .iter()
            .all(|a| a.body[0] == RtmpCodec::Speex.header_byte()));
    }
}

/// Plays `packets` 20 ms packets of tone from the peer, dropping those
/// `lost` picks; returns the peer's payloads and the RTMP output.
fn g711_passthrough_stream(
    law: G711Law,
    sip: Codec,
    packets: u64,
    lost: impl Fn(u64) -> bool,
) -> (Vec<Vec<u8>>, Vec<RtmpAudio>, Bridge) {
    let t0 = Instant::now();
    let mut b = bridge(config(sip, RtmpOut::G711(law)), t0);
    let mut peer_ = Peer::new(sip);
    let (mut sent, mut out) = (Vec::new(), Vec::new());
    for i in 0..packets {
        let now = t0 + Duration::from_millis(20 * i);
        run_timers(&mut b, now, &mut out);
        let pkt = peer_.next_packet();
        sent.push(super::rtp::parse(&pkt).unwrap().payload.to_vec());
        if !lost(i) {
            b.handle_rtp(now, peer(), &pkt).unwrap();
        }
        while b.poll_transmit().is_some() {}
    }
    run_timers(
        &mut b,
        t0 + Duration::from_millis(20 * packets + 500),
        &mut out,
    );
    (sent, out, b)
}

#[test]
fn g711_passthrough_conceals_a_lost_packet_at_its_timestamp() {
    for (law, sip) in [(G711Law::Pcmu, Codec::Pcmu), (G711Law::Pcma, Codec::Pcma)] {
        let (sent, out, b) = g711_passthrough_stream(law, sip, 100, |i| i % 10 == 5);
        assert_eq!((b.stats().jitter.lost, out.len()), (10, 100), "{law:?}");
        // One message per 20 ms, lost ones included: the timeline is kept.
        for w in out.windows(2) {
            assert_eq!(w[1].timestamp_ms - w[0].timestamp_ms, 20, "{law:?}");
        }
        let header = RtmpCodec::G711(law).header_byte();
        for (i, (a, payload)) in out.iter().zip(&sent).enumerate() {
            assert_eq!(a.body[0], header);
            assert_eq!(a.body.len(), 161, "{law:?} {i}");
            if i % 10 == 5 {
                // The concealment: the previous packet repeated, a little
                // quieter, never the lost bytes themselves (the tone's
                // phase differs) and never silence.
                assert_ne!(&a.body[1..], &payload[..], "{law:?} {i}");
                assert!(a.body[1..].iter().any(|&x| x != law.silence()));
            } else {
                assert_eq!(&a.body[1..], &payload[..], "{law:?} {i}: byte for byte");
            }
        }
        // The 1 kHz tone repeats every 8 samples: the repeated frame keeps
        // its phase, so the whole stream stays a clean tone.
        let pcm = decode_rtmp(RtmpCodec::G711(law), &out);
        let snr = tone_snr(&pcm, 8000, 1000.0, 1600);
        assert!(snr > 20.0, "{law:?}: {snr:.1} dB");
    }
}

#[test]
fn a_300_ms_burst_keeps_the_rtmp_timeline() {
    // 15 packets (300 ms) lost in a row: G.711 passthrough conceals 60 ms
    // (fading) then plays silence; the transcoded path conceals 5 packets
    // then encodes silence. Either way 2 s of audio come out, stamped
    // without a jump, and the audio after the burst is on time.
    let burst = |i: u64| (40..55).contains(&i);
    let (_, out, _) = g711_passthrough_stream(G711Law::Pcmu, Codec::Pcmu, 100, burst);
    assert_eq!(out.len(), 100);
    for w in out.windows(2) {
        assert_eq!(w[1].timestamp_ms - w[0].timestamp_ms, 20);
    }
    let silent = out[40..55]
        .iter()
        .filter(|a| a.body[1..].iter().all(|&x| x == 0xFF))
        .count();
    assert_eq!(silent, 12, "60 ms concealed, 240 ms of µ-law silence");

    let t0 = Instant::now();
    let mut b = bridge(config(Codec::Pcmu, RtmpOut::Speex), t0);
    let mut peer_ = Peer::new(Codec::Pcmu);
    let mut out = Vec::new();
    for i in 0..100u64 {
        let now = t0 + Duration::from_millis(20 * i);
        run_timers(&mut b, now, &mut out);
        let pkt = peer_.next_packet();
        if !burst(i) {
            b.handle_rtp(now, peer(), &pkt).unwrap();
        }
        while b.poll_transmit().is_some() {}
    }
    run_timers(&mut b, t0 + Duration::from_millis(2500), &mut out);
    assert_eq!(b.stats().jitter.lost, 15);
    assert_eq!(out.len(), 100, "one Speex frame per 20 ms, burst included");
    assert_sample_timestamps(RtmpCodec::Speex, &out);
    for w in out.windows(2) {
        assert_eq!(w[1].timestamp_ms - w[0].timestamp_ms, 20);
    }
    // Silence after the 5 concealed packets (the decoded level drops).
    let pcm = decode_rtmp(RtmpCodec::Speex, &out);
    let frame = |k: usize| rms(&pcm[k * 320..(k + 1) * 320]);
    assert!(
        frame(50) < frame(30) / 20.0,
        "{} vs {}",
        frame(50),
        frame(30)
    );
    assert!(
        frame(70) > frame(30) / 2.0,
        "the tone is back after the burst"
    );
}

#[test]
fn opus_recovers_a_lost_frame_from_the_next_packets_fec() {
    use super::pipeline::{RealCodecs, ToRtmp};
    // The same loss pattern concealed with and without the next packet.
    let run = |fec: bool| {
        let mut half = ToRtmp::new(Codec::Opus, RtmpCodec::Speex, &RealCodecs, SETTINGS).unwrap();
        let mut peer_ = Peer::new(Codec::Opus);
        let packets: Vec<Vec<u8>> = (0..100).map(|_| peer_.next_packet()).collect();
        let mut bodies = Vec::new();
        for (i, pkt) in packets.iter().enumerate() {
            let payload = super::rtp::parse(pkt).unwrap().payload.to_vec();
            if i % 10 == 5 {
                let next = super::rtp::parse(&packets[i + 1]).unwrap().payload.to_vec();
                let next = fec.then_some(next.as_slice());
                half.conceal(960, next, &mut |b| bodies.push(b));
            } else {
                half.push(&payload, &mut |b| bodies.push(b)).unwrap();
            }
        }
        let out: Vec<RtmpAudio> = bodies
            .into_iter()
            .map(|b| RtmpAudio {
                timestamp_ms: 0,
                body: b.body.into(),
            })
            .collect();
        tone_snr(&decode_rtmp(RtmpCodec::Speex, &out), 16_000, 1000.0, 3200)
    };
    let (with_fec, without) = (run(true), run(false));
    eprintln!("Opus 10% loss: FEC {with_fec:.1} dB, PLC only {without:.1} dB");
    // Measured 6.4 dB against 4.2 dB: LBRR is a low-rate SILK copy, so it
    // keeps the level better than it matches the waveform.
    assert!(
        with_fec > without + 1.0,
        "FEC {with_fec:.1} dB, PLC {without:.1} dB"
    );
}

// ---- Corrupt input --------------------------------------------------------

/// Header bytes of every bridged format and a few refused ones.
const HEADERS: [u8; 12] = [
    0xB2, 0xB6, 0x42, 0x52, 0x66, 0x6A, 0x6E, 0x62, 0x72, 0x82, 0x22, 0xAF,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn corrupt_rtmp_and_rtp_never_panic(
        sip in 0..SIP_CODECS.len(),
        matched in any::<bool>(),
        input in prop::collection::vec(
            (0..HEADERS.len(), prop::collection::vec(any::<u8>(), 0..400), any::<bool>()),
            1..40,
        ),
    ) {
        let sip = SIP_CODECS[sip];
        let mode = if matched { RtmpOut::Match } else { RtmpOut::Speex };
        let t0 = Instant::now();
        let mut b = bridge(config(sip, mode), t0);
        let mut out = Vec::new();
        for (i, (h, payload, as_rtp)) in input.iter().enumerate() {
            let now = t0 + Duration::from_millis(20 * i as u64);
            if *as_rtp {
                let ts = sip_codec::ticks_for(sip, sip.audio_rate() as usize / 50) * i as u32;
                let pkt = rtp_packet(sip.default_pt(), i as u16, ts, i == 0, payload);
                let _ = b.handle_rtp(now, peer(), &pkt);
            } else {
                let mut body = vec![HEADERS[*h]];
                body.extend_from_slice(payload);
                let _ = b.handle_rtmp_audio(now, RtmpTimestamp(20 * i as u32), &body);
            }
            run_timers(&mut b, now, &mut out);
            while b.poll_transmit().is_some() {}
        }
        run_timers(&mut b, t0 + Duration::from_secs(3), &mut out);
        for a in &out {
            prop_assert!(!a.body.is_empty());
        }
    }
}

/// One 20 ms Speex message from the bridge per peer packet of `sip` tone,
/// with `[media] speex_mode_narrowband` at `mode`.
fn speex_toward_client(sip: Codec, mode: rtmp2sip_codecs::SpeexMode) -> Vec<RtmpAudio> {
    let t0 = Instant::now();
    let mut cfg = config(sip, RtmpOut::Speex);
    cfg.speex_mode_narrowband = mode;
    let mut b = bridge(cfg, t0);
    let mut peer_ = Peer::new(sip);
    let mut out = Vec::new();
    for i in 0..50u64 {
        let now = t0 + Duration::from_millis(20 * i);
        run_timers(&mut b, now, &mut out);
        b.handle_rtp(now, peer(), &peer_.next_packet()).unwrap();
        while b.poll_transmit().is_some() {}
    }
    run_timers(&mut b, t0 + Duration::from_millis(1500), &mut out);
    out
}

#[test]
fn a_narrowband_far_end_reaches_a_speex_client_as_narrowband_frames() {
    use rtmp2sip_codecs::{SpeexDecoder, SpeexMode};
    // Bits per frame from the Speex manual's mode tables: narrowband mode
    // 7 (quality 10) is 492 bits, 62 bytes; wideband quality 8 is
    // narrowband mode 6 (300 bits) plus high-band submode 3 (256 bits),
    // 70 bytes.
    for (mode, bytes) in [(SpeexMode::Narrowband, 62), (SpeexMode::Wideband, 70)] {
        for sip in [Codec::Pcmu, Codec::Pcma] {
            let out = speex_toward_client(sip, mode);
            assert!(out.len() >= 45, "{sip} {mode:?}: {}", out.len());
            assert_sample_timestamps(RtmpCodec::Speex, &out);
            let mut wide = SpeexDecoder::new(SpeexMode::Wideband).unwrap();
            for a in &out {
                assert_eq!(a.body[0], RtmpCodec::Speex.header_byte());
                assert_eq!(a.body.len() - 1, bytes, "{sip} {mode:?}");
                // What the client's wideband decoder makes of it: 20 ms
                // at 16 kHz per frame.
                let mut pcm = Vec::new();
                assert_eq!(wide.decode_frames(&a.body[1..], &mut pcm), Ok(1));
                assert_eq!(pcm.len(), 320);
                assert_eq!(RtmpCodec::Speex.samples_in(&a.body[1..]), 320);
            }
            let steps: Vec<u32> = out
                .windows(2)
                .map(|w| w[1].timestamp_ms - w[0].timestamp_ms)
                .collect();
            assert!(steps.iter().all(|&s| s == 20), "{steps:?}");
        }
    }
}
