//! The digest ("complex") handshake's keys and HMAC-SHA256 digests, as used
//! by Flash Player 9+, Flash Media Server, ffmpeg and librtmp. This scheme
//! is not in Adobe's RTMP spec 1.0; the keys are widely published.
//!
//! A 1536-byte C1/S1 carries a 32-byte digest at an offset derived from
//! four bytes of the packet itself; the digest is HMAC-SHA256 over the
//! other 1504 bytes. C2/S2 end with HMAC-SHA256 over their first 1504
//! bytes, keyed with HMAC-SHA256(full key, the peer's C1/S1 digest).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Size in bytes of C1, S1, C2 and S2.
pub const PACKET_SIZE: usize = 1536;
/// Size in bytes of an HMAC-SHA256 digest.
pub const DIGEST_SIZE: usize = 32;
/// Bytes covered by a C2/S2 signature (the packet minus the signature).
pub const SIGNED_SIZE: usize = PACKET_SIZE - DIGEST_SIZE;

/// The 32 bytes shared by both keys after their text.
const KEY_TAIL: [u8; 32] = [
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
];

const fn join<const N: usize>(text: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut i = 0;
    while i < text.len() {
        out[i] = text[i];
        i += 1;
    }
    let mut j = 0;
    while j < KEY_TAIL.len() {
        out[text.len() + j] = KEY_TAIL[j];
        j += 1;
    }
    out
}

/// "Genuine Adobe Flash Player 001" + 32 bytes (62 bytes). The first 30
/// bytes key the client's C1 digest; all 62 key the C2 signature.
pub const FLASH_PLAYER_KEY: [u8; 62] = join(b"Genuine Adobe Flash Player 001");
/// "Genuine Adobe Flash Media Server 001" + 32 bytes (68 bytes). The first
/// 36 bytes key the server's S1 digest; all 68 key the S2 signature.
pub const FLASH_MEDIA_SERVER_KEY: [u8; 68] = join(b"Genuine Adobe Flash Media Server 001");
/// Length of the client key's text part, used for C1 digests.
pub const FLASH_PLAYER_KEY_TEXT_LEN: usize = 30;
/// Length of the server key's text part, used for S1 digests.
pub const FLASH_MEDIA_SERVER_KEY_TEXT_LEN: usize = 36;

// The largest offsets keep the digest inside the packet, and scheme 0's
// digest clear of scheme 1's offset bytes.
const _: () = assert!(727 + 12 + DIGEST_SIZE <= 772);
const _: () = assert!(727 + 776 + DIGEST_SIZE <= PACKET_SIZE);

/// Where a C1/S1 carries its digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestScheme {
    /// Offset = (sum of bytes 8..12) % 728 + 12 (digest in the first half).
    Scheme0,
    /// Offset = (sum of bytes 772..776) % 728 + 776 (digest in the second half).
    Scheme1,
}

impl DigestScheme {
    /// Both schemes, in the order a server tries them.
    pub const ALL: [Self; 2] = [Self::Scheme0, Self::Scheme1];

    /// Byte offset of the 32-byte digest in `packet`; always
    /// `<= PACKET_SIZE - DIGEST_SIZE`.
    pub fn digest_offset(self, packet: &[u8; PACKET_SIZE]) -> usize {
        let (at, base) = match self {
            Self::Scheme0 => (8, 12),
            Self::Scheme1 => (772, 776),
        };
        let sum: usize = packet
            .get(at..at + 4)
            .unwrap_or_default()
            .iter()
            .map(|b| usize::from(*b))
            .sum();
        sum % 728 + base
    }
}

/// HMAC-SHA256 of the concatenated `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; DIGEST_SIZE] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The digest of `packet` for a digest at `offset`: HMAC-SHA256 under
/// `key` over the packet without the 32 bytes at `offset`.
pub fn packet_digest(packet: &[u8; PACKET_SIZE], offset: usize, key: &[u8]) -> [u8; DIGEST_SIZE] {
    let before = packet.get(..offset).unwrap_or_default();
    let after = packet.get(offset + DIGEST_SIZE..).unwrap_or_default();
    hmac_sha256(key, &[before, after])
}

