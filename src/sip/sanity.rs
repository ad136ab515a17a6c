//! Basic request sanity (RFC 3261 §8.2, §18.3, §20), checked before any
//! transaction or dialog exists.
//!
//! rsipstack's parser is lenient: it keeps duplicated headers, reads an
//! unparseable `Content-Length` as 0 and cuts the body to it, and parses
//! typed headers only when asked. [`check_request`] refuses what a UAS must
//! not act on:
//!
//! | violation | answer |
//! |---|---|
//! | SIP version other than 2.0 | 505 (RFC 3261 §8.2.? / §21.5.7) |
//! | Call-ID, CSeq, From, To missing or repeated; no Via | 400 (§8.1.1, §20) |
//! | CSeq not `<number> <method>`, number ≥ 2^31, method ≠ request method | 400 (§8.1.1.5, §20.16) |
//! | From, To, top Via, Max-Forwards unparseable | 400 |
//! | From, To, Contact: unbalanced quotes, a display name with non-token characters, whitespace in an addr-spec, empty parameters (RFC 4475 quotbal, baddn, badaspec, badinv01) | 400 (§25.1) |
//! | Via with an empty parameter or element | 400 (§25.1) |
//! | Request-URI with `?headers` (RFC 4475 escruri) | 400 (§19.1.1) |
//!
//! (rsipstack's URI parser strips `<` `>` around a Request-URI before we
//! see it, so RFC 4475 ltgtruri is handled as if they were absent.)
//! | Max-Forwards 0 | 483 Too Many Hops (§16.3 item 2, §8.1.1.6) |
//! | Content-Length repeated, not a number, or larger than the body | 400 (§18.3, §20.14) |
//! | Request-URI scheme other than sip/sips/tel | 416 (§8.2.2.1) |
//!
//! The caller answers the status (stateless, within the refusal budget) or
//! drops the request: an ACK is never answered (§17.1.1.3).

use rsipstack::sip::{Header, HeadersExt, Request, ToTypedHeader, Version};

mod addr;

/// Longest request line value or header we look at, in bytes: anything is
/// already bounded by the UDP datagram, this bounds the work per header.
const MAX_CALL_ID: usize = 1024;

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// The SIP version is not 2.0.
    #[error("unsupported SIP version")]
    Version,
    /// A required header is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A header that may appear once appears more often.
    #[error("duplicated {0}")]
    Duplicated(&'static str),
    /// A header's value does not parse.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// CSeq's method is not the request's method.
    #[error("CSeq method differs from the request method")]
    CSeqMethod,
    /// Max-Forwards is 0.
    #[error("Max-Forwards is 0")]
    TooManyHops,
    /// Content-Length exceeds the bytes received.
    #[error("Content-Length larger than the body")]
    ShortBody,
    /// The Request-URI scheme is not sip, sips or tel.
    #[error("unsupported Request-URI scheme")]
    Scheme,
}

impl Violation {
    /// The status code to answer with.
    pub fn status(self) -> u16 {
        match self {
            Violation::Version => 505,
            Violation::TooManyHops => 483,
            Violation::Scheme => 416,
            _ => 400,
        }
    }
}

/// Checks `req` against the table above.
///
/// # Errors
/// The first [`Violation`] found.
pub fn check_request(req: &Request) -> Result<(), Violation> {
    if req.version != Version::V2 {
        return Err(Violation::Version);
    }
    check_scheme(req)?;
    let count = |f: fn(&Header) -> bool| req.headers.iter().filter(|h| f(h)).count();
    once(count(|h| matches!(h, Header::CallId(_))), "Call-ID")?;
    once(count(|h| matches!(h, Header::CSeq(_))), "CSeq")?;
    once(count(|h| matches!(h, Header::From(_))), "From")?;
    once(count(|h| matches!(h, Header::To(_))), "To")?;
    if count(|h| matches!(h, Header::Via(_))) == 0 {
        return Err(Violation::Missing("Via"));
    }
    if count(|h| matches!(h, Header::MaxForwards(_))) > 1 {
        return Err(Violation::Duplicated("Max-Forwards"));
    }
    if count(|h| matches!(h, Header::ContentLength(_))) > 1 {
        return Err(Violation::Duplicated("Content-Length"));
    }
    for h in req.headers.iter() {
        check_header(req, h)?;
    }
    Ok(())
}

fn once(n: usize, name: &'static str) -> Result<(), Violation> {
    match n {
        0 => Err(Violation::Missing(name)),
        1 => Ok(()),
        _ => Err(Violation::Duplicated(name)),
    }
}

