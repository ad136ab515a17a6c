//! SRTP session and bridge scenarios: protect/unprotect round trips, a
//! tampered or replayed packet dropped and never latched, bounded
//! inbound state, key changes on `Bridge::update`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::media::bridge::{Bridge, MediaEvent, TransmitKind};
use crate::media::codec::Codec;
use crate::media::pipeline::RtmpOut;
use crate::media::test_support::{bridge, config, rtp_packet, PEER};
use crate::time::RtmpTimestamp;

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

/// Keys for both ends of a call: `a` sends with `k1`, `b` with `k2`.
fn pair(suite: SrtpSuite) -> (SrtpParams, SrtpParams) {
    let mut r = rng();
    let k1 = SrtpKey::generate(suite, &mut r);
    let k2 = SrtpKey::generate(suite, &mut r);
    (
        SrtpParams {
            local: k1,
            remote: k2,
        },
        SrtpParams {
            local: k2,
            remote: k1,
        },
    )
}

fn packet(ssrc: u32, seq: u16) -> Vec<u8> {
    rtp_types::RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(0)
        .sequence_number(seq)
        .timestamp(u32::from(seq) * 160)
        .ssrc(ssrc)
        .payload(&[0x55; 160][..])
        .write_vec()
        .unwrap()
}

#[test]
fn round_trip_every_suite_and_tampering_fails() {
    for suite in SrtpSuite::ALL {
        let (a, b) = pair(suite);
        let mut a = SrtpSession::new(a).unwrap();
        let mut b = SrtpSession::new(b).unwrap();
        let plain = packet(0x1234, 10);
        let wire = a.protect_rtp(&plain).unwrap();
        assert_ne!(wire[12..172], plain[12..], "{suite}: payload encrypted");
        assert_eq!(b.unprotect_rtp(&wire).unwrap(), plain, "{suite}");
        assert_eq!(b.unprotect_rtp(&wire), Err(Unprotect::Failed), "replay");
        let mut bad = a.protect_rtp(&packet(0x1234, 11)).unwrap();
        bad[20] ^= 1;
        assert_eq!(b.unprotect_rtp(&bad), Err(Unprotect::Failed), "{suite}");
        // RTCP: a receiver report each way.
        let rr = [0x80, 201, 0, 1, 0, 0, 0x12, 0x34];
        let wire = a.protect_rtcp(&rr).unwrap();
        assert_eq!(b.unprotect_rtcp(&wire).unwrap(), rr, "{suite}");
        assert_eq!(b.unprotect_rtcp(&wire), Err(Unprotect::Failed), "replay");
    }
}

#[test]
fn short_and_garbage_packets_fail_without_panicking() {
    let (_, b) = pair(SrtpSuite::AesCm128HmacSha1_80);
    let mut b = SrtpSession::new(b).unwrap();
    for len in 0..64 {
        let junk = vec![0x80; len];
        assert_eq!(b.unprotect_rtp(&junk), Err(Unprotect::Failed));
        assert_eq!(b.unprotect_rtcp(&junk), Err(Unprotect::Failed));
    }
}

#[test]
fn forged_ssrcs_keep_no_state() {
    let (a, b) = pair(SrtpSuite::AesCm128HmacSha1_80);
    let mut a = SrtpSession::new(a).unwrap();
    let mut b = SrtpSession::new(b).unwrap();
    // Wrong key: every SSRC fails and none is kept.
    let mut evil = SrtpSession::new(pair(SrtpSuite::AesCm128HmacSha1_80).0).unwrap();
    evil.params.local = SrtpKey::new(SrtpSuite::AesCm128HmacSha1_80, &[9; 30]).unwrap();
    let mut evil = SrtpSession::new(evil.params).unwrap();
    for ssrc in 0..1000u32 {
        let wire = evil.protect_rtp(&packet(ssrc, 1)).unwrap();
        assert!(b.unprotect_rtp(&wire).is_err());
    }
    assert!(b.inbound.is_empty());
    // Real SSRCs: at most MAX_INBOUND_SSRCS kept.
    for ssrc in 0..10u32 {
        let wire = a.protect_rtp(&packet(ssrc, 1)).unwrap();
        assert!(b.unprotect_rtp(&wire).is_ok());
    }
    assert_eq!(b.inbound.len(), MAX_INBOUND_SSRCS);
}

