//! Trunk credentials bound to their trunk: `[sip.auth]` answers only the
//! challenges of its own realm, for requests sent toward its own host (or
//! the outbound proxy), and never a qop-less RFC 2069 challenge unless
//! `allow_rfc2069` (RFC 3261 §22.1, §26.2.3; RFC 7616 §5.5, §5.9).
//!
//! Two places apply it:
//!
//! - [`TrunkAuth::applies_to`] decides when a request is built whether it
//!   carries the credentials at all (its next hop is `host` or the proxy);
//! - [`TrunkInspector`], an rsipstack `MessageInspector`, removes from every
//!   received 401/407 (except to REGISTER, whose credentials are the RTMP
//!   client's own) each challenge [`TrunkAuth::check`] refuses, before
//!   rsipstack's dialog answers it; the remaining ones are respelled for
//!   rsipstack (`SHA-256`, qop lists, see `registration::challenge`). With
//!   none left the call fails with the 401/407 (see `ua::final_outcome`).
//!   Outgoing credentials get the RFC 8760 algorithm names back.

use rsipstack::sip::{headers, Header, HeadersExt, Method, Response, SipMessage};
use rsipstack::transaction::endpoint::MessageInspector;
use rsipstack::transport::SipAddr;
use tracing::info;

use super::challenge::{ChallengeError, DigestChallenge};
use super::registration::challenge::{adapt_challenge, standardise_credentials, DigestAlgorithm};
use crate::config::SipAuth;

/// Why a challenge is not answered with the trunk credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeRefusal {
    /// The value is not a Digest challenge we can read.
    #[error("unreadable challenge: {0}")]
    Unreadable(ChallengeError),
    /// Its realm is not `[sip.auth] realm`.
    #[error("realm {0:?} is not the trunk's")]
    WrongRealm(String),
    /// No `qop`: RFC 2069 digest, refused unless `allow_rfc2069`.
    #[error("RFC 2069 challenge (no qop) refused")]
    Rfc2069,
    /// An algorithm we cannot answer (e.g. `SHA-512-256`).
    #[error("unsupported algorithm {0:?}")]
    Algorithm(String),
}

/// The trunk a set of credentials belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkAuth {
    realm: String,
    /// `host` or `host:port`, lower case.
    host: String,
    allow_rfc2069: bool,
}

impl TrunkAuth {
    /// The trunk of `[sip.auth]`.
    pub fn new(auth: &SipAuth) -> Self {
        Self {
            realm: auth.realm.clone(),
            host: auth.host.to_ascii_lowercase(),
            allow_rfc2069: auth.allow_rfc2069,
        }
    }

    /// Whether a request whose next hop is `host` (`port` if given, else
    /// 5060) may carry the credentials: always through the outbound proxy
    /// (`via_proxy`), else only when `host[:port]` is the trunk's.
    pub fn applies_to(&self, host: &str, port: Option<u16>, via_proxy: bool) -> bool {
        if via_proxy {
            return true;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let (want_host, want_port) = split_host_port(&self.host);
        want_host.eq_ignore_ascii_case(host) && want_port.is_none_or(|p| p == port.unwrap_or(5060))
    }

    /// Checks one challenge value against realm, qop and algorithm.
    ///
    /// # Errors
    /// The [`ChallengeRefusal`].
    pub fn check(&self, value: &str) -> Result<DigestChallenge, ChallengeRefusal> {
        let c = DigestChallenge::parse(value).map_err(ChallengeRefusal::Unreadable)?;
        if c.realm != self.realm {
            return Err(ChallengeRefusal::WrongRealm(c.realm));
        }
        if c.is_rfc2069() && !self.allow_rfc2069 {
            return Err(ChallengeRefusal::Rfc2069);
        }
        if let Some(a) = &c.algorithm {
            if DigestAlgorithm::parse(a).is_none() {
                return Err(ChallengeRefusal::Algorithm(a.clone()));
            }
        }
        Ok(c)
    }

    /// Keeps, in `resp` (a 401 or 407), only the challenges [`Self::check`]
    /// accepts, respelled for rsipstack; returns the refusals of the others.
    pub fn screen(&self, resp: &mut Response) -> Vec<ChallengeRefusal> {
        let mut refused = Vec::new();
        let mut kept = Vec::new();
        for h in resp.headers.iter() {
            let (value, proxy) = match h {
                Header::WwwAuthenticate(w) => (w.value(), false),
                Header::ProxyAuthenticate(p) => (p.value(), true),
                _ => continue,
            };
            match self.check(value) {
                Ok(_) => match adapt_challenge(value) {
                    Some((v, _)) => kept.push(if proxy {
                        Header::ProxyAuthenticate(headers::ProxyAuthenticate::new(v))
                    } else {
                        Header::WwwAuthenticate(headers::WwwAuthenticate::new(v))
                    }),
                    None => refused.push(ChallengeRefusal::Algorithm(String::new())),
                },
                Err(r) => refused.push(r),
            }
        }
        resp.headers
            .retain(|h| !matches!(h, Header::WwwAuthenticate(_) | Header::ProxyAuthenticate(_)));
        resp.headers.extend(kept);
        refused
    }
}

/// `host:port` -> (`host`, port); IPv6 in brackets.
fn split_host_port(s: &str) -> (&str, Option<u16>) {
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (h, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p.parse().ok()),
        _ => (s, None),
    }
}

/// Applies [`TrunkAuth::screen`] to received 401/407 responses and writes
/// standard algorithm names into sent credentials.
#[derive(Debug)]
pub struct TrunkInspector {
    trunk: Option<TrunkAuth>,
}