fn check_scheme(req: &Request) -> Result<(), Violation> {
    use rsipstack::sip::Scheme;
    let text = req.uri.to_string();
    if text.contains(|c: char| c == '<' || c == '>' || c == '"' || c.is_whitespace()) {
        return Err(Violation::Malformed("Request-URI"));
    }
    // Headers are not allowed in a Request-URI (RFC 3261 §19.1.1 table).
    if !req.uri.headers.is_empty() {
        return Err(Violation::Malformed("Request-URI"));
    }
    match &req.uri.scheme {
        None | Some(Scheme::Sip) | Some(Scheme::Sips) => Ok(()),
        Some(Scheme::Other(s)) if s.eq_ignore_ascii_case("tel") => Ok(()),
        Some(_) => Err(Violation::Scheme),
    }
}

fn check_header(req: &Request, h: &Header) -> Result<(), Violation> {
    match h {
        Header::CallId(v) => {
            let v = v.value();
            if v.is_empty() || v.len() > MAX_CALL_ID || v.contains(char::is_whitespace) {
                return Err(Violation::Malformed("Call-ID"));
            }
        }
        Header::CSeq(v) => check_cseq(req, v.value())?,
        Header::From(v) => {
            v.typed().map_err(|_| Violation::Malformed("From"))?;
            if !addr::name_addr_ok(v.value()) {
                return Err(Violation::Malformed("From"));
            }
        }
        Header::To(v) => {
            v.typed().map_err(|_| Violation::Malformed("To"))?;
            if !addr::name_addr_ok(v.value()) {
                return Err(Violation::Malformed("To"));
            }
        }
        Header::Contact(v) => {
            if !v.value().split(',').all(addr::name_addr_ok) && !addr::name_addr_ok(v.value()) {
                return Err(Violation::Malformed("Contact"));
            }
        }
        Header::Via(v) => {
            if !addr::via_ok(v.value()) {
                return Err(Violation::Malformed("Via"));
            }
        }
        Header::MaxForwards(v) => match digits(v.value()).and_then(|n| u8::try_from(n).ok()) {
            Some(0) => return Err(Violation::TooManyHops),
            Some(_) => {}
            None => return Err(Violation::Malformed("Max-Forwards")),
        },
        Header::ContentLength(v) => {
            let n = digits(v.value()).ok_or(Violation::Malformed("Content-Length"))?;
            if usize::try_from(n).map_or(true, |n| n > req.body.len()) {
                return Err(Violation::ShortBody);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The top Via (first value of the first Via header) parses.
pub fn top_via_parses(req: &Request) -> bool {
    req.via_header().ok().and_then(|v| v.typed().ok()).is_some()
}

/// CSeq = 1*DIGIT LWS Method, the number below 2^31 (RFC 3261 §8.1.1.5).
fn check_cseq(req: &Request, value: &str) -> Result<(), Violation> {
    let mut parts = value.split_whitespace();
    let (Some(num), Some(method), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Violation::Malformed("CSeq"));
    };
    match digits(num) {
        Some(n) if n < (1 << 31) => {}
        _ => return Err(Violation::Malformed("CSeq")),
    }
    if method != req.method.to_string() {
        return Err(Violation::CSeqMethod);
    }
    Ok(())
}

/// A decimal number of at most 10 digits.
fn digits(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsipstack::sip::SipMessage;

    const OK: &str = "INVITE sip:bob@192.0.2.1 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK1\r\n\
        Max-Forwards: 70\r\n\
        From: <sip:a@192.0.2.9>;tag=1\r\n\
        To: <sip:bob@192.0.2.1>\r\n\
        Call-ID: abc@192.0.2.9\r\n\
        CSeq: 1 INVITE\r\n\
        Content-Length: 0\r\n\r\n";

    fn req(text: &str) -> Request {
        match SipMessage::try_from(text.as_bytes()).unwrap() {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => panic!("a response"),
        }
    }

    fn with(replace: &str, by: &str) -> Result<(), Violation> {
        assert!(OK.contains(replace), "{replace}");
        check_request(&req(&OK.replacen(replace, by, 1)))
    }

    #[test]
    fn a_plain_invite_passes() {
        assert_eq!(check_request(&req(OK)), Ok(()));
        assert_eq!(
            with("Max-Forwards: 70\r\n", ""),
            Ok(()),
            "Max-Forwards optional"
        );
        assert_eq!(with("Call-ID:", "i:"), Ok(()), "compact form");
    }

    #[test]
    fn missing_and_duplicated_headers() {
        assert_eq!(
            with("Call-ID: abc@192.0.2.9\r\n", ""),
            Err(Violation::Missing("Call-ID"))
        );
        assert_eq!(
            with("CSeq: 1 INVITE\r\n", ""),
            Err(Violation::Missing("CSeq"))
        );
        assert_eq!(
            with("To: <sip:bob@192.0.2.1>\r\n", ""),
            Err(Violation::Missing("To"))
        );
        assert_eq!(
            with("From: <sip:a@192.0.2.9>;tag=1\r\n", ""),
            Err(Violation::Missing("From"))
        );
        assert_eq!(
            with("Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK1\r\n", ""),
            Err(Violation::Missing("Via"))
        );
        assert_eq!(
            with("CSeq: 1 INVITE\r\n", "CSeq: 1 INVITE\r\nCSeq: 2 INVITE\r\n"),
            Err(Violation::Duplicated("CSeq"))
        );
        assert_eq!(
            with("Call-ID: abc@192.0.2.9\r\n", "Call-ID: a\r\ni: b\r\n"),
            Err(Violation::Duplicated("Call-ID"))
        );
        assert_eq!(
            with("Content-Length: 0\r\n", "Content-Length: 0\r\nl: 0\r\n"),
            Err(Violation::Duplicated("Content-Length"))
        );
    }

    #[test]
    fn cseq_rules() {
        assert_eq!(
            with("CSeq: 1 INVITE", "CSeq: 1 OPTIONS"),
            Err(Violation::CSeqMethod)
        );
        assert_eq!(
            with("CSeq: 1 INVITE", "CSeq: 1 invite"),
            Err(Violation::CSeqMethod)
        );
        assert_eq!(
            with("CSeq: 1 INVITE", "CSeq: INVITE"),
            Err(Violation::Malformed("CSeq"))
        );
        assert_eq!(
            with("CSeq: 1 INVITE", "CSeq: 2147483648 INVITE"),
            Err(Violation::Malformed("CSeq"))
        );
        assert_eq!(
            with("CSeq: 1 INVITE", "CSeq: -1 INVITE"),
            Err(Violation::Malformed("CSeq"))
        );
    }

    #[test]
    fn max_forwards_and_content_length() {
        assert_eq!(
            with("Max-Forwards: 70", "Max-Forwards: 0"),
            Err(Violation::TooManyHops)
        );
        assert_eq!(
            with("Max-Forwards: 70", "Max-Forwards: 300"),
            Err(Violation::Malformed("Max-Forwards"))
        );
        assert_eq!(
            with("Content-Length: 0", "Content-Length: 10"),
            Err(Violation::ShortBody)
        );
        assert_eq!(
            with("Content-Length: 0", "Content-Length: x"),
            Err(Violation::Malformed("Content-Length"))
        );
        assert_eq!(
            with("Content-Length: 0", "Content-Length: 99999999999999999999"),
            Err(Violation::Malformed("Content-Length"))
        );
    }

    #[test]
    fn version_and_status_codes() {
        let r = req(&OK.replacen("SIP/2.0\r\n", "SIP/7.0\r\n", 1));
        assert_eq!(check_request(&r), Err(Violation::Version));
        assert_eq!(Violation::Version.status(), 505);
        assert_eq!(Violation::TooManyHops.status(), 483);
        assert_eq!(Violation::Missing("To").status(), 400);
    }

    #[test]
    fn request_uri_headers_and_name_addrs() {
        let r = req(&OK.replacen(
            "sip:bob@192.0.2.1 SIP",
            "sip:bob@192.0.2.1?Route=%3Csip:x%3E SIP",
            1,
        ));
        assert_eq!(check_request(&r), Err(Violation::Malformed("Request-URI")));
        assert_eq!(
            with(
                "From: <sip:a@192.0.2.9>",
                "From: Bell, Alexander <sip:a@192.0.2.9>"
            ),
            Err(Violation::Malformed("From"))
        );
        assert_eq!(
            with("To: <sip:bob@192.0.2.1>", "To: sip:bob @192.0.2.1"),
            Err(Violation::Malformed("To"))
        );
        assert_eq!(
            with("branch=z9hG4bK1", "branch=z9hG4bK1;;,;,,"),
            Err(Violation::Malformed("Via"))
        );
    }

    #[test]
    fn top_via_must_parse() {
        assert!(top_via_parses(&req(OK)));
    }
}
