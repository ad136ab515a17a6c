//! Attended transfer as transferee (RFC 5589 §7, RFC 3891): a Refer-To
//! URI may embed a `Replaces` header (`sip:carol@h?Replaces=...`, RFC 3261
//! §19.1.1, its value `%XX`-escaped). We take that one header out of the
//! URI, check it against the RFC 3891 §6.1 grammar and rebuild it from
//! its parts, so the new INVITE never carries far-end text we did not
//! parse. Any other embedded header is refused (the REFER gets 400).

use std::fmt;

/// Longest decoded `Replaces` value accepted, bytes.
pub const MAX_REPLACES: usize = 512;

/// Why a Refer-To URI's embedded headers are refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplacesError {
    /// A header other than `Replaces`, or `Replaces` twice.
    #[error("Refer-To embeds a header other than one Replaces")]
    OtherHeader,
    /// A bad `%XX` escape, or decoded bytes outside printable ASCII.
    #[error("bad escape in Refer-To headers")]
    BadEscape,
    /// Not `callid;to-tag=..;from-tag=..[;early-only]` (RFC 3891 §6.1).
    #[error("malformed Replaces")]
    Malformed,
    /// Longer than [`MAX_REPLACES`].
    #[error("Replaces too long")]
    TooLong,
}

/// The dialog a new call replaces (RFC 3891 §6.1): its Call-ID and tags
/// as seen by the party that receives our INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    /// The Call-ID of the dialog to replace.
    pub call_id: String,
    /// Its `to-tag`.
    pub to_tag: String,
    /// Its `from-tag`.
    pub from_tag: String,
    /// `early-only`: replace only an early dialog.
    pub early_only: bool,
}

impl fmt::Display for Replaces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{};to-tag={};from-tag={}",
            self.call_id, self.to_tag, self.from_tag
        )?;
        if self.early_only {
            f.write_str(";early-only")?;
        }
        Ok(())
    }
}

/// Splits a Refer-To URI into the URI without its `?headers` and the
/// `Replaces` they carry, if any (`sip:c@h?Replaces=a%40h%3Bto-tag%3D1%3Bfrom-tag%3D2`
/// -> `sip:c@h`, `a@h;to-tag=1;from-tag=2`).
///
/// # Errors
/// [`ReplacesError`] for any other header, a bad escape or a malformed
/// value.
pub fn split_refer_uri(uri: &str) -> Result<(String, Option<Replaces>), ReplacesError> {
    let Some((base, headers)) = uri.split_once('?') else {
        return Ok((uri.to_string(), None));
    };
    let mut replaces = None;
    for h in headers.split('&') {
        let (name, value) = h.split_once('=').ok_or(ReplacesError::OtherHeader)?;
        if !name.eq_ignore_ascii_case("replaces") || replaces.is_some() {
            return Err(ReplacesError::OtherHeader);
        }
        replaces = Some(parse_replaces(&unescape(value)?)?);
    }
    Ok((base.to_string(), replaces))
}

/// `%XX` escapes decoded (RFC 3261 §19.1.1 `hvalue`); the result must be
/// printable ASCII (no CR, LF, NUL, space).
fn unescape(value: &str) -> Result<String, ReplacesError> {
    if value.len() > MAX_REPLACES * 3 {
        return Err(ReplacesError::TooLong);
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = value.get(i + 1..i + 3).ok_or(ReplacesError::BadEscape)?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| ReplacesError::BadEscape)?;
            out.push(v);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    if out.len() > MAX_REPLACES {
        return Err(ReplacesError::TooLong);
    }
    if !out.iter().all(|b| b.is_ascii_graphic()) {
        return Err(ReplacesError::BadEscape);
    }
    String::from_utf8(out).map_err(|_| ReplacesError::BadEscape)
}

