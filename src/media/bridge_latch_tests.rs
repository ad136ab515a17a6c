//! Latching scenarios on the bridge (`[media] latching`): a stream sprayed
//! at the RTP port from elsewhere never takes the call over.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::bridge::{Bridge, MediaEvent, TransmitKind};
use super::latch::LatchMode;
use super::pipeline::RtmpOut;
use super::test_support::{bridge, config, PEER, PEER_RTCP};
use super::MediaError;
use crate::media::codec::Codec;
use crate::time::RtmpTimestamp;

const LEGIT_SSRC: u32 = 0x1111_1111;
const EVIL_SSRC: u32 = 0xEEEE_EEEE;

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn packet(ssrc: u32, pt: u8, seq: u16) -> Vec<u8> {
    rtp_types::RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(pt)
        .sequence_number(seq)
        .timestamp(u32::from(seq) * 160)
        .ssrc(ssrc)
        .payload(&[0xFF; 160][..])
        .write_vec()
        .unwrap()
}

fn pcmu(mode: LatchMode, t0: Instant) -> Bridge {
    let mut cfg = config(Codec::Pcmu, RtmpOut::Speex);
    cfg.latching = mode;
    bridge(cfg, t0)
}

/// Where the bridge sends RTP after the client published some audio.
fn rtp_dests(b: &mut Bridge, now: Instant) -> Vec<SocketAddr> {
    while b.poll_transmit().is_some() {}
    // 20 ms of µ-law published by the client: one RTP packet.
    let mut body = vec![0x82];
    body.extend([0xFFu8; 160]);
    b.handle_rtmp_audio(now, RtmpTimestamp(0), &body).unwrap();
    std::iter::from_fn(|| b.poll_transmit())
        .filter(|t| t.kind == TransmitKind::Rtp)
        .map(|t| t.dest)
        .collect()
}

fn latched_events(b: &mut Bridge) -> Vec<SocketAddr> {
    std::iter::from_fn(|| b.poll_event())
        .filter_map(|e| match e {
            MediaEvent::RemoteLatched(addr) => Some(addr),
            _ => None,
        })
        .collect()
}

/// An RTCP BYE as another session would send it.
fn rtcp_bye(t0: Instant) -> Vec<u8> {
    let mut other = pcmu(LatchMode::Ip, t0);
    other.close(t0);
    other.poll_transmit().unwrap().payload
}

#[test]
fn ip_mode_sprayed_stream_from_another_ip_never_takes_over() {
    let t0 = Instant::now();
    let mut b = pcmu(LatchMode::Ip, t0);
    let nat_port = a("192.0.2.1:40000");
    let evil = a("203.0.113.66:5004");
    for seq in 0..50u16 {
        let now = t0 + Duration::from_millis(20 * u64::from(seq));
        b.handle_rtp(now, nat_port, &packet(LEGIT_SSRC, 0, seq))
            .unwrap();
        for k in 0..3 {
            assert_eq!(
                b.handle_rtp(now, evil, &packet(EVIL_SSRC, 0, 1000 + 3 * seq + k)),
                Err(MediaError::ForeignSource(evil))
            );
        }
    }
    assert_eq!(latched_events(&mut b), vec![nat_port]);
    let stats = b.stats();
    assert_eq!(stats.rtp_received, 50);
    assert_eq!(stats.rtp_foreign, 150);
    assert_eq!(stats.rtp_invalid, 0, "foreign packets are not parsed");
    assert_eq!(
        rtp_dests(&mut b, t0 + Duration::from_secs(1)),
        vec![nat_port]
    );
}

#[test]
fn ip_mode_injected_first_packet_does_not_latch() {
    let t0 = Instant::now();
    let mut b = pcmu(LatchMode::Ip, t0);
    let evil = a("203.0.113.66:5004");
    for seq in 0..10 {
        assert!(b.handle_rtp(t0, evil, &packet(EVIL_SSRC, 0, seq)).is_err());
    }
    assert!(latched_events(&mut b).is_empty());
    assert_eq!(
        b.stats().jitter.received,
        0,
        "nothing reached the jitter buffer"
    );
    assert_eq!(
        rtp_dests(&mut b, t0),
        vec![a(PEER)],
        "still the SDP address"
    );
    b.handle_rtp(t0, a(PEER), &packet(LEGIT_SSRC, 0, 7))
        .unwrap();
    assert_eq!(latched_events(&mut b), vec![a(PEER)]);
}

