//! SRTP and SRTCP (RFC 3711) for one call, keyed by SDES (RFC 4568): the
//! suites, the master keys each side chose, and [`SrtpSession`], which
//! protects what the bridge sends and unprotects what it receives.
//!
//! The cipher and MAC work is the `rtc-srtp` crate's (webrtc-rs, sans-IO):
//! AES-CM with HMAC-SHA1 (RFC 3711 §4.1.1, §4.2.1) and AES-GCM (RFC 7714);
//! nothing here encrypts or authenticates by itself. What this module adds:
//!
//! - one outbound context (our key) for RTP and RTCP;
//! - inbound contexts (the far end's key) per SSRC, at most
//!   [`MAX_INBOUND_SSRCS`]: a context is kept only once a packet of its
//!   SSRC authenticated, so forged packets with random SSRCs cost a key
//!   derivation each and never memory;
//! - on a re-negotiation ([`SrtpSession::inherit`]) the contexts of a key
//!   that stays are kept, so the rollover counter runs on (RFC 4568
//!   §7.1.4), and those of a new key start afresh;
//! - a replay window of [`REPLAY_WINDOW`] packets each way in (RFC 3711
//!   §3.3.2).
//!
//! Keys never appear in `Debug` output or logs ([`SrtpKey`]).

use std::fmt;
use std::sync::Arc;

use rtc_srtp::context::Context;
use rtc_srtp::crypto::RTCCryptoProvider;
use rtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use rtc_srtp::protection_profile::ProtectionProfile;

use super::MediaError;

/// Replay window of received SRTP and SRTCP, in packets (RFC 3711 §3.3.2:
/// at least 64; libsrtp uses 128).
pub const REPLAY_WINDOW: usize = 128;

/// Most far-end SSRCs with an inbound context at once (a far end changes
/// its SSRC rarely: a new stream after a re-INVITE, RFC 3550 §8.2).
pub const MAX_INBOUND_SSRCS: usize = 4;

/// Longest master key + salt of any suite, in bytes (AES-128: 16 + 14).
pub const MAX_MASTER_LEN: usize = 30;

/// `[media] srtp`: whether calls use SRTP with SDES keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SrtpPolicy {
    /// Plain RTP only (`RTP/AVP`); an `RTP/SAVP` offer is refused (488).
    #[default]
    Off,
    /// Our offers are `RTP/SAVP` with `a=crypto` (a plain `RTP/AVP`
    /// answer is accepted: plain RTP); offers are answered in kind.
    Offer,
    /// SRTP only: plain offers and answers are refused.
    Require,
}

