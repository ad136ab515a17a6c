//! The RTMP handshake (RTMP spec 1.0, 5.2), server side, with the digest
//! ("complex") handshake of Flash Player 9+, ffmpeg and librtmp.
//!
//! ```text
//!   client                          server (ServerHandshake)
//!     | C0 (version 3) + C1 (1536) --> |  ExpectC0C1
//!     | <-- S0 + S1 + S2 (1+1536+1536) |  (digest or plain, chosen from C1)
//!     | C2 (1536) -------------------> |  ExpectC2
//!     | chunk stream ...               |  Done: leftover input is chunks
//! ```
//!
//! The server answers with the digest handshake when C1 carries a valid
//! client digest at either scheme offset, else with the plain handshake
//! (S1 = time + zero + random, S2 = echo of C1). C2 is consumed but not
//! checked: clients disagree on what they put there. Timeouts are the
//! driver's job.

pub mod client;
pub mod digest;

#[cfg(test)]
mod tests;

use bytes::{Buf, BufMut, BytesMut};
use rand::RngCore;

use self::digest::{
    find_digest, sign_packet, sign_response, DigestScheme, FLASH_MEDIA_SERVER_KEY,
    FLASH_MEDIA_SERVER_KEY_TEXT_LEN, FLASH_PLAYER_KEY, FLASH_PLAYER_KEY_TEXT_LEN, PACKET_SIZE,
};
use super::error::RtmpError;

/// The only RTMP version supported in C0/S0 (spec 5.2.2).
pub const RTMP_VERSION: u8 = 3;
/// The version the server puts in S1 bytes 4..8 for a digest handshake
/// (FMS style; ffmpeg only validates S1 when the first byte is >= 3).
pub const SERVER_VERSION: [u8; 4] = [4, 5, 0, 1];

/// Which handshake was negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeKind {
    /// Spec 1.0 plain handshake: S2 echoes C1.
    Plain,
    /// Digest handshake with the client's digest at this scheme's offset.
    Digest(DigestScheme),
}

/// Server handshake state: `ExpectC0C1 -> ExpectC2 -> Done`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerHandshake {
    /// Waiting for C0 + C1 (1537 bytes).
    ExpectC0C1 {
        /// The time field to put in S1, in ms (the spec allows 0).
        s1_time: u32,
    },
    /// S0S1S2 sent; waiting for C2 (1536 bytes).
    ExpectC2 {
        /// What was negotiated.
        kind: HandshakeKind,
    },
    /// Finished; the rest of the input is the chunk stream.
    Done {
        /// What was negotiated.
        kind: HandshakeKind,
    },
}

impl ServerHandshake {
    /// A new handshake; `s1_time` (ms) is written in S1's time field.
    pub fn new(s1_time: u32) -> Self {
        Self::ExpectC0C1 { s1_time }
    }

    /// True once C2 has been consumed.
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Done { .. })
    }

    /// The negotiated kind, once C0C1 has been handled.
    pub fn kind(&self) -> Option<HandshakeKind> {
        match self {
            Self::ExpectC0C1 { .. } => None,
            Self::ExpectC2 { kind } | Self::Done { kind } => Some(*kind),
        }
    }

    /// Consumes what the current state needs from the front of `input` and
    /// appends the reply (S0+S1+S2, 3073 bytes, after C0C1) to `out`. Bytes
    /// after C2 are left in `input` for the chunk reader. Call again when
    /// more input arrives; calling it when done does nothing.
    ///
    /// # Errors
    /// [`RtmpError::EncryptedHandshakeUnsupported`] for C0 = 6 or 8,
    /// [`RtmpError::UnsupportedVersion`] for any other C0 but 3; reported as
    /// soon as the first byte arrives.
    pub fn receive<R: RngCore + ?Sized>(
        &mut self,
        input: &mut BytesMut,
        rng: &mut R,
        out: &mut BytesMut,
    ) -> Result<(), RtmpError> {
        loop {
            let next = match *self {
                Self::ExpectC0C1 { s1_time } => {
                    check_version(input.first().copied())?;
                    let Some(c1) = take_packet(input, 1) else {
                        return Ok(());
                    };
                    let kind = answer_c1(&c1, s1_time, rng, out);
                    Self::ExpectC2 { kind }
                }
                Self::ExpectC2 { kind } => {
                    if take_packet(input, 0).is_none() {
                        return Ok(());
                    }
                    Self::Done { kind }
                }
                Self::Done { .. } => return Ok(()),
            };
            *self = next;
        }
    }
}

/// Checks C0/S0; `None` (not arrived yet) is fine.
pub(crate) fn check_version(version: Option<u8>) -> Result<(), RtmpError> {
    match version {
        None | Some(RTMP_VERSION) => Ok(()),
        Some(v @ (6 | 8)) => Err(RtmpError::EncryptedHandshakeUnsupported(v)),
        Some(v) => Err(RtmpError::UnsupportedVersion(v)),
    }
}

/// Takes `skip` bytes plus one 1536-byte packet from `input` when all have
/// arrived.
pub(crate) fn take_packet(input: &mut BytesMut, skip: usize) -> Option<Box<[u8; PACKET_SIZE]>> {
    let bytes = input.get(skip..skip + PACKET_SIZE)?;
    let mut packet = Box::new([0u8; PACKET_SIZE]);
    packet.copy_from_slice(bytes);
    input.advance(skip + PACKET_SIZE);
    Some(packet)
}

/// Writes S0 S1 S2 for this C1 and returns the kind of handshake.
fn answer_c1<R: RngCore + ?Sized>(
    c1: &[u8; PACKET_SIZE],
    s1_time: u32,
    rng: &mut R,
    out: &mut BytesMut,
) -> HandshakeKind {
    let client_key = &FLASH_PLAYER_KEY[..FLASH_PLAYER_KEY_TEXT_LEN];
    let mut s1 = Box::new([0u8; PACKET_SIZE]);
    rng.fill_bytes(&mut s1[8..]);
    s1[..4].copy_from_slice(&s1_time.to_be_bytes());
    out.reserve(1 + 2 * PACKET_SIZE);
    out.put_u8(RTMP_VERSION);
    match find_digest(c1, client_key) {
        Some((scheme, client_digest)) => {
            s1[4..8].copy_from_slice(&SERVER_VERSION);
            let server_key = &FLASH_MEDIA_SERVER_KEY[..FLASH_MEDIA_SERVER_KEY_TEXT_LEN];
            sign_packet(&mut s1, scheme, server_key);
            let mut s2 = Box::new([0u8; PACKET_SIZE]);
            rng.fill_bytes(&mut s2[..]);
            sign_response(&mut s2, &client_digest, &FLASH_MEDIA_SERVER_KEY);
            out.put_slice(&s1[..]);
            out.put_slice(&s2[..]);
            HandshakeKind::Digest(scheme)
        }
        None => {
            out.put_slice(&s1[..]);
            out.put_slice(&c1[..]);
            HandshakeKind::Plain
        }
    }
}
