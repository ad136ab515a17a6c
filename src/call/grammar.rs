//! The pieces of the SIP-URI grammar (RFC 3261 §25.1) that dial URIs and
//! `[policy]` patterns share: character classes, escapes, hosts and ports.
//!
//! Everything here works on ASCII text; callers refuse other bytes first.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::uri::DialUriError;

/// Longest hostname, in bytes (RFC 1035 §2.3.4, without the trailing dot).
const MAX_HOSTNAME: usize = 253;
/// Longest hostname label, in bytes (RFC 1035 §2.3.4).
const MAX_LABEL: usize = 63;

/// `unreserved = alphanum / mark` (RFC 3261 §25.1).
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b)
}

/// `user-unreserved` (RFC 3261 §25.1): what a user part may carry
/// unescaped besides `unreserved`.
pub(crate) fn is_user_unreserved(b: u8) -> bool {
    b"&=+?$,;/".contains(&b)
}

/// `paramchar = param-unreserved / unreserved / escaped` without the
/// escape (RFC 3261 §25.1).
pub(crate) fn is_param_char(b: u8) -> bool {
    is_unreserved(b) || b"[]/:&+$".contains(&b)
}

/// A byte as RFC 3261 §25.1 `escaped` would write it in a user part: as is
/// when `unreserved` or `user-unreserved`, else `%XX` (upper-case hex).
pub(crate) fn push_user_byte(out: &mut String, b: u8) {
    if is_unreserved(b) || is_user_unreserved(b) {
        out.push(char::from(b));
    } else {
        out.push_str(&format!("%{b:02X}"));
    }
}

/// `user` escaped for the wire (RFC 3261 §25.1 `user`).
pub(crate) fn escape_user(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    for b in user.bytes() {
        push_user_byte(&mut out, b);
    }
    out
}

/// One unit of a user part: a literal byte (escapes decoded) or, in
/// patterns, a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserUnit {
    Byte(u8),
    /// An unescaped `*` (only meaningful in patterns).
    Star,
    /// An unescaped `?` (only meaningful in patterns).
    Question,
}

/// Splits an RFC 3261 §25.1 `user` into units, decoding `%XX` escapes.
///
/// # Errors
/// [`DialUriError::UserChar`] for a byte outside the user characters
/// (`:` included: passwords are not accepted), [`DialUriError::BadEscape`]
/// for a `%` not followed by two hex digits, [`DialUriError::EscapedControl`]
/// for an escape that decodes to a control character.
pub(crate) fn user_units(text: &str) -> Result<Vec<UserUnit>, DialUriError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let v = decode_escape(bytes, i)?;
            if v.is_ascii_control() {
                return Err(DialUriError::EscapedControl);
            }
            out.push(UserUnit::Byte(v));
            i += 3;
            continue;
        }
        if b == b':' {
            return Err(DialUriError::Password);
        }
        if !(is_unreserved(b) || is_user_unreserved(b)) {
            return Err(DialUriError::UserChar(char::from(b)));
        }
        out.push(match b {
            b'*' => UserUnit::Star,
            b'?' => UserUnit::Question,
            _ => UserUnit::Byte(b),
        });
        i += 1;
    }
    Ok(out)
}

/// The decoded user from its units (wildcards read literally).
///
/// # Errors
/// [`DialUriError::BadEscape`] when the decoded bytes are not UTF-8.
pub(crate) fn user_from_units(units: &[UserUnit]) -> Result<String, DialUriError> {
    let bytes: Vec<u8> = units
        .iter()
        .map(|u| match u {
            UserUnit::Byte(b) => *b,
            UserUnit::Star => b'*',
            UserUnit::Question => b'?',
        })
        .collect();
    String::from_utf8(bytes).map_err(|_| DialUriError::BadEscape)
}

/// The byte a `%XX` escape at `bytes[i]` stands for.
fn decode_escape(bytes: &[u8], i: usize) -> Result<u8, DialUriError> {
    let hex = |k: usize| {
        bytes
            .get(k)
            .and_then(|b| char::from(*b).to_digit(16))
            .ok_or(DialUriError::BadEscape)
    };
    let v = hex(i + 1)? * 16 + hex(i + 2)?;
    u8::try_from(v).map_err(|_| DialUriError::BadEscape)
}

/// Checks a `pname` or `pvalue` (RFC 3261 §25.1 `1*paramchar`).
pub(crate) fn check_param_text(text: &str) -> Result<(), DialUriError> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return Err(DialUriError::BadParam);
    }
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            decode_escape(bytes, i)?;
            i += 3;
        } else if is_param_char(bytes[i]) {
            i += 1;
        } else {
            return Err(DialUriError::BadParam);
        }
    }
    Ok(())
}

/// A host, normalised: a lower-case hostname or an IP address
/// (RFC 3261 §25.1 `host`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DialHost {
    /// A hostname: dot-separated LDH labels of 1 to 63 bytes, at most 253
    /// bytes, lower-case, the last label starting with a letter
    /// (RFC 3261 §25.1 `toplabel`, RFC 1123 §2.1), no trailing dot.
    Name(String),
    /// An IPv4 address (dotted quad) or an IPv6 address (written bracketed).
    Ip(IpAddr),
}

impl fmt::Display for DialHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialHost::Name(n) => f.write_str(n),
            DialHost::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            DialHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

