//! Renegotiation scenarios on the bridge ([`Bridge::update`]) on a virtual
//! clock: hold and resume, a new remote address, a new codec, and the
//! 200's SDP repeating a 183's.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::bridge::{Bridge, MediaChange, MediaEvent, RtmpAudio, TransmitKind};
use super::codec::{Codec, Direction, Negotiated};
use super::latch::LatchMode;
use super::pipeline::{RtmpOut, SpeexComplexity};
use super::test_support::{
    bridge, config, negotiated, rtp_packet, run_timers, take_rtp, Peer, SentRtp, PEER,
};
use super::MediaError;
use crate::time::RtmpTimestamp;

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ms(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

/// A PCMU bridge whose client publishes µ-law: one RTP packet per message.
fn pcmu(t0: Instant) -> Bridge {
    bridge(config(Codec::Pcmu, RtmpOut::Speex), t0)
}

/// Publishes 20 ms µ-law messages from `from` to `to` ms (client
/// timestamps = virtual time), returning the RTP sent.
fn publish(b: &mut Bridge, t0: Instant, from: u64, to: u64) -> Vec<SentRtp> {
    let mut body = vec![0x82];
    body.extend([0xFFu8; 160]);
    let mut sent = Vec::new();
    for at in (from..to).step_by(20) {
        b.handle_rtmp_audio(ms(t0, at), RtmpTimestamp(at as u32), &body)
            .unwrap();
        take_rtp(b, &mut sent);
    }
    sent
}

fn with(f: impl FnOnce(&mut Negotiated)) -> Negotiated {
    let mut n = negotiated(Codec::Pcmu);
    f(&mut n);
    n
}

fn events(b: &mut Bridge) -> Vec<MediaEvent> {
    std::iter::from_fn(|| b.poll_event()).collect()
}

fn latched(b: &mut Bridge) -> Vec<SocketAddr> {
    events(b)
        .into_iter()
        .filter_map(|e| match e {
            MediaEvent::RemoteLatched(addr) => Some(addr),
            _ => None,
        })
        .collect()
}

#[test]
fn hold_stops_rtp_keeps_rtcp_and_resume_continues_seq_with_held_time() {
    let t0 = Instant::now();
    let mut b = pcmu(t0);
    let before = publish(&mut b, t0, 0, 200);
    assert_eq!(before.len(), 10);
    let last = before.last().unwrap().clone();

    // The far end puts us on hold: it sends a=sendonly, we answer recvonly.
    let hold = with(|n| n.direction = Direction::RecvOnly);
    let change = b.update(ms(t0, 200), hold).unwrap();
    assert!(change.direction && !change.remote && !change.codec);
    let mut rtcp = 0;
    for at in (200..10_200).step_by(20) {
        let mut body = vec![0x82];
        body.extend([0xFFu8; 160]);
        b.handle_rtmp_audio(ms(t0, at), RtmpTimestamp(at as u32), &body)
            .unwrap();
        run_timers(&mut b, ms(t0, at), &mut Vec::new());
        while let Some(t) = b.poll_transmit() {
            assert_eq!(t.kind, TransmitKind::Rtcp, "no RTP while held");
            rtcp += 1;
        }
    }
    assert!(rtcp >= 1, "RTCP continues on hold (RFC 3264 §5.1)");
    assert_eq!(b.stats().rtmp_held, 500);

    // Resumed 10 s later: same SSRC, next seq, ts + 10 s of 8 kHz, marker.
    b.update(ms(t0, 10_200), negotiated(Codec::Pcmu)).unwrap();
    let after = publish(&mut b, t0, 10_200, 10_260);
    assert_eq!(after.len(), 3);
    assert_eq!(after[0].seq, last.seq.wrapping_add(1));
    assert_eq!(after[0].ts, last.ts.wrapping_add(160 + 10_000 * 8));
    assert!(
        after[0].marker,
        "first packet after resume starts a talkspurt"
    );
    assert!(!after[1].marker);
    assert_eq!(after[1].ts, after[0].ts.wrapping_add(160));
    assert_eq!(after[2].seq, last.seq.wrapping_add(3));
}

#[test]
fn inactive_and_zero_address_hold_send_nothing() {
    let t0 = Instant::now();
    for hold in [
        with(|n| n.direction = Direction::Inactive),
        with(|n| n.remote_rtp = a("0.0.0.0:5004")),
    ] {
        let mut b = pcmu(t0);
        publish(&mut b, t0, 0, 100);
        b.update(ms(t0, 100), hold).unwrap();
        assert!(publish(&mut b, t0, 100, 500).is_empty(), "{hold:?}");
        b.update(ms(t0, 500), negotiated(Codec::Pcmu)).unwrap();
        let after = publish(&mut b, t0, 500, 520);
        assert_eq!(after.len(), 1);
        assert!(after[0].marker);
    }
}

/// Runs timers from `from` to `to` ms, returning the RtpTimeout events.
fn timeouts(b: &mut Bridge, t0: Instant, from: u64, to: u64) -> usize {
    let mut n = 0;
    for at in (from..to).step_by(500) {
        run_timers(b, ms(t0, at), &mut Vec::new());
        n += events(b)
            .iter()
            .filter(|e| **e == MediaEvent::RtpTimeout)
            .count();
    }
    n
}

#[test]
fn hold_suspends_the_rtp_timeout_either_way() {
    let t0 = Instant::now();
    for direction in [
        Direction::SendOnly,
        Direction::RecvOnly,
        Direction::Inactive,
    ] {
        let mut b = pcmu(t0); // rtp_timeout 60 s
        let mut peer = Peer::new(Codec::Pcmu);
        for i in 0..10 {
            b.handle_rtp(ms(t0, 20 * i), a(PEER), &peer.next_packet())
                .unwrap();
        }
        b.update(ms(t0, 200), with(|n| n.direction = direction))
            .unwrap();
        assert_eq!(timeouts(&mut b, t0, 200, 300_000), 0, "{direction:?}");
        // Resumed: the far end has 60 s again.
        b.update(ms(t0, 300_000), negotiated(Codec::Pcmu)).unwrap();
        assert_eq!(timeouts(&mut b, t0, 300_000, 359_500), 0);
        assert_eq!(timeouts(&mut b, t0, 359_500, 361_000), 1, "{direction:?}");
    }
}

#[test]
fn a_call_answered_on_hold_has_no_rtp_timeout() {
    let t0 = Instant::now();
    let mut cfg = config(Codec::Pcmu, RtmpOut::Speex);
    cfg.sip_codec.direction = Direction::SendOnly;
    let mut b = bridge(cfg, t0);
    assert_eq!(timeouts(&mut b, t0, 0, 120_000), 0);
}

#[test]
fn not_receiving_plays_nothing() {
    let t0 = Instant::now();
    let mut b = pcmu(t0);
    let mut peer = Peer::new(Codec::Pcmu);
    // We hold the far end (a=sendonly); it keeps sending anyway.
    b.update(t0, with(|n| n.direction = Direction::SendOnly))
        .unwrap();
    let mut out = Vec::new();
    for i in 0..50 {
        b.handle_rtp(ms(t0, 20 * i), a(PEER), &peer.next_packet())
            .unwrap();
        run_timers(&mut b, ms(t0, 20 * i), &mut out);
    }
    assert!(out.is_empty());
    assert_eq!(b.stats().rtp_held, 50);
    // Resumed: its audio plays again.
    b.update(ms(t0, 1000), negotiated(Codec::Pcmu)).unwrap();
    for i in 50..100 {
        b.handle_rtp(ms(t0, 20 * i), a(PEER), &peer.next_packet())
            .unwrap();
        run_timers(&mut b, ms(t0, 20 * i), &mut out);
    }
    assert!(out.len() >= 10, "played after resume: {}", out.len());
}

#[test]
fn a_new_remote_address_relatches() {
    let t0 = Instant::now();
    for mode in [LatchMode::Strict, LatchMode::Ip, LatchMode::Any] {
        let mut cfg = config(Codec::Pcmu, RtmpOut::Speex);
        cfg.latching = mode;
        let mut b = bridge(cfg, t0);
        let mut peer = Peer::new(Codec::Pcmu);
        b.handle_rtp(t0, a(PEER), &peer.next_packet()).unwrap();
        assert_eq!(latched(&mut b), [a(PEER)]);

        // A re-INVITE moves the far end to another host.
        let moved = a("198.51.100.9:6000");
        let update = with(|n| {
            n.remote_rtp = moved;
            n.remote_rtcp = a("198.51.100.9:6001");
        });
        let change = b.update(ms(t0, 20), update).unwrap();
        assert!(change.remote && !change.direction && !change.codec);
        // RTP goes to the new address at once.
        let mut body = vec![0x82];
        body.extend([0xFFu8; 160]);
        b.handle_rtmp_audio(ms(t0, 40), RtmpTimestamp(40), &body)
            .unwrap();
        let dests: Vec<_> = std::iter::from_fn(|| b.poll_transmit())
            .filter(|t| t.kind == TransmitKind::Rtp)
            .map(|t| t.dest)
            .collect();
        assert_eq!(dests, [moved], "{mode:?}");
        // The new source latches (new SSRC, new sequence); the old is refused.
        let pkt = rtp_packet(0, 9, 77, true, &[0xFF; 160]);
        b.handle_rtp(ms(t0, 60), moved, &pkt).unwrap();
        assert_eq!(latched(&mut b), [moved], "{mode:?}");
        assert!(matches!(
            b.handle_rtp(ms(t0, 80), a(PEER), &peer.next_packet()),
            Err(MediaError::ForeignSource(_))
        ));
    }
}

#[test]
fn early_media_from_another_address_then_the_200() {
    // 183 from a media server, 200 from the far end's phone (another
    // address, another SSRC): the latch follows the 200.
    let t0 = Instant::now();
    let mut cfg = config(Codec::Pcmu, RtmpOut::Speex);
    cfg.sip_codec.remote_rtp = a("203.0.113.5:20000");
    cfg.sip_codec.remote_rtcp = a("203.0.113.5:20001");
    let mut b = bridge(cfg, t0);
    let ring = rtp_packet(0, 1, 160, true, &[0xFF; 160]);
    b.handle_rtp(t0, a("203.0.113.5:20000"), &ring).unwrap();
    b.update(ms(t0, 3000), negotiated(Codec::Pcmu)).unwrap();
    let mut peer = Peer::new(Codec::Pcmu);
    b.handle_rtp(ms(t0, 3020), a(PEER), &peer.next_packet())
        .unwrap();
    assert_eq!(latched(&mut b), [a("203.0.113.5:20000"), a(PEER)]);
}

#[test]
fn an_identical_update_changes_nothing() {
    // The 200's SDP repeats the 183's: no glitch, no re-latch.
    let t0 = Instant::now();
    let mut b = pcmu(t0);
    let nat = a("192.0.2.1:40000");
    let mut peer = Peer::new(Codec::Pcmu);
    b.handle_rtp(t0, nat, &peer.next_packet()).unwrap();
    let before = publish(&mut b, t0, 0, 100);
    assert_eq!(
        b.update(ms(t0, 100), negotiated(Codec::Pcmu)).unwrap(),
        MediaChange::default()
    );
    let after = publish(&mut b, t0, 100, 200);
    assert_eq!(after[0].seq, before[4].seq.wrapping_add(1));
    assert_eq!(after[0].ts, before[4].ts.wrapping_add(160));
    assert!(!after[0].marker);
    // Still latched to the NAT port: the same IP's other port is refused.
    assert!(b
        .handle_rtp(ms(t0, 200), a("192.0.2.1:40002"), &peer.next_packet())
        .is_err());
    b.handle_rtp(ms(t0, 220), nat, &peer.next_packet()).unwrap();
}

/// The RTMP output of `packets` 20 ms packets from `peer` from `from` ms.
fn play(
    b: &mut Bridge,
    t0: Instant,
    peer: &mut Peer,
    from: u64,
    packets: u64,
    out: &mut Vec<RtmpAudio>,
) {
    for i in 0..packets {
        let at = from + 20 * i;
        b.handle_rtp(ms(t0, at), a(PEER), &peer.next_packet())
            .unwrap();
        run_timers(b, ms(t0, at), out);
    }
    run_timers(b, ms(t0, from + 20 * packets + 500), out);
}

#[test]
fn a_codec_change_rebuilds_the_pipeline_and_keeps_continuity() {
    for codec in [Codec::Pcma, Codec::G722, Codec::Opus, Codec::Speex16k] {
        let t0 = Instant::now();
        let mut b = pcmu(t0);
        let mut out = Vec::new();
        play(&mut b, t0, &mut Peer::new(Codec::Pcmu), 0, 50, &mut out);
        let before = publish(&mut b, t0, 0, 1000);
        let last = before.last().unwrap().clone();
        let played = out.len();
        let last_ms = out.last().unwrap().timestamp_ms;

        let mut n = negotiated(codec);
        n.dtmf_pt = (codec.clock_rate() == 8000).then_some(96);
        let change = b.update(ms(t0, 1500), n).unwrap();
        assert!(change.codec && !change.remote, "{codec:?}");

        // Toward SIP: new payload type; on the same clock the same SSRC
        // and the next sequence number, on another clock a new SSRC (RFC
        // 7160 §4.1).
        let after = publish(&mut b, t0, 1500, 2500);
        assert!(!after.is_empty(), "{codec:?}");
        assert!(after.iter().all(|p| p.pt == codec.default_pt()));
        if codec.clock_rate() == 8000 {
            assert_eq!(after[0].ssrc, last.ssrc, "{codec:?}");
            assert_eq!(after[0].seq, last.seq.wrapping_add(1), "{codec:?}");
        } else {
            assert_ne!(after[0].ssrc, last.ssrc, "{codec:?}");
        }
        assert!(after.iter().all(|p| p.ssrc == after[0].ssrc));
        assert!(after[0].marker);
        for w in after.windows(2) {
            assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
        }
        // Toward RTMP: the new codec plays, timestamps continue.
        let mut peer = Peer::new(codec);
        peer.seq = 7;
        play(&mut b, t0, &mut peer, 1500, 50, &mut out);
        let new = &out[played..];
        assert!(new.len() >= 20, "{codec:?}: {}", new.len());
        assert!(new[0].timestamp_ms >= last_ms, "{codec:?}");
        assert!(
            new[0].timestamp_ms <= last_ms + 1000,
            "{codec:?}: {} after {last_ms}",
            new[0].timestamp_ms
        );
        for w in out.windows(2) {
            assert!(w[1].timestamp_ms >= w[0].timestamp_ms, "{codec:?}");
        }
        // DTMF follows the new payload type (8 kHz clocks only).
        while b.poll_transmit().is_some() {}
        let dtmf = b.send_dtmf(ms(t0, 3000), "5", 100);
        if codec.clock_rate() == 8000 {
            dtmf.unwrap();
            let mut sent = Vec::new();
            take_rtp(&mut b, &mut sent);
            assert_eq!(sent[0].pt, 96);
        } else {
            assert!(matches!(dtmf, Err(MediaError::NoTelephoneEvent)));
        }
    }
}

/// The RTCP packets among the queued transmits, as (kind, SSRC) per
/// packet of each compound.
fn rtcp_sent(b: &mut Bridge) -> Vec<Vec<(&'static str, u32)>> {
    use rtcp_types::{Compound, Packet};
    std::iter::from_fn(|| b.poll_transmit())
        .filter(|t| t.kind == TransmitKind::Rtcp)
        .map(|t| {
            Compound::parse(&t.payload)
                .unwrap()
                .map(|p| match p.unwrap() {
                    Packet::Sr(sr) => ("SR", sr.ssrc()),
                    Packet::Rr(rr) => ("RR", rr.ssrc()),
                    Packet::Sdes(sdes) => ("SDES", sdes.chunks().next().unwrap().ssrc()),
                    Packet::Bye(bye) => ("BYE", bye.ssrcs().next().unwrap()),
                    _ => ("other", 0),
                })
                .collect()
        })
        .collect()
}

#[test]
fn a_new_clock_rate_starts_a_new_ssrc_and_says_bye_for_the_old() {
    let t0 = Instant::now();
    let mut b = pcmu(t0);
    let before = publish(&mut b, t0, 0, 200);
    let old = before[0].ssrc;
    rtcp_sent(&mut b);

    // PCMU 8000 -> G.722 (8000 RTP clock, RFC 3551 §4.5.2): same stream.
    b.update(ms(t0, 200), negotiated(Codec::G722)).unwrap();
    assert!(rtcp_sent(&mut b).is_empty(), "no BYE on the same clock");
    let g722 = publish(&mut b, t0, 200, 400);
    assert_eq!(g722[0].ssrc, old);
    assert_eq!(g722[0].seq, before.last().unwrap().seq.wrapping_add(1));

    // G.722 -> Opus 48000: BYE for the old SSRC to the old address, then
    // a new SSRC with its own sequence and timestamp.
    let moved = with(|n| {
        n.codec = Codec::Opus;
        n.pt = Codec::Opus.default_pt();
        n.recv_pt = n.pt;
        n.remote_rtp = a("198.51.100.9:6000");
        n.remote_rtcp = a("198.51.100.9:6001");
    });
    let to = b.update(ms(t0, 400), moved).unwrap();
    assert!(to.codec && to.remote);
    let mut sent = Vec::new();
    while let Some(t) = b.poll_transmit() {
        sent.push(t);
    }
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0].dest.ip(),
        a(PEER).ip(),
        "the BYE goes where RTP went"
    );
    assert_ne!(sent[0].dest, a("198.51.100.9:6001"));
    let parsed: Vec<_> = rtcp_types::Compound::parse(&sent[0].payload)
        .unwrap()
        .map(|p| p.unwrap())
        .collect();
    let bye = parsed.iter().find_map(|p| match p {
        rtcp_types::Packet::Bye(bye) => Some(bye.ssrcs().collect::<Vec<_>>()),
        _ => None,
    });
    assert_eq!(bye, Some(vec![old]));
    assert!(
        matches!(&parsed[0], rtcp_types::Packet::Sr(sr) if sr.ssrc() == old),
        "the old stream's last SR first"
    );

    let opus = publish(&mut b, t0, 400, 600);
    assert!(!opus.is_empty());
    let new = opus[0].ssrc;
    assert_ne!(new, old);
    assert!(opus[0].marker);
    assert!(opus
        .iter()
        .all(|p| p.ssrc == new && p.pt == Codec::Opus.default_pt()));
    for w in opus.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
        assert_eq!(w[1].ts, w[0].ts.wrapping_add(960));
    }

    // RTCP goes on for the new SSRC, and the final BYE names it.
    run_timers(&mut b, ms(t0, 10_000), &mut Vec::new());
    let reports = rtcp_sent(&mut b);
    assert!(!reports.is_empty());
    assert!(
        reports.iter().flatten().all(|&(_, ssrc)| ssrc == new),
        "{reports:?}"
    );
    b.close(ms(t0, 10_000));
    let last = rtcp_sent(&mut b);
    assert_eq!(last.len(), 1);
    assert!(last[0].contains(&("BYE", new)), "{last:?}");

    // And back to 8000: yet another SSRC, never an old one (RFC 7160 §4.1).
    let mut c = pcmu(t0);
    let first = publish(&mut c, t0, 0, 100)[0].ssrc;
    c.update(ms(t0, 100), negotiated(Codec::Opus)).unwrap();
    let second = publish(&mut c, t0, 100, 200)[0].ssrc;
    c.update(ms(t0, 200), negotiated(Codec::Pcmu)).unwrap();
    let third = publish(&mut c, t0, 200, 300)[0].ssrc;
    assert!(first != second && second != third && third != first);
}