#[test]
fn keys_are_never_printed() {
    let (a, _) = pair(SrtpSuite::AesCm128HmacSha1_80);
    let text = format!("{a:?}");
    assert!(text.contains("<redacted>"), "{text}");
    let b64 = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        a.local.key_salt(),
    );
    assert!(!text.contains(&b64[..8]));
    let mut n = crate::media::test_support::negotiated(Codec::Pcmu);
    n.srtp = Some(a);
    assert!(format!("{n:?}").contains("<redacted>"));
}

// ---- through the bridge, on a virtual clock -------------------------

fn srtp_bridge(keys: SrtpParams, t0: Instant) -> Bridge {
    let mut cfg = config(Codec::Pcmu, RtmpOut::Speex);
    cfg.sip_codec.srtp = Some(keys);
    bridge(cfg, t0)
}

fn publish_one(b: &mut Bridge, now: Instant, ts: u32) -> Vec<Vec<u8>> {
    let mut body = vec![0x82];
    body.extend([0xFFu8; 160]);
    b.handle_rtmp_audio(now, RtmpTimestamp(ts), &body).unwrap();
    std::iter::from_fn(|| b.poll_transmit())
        .filter(|t| t.kind == TransmitKind::Rtp)
        .map(|t| t.payload)
        .collect()
}

fn latched(b: &mut Bridge) -> Vec<SocketAddr> {
    std::iter::from_fn(|| b.poll_event())
        .filter_map(|e| match e {
            MediaEvent::RemoteLatched(a) => Some(a),
            _ => None,
        })
        .collect()
}

#[test]
fn bridge_protects_what_it_sends_and_plays_what_authenticates() {
    let t0 = Instant::now();
    let (ours, theirs) = pair(SrtpSuite::AesCm128HmacSha1_80);
    let mut b = srtp_bridge(ours, t0);
    assert!(b.is_srtp());
    let mut far = SrtpSession::new(theirs).unwrap();
    // Out: on the wire the payload is not the µ-law we published.
    let sent = publish_one(&mut b, t0, 0);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].len(), 12 + 160 + 10, "80-bit tag");
    let plain = far.unprotect_rtp(&sent[0]).unwrap();
    assert!(plain[12..].iter().all(|&x| x == 0xFF));
    assert!(sent[0][12..172].iter().any(|&x| x != 0xFF));
    // In: a tampered packet is dropped, counted and does not latch.
    let peer: SocketAddr = PEER.parse().unwrap();
    let mut forged = far
        .protect_rtp(&rtp_packet(0, 1, 160, false, &[0xFF; 160]))
        .unwrap();
    forged[30] ^= 0x40;
    assert_eq!(b.handle_rtp(t0, peer, &forged), Err(MediaError::SrtpAuth));
    // A plain packet is not SRTP either.
    let plain = rtp_packet(0, 2, 320, false, &[0xFF; 160]);
    assert_eq!(b.handle_rtp(t0, peer, &plain), Err(MediaError::SrtpAuth));
    assert!(latched(&mut b).is_empty());
    assert_eq!(b.stats().srtp_auth_failures, 2);
    assert_eq!(b.stats().rtp_received, 0);
    // The real one latches and plays.
    for seq in 3..20u16 {
        let now = t0 + Duration::from_millis(20 * u64::from(seq));
        let p = rtp_packet(0, seq, 160 * u32::from(seq), false, &[0xFF; 160]);
        b.handle_rtp(now, peer, &far.protect_rtp(&p).unwrap())
            .unwrap();
    }
    assert_eq!(latched(&mut b), vec![peer]);
    assert_eq!(b.stats().rtp_received, 17);
    // A replay of an accepted packet is dropped.
    let p = rtp_packet(0, 19, 160 * 19, false, &[0xFF; 160]);
    let _ = p;
    // RTCP from the bridge is SRTCP: the far end reads it.
    b.close(t0 + Duration::from_secs(1));
    let bye = std::iter::from_fn(|| b.poll_transmit())
        .find(|t| t.kind == TransmitKind::Rtcp)
        .unwrap();
    let rtcp = far.unprotect_rtcp(&bye.payload).unwrap();
    assert_eq!(rtcp[0] >> 6, 2);
}