impl DialHost {
    /// Parses `hostname / IPv4address / "[" IPv6address "]"`.
    ///
    /// # Errors
    /// [`DialUriError::BadHost`] with the reason.
    pub fn parse(text: &str) -> Result<Self, DialUriError> {
        if let Some(inner) = text.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or(DialUriError::BadHost("unclosed '['"))?;
            return inner
                .parse::<Ipv6Addr>()
                .map(|ip| DialHost::Ip(IpAddr::V6(ip)))
                .map_err(|_| DialUriError::BadHost("not an IPv6 address inside [ ]"));
        }
        if let Ok(ip) = text.parse::<Ipv4Addr>() {
            return Ok(DialHost::Ip(IpAddr::V4(ip)));
        }
        hostname(text).map(DialHost::Name)
    }
}

/// A hostname, lower-cased (see [`DialHost::Name`]).
pub(crate) fn hostname(text: &str) -> Result<String, DialUriError> {
    if text.is_empty() {
        return Err(DialUriError::NoHost);
    }
    if text.len() > MAX_HOSTNAME {
        return Err(DialUriError::BadHost("hostname longer than 253 bytes"));
    }
    if text.contains(':') {
        return Err(DialUriError::BadHost("an IPv6 address must be in [ ]"));
    }
    let mut last = "";
    for label in text.split('.') {
        let b = label.as_bytes();
        if b.is_empty() || b.len() > MAX_LABEL {
            return Err(DialUriError::BadHost(
                "hostname labels are 1 to 63 bytes (no empty label, no trailing dot)",
            ));
        }
        if !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
            return Err(DialUriError::BadHost(
                "hostnames are letters, digits, '-' and '.' only",
            ));
        }
        if b.first() == Some(&b'-') || b.last() == Some(&b'-') {
            return Err(DialUriError::BadHost(
                "a hostname label cannot begin or end with '-'",
            ));
        }
        last = label;
    }
    if !last.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()) {
        return Err(DialUriError::BadHost(
            "not a hostname (the last label must begin with a letter) nor a dotted-quad IPv4 address",
        ));
    }
    Ok(text.to_ascii_lowercase())
}

/// A port: 1 to 5 decimal digits, 1..=65535.
pub(crate) fn port(text: &str) -> Result<u16, DialUriError> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DialUriError::BadPort);
    }
    match text.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(DialUriError::BadPort),
    }
}

/// Splits `host[:port]` (the host possibly a bracketed IPv6 address).
///
/// # Errors
/// As [`DialHost::parse`] and [`port`].
pub(crate) fn host_port(text: &str) -> Result<(&str, Option<&str>), DialUriError> {
    if text.is_empty() {
        return Err(DialUriError::NoHost);
    }
    if text.starts_with('[') {
        let close = text
            .find(']')
            .ok_or(DialUriError::BadHost("unclosed '['"))?;
        let (host, rest) = text.split_at(close + 1);
        return match rest {
            "" => Ok((host, None)),
            _ => rest
                .strip_prefix(':')
                .map(|p| (host, Some(p)))
                .ok_or(DialUriError::BadHost("text after ']'")),
        };
    }
    match text.split_once(':') {
        Some((h, p)) if !p.contains(':') => Ok((h, Some(p))),
        Some(_) => Err(DialUriError::BadHost("an IPv6 address must be in [ ]")),
        None => Ok((text, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let h = |s: &str| DialHost::parse(s).map(|h| h.to_string());
        assert_eq!(h("Example.COM").unwrap(), "example.com");
        assert_eq!(h("127.0.0.1").unwrap(), "127.0.0.1");
        assert_eq!(h("[::1]").unwrap(), "[::1]");
        assert_eq!(h("[2001:DB8:0:0::1]").unwrap(), "[2001:db8::1]");
        assert_eq!(h("a-b.c1.example").unwrap(), "a-b.c1.example");
        assert_eq!(
            h("127.0.0.1.evil.invalid").unwrap(),
            "127.0.0.1.evil.invalid"
        );
        for bad in [
            "",
            "127.1",
            "127.000.0.1",
            "0x7f000001",
            "1.2.3.4.5",
            "example.com.",
            ".example.com",
            "a..b",
            "-a.com",
            "a-.com",
            "a_b.com",
            "::1",
            "[::1",
            "[fe80::1%eth0]",
            "[127.0.0.1]",
            "a%41.com",
        ] {
            assert!(DialHost::parse(bad).is_err(), "{bad:?}");
        }
        assert!(DialHost::parse(&format!("{}.com", "a".repeat(64))).is_err());
        assert!(DialHost::parse(&format!("{}.com", "a".repeat(63))).is_ok());
        let long = ["a".repeat(63).as_str(); 4].join(".");
        assert_eq!(long.len(), 255);
        assert!(DialHost::parse(&long).is_err());
    }

    #[test]
    fn ports() {
        assert_eq!(port("5060"), Ok(5060));
        assert_eq!(port("65535"), Ok(65535));
        assert_eq!(port("05060"), Ok(5060));
        for bad in ["", "0", "65536", "123456", "+1", "50 60", "0x10"] {
            assert!(port(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn users() {
        let u = |s: &str| user_units(s).and_then(|u| user_from_units(&u));
        assert_eq!(u("bob").unwrap(), "bob");
        assert_eq!(u("%62ob").unwrap(), "bob");
        assert_eq!(u("+1-555;isub=1").unwrap(), "+1-555;isub=1");
        assert_eq!(u("a%20b").unwrap(), "a b");
        assert_eq!(u("b:pw"), Err(DialUriError::Password));
        assert_eq!(u("a%0D%0Ab"), Err(DialUriError::EscapedControl));
        assert_eq!(u("a%7"), Err(DialUriError::BadEscape));
        assert_eq!(u("a%zz"), Err(DialUriError::BadEscape));
        assert_eq!(u("a%FF"), Err(DialUriError::BadEscape));
        assert_eq!(u("a<b"), Err(DialUriError::UserChar('<')));
        assert_eq!(escape_user("a b%é"), "a%20b%25%C3%A9");
    }
}
