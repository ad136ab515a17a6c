//! Enhanced RTMP Opus through the bridge: passthrough byte for byte both
//! ways with SIP opus/48000/2, transcoding to and from PCMU with a tone,
//! and refusal of other E-RTMP codecs.

use std::time::{Duration, Instant};

use super::bridge::RtmpAudio;
use super::pipeline::{sip_codec, RtmpCodec, RtmpOut};
use super::test_support::*;
use super::MediaError;
use crate::flv::{parse_ex_audio, ExAudio, FlvError, FourCc, OpusHead};
use crate::media::codec::Codec;
use crate::time::RtmpTimestamp;

/// `90 'Opus'` + a mono OpusHead with pre-skip 312.
fn sequence_start() -> Vec<u8> {
    let mut b = bytes::BytesMut::new();
    crate::flv::ex_audio::write_opus_sequence_start(&OpusHead::mono(312), &mut b);
    b.to_vec()
}

#[test]
fn opus_passes_through_to_sip_byte_for_byte() {
    let t0 = Instant::now();
    let mut b = bridge(config(Codec::Opus, RtmpOut::Speex), t0);
    b.handle_rtmp_audio(t0, RtmpTimestamp(0), &sequence_start())
        .unwrap();
    assert_eq!(b.client_opus_head(), Some(OpusHead::mono(312)));
    let mut client = Client::new(RtmpCodec::Opus);
    let messages = client.tone_messages(1.0);
    let sent = publish(&mut b, t0, &messages);
    assert_eq!(sent.len(), messages.len());
    for (p, (_, body)) in sent.iter().zip(&messages) {
        assert_eq!(&body[..5], &[0x91, b'O', b'p', b'u', b's']);
        assert_eq!(p.payload, body[5..], "byte-identical");
        assert_eq!(p.pt, Codec::Opus.default_pt());
    }
    for w in sent.windows(2) {
        assert_eq!(w[1].ts.wrapping_sub(w[0].ts), 960, "20 ms = 960 ticks");
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
    }
    assert_eq!(b.rtmp_in_codec(), Some(RtmpCodec::Opus));
}

#[test]
fn opus_passes_through_to_an_opus_client_after_its_head() {
    let t0 = Instant::now();
    let mut b = bridge(config(Codec::Opus, RtmpOut::Opus), t0);
    assert_eq!(b.rtmp_out_codec(), RtmpCodec::Opus);
    let mut peer_ = Peer::new(Codec::Opus);
    let mut sent_payloads = Vec::new();
    let mut out: Vec<RtmpAudio> = Vec::new();
    for i in 0..50u64 {
        let now = t0 + Duration::from_millis(20 * i);
        run_timers(&mut b, now, &mut out);
        let pkt = peer_.next_packet();
        sent_payloads.push(super::rtp::parse(&pkt).unwrap().payload.to_vec());
        b.handle_rtp(now, peer(), &pkt).unwrap();
    }
    run_timers(&mut b, t0 + Duration::from_secs(2), &mut out);
    let head = b.rtmp_stream_header().unwrap();
    assert_eq!(
        parse_ex_audio(&head.body),
        Ok(ExAudio::SequenceStart(OpusHead::mono(312)))
    );
    let frames = &out[..];
    assert_eq!(frames.len(), sent_payloads.len());
    for (a, p) in frames.iter().zip(&sent_payloads) {
        assert_eq!(parse_ex_audio(&a.body), Ok(ExAudio::CodedFrames(&p[..])));
    }
    for w in frames.windows(2) {
        assert_eq!(w[1].timestamp_ms - w[0].timestamp_ms, 20);
    }
    assert!(head.timestamp_ms <= frames[0].timestamp_ms);
}