/// RFC 3891 §6.1: `callid *(SEMI replaces-param)`, `to-tag` and
/// `from-tag` required (once each), `early-only` optional; other
/// parameters are refused (we rebuild the value from what we parsed).
pub fn parse_replaces(value: &str) -> Result<Replaces, ReplacesError> {
    if value.len() > MAX_REPLACES {
        return Err(ReplacesError::TooLong);
    }
    let mut parts = value.split(';');
    let call_id = parts.next().unwrap_or_default().trim();
    if call_id.is_empty() || !call_id.bytes().all(is_callid_char) {
        return Err(ReplacesError::Malformed);
    }
    let (mut to_tag, mut from_tag, mut early_only) = (None, None, false);
    for p in parts {
        let (name, v) = match p.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (p.trim(), None),
        };
        let slot = match (name.to_ascii_lowercase().as_str(), v) {
            ("to-tag", Some(_)) => &mut to_tag,
            ("from-tag", Some(_)) => &mut from_tag,
            ("early-only", None) if !early_only => {
                early_only = true;
                continue;
            }
            _ => return Err(ReplacesError::Malformed),
        };
        let v = v.unwrap_or_default();
        if slot.is_some() || v.is_empty() || !v.bytes().all(is_token_char) {
            return Err(ReplacesError::Malformed);
        }
        *slot = Some(v.to_string());
    }
    match (to_tag, from_tag) {
        (Some(to_tag), Some(from_tag)) => Ok(Replaces {
            call_id: call_id.to_string(),
            to_tag,
            from_tag,
            early_only,
        }),
        _ => Err(ReplacesError::Malformed),
    }
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// RFC 3261 §25.1 `callid` = `word [ "@" word ]`: `word` characters.
fn is_callid_char(b: u8) -> bool {
    is_token_char(b) || b"()<>:\\\"/[]?{}@".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refer_uri_headers_table() {
        let ok: &[(&str, &str, Option<&str>)] = &[
            ("sip:carol@h", "sip:carol@h", None),
            (
                "sip:carol@h?Replaces=a%40h%3Bto-tag%3D1%3Bfrom-tag%3D2",
                "sip:carol@h",
                Some("a@h;to-tag=1;from-tag=2"),
            ),
            (
                "sip:c@h:5070;transport=udp?replaces=x%3Bfrom-tag%3DF%3Bto-tag%3DT%3Bearly-only",
                "sip:c@h:5070;transport=udp",
                Some("x;to-tag=T;from-tag=F;early-only"),
            ),
            // Unescaped ';' and '=' read the same.
            (
                "sip:c@h?Replaces=id;to-tag=1;from-tag=2",
                "sip:c@h",
                Some("id;to-tag=1;from-tag=2"),
            ),
        ];
        for (uri, base, want) in ok {
            let (b, r) = split_refer_uri(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
            assert_eq!(b, *base, "{uri}");
            assert_eq!(r.map(|r| r.to_string()).as_deref(), *want, "{uri}");
        }
        let bad: &[(&str, ReplacesError)] = &[
            ("sip:c@h?Subject=hi", ReplacesError::OtherHeader),
            (
                "sip:c@h?Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2&Priority=urgent",
                ReplacesError::OtherHeader,
            ),
            (
                "sip:c@h?Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2&Replaces=b%3Bto-tag%3D1%3Bfrom-tag%3D2",
                ReplacesError::OtherHeader,
            ),
            ("sip:c@h?Replaces", ReplacesError::OtherHeader),
            ("sip:c@h?Replaces=a%3", ReplacesError::BadEscape),
            ("sip:c@h?Replaces=a%zz", ReplacesError::BadEscape),
            // CR LF smuggling another header: refused.
            (
                "sip:c@h?Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2%0D%0AX-Evil%3A1",
                ReplacesError::BadEscape,
            ),
            ("sip:c@h?Replaces=a%3Bto-tag%3D1", ReplacesError::Malformed),
            (
                "sip:c@h?Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2%3Bfoo%3Dbar",
                ReplacesError::Malformed,
            ),
            (
                "sip:c@h?Replaces=a%3Bto-tag%3D1%3Bto-tag%3D3%3Bfrom-tag%3D2",
                ReplacesError::Malformed,
            ),
            (
                "sip:c@h?Replaces=%3Bto-tag%3D1%3Bfrom-tag%3D2",
                ReplacesError::Malformed,
            ),
        ];
        for (uri, want) in bad {
            assert_eq!(split_refer_uri(uri), Err(want.clone()), "{uri}");
        }
        let long = format!(
            "sip:c@h?Replaces={}%3Bto-tag%3D1%3Bfrom-tag%3D2",
            "a".repeat(MAX_REPLACES)
        );
        assert_eq!(split_refer_uri(&long), Err(ReplacesError::TooLong));
    }
}

#[cfg(test)]
mod leg_tests {
    use std::time::{Duration, Instant};

    use super::super::refer::{ReferIn, Transferee};
    use super::super::types::header;
    use super::super::{Action, CallLeg, LegConfig};
    use crate::sip::sdp::Codec;

    #[test]
    fn transferee_takes_replaces_apart_and_refuses_other_headers() {
        let t0 = Instant::now();
        let cases: &[(&str, Result<(&str, Option<&str>), u16>)] = &[
            (
                "<sip:carol@127.0.0.1:5070?Replaces=c1%40h%3Bto-tag%3Dt%3Bfrom-tag%3Df>",
                Ok(("sip:carol@127.0.0.1:5070", Some("c1@h;to-tag=t;from-tag=f"))),
            ),
            ("<sip:carol@127.0.0.1>", Ok(("sip:carol@127.0.0.1", None))),
            ("<sip:carol@127.0.0.1?Subject=x>", Err(400)),
            (
                "<sip:carol@127.0.0.1?Replaces=c1%3Bto-tag%3Dt%3Bfrom-tag%3Df&X-A=1>",
                Err(400),
            ),
            ("<sip:carol@127.0.0.1?Replaces=c1%3Bto-tag%3Dt>", Err(400)),
        ];
        for (refer_to, want) in cases {
            let mut t = Transferee::default();
            let got = match t.on_refer(t0, Some(refer_to)) {
                ReferIn::Ask { target, replaces } => Ok((target, replaces)),
                ReferIn::Refuse(s) => Err(s.code()),
            };
            let want = want.map(|(t, r)| (t.to_string(), r.map(str::to_string)));
            assert_eq!(got, want, "{refer_to}");
        }
    }

    #[test]
    fn an_attended_transfer_invite_carries_replaces() {
        let t0 = Instant::now();
        let cfg = LegConfig {
            codecs: vec![Codec::Pcmu],
            srtp: Default::default(),
            session_expires_s: 1800,
            invite_timeout: Duration::from_secs(120),
            replaces: Some("c1@h;to-tag=t;from-tag=f".into()),
        };
        let mut leg = CallLeg::outgoing(t0, cfg.clone(), Vec::new(), 1);
        let Some(Action::Invite { headers, .. }) = leg.poll_action() else {
            panic!("no INVITE")
        };
        assert_eq!(
            header(&headers, "Replaces"),
            Some("c1@h;to-tag=t;from-tag=f")
        );
        let plain = LegConfig {
            replaces: None,
            ..cfg
        };
        let mut leg = CallLeg::outgoing(t0, plain, Vec::new(), 1);
        let Some(Action::Invite { headers, .. }) = leg.poll_action() else {
            panic!("no INVITE")
        };
        assert_eq!(header(&headers, "Replaces"), None);
    }
}
