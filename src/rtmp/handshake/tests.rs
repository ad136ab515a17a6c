//! Handshake tests: plain and digest (both schemes) end to end with the
//! test client, a hand-built Flash-style C1, version errors, split input.

use bytes::BytesMut;
use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::SeedableRng;
use sha2::Sha256;

use super::client::{ClientHandshake, ClientMode};
use super::digest::{DigestScheme, FLASH_MEDIA_SERVER_KEY, PACKET_SIZE};
use super::*;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Independent HMAC-SHA256 (not through the module's helpers).
fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Runs a full client <-> server handshake; returns both sides' kinds and
/// the bytes the server left for the chunk reader.
fn run(mode: ClientMode) -> (HandshakeKind, HandshakeKind, BytesMut) {
    let mut r = rng(7);
    let mut to_server = BytesMut::new();
    let mut to_client = BytesMut::new();
    let mut client = ClientHandshake::start(mode, &mut r, &mut to_server);
    assert_eq!(to_server.len(), 1 + PACKET_SIZE);
    let mut server = ServerHandshake::new(1234);
    server
        .receive(&mut to_server, &mut r, &mut to_client)
        .unwrap();
    assert!(to_server.is_empty());
    assert_eq!(to_client.len(), 1 + 2 * PACKET_SIZE);
    assert!(!server.is_done());
    client
        .receive(&mut to_client, &mut r, &mut to_server)
        .unwrap();
    assert!(client.is_done());
    assert!(to_client.is_empty());
    // The first chunk bytes may arrive together with C2.
    to_server.extend_from_slice(&[0x03, 0xAA]);
    server
        .receive(&mut to_server, &mut r, &mut to_client)
        .unwrap();
    assert!(server.is_done());
    assert!(to_client.is_empty());
    (server.kind().unwrap(), client.kind().unwrap(), to_server)
}

#[test]
fn plain_handshake_end_to_end() {
    let (server, client, rest) = run(ClientMode::Plain);
    assert_eq!(server, HandshakeKind::Plain);
    assert_eq!(client, HandshakeKind::Plain);
    assert_eq!(&rest[..], &[0x03, 0xAA]);
}

#[test]
fn digest_handshake_end_to_end_both_schemes() {
    for scheme in DigestScheme::ALL {
        let (server, client, _) = run(ClientMode::Digest(scheme));
        assert_eq!(server, HandshakeKind::Digest(scheme));
        assert_eq!(client, HandshakeKind::Digest(scheme));
    }
}

#[test]
fn plain_s1_and_s2_layout() {
    let mut c0c1 = vec![3u8];
    c0c1.extend((0..PACKET_SIZE).map(|i| (i % 253) as u8));
    c0c1[5..9].copy_from_slice(&[0; 4]);
    let mut input = BytesMut::from(&c0c1[..]);
    let mut out = BytesMut::new();
    let mut server = ServerHandshake::new(0x0102_0304);
    server.receive(&mut input, &mut rng(1), &mut out).unwrap();
    assert_eq!(server.kind(), Some(HandshakeKind::Plain));
    assert_eq!(out[0], 3);
    assert_eq!(&out[1..5], &[1, 2, 3, 4], "S1 time");
    assert_eq!(&out[5..9], &[0, 0, 0, 0], "S1 zero");
    assert_eq!(&out[1 + PACKET_SIZE..], &c0c1[1..], "S2 echoes C1");
}

/// A C1 built by hand the way Flash Player builds it (scheme 1, version
/// 10.0.45.2), signed with an independent HMAC over the text key. The
/// server must find it, and its S1/S2 must verify independently.
#[test]
fn hand_built_flash_c1_scheme_1() {
    let mut c1 = [0u8; PACKET_SIZE];
    for (i, b) in c1.iter_mut().enumerate() {
        *b = (i * 13 + 7) as u8;
    }
    c1[..4].copy_from_slice(&[0, 0, 0, 0]);
    c1[4..8].copy_from_slice(&[10, 0, 45, 2]);
    c1[772..776].copy_from_slice(&[0x10, 0x20, 0x30, 0x40]);
    let offset = c1[772..776].iter().map(|b| *b as usize).sum::<usize>() % 728 + 776;
    assert_eq!(offset, 936);
    let digest = mac(
        b"Genuine Adobe Flash Player 001",
        &[&c1[..offset], &c1[offset + 32..]],
    );
    c1[offset..offset + 32].copy_from_slice(&digest);

    let mut input = BytesMut::from(&[3u8][..]);
    input.extend_from_slice(&c1);
    let mut out = BytesMut::new();
    let mut server = ServerHandshake::new(0);
    server.receive(&mut input, &mut rng(2), &mut out).unwrap();
    assert_eq!(
        server.kind(),
        Some(HandshakeKind::Digest(DigestScheme::Scheme1))
    );

    let s1 = &out[1..1 + PACKET_SIZE];
    let s2 = &out[1 + PACKET_SIZE..];
    assert_eq!(&s1[4..8], &SERVER_VERSION);
    let s1_offset = s1[772..776].iter().map(|b| *b as usize).sum::<usize>() % 728 + 776;
    let s1_digest = mac(
        b"Genuine Adobe Flash Media Server 001",
        &[&s1[..s1_offset], &s1[s1_offset + 32..]],
    );
    assert_eq!(&s1[s1_offset..s1_offset + 32], &s1_digest);
    let s2_key = mac(&FLASH_MEDIA_SERVER_KEY, &[&digest]);
    assert_eq!(&s2[1504..], &mac(&s2_key, &[&s2[..1504]]));
}

#[test]
fn hand_built_c1_scheme_0() {
    let mut c1 = [0x5Au8; PACKET_SIZE];
    c1[4..8].copy_from_slice(&[9, 0, 124, 2]);
    c1[8..12].copy_from_slice(&[1, 2, 3, 4]);
    let offset = 22;
    let digest = mac(
        b"Genuine Adobe Flash Player 001",
        &[&c1[..offset], &c1[offset + 32..]],
    );
    c1[offset..offset + 32].copy_from_slice(&digest);
    let mut input = BytesMut::from(&[3u8][..]);
    input.extend_from_slice(&c1);
    let mut server = ServerHandshake::new(0);
    server
        .receive(&mut input, &mut rng(3), &mut BytesMut::new())
        .unwrap();
    assert_eq!(
        server.kind(),
        Some(HandshakeKind::Digest(DigestScheme::Scheme0))
    );
    // One flipped bit in the signed area falls back to plain.
    let mut bad = c1;
    bad[1000] ^= 1;
    let mut input = BytesMut::from(&[3u8][..]);
    input.extend_from_slice(&bad);
    let mut server = ServerHandshake::new(0);
    let mut out = BytesMut::new();
    server.receive(&mut input, &mut rng(3), &mut out).unwrap();
    assert_eq!(server.kind(), Some(HandshakeKind::Plain));
    assert_eq!(&out[1 + PACKET_SIZE..], &bad[..]);
}

#[test]
fn wrong_versions_are_rejected_on_the_first_byte() {
    for (v, want) in [
        (6u8, RtmpError::EncryptedHandshakeUnsupported(6)),
        (8, RtmpError::EncryptedHandshakeUnsupported(8)),
        (0, RtmpError::UnsupportedVersion(0)),
        (4, RtmpError::UnsupportedVersion(4)),
        (0x47, RtmpError::UnsupportedVersion(0x47)), // "GET /" from a browser
    ] {
        let mut server = ServerHandshake::new(0);
        let mut input = BytesMut::from(&[v][..]);
        let mut out = BytesMut::new();
        assert_eq!(server.receive(&mut input, &mut rng(0), &mut out), Err(want));
        assert!(out.is_empty());
    }
}

#[test]
fn byte_at_a_time() {
    let mut r = rng(11);
    let mut c0c1 = BytesMut::new();
    let mut client =
        ClientHandshake::start(ClientMode::Digest(DigestScheme::Scheme0), &mut r, &mut c0c1);
    let mut server = ServerHandshake::new(0);
    let mut input = BytesMut::new();
    let mut s0s1s2 = BytesMut::new();
    for b in c0c1.iter() {
        input.extend_from_slice(&[*b]);
        server.receive(&mut input, &mut r, &mut s0s1s2).unwrap();
    }
    assert_eq!(s0s1s2.len(), 1 + 2 * PACKET_SIZE);
    let mut c2 = BytesMut::new();
    let mut cin = BytesMut::new();
    for b in s0s1s2.iter() {
        cin.extend_from_slice(&[*b]);
        client.receive(&mut cin, &mut r, &mut c2).unwrap();
    }
    assert!(client.is_done());
    for b in c2.iter() {
        assert!(!server.is_done());
        input.extend_from_slice(&[*b]);
        server.receive(&mut input, &mut r, &mut s0s1s2).unwrap();
    }
    assert!(server.is_done());
    assert!(input.is_empty());
}

#[test]
fn deterministic_for_a_seed() {
    let go = || {
        let mut r = rng(5);
        let mut c0c1 = BytesMut::new();
        ClientHandshake::start(ClientMode::Digest(DigestScheme::Scheme1), &mut r, &mut c0c1);
        let mut out = BytesMut::new();
        ServerHandshake::new(9)
            .receive(&mut c0c1, &mut r, &mut out)
            .unwrap();
        out
    };
    assert_eq!(go(), go());
}

#[test]
fn client_detects_tampered_s2() {
    for mode in [ClientMode::Plain, ClientMode::Digest(DigestScheme::Scheme1)] {
        let mut r = rng(3);
        let mut c0c1 = BytesMut::new();
        let mut client = ClientHandshake::start(mode, &mut r, &mut c0c1);
        let mut reply = BytesMut::new();
        ServerHandshake::new(0)
            .receive(&mut c0c1, &mut r, &mut reply)
            .unwrap();
        let last = reply.len() - 1;
        reply[last] ^= 0x80;
        let err = client
            .receive(&mut reply, &mut r, &mut BytesMut::new())
            .unwrap_err();
        assert!(matches!(
            err,
            RtmpError::HandshakeEchoMismatch | RtmpError::HandshakeDigestMismatch(_)
        ));
    }
}

#[test]
fn random_c1_never_panics_and_is_plain() {
    let mut r = rng(99);
    for _ in 0..50 {
        let mut c1 = [0u8; PACKET_SIZE];
        r.fill_bytes(&mut c1);
        let mut input = BytesMut::from(&[3u8][..]);
        input.extend_from_slice(&c1);
        let mut server = ServerHandshake::new(0);
        server
            .receive(&mut input, &mut r, &mut BytesMut::new())
            .unwrap();
        assert_eq!(server.kind(), Some(HandshakeKind::Plain));
    }
}