#[test]
fn opus_client_to_pcmu_carries_the_tone() {
    let t0 = Instant::now();
    let mut b = bridge(config(Codec::Pcmu, RtmpOut::Speex), t0);
    let mut client = Client::new(RtmpCodec::Opus);
    let sent = publish(&mut b, t0, &client.tone_messages(2.0));
    let audio: Vec<SentRtp> = sent.into_iter().filter(|p| p.pt == 0).collect();
    for w in audio.windows(2) {
        assert_eq!(w[1].ts.wrapping_sub(w[0].ts), 160);
    }
    let pcm = decode_sip(Codec::Pcmu, &audio);
    let snr = tone_snr(&pcm, 8000, 1000.0, 1600);
    eprintln!("SNR up Opus -> PCMU: {snr:.1} dB");
    assert!(snr > 25.0, "{snr:.1} dB");
}

#[test]
fn pcmu_to_an_opus_client_carries_the_tone() {
    let t0 = Instant::now();
    let mut b = bridge(config(Codec::Pcmu, RtmpOut::Opus), t0);
    let mut peer_ = Peer::new(Codec::Pcmu);
    let mut out: Vec<RtmpAudio> = Vec::new();
    for i in 0..100u64 {
        let now = t0 + Duration::from_millis(20 * i);
        run_timers(&mut b, now, &mut out);
        b.handle_rtp(now, peer(), &peer_.next_packet()).unwrap();
    }
    run_timers(&mut b, t0 + Duration::from_secs(3), &mut out);
    let mut all = vec![b.rtmp_stream_header().unwrap()];
    all.extend(out);
    let pcm = decode_rtmp(RtmpCodec::Opus, &all);
    assert!(pcm.len() >= 48_000 * 3 / 2, "{} samples", pcm.len());
    let snr = tone_snr(&pcm, 48_000, 1000.0, 9600);
    eprintln!("SNR down PCMU -> Opus: {snr:.1} dB");
    assert!(snr > 20.0, "{snr:.1} dB");
    let ticks = sip_codec::ticks_for(Codec::Opus, 960);
    assert_eq!(ticks, 960);
}

#[test]
fn invalid_opus_packets_are_not_passed_through() {
    let t0 = Instant::now();
    let mut b = bridge(config(Codec::Opus, RtmpOut::Speex), t0);
    // TOC code 3 with 63 frames of 20 ms: 1.26 s, over RFC 6716's 120 ms.
    let bad = [0x91, b'O', b'p', b'u', b's', (27 << 3) | 3, 63, 0, 0];
    b.handle_rtmp_audio(t0, RtmpTimestamp(0), &bad).unwrap();
    assert!(b.poll_transmit().is_none(), "nothing sent for a bad packet");
    let mut client = Client::new(RtmpCodec::Opus);
    let sent = publish(&mut b, t0, &client.tone_messages(0.1));
    assert_eq!(sent.len(), 5);
}

#[test]
fn legacy_output_has_no_stream_header() {
    let b = bridge(config(Codec::Opus, RtmpOut::Speex), Instant::now());
    assert!(b.rtmp_stream_header().is_none());
}

#[test]
fn other_e_rtmp_codecs_are_refused() {
    let t0 = Instant::now();
    let mut b = bridge(config(Codec::Opus, RtmpOut::Speex), t0);
    let flac = [0x91, b'f', b'L', b'a', b'C', 1, 2];
    assert_eq!(
        b.handle_rtmp_audio(t0, RtmpTimestamp(0), &flac),
        Err(MediaError::ExAudio(FlvError::UnsupportedFourCc(FourCc(
            *b"fLaC"
        ))))
    );
    // A SequenceEnd and an empty CodedFrames are skipped.
    b.handle_rtmp_audio(t0, RtmpTimestamp(0), &[0x92, b'O', b'p', b'u', b's'])
        .unwrap();
    b.handle_rtmp_audio(t0, RtmpTimestamp(0), &[0x91, b'O', b'p', b'u', b's'])
        .unwrap();
    assert_eq!(b.stats().rtmp_invalid, 1);
    assert!(b.poll_transmit().is_none());
}
