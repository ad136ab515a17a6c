//! SDES `a=crypto` (RFC 4568): parsing, printing and the offer/answer
//! choice of one crypto line; the keys go to the media layer as
//! [`SrtpKey`] / [`SrtpParams`].
//!
//! `a=crypto:<tag> <crypto-suite> inline:<key||salt>[|<lifetime>][|<MKI>:<len>] [<session-params>]`
//! (RFC 4568 §9.1). Parsed strictly; a line is unusable (and skipped in
//! an offer, refused in an answer) when:
//!
//! - the tag is not 1-9 digits, or the suite is not one of [`SrtpSuite`];
//! - there is more than one key (`;`-separated key-params: MKI keys);
//! - the key is not canonical base64 of exactly key + salt bytes;
//! - it carries an MKI (our SRTP contexts have none, RFC 3711 §3.1), or a
//!   lifetime below 2^31 packets (we never rekey mid-call, §6.1);
//! - it has any session parameter (`KDR=`, `UNENCRYPTED_SRTP`, `FEC_ORDER`
//!   ...: RFC 4568 §6.3 says an unknown one makes the line unusable, and
//!   we implement none).
//!
//! Keys are never logged; [`CryptoAttr`]'s `Debug` redacts them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

pub use crate::media::srtp::{SrtpKey, SrtpParams, SrtpPolicy, SrtpSuite};

/// Smallest `|lifetime` accepted, in packets (2^31: at 50 packets a second,
/// more than a year).
pub const MIN_LIFETIME: u64 = 1 << 31;

/// Most `a=crypto` lines read from one media description.
pub const MAX_CRYPTO_LINES: usize = 16;

/// One `a=crypto` line (RFC 4568 §9.1): tag, suite and the sender's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CryptoAttr {
    /// The tag (RFC 4568 §6.1: 1-9 digits), echoed in the answer.
    pub tag: u32,
    /// The key (and its suite).
    pub key: SrtpKey,
}

/// Why an `a=crypto` value is not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Not `tag SP suite SP key-params`.
    #[error("malformed a=crypto")]
    Malformed,
    /// A crypto suite we do not implement.
    #[error("unsupported SRTP crypto suite")]
    UnknownSuite,
    /// The key is not base64 of the suite's key + salt length, or there
    /// are several keys.
    #[error("bad SRTP key")]
    BadKey,
    /// An MKI or a lifetime below [`MIN_LIFETIME`].
    #[error("SRTP key lifetime or MKI not supported")]
    KeyParams,
    /// A session parameter (RFC 4568 §6.3).
    #[error("SRTP session parameter not supported")]
    SessionParam,
}

impl CryptoAttr {
    /// Parses the value of an `a=crypto` attribute (after `crypto:`).
    ///
    /// Errors: see [`CryptoError`].
    pub fn parse(value: &str) -> Result<CryptoAttr, CryptoError> {
        let mut parts = value.split(' ');
        let tag = parts.next().ok_or(CryptoError::Malformed)?;
        let suite = parts.next().ok_or(CryptoError::Malformed)?;
        let key_params = parts.next().ok_or(CryptoError::Malformed)?;
        if parts.next().is_some() {
            return Err(CryptoError::SessionParam);
        }
        if tag.is_empty() || tag.len() > 9 || !tag.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CryptoError::Malformed);
        }
        let tag: u32 = tag.parse().map_err(|_| CryptoError::Malformed)?;
        let suite = SrtpSuite::from_name(suite).ok_or(CryptoError::UnknownSuite)?;
        let key = parse_key_params(suite, key_params)?;
        Ok(CryptoAttr { tag, key })
    }

    /// The attribute value: `<tag> <suite> inline:<base64 key||salt>`.
    pub fn to_value(&self) -> String {
        format!(
            "{} {} inline:{}",
            self.tag,
            self.key.suite().name(),
            STANDARD.encode(self.key.key_salt())
        )
    }
}