#[test]
fn strict_mode_takes_only_the_sdp_ip_and_port() {
    let t0 = Instant::now();
    let mut b = pcmu(LatchMode::Strict, t0);
    let other_port = a("192.0.2.1:40000");
    assert_eq!(
        b.handle_rtp(t0, other_port, &packet(LEGIT_SSRC, 0, 1)),
        Err(MediaError::ForeignSource(other_port))
    );
    b.handle_rtp(t0, a(PEER), &packet(LEGIT_SSRC, 0, 2))
        .unwrap();
    assert_eq!(latched_events(&mut b), vec![a(PEER)]);
    assert!(b
        .handle_rtp(t0, other_port, &packet(LEGIT_SSRC, 0, 3))
        .is_err());
    assert_eq!(rtp_dests(&mut b, t0), vec![a(PEER)]);
}

#[test]
fn any_mode_latches_the_first_valid_source_and_never_moves() {
    let t0 = Instant::now();
    let mut b = pcmu(LatchMode::Any, t0);
    let first = a("198.51.100.7:7000");
    let later = a("203.0.113.66:5004");
    // A packet whose payload type was not negotiated latches nothing.
    assert_eq!(
        b.handle_rtp(t0, later, &packet(EVIL_SSRC, 18, 1)),
        Err(MediaError::UnexpectedPayloadType(18))
    );
    assert!(latched_events(&mut b).is_empty());
    b.handle_rtp(t0, first, &packet(LEGIT_SSRC, 0, 1)).unwrap();
    // The old rule re-latched after 5 packets of a new SSRC from anywhere.
    for seq in 0..20 {
        assert_eq!(
            b.handle_rtp(t0, later, &packet(EVIL_SSRC, 0, 500 + seq)),
            Err(MediaError::ForeignSource(later))
        );
    }
    assert_eq!(latched_events(&mut b), vec![first]);
    assert_eq!(rtp_dests(&mut b, t0), vec![first]);
}

#[test]
fn ssrc_change_is_accepted_only_from_the_latched_source() {
    let t0 = Instant::now();
    let mut b = pcmu(LatchMode::Ip, t0);
    b.handle_rtp(t0, a(PEER), &packet(LEGIT_SSRC, 0, 1))
        .unwrap();
    // Same IP, another port: foreign, whatever the SSRC.
    for seq in 0..10 {
        assert!(b
            .handle_rtp(t0, a("192.0.2.1:6000"), &packet(EVIL_SSRC, 0, 100 + seq))
            .is_err());
    }
    assert_eq!(b.stats().rtp_foreign, 10);
    // From the latched address a new SSRC is taken after 5 packets
    // (a PBX re-INVITE or transfer).
    let results: Vec<_> = (0..5)
        .map(|seq| b.handle_rtp(t0, a(PEER), &packet(EVIL_SSRC, 0, 200 + seq)))
        .collect();
    assert!(results[..4]
        .iter()
        .all(|r| *r == Err(MediaError::ForeignSsrc(EVIL_SSRC))));
    assert_eq!(results[4], Ok(()));
}

#[test]
fn rtcp_from_a_foreign_ip_is_ignored() {
    let t0 = Instant::now();
    let mut b = pcmu(LatchMode::Ip, t0);
    b.handle_rtp(t0, a(PEER), &packet(LEGIT_SSRC, 0, 1))
        .unwrap();
    while b.poll_event().is_some() {}
    let bye = rtcp_bye(t0);
    let evil = a("203.0.113.66:5005");
    assert_eq!(
        b.handle_rtcp(t0, evil, &bye),
        Err(MediaError::ForeignSource(evil))
    );
    assert_eq!(b.poll_event(), None, "no RemoteBye from a foreign IP");
    assert_eq!(b.stats().rtcp_foreign, 1);
    b.handle_rtcp(t0, a(PEER_RTCP), &bye).unwrap();
    assert_eq!(b.poll_event(), Some(MediaEvent::RemoteBye));
}

#[test]
fn rtcp_mux_shares_the_rtp_port_both_ways() {
    let t0 = Instant::now();
    let mut cfg = config(Codec::Pcmu, RtmpOut::Speex);
    cfg.sip_codec.rtcp_mux = true;
    let mut b = bridge(cfg, t0);
    b.handle_rtp(t0, a(PEER), &packet(LEGIT_SSRC, 0, 1))
        .unwrap();
    while b.poll_event().is_some() {}
    b.close(t0 + Duration::from_secs(1));
    let bye = b.poll_transmit().unwrap();
    assert_eq!((bye.kind, bye.dest), (TransmitKind::Rtp, a(PEER)));
    // RTCP arriving on the RTP port is demultiplexed (RFC 5761 §4).
    b.handle_rtp(t0, a(PEER), &rtcp_bye(t0)).unwrap();
    assert_eq!(b.poll_event(), Some(MediaEvent::RemoteBye));
    let evil = a("203.0.113.66:5004");
    assert_eq!(
        b.handle_rtp(t0, evil, &rtcp_bye(t0)),
        Err(MediaError::ForeignSource(evil))
    );
}
