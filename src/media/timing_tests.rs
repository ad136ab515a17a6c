//! One hour of audio on a virtual clock: the RTP and RTMP timelines follow
//! the audio actually carried, so nothing drifts and no gap logic fires.
//! Cheap stand-in codecs (real frame sizes, rates and resampler output
//! counts; see `test_support::CheapCodecs`) keep a run to a few seconds.

use std::time::{Duration, Instant};

use super::bridge::RtmpAudio;
use super::pipeline::{sip_codec, NellyRate, RtmpCodec, RtmpOut};
use super::rtp;
use super::test_support::*;
use crate::media::codec::Codec;
use crate::time::RtmpTimestamp;

const HOUR_MS: u64 = 3_600_000;

/// One hour of Nellymoser at `rate` from the client, stamped from its
/// sample count, toward `sip`: the RTP timestamp advances by one hour of
/// the RTP clock within one packet, with no new talkspurt.
fn hour_up(rate: NellyRate, sip: Codec) {
    let t0 = Instant::now();
    let mut b = cheap_bridge(config(sip, RtmpOut::Speex), t0);
    let codec = RtmpCodec::Nellymoser(rate);
    let blocks = codec.frames_per_message();
    let total_blocks = (HOUR_MS * u64::from(rate.hz())).div_ceil(1000 * 256);
    let packet_ticks = sip_codec::ticks_for(sip, sip.audio_rate() as usize / 50);
    let mut body = vec![codec.header_byte()];
    body.resize(1 + 64 * blocks, 0);
    let (mut sent_blocks, mut packets) = (0u64, 0u64);
    let (mut first, mut last) = (None, 0u32);
    while sent_blocks < total_blocks {
        let n = (total_blocks - sent_blocks).min(blocks as u64) as usize;
        let ms = (sent_blocks * 256 * 1000 / u64::from(rate.hz())) as u32;
        b.handle_rtmp_audio(
            t0 + Duration::from_millis(u64::from(ms)),
            RtmpTimestamp(ms),
            &body[..1 + 64 * n],
        )
        .unwrap();
        sent_blocks += n as u64;
        while let Some(t) = b.poll_transmit() {
            let p = rtp::parse(&t.payload).unwrap();
            assert_eq!(p.marker, packets == 0, "one talkspurt");
            if first.is_some() {
                assert_eq!(p.ts.0.wrapping_sub(last), packet_ticks);
            }
            first.get_or_insert(p.ts.0);
            last = p.ts.0;
            packets += 1;
        }
    }
    let advanced = u64::from(last.wrapping_sub(first.unwrap()) + packet_ticks);
    let hour = HOUR_MS * u64::from(sip.clock_rate()) / 1000;
    assert!(
        advanced.abs_diff(hour) < u64::from(packet_ticks),
        "{rate:?} -> {sip}: {advanced} ticks for {hour}"
    );
    assert_eq!(b.stats().rtmp_in_gaps, 0);
    assert_eq!(b.stats().rtp_sent, packets);
}

/// One hour of `sip` RTP every 20 ms toward a client that publishes
/// Nellymoser at `rate` ([`RtmpOut::Match`]): the RTMP timestamps follow
/// the samples sent, ending within a few ms of one hour.
fn hour_down(sip: Codec, rate: NellyRate) {
    let t0 = Instant::now();
    let mut b = cheap_bridge(config(sip, RtmpOut::Match), t0);
    let codec = RtmpCodec::Nellymoser(rate);
    let mut block = vec![codec.header_byte()];
    block.resize(65, 0);
    b.handle_rtmp_audio(t0, RtmpTimestamp(0), &block).unwrap();
    assert_eq!(b.rtmp_out_codec(), codec);
    let frame = sip.audio_rate() as usize / 50;
    let ticks = sip_codec::ticks_for(sip, frame);
    let payload = vec![0xFF; if sip == Codec::Pcmu { 160 } else { 40 }];
    let (mut first, mut last): (Option<RtmpAudio>, Option<RtmpAudio>) = (None, None);
    let (mut samples_before_last, mut messages) = (0u64, 0u64);
    let mut check = |a: RtmpAudio| {
        let f = first.get_or_insert_with(|| a.clone());
        if let Some(l) = &last {
            samples_before_last += codec.samples_in(&l.body[1..]) as u64;
        }
        let expected =
            u64::from(f.timestamp_ms) + samples_before_last * 1000 / u64::from(rate.hz());
        assert_eq!(u64::from(a.timestamp_ms), expected, "sample-derived");
        messages += 1;
        last = Some(a);
    };
    let packets = HOUR_MS / 20;
    let mut out = Vec::new();
    for i in 0..packets {
        let now = t0 + Duration::from_millis(20 * i);
        run_timers(&mut b, now, &mut out);
        let pkt = rtp_packet(
            sip.default_pt(),
            i as u16,
            (i as u32).wrapping_mul(ticks),
            i == 0,
            &payload,
        );
        b.handle_rtp(now, peer(), &pkt).unwrap();
        while b.poll_transmit().is_some() {}
        out.extend(std::iter::from_fn(|| b.poll_rtmp_audio()));
        out.drain(..).for_each(&mut check);
    }
    run_timers(&mut b, t0 + Duration::from_millis(HOUR_MS + 1000), &mut out);
    out.drain(..).for_each(&mut check);
    let (first, last) = (first.unwrap(), last.unwrap());
    let end_samples = samples_before_last + codec.samples_in(&last.body[1..]) as u64;
    let span = u64::from(last.timestamp_ms - first.timestamp_ms)
        + codec.samples_in(&last.body[1..]) as u64 * 1000 / u64::from(rate.hz());
    // What is still buffered (< 1 message) is all that is missing.
    assert!(HOUR_MS - span <= 35, "{sip} -> {rate:?}: {span} ms");
    assert_eq!(end_samples * 1000 / u64::from(rate.hz()), span);
    let s = b.stats();
    assert_eq!(
        (s.jitter.lost, s.jitter.late, s.rtmp_out_dropped),
        (0, 0, 0)
    );
    assert_eq!(s.rtmp_out, messages);
}

#[test]
fn an_hour_of_nellymoser_44k_to_pcmu_and_opus() {
    hour_up(NellyRate::Hz44100, Codec::Pcmu);
    hour_up(NellyRate::Hz44100, Codec::Opus);
}

#[test]
fn an_hour_of_nellymoser_8k_and_16k_to_pcmu_and_opus() {
    for rate in [NellyRate::Hz8000, NellyRate::Hz16000] {
        hour_up(rate, Codec::Pcmu);
        hour_up(rate, Codec::Opus);
    }
}

#[test]
fn an_hour_of_pcmu_and_opus_to_nellymoser_44k() {
    hour_down(Codec::Pcmu, NellyRate::Hz44100);
    hour_down(Codec::Opus, NellyRate::Hz44100);
}

#[test]
fn an_hour_of_pcmu_to_nellymoser_8k_and_16k() {
    hour_down(Codec::Pcmu, NellyRate::Hz8000);
    hour_down(Codec::Pcmu, NellyRate::Hz16000);
}