#[test]
fn a_codec_that_cannot_start_changes_nothing() {
    let t0 = Instant::now();
    let mut b = pcmu(t0);
    let before = publish(&mut b, t0, 0, 100);
    let bad = with(|n| {
        n.codec = Codec::TelephoneEvent;
        n.remote_rtp = a("198.51.100.9:6000");
    });
    assert!(matches!(
        b.update(ms(t0, 100), bad),
        Err(MediaError::Config(_))
    ));
    let after = publish(&mut b, t0, 100, 120);
    assert_eq!(after[0].seq, before[4].seq.wrapping_add(1));
    assert_eq!(after[0].pt, 0);
    let mut body = vec![0x82];
    body.extend([0xFFu8; 160]);
    b.handle_rtmp_audio(ms(t0, 120), RtmpTimestamp(120), &body)
        .unwrap();
    assert_eq!(b.poll_transmit().unwrap().dest, a(PEER));
}

#[test]
fn dtmf_on_hold_goes_by_sip_info_and_uses_no_sequence_numbers() {
    let t0 = Instant::now();
    let mut b = pcmu(t0);
    let before = publish(&mut b, t0, 0, 20);
    // A digit is playing when the far end holds us.
    b.send_dtmf(ms(t0, 20), "1", 200).unwrap();
    while b.poll_transmit().is_some() {}
    b.update(ms(t0, 40), with(|n| n.direction = Direction::RecvOnly))
        .unwrap();
    run_timers(&mut b, ms(t0, 1000), &mut Vec::new());
    assert!(!std::iter::from_fn(|| b.poll_transmit()).any(|t| t.kind == TransmitKind::Rtp));
    assert!(matches!(
        b.send_dtmf(ms(t0, 1000), "2", 100),
        Err(MediaError::NoTelephoneEvent)
    ));
    b.update(ms(t0, 1000), negotiated(Codec::Pcmu)).unwrap();
    let after = publish(&mut b, t0, 1000, 1020);
    // One DTMF start packet went out before the hold.
    assert_eq!(after[0].seq, before[0].seq.wrapping_add(2));
}