/// `inline:<key||salt>[|lifetime][|mki:len]`, one key only.
fn parse_key_params(suite: SrtpSuite, params: &str) -> Result<SrtpKey, CryptoError> {
    if params.contains(';') {
        return Err(CryptoError::BadKey);
    }
    let info = params
        .strip_prefix("inline:")
        .ok_or(CryptoError::Malformed)?;
    let mut fields = info.split('|');
    let key_salt = fields.next().unwrap_or_default();
    // 30 bytes are 40 base64 characters; refuse anything longer unread.
    if key_salt.len() > 64 {
        return Err(CryptoError::BadKey);
    }
    let bytes = STANDARD.decode(key_salt).map_err(|_| CryptoError::BadKey)?;
    let key = SrtpKey::new(suite, &bytes).ok_or(CryptoError::BadKey)?;
    for field in fields {
        if field.contains(':') {
            return Err(CryptoError::KeyParams);
        }
        if lifetime(field).is_none_or(|n| n < MIN_LIFETIME) {
            return Err(CryptoError::KeyParams);
        }
    }
    Ok(key)
}

/// A lifetime field: `2^n` or decimal (RFC 4568 §6.1), in packets.
fn lifetime(field: &str) -> Option<u64> {
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    match field.strip_prefix("2^") {
        Some(exp) if digits(exp) => {
            let exp: u32 = exp.parse().ok()?;
            1u64.checked_shl(exp).filter(|_| exp < 64)
        }
        Some(_) => None,
        None if digits(field) => field.parse().ok(),
        None => None,
    }
}

/// The `a=crypto` lines of a media description that parse, in order (at
/// most [`MAX_CRYPTO_LINES`] are read; unusable ones are skipped).
pub fn crypto_lines<'a>(values: impl Iterator<Item = &'a str>) -> Vec<CryptoAttr> {
    values
        .take(MAX_CRYPTO_LINES)
        .filter_map(|v| CryptoAttr::parse(v.trim()).ok())
        .collect()
}

/// Our offer's crypto lines: one per [`SrtpSuite::OFFERED`] suite, tags
/// 1, 2, ..., each with a fresh key from `rng` (RFC 4568 §6.1); with
/// `keep`, the line in force comes first with its tag, suite and key (a
/// re-offer that keeps the contexts, §7.1.4).
pub fn offer_lines(rng: &mut impl rand::RngCore, keep: Option<CryptoAttr>) -> Vec<CryptoAttr> {
    let mut lines: Vec<CryptoAttr> = keep.into_iter().collect();
    let mut tag = 1;
    for suite in SrtpSuite::OFFERED {
        if lines.iter().any(|l| l.key.suite() == suite) {
            continue;
        }
        while lines.iter().any(|l| l.tag == tag) {
            tag += 1;
        }
        lines.push(CryptoAttr {
            tag,
            key: SrtpKey::generate(suite, rng),
        });
    }
    lines
}

/// The answerer's choice (RFC 4568 §7.1.3): the first offered line we can
/// use, and our line for it (same tag and suite, our key). With `keep`
/// (the keys in force) and an offered line carrying the same remote key,
/// our key is kept too (§7.1.4); else a fresh key from `rng`.
///
/// Returns `None` when no offered line is usable (answer 488).
pub fn answer_line(
    offered: &[CryptoAttr],
    keep: Option<SrtpParams>,
    rng: &mut impl rand::RngCore,
) -> Option<(CryptoAttr, SrtpParams)> {
    let theirs = offered.first()?;
    let local = match keep {
        Some(k) if k.remote == theirs.key => k.local,
        _ => SrtpKey::generate(theirs.key.suite(), rng),
    };
    let ours = CryptoAttr {
        tag: theirs.tag,
        key: local,
    };
    Some((
        ours,
        SrtpParams {
            local,
            remote: theirs.key,
        },
    ))
}

/// The offerer's reading of an answer (RFC 4568 §7.1.4): the answer's
/// first usable line must carry a tag we offered with the same suite.
pub fn answered_params(ours: &[CryptoAttr], answer: &[CryptoAttr]) -> Option<SrtpParams> {
    let theirs = answer.first()?;
    let mine = ours
        .iter()
        .find(|o| o.tag == theirs.tag && o.key.suite() == theirs.key.suite())?;
    Some(SrtpParams {
        local: mine.key,
        remote: theirs.key,
    })
}

#[cfg(test)]
#[path = "crypto_tests.rs"]
mod tests;
