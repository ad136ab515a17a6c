//! A client-side handshake, for tests and client simulators: sends C0C1
//! (plain or with a digest), checks S1/S2, answers C2.

use bytes::{BufMut, BytesMut};
use rand::RngCore;

use super::digest::{
    find_digest, sign_packet, sign_response, verify_response, DigestScheme, DIGEST_SIZE,
    FLASH_MEDIA_SERVER_KEY, FLASH_MEDIA_SERVER_KEY_TEXT_LEN, FLASH_PLAYER_KEY,
    FLASH_PLAYER_KEY_TEXT_LEN, PACKET_SIZE,
};
use super::{check_version, take_packet, HandshakeKind, RTMP_VERSION};
use crate::rtmp::error::RtmpError;

/// The version a digest client puts in C1 bytes 4..8 (librtmp's 9.0.124.2).
pub const CLIENT_VERSION: [u8; 4] = [0x80, 0x00, 0x07, 0x02];

/// What the client offers in C1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMode {
    /// Spec 1.0: C1 = time + zero + random.
    Plain,
    /// C1 carries a client digest at this scheme's offset.
    Digest(DigestScheme),
}

/// How S2 will be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum S2Check {
    /// S2 must echo C1.
    Echo(Box<[u8; PACKET_SIZE]>),
    /// S2 must be signed with our C1 digest.
    Signed([u8; DIGEST_SIZE]),
}

/// Client handshake state: `ExpectS0S1 -> ExpectS2 -> Done`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientHandshake {
    /// C0C1 sent; waiting for S0 + S1.
    ExpectS0S1 {
        /// The C1 we sent.
        c1: Box<[u8; PACKET_SIZE]>,
        /// Our C1 digest, in digest mode.
        digest: Option<[u8; DIGEST_SIZE]>,
    },
    /// C2 sent; waiting for S2.
    ExpectS2 {
        /// How to check S2.
        check: Box<S2CheckState>,
    },
    /// S2 verified.
    Done {
        /// What the server answered with.
        kind: HandshakeKind,
    },
}

/// Opaque S2 check data carried by [`ClientHandshake::ExpectS2`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S2CheckState {
    check: S2Check,
    kind: HandshakeKind,
}

impl ClientHandshake {
    /// Appends C0 + C1 to `out` and returns the state awaiting S0S1.
    pub fn start<R: RngCore + ?Sized>(mode: ClientMode, rng: &mut R, out: &mut BytesMut) -> Self {
        let mut c1 = Box::new([0u8; PACKET_SIZE]);
        rng.fill_bytes(&mut c1[8..]);
        let digest = match mode {
            ClientMode::Plain => None,
            ClientMode::Digest(scheme) => {
                c1[4..8].copy_from_slice(&CLIENT_VERSION);
                let key = &FLASH_PLAYER_KEY[..FLASH_PLAYER_KEY_TEXT_LEN];
                Some(sign_packet(&mut c1, scheme, key))
            }
        };
        out.put_u8(RTMP_VERSION);
        out.put_slice(&c1[..]);
        Self::ExpectS0S1 { c1, digest }
    }

    /// True once S2 has been verified.
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Done { .. })
    }

    /// The kind the server answered with, once done.
    pub fn kind(&self) -> Option<HandshakeKind> {
        match self {
            Self::Done { kind } => Some(*kind),
            _ => None,
        }
    }

    /// Consumes S0S1 then S2 from `input`, appending C2 to `out`.
    ///
    /// # Errors
    /// Version errors as the server's; [`RtmpError::HandshakeDigestMismatch`]
    /// when a digest S1/S2 does not verify; [`RtmpError::HandshakeEchoMismatch`]
    /// when a plain S2 does not echo C1.
    pub fn receive<R: RngCore + ?Sized>(
        &mut self,
        input: &mut BytesMut,
        rng: &mut R,
        out: &mut BytesMut,
    ) -> Result<(), RtmpError> {
        loop {
            let next = match self {
                Self::ExpectS0S1 { c1, digest } => {
                    check_version(input.first().copied())?;
                    let Some(s1) = take_packet(input, 1) else {
                        return Ok(());
                    };
                    let check = answer_s1(c1, *digest, &s1, rng, out)?;
                    Self::ExpectS2 {
                        check: Box::new(check),
                    }
                }
                Self::ExpectS2 { check } => {
                    let Some(s2) = take_packet(input, 0) else {
                        return Ok(());
                    };
                    let ok = match &check.check {
                        S2Check::Echo(c1) => s2 == *c1,
                        S2Check::Signed(d) => verify_response(&s2, d, &FLASH_MEDIA_SERVER_KEY),
                    };
                    match (ok, &check.check) {
                        (true, _) => Self::Done { kind: check.kind },
                        (false, S2Check::Echo(_)) => return Err(RtmpError::HandshakeEchoMismatch),
                        (false, S2Check::Signed(_)) => {
                            return Err(RtmpError::HandshakeDigestMismatch("S2 signature"))
                        }
                    }
                }
                Self::Done { .. } => return Ok(()),
            };
            *self = next;
        }
    }
}

/// Verifies S1 and writes C2.
fn answer_s1<R: RngCore + ?Sized>(
    c1: &[u8; PACKET_SIZE],
    digest: Option<[u8; DIGEST_SIZE]>,
    s1: &[u8; PACKET_SIZE],
    rng: &mut R,
    out: &mut BytesMut,
) -> Result<S2CheckState, RtmpError> {
    let server_key = &FLASH_MEDIA_SERVER_KEY[..FLASH_MEDIA_SERVER_KEY_TEXT_LEN];
    let server_digest = digest.and_then(|_| find_digest(s1, server_key));
    match (digest, server_digest) {
        (Some(ours), Some((scheme, theirs))) => {
            let mut c2 = Box::new([0u8; PACKET_SIZE]);
            rng.fill_bytes(&mut c2[..]);
            sign_response(&mut c2, &theirs, &FLASH_PLAYER_KEY);
            out.put_slice(&c2[..]);
            Ok(S2CheckState {
                check: S2Check::Signed(ours),
                kind: HandshakeKind::Digest(scheme),
            })
        }
        // A digest S1 must verify; a server that answered plainly has a
        // zero version field, and then S2 must echo C1.
        (Some(_), None) if s1[4..8] != [0; 4] => {
            Err(RtmpError::HandshakeDigestMismatch("S1 digest"))
        }
        _ => {
            out.put_slice(&s1[..]);
            Ok(S2CheckState {
                check: S2Check::Echo(Box::new(*c1)),
                kind: HandshakeKind::Plain,
            })
        }
    }
}