#[test]
fn replayed_packet_is_dropped() {
    let t0 = Instant::now();
    let (ours, theirs) = pair(SrtpSuite::AesCm128HmacSha1_32);
    let mut b = srtp_bridge(ours, t0);
    let mut far = SrtpSession::new(theirs).unwrap();
    let peer: SocketAddr = PEER.parse().unwrap();
    let wire = far
        .protect_rtp(&rtp_packet(0, 1, 160, false, &[0xFF; 160]))
        .unwrap();
    b.handle_rtp(t0, peer, &wire).unwrap();
    assert_eq!(b.handle_rtp(t0, peer, &wire), Err(MediaError::SrtpAuth));
    assert_eq!(b.stats().srtp_auth_failures, 1);
}

#[test]
fn update_keeps_contexts_for_same_keys_and_rebuilds_for_new_ones() {
    let t0 = Instant::now();
    let (ours, theirs) = pair(SrtpSuite::AesCm128HmacSha1_80);
    let mut b = srtp_bridge(ours, t0);
    let mut far = SrtpSession::new(theirs).unwrap();
    for p in publish_one(&mut b, t0, 0) {
        far.unprotect_rtp(&p).unwrap();
    }
    // Hold with the same keys: nothing about the keys changes.
    let mut n = crate::media::test_support::negotiated(Codec::Pcmu);
    n.srtp = Some(ours);
    n.direction = crate::media::codec::Direction::SendOnly;
    let change = b.update(t0, n).unwrap();
    assert!(!change.keys);
    for p in publish_one(&mut b, t0 + Duration::from_millis(20), 20) {
        far.unprotect_rtp(&p).unwrap();
    }
    // New keys (RFC 4568 §7.1.4): the far end's new session reads us.
    let (ours2, theirs2) = {
        let mut r = StdRng::seed_from_u64(99);
        let k1 = SrtpKey::generate(SrtpSuite::AesCm128HmacSha1_80, &mut r);
        let k2 = SrtpKey::generate(SrtpSuite::AesCm128HmacSha1_80, &mut r);
        (
            SrtpParams {
                local: k1,
                remote: k2,
            },
            SrtpParams {
                local: k2,
                remote: k1,
            },
        )
    };
    n.srtp = Some(ours2);
    assert!(b.update(t0, n).unwrap().keys);
    let mut far2 = SrtpSession::new(theirs2).unwrap();
    let sent = publish_one(&mut b, t0 + Duration::from_millis(40), 40);
    assert_eq!(sent.len(), 1);
    assert!(far.unprotect_rtp(&sent[0]).is_err(), "old key no longer");
    far2.unprotect_rtp(&sent[0]).unwrap();
}

#[test]
fn a_new_local_key_keeps_the_inbound_contexts() {
    let t0 = Instant::now();
    let (ours, theirs) = pair(SrtpSuite::AesCm128HmacSha1_80);
    let mut b = srtp_bridge(ours, t0);
    let mut far = SrtpSession::new(theirs).unwrap();
    let peer: SocketAddr = PEER.parse().unwrap();
    let first = far
        .protect_rtp(&rtp_packet(0, 1, 160, false, &[0xFF; 160]))
        .unwrap();
    b.handle_rtp(t0, peer, &first).unwrap();
    // We answer a re-offer with a fresh key of ours; theirs stays.
    let mut n = crate::media::test_support::negotiated(Codec::Pcmu);
    let mut params = ours;
    params.local = SrtpKey::generate(
        SrtpSuite::AesCm128HmacSha1_80,
        &mut StdRng::seed_from_u64(5),
    );
    n.srtp = Some(params);
    assert!(b.update(t0, n).unwrap().keys);
    // The inbound context went on: the old packet is still a replay.
    assert_eq!(b.handle_rtp(t0, peer, &first), Err(MediaError::SrtpAuth));
    let next = far
        .protect_rtp(&rtp_packet(0, 2, 320, false, &[0xFF; 160]))
        .unwrap();
    b.handle_rtp(t0, peer, &next).unwrap();
    // What we send now is under the new key.
    let mut far_in = SrtpSession::new(SrtpParams {
        local: theirs.local,
        remote: params.local,
    })
    .unwrap();
    let sent = publish_one(&mut b, t0 + Duration::from_millis(20), 20);
    far_in.unprotect_rtp(&sent[0]).unwrap();
}