/// An SRTP crypto suite of SDES (RFC 4568 §6.2; RFC 7714 §12 for GCM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SrtpSuite {
    /// `AES_CM_128_HMAC_SHA1_80`: AES-128 counter mode, 80-bit tag (RFC
    /// 4568 §6.2.1). Offered first.
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32`: as above with a 32-bit RTP tag (RTCP
    /// keeps 80 bits, RFC 4568 §6.2.2).
    AesCm128HmacSha1_32,
    /// `AEAD_AES_128_GCM`: AES-128 GCM, 16-byte tag, 12-byte salt (RFC
    /// 7714 §12). Accepted in offers, not offered.
    AeadAes128Gcm,
}

impl SrtpSuite {
    /// Every suite, in our preference order.
    pub const ALL: [SrtpSuite; 3] = [
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_32,
        SrtpSuite::AeadAes128Gcm,
    ];

    /// The suites we put in offers, in order.
    pub const OFFERED: [SrtpSuite; 2] = [
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_32,
    ];

    /// The SDES name (`a=crypto` crypto-suite, case-sensitive per RFC
    /// 4568 §9.2: upper case).
    pub fn name(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            SrtpSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
        }
    }

    /// The suite of an SDES name; `None` for a suite we do not support.
    pub fn from_name(name: &str) -> Option<SrtpSuite> {
        SrtpSuite::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Master key length, in bytes.
    pub fn key_len(self) -> usize {
        16
    }

    /// Master salt length, in bytes (14 for AES-CM, 12 for GCM).
    pub fn salt_len(self) -> usize {
        match self {
            SrtpSuite::AeadAes128Gcm => 12,
            _ => 14,
        }
    }

    /// Key + salt, in bytes: the length of the decoded `inline:` key.
    pub fn master_len(self) -> usize {
        self.key_len() + self.salt_len()
    }

    fn profile(self) -> ProtectionProfile {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            SrtpSuite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
            SrtpSuite::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
        }
    }
}

impl fmt::Display for SrtpSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One side's master key and salt for a suite (the decoded `inline:`
/// key-salt of RFC 4568 §6.1). Its `Debug` never prints the key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SrtpKey {
    suite: SrtpSuite,
    bytes: [u8; MAX_MASTER_LEN],
}

impl SrtpKey {
    /// A key from its key-salt bytes; `None` unless `bytes` is exactly
    /// [`SrtpSuite::master_len`] long.
    pub fn new(suite: SrtpSuite, bytes: &[u8]) -> Option<SrtpKey> {
        if bytes.len() != suite.master_len() {
            return None;
        }
        let mut b = [0u8; MAX_MASTER_LEN];
        b[..bytes.len()].copy_from_slice(bytes);
        Some(SrtpKey { suite, bytes: b })
    }

    /// A fresh key for `suite` from `rng` (a CSPRNG: the caller passes
    /// `OsRng`; RFC 4568 §6.1: a new key per offer or answer).
    pub fn generate(suite: SrtpSuite, rng: &mut impl rand::RngCore) -> SrtpKey {
        let mut bytes = [0u8; MAX_MASTER_LEN];
        rng.fill_bytes(&mut bytes[..suite.master_len()]);
        SrtpKey { suite, bytes }
    }

    /// The suite this key is for.
    pub fn suite(&self) -> SrtpSuite {
        self.suite
    }

    /// Key then salt, [`SrtpSuite::master_len`] bytes.
    pub fn key_salt(&self) -> &[u8] {
        &self.bytes[..self.suite.master_len()]
    }

    fn split(&self) -> (&[u8], &[u8]) {
        self.key_salt().split_at(self.suite.key_len())
    }
}

impl fmt::Debug for SrtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SrtpKey({}, <redacted>)", self.suite)
    }
}

/// The negotiated SDES keys of a call (RFC 4568 §6.1): each side sends
/// with its own key, both under the suite of the accepted `a=crypto`
/// line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpParams {
    /// Our key: what we protect RTP and RTCP with (our SDP's `a=crypto`).
    pub local: SrtpKey,
    /// The far end's key: what its packets are checked with.
    pub remote: SrtpKey,
}

impl SrtpParams {
    /// The suite both keys are for (the local key's).
    pub fn suite(&self) -> SrtpSuite {
        self.local.suite
    }
}

/// Why an incoming packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unprotect {
    /// Authentication failed, the packet was replayed or too short.
    Failed,
}

/// The SRTP contexts of one call (RFC 3711 §3.2): one out, per-SSRC in.
pub struct SrtpSession {
    params: SrtpParams,
    provider: Arc<dyn RTCCryptoProvider>,
    out: Context,
    /// Inbound contexts of SSRCs that authenticated, most recent last.
    inbound: Vec<(u32, Context)>,
}

impl fmt::Debug for SrtpSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpSession")
            .field("suite", &self.params.suite())
            .field("inbound_ssrcs", &self.inbound.len())
            .finish()
    }
}

impl SrtpSession {
    /// Contexts for `params`.
    ///
    /// Errors: [`MediaError::Config`] if the suites of the two keys
    /// differ, or the crypto provider cannot key the suite.
    pub fn new(params: SrtpParams) -> Result<SrtpSession, MediaError> {
        if params.local.suite != params.remote.suite {
            return Err(MediaError::Config("SRTP keys of different suites"));
        }
        let provider = rtc_srtp::crypto::default_provider()
            .map_err(|_| MediaError::Config("no SRTP crypto provider"))?;
        let out = context(&*provider, &params.local)?;
        Ok(SrtpSession {
            params,
            provider,
            out,
            inbound: Vec::new(),
        })
    }

    /// Takes over `old`'s contexts where a key is unchanged (RFC 4568
    /// §7.1.4: a re-offer or answer that keeps a key keeps its rollover
    /// counters and replay windows; only a new key starts afresh).
    pub fn inherit(&mut self, old: SrtpSession) {
        if old.params.local == self.params.local {
            self.out = old.out;
        }
        if old.params.remote == self.params.remote {
            self.inbound = old.inbound;
        }
    }

    /// The keys in force.
    pub fn params(&self) -> &SrtpParams {
        &self.params
    }

    /// Protects an RTP packet we send (RFC 3711 §3.3).
    ///
    /// Errors: [`MediaError::Build`] when the packet is not RTP or the
    /// key's packet limit (2^48) is reached.
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, MediaError> {
        self.out
            .encrypt_rtp(packet)
            .map(|b| b.to_vec())
            .map_err(|e| MediaError::Build(format!("SRTP: {e}")))
    }

    /// Protects an RTCP compound packet we send (RFC 3711 §3.4).
    ///
    /// Errors: [`MediaError::Build`] when the packet is not RTCP.
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, MediaError> {
        self.out
            .encrypt_rtcp(packet)
            .map(|b| b.to_vec())
            .map_err(|e| MediaError::Build(format!("SRTCP: {e}")))
    }

    /// Checks and decrypts an SRTP packet from the far end: the plain RTP
    /// packet, or [`Unprotect::Failed`] (tampered, forged, replayed, too
    /// short).
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, Unprotect> {
        let ssrc = be_u32(packet, 8).ok_or(Unprotect::Failed)?;
        self.inbound_try(ssrc, |ctx| ctx.decrypt_rtp(packet).map(|b| b.to_vec()).ok())
    }

    /// Checks and decrypts an SRTCP packet from the far end (RFC 3711
    /// §3.4), as [`SrtpSession::unprotect_rtp`].
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, Unprotect> {
        let ssrc = be_u32(packet, 4).ok_or(Unprotect::Failed)?;
        self.inbound_try(ssrc, |ctx| {
            ctx.decrypt_rtcp(packet).map(|b| b.to_vec()).ok()
        })
    }

    /// Runs `op` with the SSRC's inbound context; a new SSRC gets a fresh
    /// context that is kept only if `op` succeeds (the oldest goes beyond
    /// [`MAX_INBOUND_SSRCS`]).
    fn inbound_try(
        &mut self,
        ssrc: u32,
        op: impl FnOnce(&mut Context) -> Option<Vec<u8>>,
    ) -> Result<Vec<u8>, Unprotect> {
        if let Some(i) = self.inbound.iter().position(|(s, _)| *s == ssrc) {
            let (_, ctx) = &mut self.inbound[i];
            return op(ctx).ok_or(Unprotect::Failed);
        }
        let mut ctx =
            context(&*self.provider, &self.params.remote).map_err(|_| Unprotect::Failed)?;
        let plain = op(&mut ctx).ok_or(Unprotect::Failed)?;
        if self.inbound.len() >= MAX_INBOUND_SSRCS {
            self.inbound.remove(0);
        }
        self.inbound.push((ssrc, ctx));
        Ok(plain)
    }
}

/// A context keyed with `key`, with replay protection (used inbound; the
/// outbound context never checks).
fn context(provider: &dyn RTCCryptoProvider, key: &SrtpKey) -> Result<Context, MediaError> {
    let (k, salt) = key.split();
    Context::new(
        k,
        salt,
        key.suite.profile(),
        Some(srtp_replay_protection(REPLAY_WINDOW)),
        Some(srtcp_replay_protection(REPLAY_WINDOW)),
        provider.crypto(),
    )
    .map_err(|_| MediaError::Config("SRTP context cannot be keyed"))
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

#[cfg(test)]
#[path = "srtp_tests.rs"]
mod tests;