/// The Speex bodies a client receives from a far end that starts on PCMU,
/// is re-INVITEd to `wide` at 1 s and to PCMA at 2 s, with `[media]
/// speex_complexity = wideband` and `speex_complexity_narrowband =
/// narrowband`: one list per phase.
fn speex_bodies_by_phase(wideband: u8, narrowband: u8, wide: Codec) -> [Vec<Bytes>; 3] {
    let t0 = Instant::now();
    let mut cfg = config(Codec::Pcmu, RtmpOut::Speex);
    cfg.speex_complexity = SpeexComplexity {
        wideband,
        narrowband,
    };
    let mut b = bridge(cfg, t0);
    let mut phases: [Vec<Bytes>; 3] = Default::default();
    for (i, codec) in [Codec::Pcmu, wide, Codec::Pcma].into_iter().enumerate() {
        let at = 1000 * i as u64;
        if i > 0 {
            let change = b.update(ms(t0, at), negotiated(codec)).unwrap();
            assert!(change.codec, "{codec}");
        }
        let mut out = Vec::new();
        play(&mut b, t0, &mut Peer::new(codec), at, 25, &mut out);
        phases[i] = out.into_iter().map(|a| a.body).collect();
        assert!(phases[i].len() >= 20, "{codec}: {}", phases[i].len());
    }
    phases
}

#[test]
fn a_re_invite_between_narrowband_and_wideband_switches_the_speex_complexity() {
    for wide in [Codec::G722, Codec::Opus] {
        // Narrowband 1, wideband 10: each phase must be byte for byte what
        // a bridge with that one complexity everywhere sends.
        let mixed = speex_bodies_by_phase(10, 1, wide);
        let all_1 = speex_bodies_by_phase(1, 1, wide);
        let all_10 = speex_bodies_by_phase(10, 10, wide);
        assert_eq!(mixed[0], all_1[0], "PCMU at the start: narrowband");
        assert_ne!(mixed[0], all_10[0]);
        assert_eq!(mixed[1], all_10[1], "{wide} after the re-INVITE: wideband");
        assert_ne!(mixed[1], all_1[1], "{wide}");
        assert_eq!(mixed[2], all_1[2], "PCMA after the second: narrowband");
        assert_ne!(mixed[2], all_10[2]);
    }
}