/// Looks for a valid digest under `key` at both scheme offsets; returns
/// the scheme and the digest found.
pub fn find_digest(
    packet: &[u8; PACKET_SIZE],
    key: &[u8],
) -> Option<(DigestScheme, [u8; DIGEST_SIZE])> {
    DigestScheme::ALL.into_iter().find_map(|scheme| {
        let offset = scheme.digest_offset(packet);
        let expected = packet_digest(packet, offset, key);
        let present = packet.get(offset..offset + DIGEST_SIZE)?;
        (present == expected).then_some((scheme, expected))
    })
}

/// Writes the digest under `key` into `packet` at `scheme`'s offset and
/// returns it. The offset bytes themselves are outside the digest.
pub fn sign_packet(
    packet: &mut [u8; PACKET_SIZE],
    scheme: DigestScheme,
    key: &[u8],
) -> [u8; DIGEST_SIZE] {
    let offset = scheme.digest_offset(packet);
    let digest = packet_digest(packet, offset, key);
    if let Some(slot) = packet.get_mut(offset..offset + DIGEST_SIZE) {
        slot.copy_from_slice(&digest);
    }
    digest
}

/// The signature ending a C2/S2: HMAC-SHA256 over `packet[..1504]` keyed
/// with HMAC-SHA256(`full_key`, `peer_digest`).
pub fn response_signature(
    packet: &[u8; PACKET_SIZE],
    peer_digest: &[u8; DIGEST_SIZE],
    full_key: &[u8],
) -> [u8; DIGEST_SIZE] {
    let key = hmac_sha256(full_key, &[peer_digest]);
    hmac_sha256(&key, &[packet.get(..SIGNED_SIZE).unwrap_or_default()])
}

/// Signs a C2/S2 in place (see [`response_signature`]).
pub fn sign_response(
    packet: &mut [u8; PACKET_SIZE],
    peer_digest: &[u8; DIGEST_SIZE],
    full_key: &[u8],
) {
    let signature = response_signature(packet, peer_digest, full_key);
    if let Some(slot) = packet.get_mut(SIGNED_SIZE..) {
        slot.copy_from_slice(&signature);
    }
}

/// True when `packet` ends with the signature [`sign_response`] writes.
pub fn verify_response(
    packet: &[u8; PACKET_SIZE],
    peer_digest: &[u8; DIGEST_SIZE],
    full_key: &[u8],
) -> bool {
    packet.get(SIGNED_SIZE..) == Some(&response_signature(packet, peer_digest, full_key)[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_published_ones() {
        assert_eq!(&FLASH_PLAYER_KEY[..30], b"Genuine Adobe Flash Player 001");
        assert_eq!(
            &FLASH_MEDIA_SERVER_KEY[..36],
            b"Genuine Adobe Flash Media Server 001"
        );
        assert_eq!(FLASH_PLAYER_KEY[30..], FLASH_MEDIA_SERVER_KEY[36..]);
        assert_eq!(FLASH_PLAYER_KEY[30], 0xF0);
        assert_eq!(FLASH_PLAYER_KEY[61], 0xAE);
    }

    #[test]
    fn digest_offsets() {
        let mut p = [0u8; PACKET_SIZE];
        assert_eq!(DigestScheme::Scheme0.digest_offset(&p), 12);
        assert_eq!(DigestScheme::Scheme1.digest_offset(&p), 776);
        p[8..12].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(DigestScheme::Scheme0.digest_offset(&p), 22);
        p[8..12].copy_from_slice(&[255; 4]);
        // 1020 % 728 = 292.
        assert_eq!(DigestScheme::Scheme0.digest_offset(&p), 304);
        p[772..776].copy_from_slice(&[255; 4]);
        assert_eq!(DigestScheme::Scheme1.digest_offset(&p), 1068);
    }

    #[test]
    fn hmac_sha256_rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe".
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(mac[..8], [0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e]);
    }

    #[test]
    fn sign_then_find_for_both_schemes() {
        for scheme in DigestScheme::ALL {
            let mut p = [0u8; PACKET_SIZE];
            for (i, b) in p.iter_mut().enumerate() {
                *b = (i * 31 % 251) as u8;
            }
            let key = &FLASH_PLAYER_KEY[..FLASH_PLAYER_KEY_TEXT_LEN];
            let digest = sign_packet(&mut p, scheme, key);
            assert_eq!(find_digest(&p, key), Some((scheme, digest)));
            // Another key does not verify.
            assert_eq!(find_digest(&p, &FLASH_MEDIA_SERVER_KEY[..36]), None);
        }
    }
}