impl TrunkInspector {
    /// `trunk`: `None` when `[sip.auth]` has no credentials (challenges are
    /// then the final answer anyway).
    pub fn new(trunk: Option<TrunkAuth>) -> Self {
        Self { trunk }
    }
}

impl MessageInspector for TrunkInspector {
    fn before_send(&self, mut msg: SipMessage, _dest: Option<&SipAddr>) -> SipMessage {
        if let SipMessage::Request(req) = &mut msg {
            let has_credentials = req
                .headers
                .iter()
                .any(|h| matches!(h, Header::Authorization(_) | Header::ProxyAuthorization(_)));
            if has_credentials {
                standardise_credentials(&mut req.headers);
            }
        }
        msg
    }

    fn after_received(&self, mut msg: SipMessage, _from: Option<&SipAddr>) -> SipMessage {
        let (SipMessage::Response(resp), Some(trunk)) = (&mut msg, &self.trunk) else {
            return msg;
        };
        if !matches!(resp.status_code.code(), 401 | 407) {
            return msg;
        }
        let register = resp
            .cseq_header()
            .ok()
            .and_then(|c| c.method().ok())
            .is_some_and(|m| m == Method::Register);
        if register {
            return msg;
        }
        let refused = trunk.screen(resp);
        if !refused.is_empty() {
            info!(
                ?refused,
                "challenge not answered with the trunk credentials"
            );
        }
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(host: &str, rfc2069: bool) -> TrunkAuth {
        TrunkAuth {
            realm: "trunk".into(),
            host: host.into(),
            allow_rfc2069: rfc2069,
        }
    }

    #[test]
    fn host_binding() {
        let t = trunk("sip.example.com", false);
        assert!(t.applies_to("SIP.example.com", Some(5080), false));
        assert!(!t.applies_to("evil.example.com", None, false));
        assert!(
            t.applies_to("evil.example.com", None, true),
            "through the proxy"
        );
        let t = trunk("127.0.0.1:5070", false);
        assert!(t.applies_to("127.0.0.1", Some(5070), false));
        assert!(!t.applies_to("127.0.0.1", Some(5071), false));
        assert!(!t.applies_to("127.0.0.1", None, false));
        let t = trunk("[::1]:5060", false);
        assert!(t.applies_to("[::1]", None, false));
    }

    #[test]
    fn realm_qop_and_algorithm() {
        let t = trunk("h", false);
        assert!(t
            .check("Digest realm=\"trunk\", nonce=\"n\", qop=\"auth\"")
            .is_ok());
        assert_eq!(
            t.check("Digest realm=\"other\", nonce=\"n\", qop=\"auth\""),
            Err(ChallengeRefusal::WrongRealm("other".into()))
        );
        assert_eq!(
            t.check("Digest realm=\"trunk\", nonce=\"n\""),
            Err(ChallengeRefusal::Rfc2069)
        );
        assert!(trunk("h", true)
            .check("Digest realm=\"trunk\", nonce=\"n\"")
            .is_ok());
        assert!(matches!(
            t.check("Digest realm=\"trunk\", nonce=\"n\", qop=auth, algorithm=SHA-512-256"),
            Err(ChallengeRefusal::Algorithm(_))
        ));
        assert!(matches!(
            t.check("Basic realm=\"trunk\""),
            Err(ChallengeRefusal::Unreadable(_))
        ));
    }

    fn response(code: u16, headers: &str) -> Response {
        let text = format!(
            "SIP/2.0 {code} X\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
             From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
             {headers}Content-Length: 0\r\n\r\n"
        );
        match SipMessage::try_from(text.as_bytes()).unwrap() {
            SipMessage::Response(r) => r,
            SipMessage::Request(_) => unreachable!(),
        }
    }

    fn challenges(m: &SipMessage) -> Vec<String> {
        let SipMessage::Response(r) = m else {
            unreachable!()
        };
        r.headers
            .iter()
            .filter_map(|h| match h {
                Header::WwwAuthenticate(w) => Some(w.value().to_string()),
                Header::ProxyAuthenticate(p) => Some(p.value().to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn inspector_strips_foreign_challenges() {
        let i = TrunkInspector::new(Some(trunk("h", false)));
        let r = response(
            407,
            "Proxy-Authenticate: Digest realm=\"evil\", nonce=\"1\", qop=\"auth\"\r\n\
             Proxy-Authenticate: Digest realm=\"trunk\", nonce=\"2\", qop=\"auth,auth-int\", algorithm=SHA-256\r\n",
        );
        let out = i.after_received(r.into(), None);
        let c = challenges(&out);
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(
            c[0].contains("nonce=\"2\"")
                && c[0].contains("SHA256")
                && c[0].contains("qop=\"auth\""),
            "{c:?}"
        );
        let r = response(
            401,
            "WWW-Authenticate: Digest realm=\"trunk\", nonce=\"1\"\r\n",
        );
        assert!(
            challenges(&i.after_received(r.into(), None)).is_empty(),
            "RFC 2069"
        );
    }

    #[test]
    fn register_challenges_are_left_alone() {
        let i = TrunkInspector::new(Some(trunk("h", false)));
        let mut r = response(
            401,
            "WWW-Authenticate: Digest realm=\"client\", nonce=\"1\"\r\n",
        );
        for h in r.headers.iter_mut() {
            if let Header::CSeq(c) = h {
                *c = "1 REGISTER".to_string().into();
            }
        }
        assert_eq!(challenges(&i.after_received(r.into(), None)).len(), 1);
    }
}
