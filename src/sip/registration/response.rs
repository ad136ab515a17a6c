//! What the registration core needs from a REGISTER's final response.

use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Response, Uri};

/// The facts of one final response (RFC 3261 §10.2.4, §10.2.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterAnswer {
    /// Status code.
    pub code: u16,
    /// Reason phrase as received, or the standard one.
    pub reason: String,
    /// Lifetime granted to our Contact, in seconds: the `expires` param of
    /// the response Contact matching ours, else the Expires header; `None`
    /// when neither is present (the requested value then applies).
    pub granted_expires: Option<u32>,
    /// Min-Expires (of a 423), in seconds.
    pub min_expires: Option<u32>,
}

impl RegisterAnswer {
    /// Reads `resp`, where `ours` is the Contact we registered.
    pub fn from_response(resp: &Response, ours: &Uri) -> Self {
        Self {
            code: resp.status_code.code(),
            reason: reason_of(resp),
            granted_expires: granted_expires(resp, ours),
            min_expires: resp
                .min_expires_header()
                .and_then(|h| parse_delta(h.value())),
        }
    }
}

/// A delta-seconds value (RFC 3261 §25.1), saturating at `u32::MAX`.
fn parse_delta(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        s.parse::<u64>()
            .map_or(u32::MAX, |v| u32::try_from(v).unwrap_or(u32::MAX)),
    )
}

/// The granted lifetime of our binding: the lowest `expires` among the
/// response Contacts that are ours ([`same_binding`]), else the Expires
/// header.
pub fn granted_expires(resp: &Response, ours: &Uri) -> Option<u32> {
    let contacts = resp.typed_contact_headers().unwrap_or_default();
    let mine = contacts
        .iter()
        .filter(|c| same_binding(&c.uri, ours))
        .filter_map(|c| c.expires())
        .min();
    mine.or_else(|| resp.expires_header().and_then(|h| parse_delta(h.value())))
}

/// Whether two Contact URIs name the same binding: same user part, same host
/// (case-insensitive), same port (5060 when absent). Registrars may add URI
/// parameters; they are ignored.
pub fn same_binding(a: &Uri, b: &Uri) -> bool {
    let user = |u: &Uri| u.auth.as_ref().map(|a| a.user.clone());
    let port = |u: &Uri| {
        u.host_with_port
            .port
            .as_ref()
            .map(|p| p.value())
            .unwrap_or(5060)
    };
    user(a) == user(b)
        && a.host_with_port
            .host
            .to_string()
            .eq_ignore_ascii_case(&b.host_with_port.host.to_string())
        && port(a) == port(b)
}

/// The reason phrase as received, or the standard one for the code.
pub fn reason_of(resp: &Response) -> String {
    if let Some(r) = &resp.wire_reason {
        return r.clone();
    }
    let s = resp.status_code.to_string();
    match s.split_once(' ') {
        Some((_, phrase)) => phrase.to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(first: &str, headers: &str) -> Response {
        let text = format!(
            "SIP/2.0 {first}\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
             From: <sip:a@h>;tag=1\r\nTo: <sip:a@h>;tag=2\r\nCall-ID: c\r\n\
             CSeq: 2 REGISTER\r\n{headers}Content-Length: 0\r\n\r\n"
        );
        Response::try_from(text.as_str()).unwrap()
    }

    fn ours() -> Uri {
        Uri::try_from("sip:rabcdefghijklmnopqrst@127.0.0.1:5070").unwrap()
    }

    #[test]
    fn kamailio_200_grants_via_contact_param() {
        // As Kamailio 5.6 answers (other bindings of the AoR are listed too).
        let r = resp(
            "200 OK",
            "Contact: <sip:other@127.0.0.1:5099>;expires=3000, \
             <sip:rabcdefghijklmnopqrst@127.0.0.1:5070;transport=udp>;expires=10\r\n\
             Server: kamailio (5.6.3 (x86_64/linux))\r\n",
        );
        let a = RegisterAnswer::from_response(&r, &ours());
        assert_eq!(a.code, 200);
        assert_eq!(a.reason, "OK");
        assert_eq!(a.granted_expires, Some(10));
        assert_eq!(a.min_expires, None);
    }

    #[test]
    fn expires_header_when_our_contact_has_no_param() {
        let r = resp(
            "200 OK",
            "Contact: <sip:rabcdefghijklmnopqrst@127.0.0.1:5070>\r\nExpires: 120\r\n",
        );
        assert_eq!(granted_expires(&r, &ours()), Some(120));
        let r = resp("200 OK", "Contact: <sip:x@127.0.0.1:5070>;expires=5\r\n");
        assert_eq!(granted_expires(&r, &ours()), None, "someone else's binding");
    }

    #[test]
    fn interval_too_brief_carries_min_expires() {
        let r = resp("423 Interval Too Brief", "Min-Expires: 60\r\n");
        let a = RegisterAnswer::from_response(&r, &ours());
        assert_eq!((a.code, a.min_expires), (423, Some(60)));
        assert_eq!(a.reason, "Interval Too Brief");
        let r = resp("423 Interval Too Brief", "Min-Expires: soon\r\n");
        assert_eq!(RegisterAnswer::from_response(&r, &ours()).min_expires, None);
        let r = resp("423 Interval Too Brief", "Min-Expires: 99999999999\r\n");
        assert_eq!(
            RegisterAnswer::from_response(&r, &ours()).min_expires,
            Some(u32::MAX)
        );
    }

    #[test]
    fn binding_match_ignores_params_and_default_port() {
        let u = |s: &str| Uri::try_from(s).unwrap();
        assert!(same_binding(
            &u("sip:t@H.example;ob"),
            &u("sip:t@h.example:5060")
        ));
        assert!(!same_binding(&u("sip:t@h:5061"), &u("sip:t@h")));
        assert!(!same_binding(&u("sip:t@h"), &u("sip:u@h")));
    }
}
