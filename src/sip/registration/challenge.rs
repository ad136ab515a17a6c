//! Digest challenge selection and the algorithm names of RFC 8760.
//!
//! rsipstack 0.7.14 computes MD5 and SHA-256 digests (its
//! `dialog::authenticate::handle_client_authenticate`), but its header
//! parser only knows the algorithm tokens `MD5`, `MD5-sess`, `SHA256`,
//! `SHA256-sess`, and a `qop` with a single value. Registrars write
//! `algorithm=SHA-256` (RFC 8760 §2.1, RFC 7616 §3.3, the IANA registry) and
//! may offer `qop="auth,auth-int"` (RFC 3261 §22.4). This module therefore:
//!
//! 1. picks the challenge to answer: the topmost `WWW-Authenticate` (401) or
//!    `Proxy-Authenticate` (407) whose algorithm we support (RFC 8760 §2.4:
//!    servers list them by preference);
//! 2. rewrites that challenge into rsipstack's spelling (`SHA-256` ->
//!    `SHA256`, a qop list -> `auth`), leaving the digest computation to
//!    rsipstack; and
//! 3. writes the standard algorithm name back into the credentials it made
//!    (`SHA256` -> `SHA-256`), which is what the registrar compares.
//!
//! No hashing happens here.

use rsipstack::sip::{headers, Header, Response};

/// Longest challenge header value considered, in bytes.
pub const MAX_CHALLENGE_LEN: usize = 4096;

/// An algorithm we can answer, by its RFC 7616 / RFC 8760 name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// `MD5` (also when the challenge names none, RFC 2617 §3.2.1).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256` (RFC 8760 §2.1).
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl DigestAlgorithm {
    /// From an `algorithm` parameter value, in the RFC or rsipstack spelling
    /// (case-insensitive). `None` for algorithms we cannot answer
    /// (`SHA-512-256`, unknown tokens).
    pub fn parse(token: &str) -> Option<Self> {
        match token.trim().to_ascii_uppercase().as_str() {
            "MD5" => Some(Self::Md5),
            "MD5-SESS" => Some(Self::Md5Sess),
            "SHA-256" | "SHA256" => Some(Self::Sha256),
            "SHA-256-SESS" | "SHA256-SESS" => Some(Self::Sha256Sess),
            _ => None,
        }
    }

    /// The name registrars expect (RFC 8760 §2.1).
    pub fn rfc_name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
        }
    }

    /// The token rsipstack 0.7.14 parses.
    fn rsipstack_name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA256",
            Self::Sha256Sess => "SHA256-sess",
        }
    }
}

/// One `name=value` of an auth header; `quoted` keeps the value's quoting.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Param {
    name: String,
    value: String,
    quoted: bool,
}

/// `Scheme name=value, name="quoted, value", ...` -> scheme and params;
/// `None` when malformed (unterminated quote, a param without `=`).
fn split_auth(value: &str) -> Option<(String, Vec<Param>)> {
    if value.len() > MAX_CHALLENGE_LEN {
        return None;
    }
    let value = value.trim();
    let (scheme, mut rest) = match value.split_once(char::is_whitespace) {
        Some((s, r)) => (s, r),
        None => (value, ""),
    };
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if rest.is_empty() {
            break;
        }
        let (name, after) = rest.split_once('=')?;
        let name = name.trim();
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == ',') {
            return None;
        }
        let after = after.trim_start();
        let (value, quoted, next) = if let Some(q) = after.strip_prefix('"') {
            let (v, n) = take_quoted(q)?;
            (v, true, n)
        } else {
            let end = after.find(',').unwrap_or(after.len());
            let (v, n) = after.split_at(end);
            (v.trim().to_string(), false, n)
        };
        params.push(Param {
            name: name.to_string(),
            value,
            quoted,
        });
        rest = next;
    }
    Some((scheme.to_string(), params))
}

/// The content of a quoted string (after its opening quote) with `\`
/// escapes resolved, and the text after the closing quote.
fn take_quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, s.get(i + 1..)?)),
            _ => out.push(c),
        }
    }
    None
}

/// RFC 3261 §25.1 token characters only (safe to write unquoted).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c))
}

fn join_auth(scheme: &str, params: &[Param]) -> String {
    let body: Vec<String> = params
        .iter()
        .map(|p| {
            if p.quoted {
                let v = p.value.replace('\\', "\\\\").replace('"', "\\\"");
                format!("{}=\"{}\"", p.name, v)
            } else {
                format!("{}={}", p.name, p.value)
            }
        })
        .collect();
    format!("{} {}", scheme, body.join(", "))
}

/// The challenge `value` rewritten for rsipstack, with the algorithm it
/// asks for; `None` when it is not a Digest challenge we can answer.
pub fn adapt_challenge(value: &str) -> Option<(String, DigestAlgorithm)> {
    let (scheme, mut params) = split_auth(value)?;
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let mut algorithm = DigestAlgorithm::Md5;
    let mut keep_qop = true;
    for p in params.iter_mut() {
        if p.name.eq_ignore_ascii_case("algorithm") {
            algorithm = DigestAlgorithm::parse(&p.value)?;
            p.value = algorithm.rsipstack_name().to_string();
        } else if p.name.eq_ignore_ascii_case("qop") {
            let offered: Vec<String> = p
                .value
                .split(',')
                .map(|q| q.trim().to_ascii_lowercase())
                .collect();
            match ["auth", "auth-int"]
                .iter()
                .find(|q| offered.iter().any(|o| o == *q))
            {
                Some(q) => p.value = (*q).to_string(),
                None => keep_qop = false,
            }
        }
    }
    if !keep_qop {
        params.retain(|p| !p.name.eq_ignore_ascii_case("qop"));
    }
    Some((join_auth("Digest", &params), algorithm))
}

/// For a 401 or 407: a copy of `resp` whose only challenge is the topmost
/// one we can answer (RFC 8760 §2.4), in rsipstack's spelling, with its
/// algorithm; `None` when no challenge can be answered.
pub fn pick_challenge(resp: &Response) -> Option<(Response, DigestAlgorithm)> {
    let proxy = resp.status_code.code() == 407;
    let chosen = resp.headers.iter().find_map(|h| match h {
        Header::WwwAuthenticate(w) if !proxy => adapt_challenge(w.value()),
        Header::ProxyAuthenticate(p) if proxy => adapt_challenge(p.value()),
        _ => None,
    })?;
    let mut out = resp.clone();
    out.headers
        .retain(|h| !matches!(h, Header::WwwAuthenticate(_) | Header::ProxyAuthenticate(_)));
    let (value, algorithm) = chosen;
    out.headers.push(if proxy {
        Header::ProxyAuthenticate(headers::ProxyAuthenticate::new(value))
    } else {
        Header::WwwAuthenticate(headers::WwwAuthenticate::new(value))
    });
    Some((out, algorithm))
}

/// Credentials `value` (Authorization / Proxy-Authorization) with the
/// algorithm parameter in its RFC 8760 spelling and `qop` as the bare token
/// the grammar asks for (RFC 7616 §3.4: `qop=auth`; rsipstack quotes it).
pub fn standard_credentials(value: &str) -> String {
    let Some((scheme, mut params)) = split_auth(value) else {
        return value.to_string();
    };
    for p in params.iter_mut() {
        if p.name.eq_ignore_ascii_case("algorithm") {
            if let Some(a) = DigestAlgorithm::parse(&p.value) {
                p.value = a.rfc_name().to_string();
            }
        } else if p.name.eq_ignore_ascii_case("qop") && is_token(&p.value) {
            p.quoted = false;
        }
    }
    join_auth(&scheme, &params)
}

/// Rewrites the credentials headers of `headers` with
/// [`standard_credentials`].
pub fn standardise_credentials(headers: &mut rsipstack::sip::Headers) {
    for h in headers.iter_mut() {
        match h {
            Header::Authorization(a) => {
                let v = standard_credentials(a.value());
                a.replace(v);
            }
            Header::ProxyAuthorization(a) => {
                let v = standard_credentials(a.value());
                a.replace(v);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a registrar sends, reading it never panics.
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let _ = adapt_challenge(&s);
            let _ = standard_credentials(&s);
        }

        /// Printing what was read gives the same params back.
        #[test]
        fn split_join_round_trip(
            params in proptest::collection::vec(
                ("[a-z][a-z0-9-]{0,8}", "[ -~]{0,20}", any::<bool>()), 0..6)
        ) {
            let params: Vec<Param> = params
                .into_iter()
                .map(|(name, value, quoted)| {
                    // An unquoted value is a token: no commas, quotes or blanks.
                    let value = if quoted {
                        value
                    } else {
                        value.chars().filter(|c| c.is_ascii_alphanumeric()).collect()
                    };
                    Param { name, value, quoted }
                })
                .collect();
            let text = join_auth("Digest", &params);
            let (scheme, back) = split_auth(&text).expect("own output parses");
            prop_assert_eq!(scheme, "Digest");
            prop_assert_eq!(back, params);
        }
    }

    fn response(code: u16, headers: &str) -> Response {
        let text = format!(
            "SIP/2.0 {code} X\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
             From: <sip:a@h>;tag=1\r\nTo: <sip:a@h>;tag=2\r\nCall-ID: c\r\n\
             CSeq: 1 REGISTER\r\n{headers}Content-Length: 0\r\n\r\n"
        );
        Response::try_from(text.as_str()).unwrap()
    }

    #[test]
    fn kamailio_sha256_challenge_is_respelled() {
        let (v, a) = adapt_challenge(
            "Digest realm=\"127.0.0.1\", nonce=\"Z1abc\", qop=\"auth\", algorithm=SHA-256",
        )
        .unwrap();
        assert_eq!(a, DigestAlgorithm::Sha256);
        assert_eq!(
            v,
            "Digest realm=\"127.0.0.1\", nonce=\"Z1abc\", qop=\"auth\", algorithm=SHA256"
        );
        let typed = rsipstack::sip::typed::WwwAuthenticate::parse(&v).unwrap();
        assert_eq!(
            typed.algorithm,
            Some(rsipstack::sip::headers::auth::Algorithm::Sha256)
        );
    }

    #[test]
    fn md5_and_missing_algorithm_and_qop_lists() {
        let (v, a) =
            adapt_challenge("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int,auth\"").unwrap();
        assert_eq!(a, DigestAlgorithm::Md5);
        assert_eq!(v, "Digest realm=\"r\", nonce=\"n\", qop=\"auth\"");
        let (v, _) =
            adapt_challenge("digest realm=r,nonce=n,qop=\"auth-int\",algorithm=md5").unwrap();
        assert_eq!(
            v,
            "Digest realm=r, nonce=n, qop=\"auth-int\", algorithm=MD5"
        );
        let (v, _) = adapt_challenge("Digest realm=\"r\", nonce=\"n\", qop=\"x-future\"").unwrap();
        assert_eq!(v, "Digest realm=\"r\", nonce=\"n\"");
    }

    #[test]
    fn quoted_commas_and_escapes_survive() {
        let (v, _) = adapt_challenge(
            r#"Digest realm="a, algorithm=SHA-256 \"x\"", nonce="n", algorithm=MD5"#,
        )
        .unwrap();
        assert_eq!(
            v,
            r#"Digest realm="a, algorithm=SHA-256 \"x\"", nonce="n", algorithm=MD5"#
        );
    }

    /// The reason for this module: rsipstack 0.7.14 rejects the RFC 8760
    /// name. When this starts failing, the respelling can go.
    #[test]
    fn rsipstack_does_not_parse_the_rfc_8760_name() {
        use rsipstack::sip::typed::WwwAuthenticate;
        assert!(
            WwwAuthenticate::parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256").is_err()
        );
        assert!(
            WwwAuthenticate::parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth,auth-int\"")
                .is_err()
        );
    }

    #[test]
    fn unanswerable_challenges() {
        assert!(adapt_challenge("Basic realm=\"r\"").is_none());
        assert!(
            adapt_challenge("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256").is_none()
        );
        assert!(adapt_challenge("Digest realm=\"unterminated").is_none());
        assert!(adapt_challenge("Digest realm").is_none());
        assert!(adapt_challenge(&format!("Digest realm=\"{}\"", "x".repeat(5000))).is_none());
    }

    #[test]
    fn picks_the_topmost_supported_challenge() {
        let r = response(
            401,
            "WWW-Authenticate: Digest realm=\"r\", nonce=\"a\", algorithm=SHA-512-256\r\n\
             WWW-Authenticate: Digest realm=\"r\", nonce=\"b\", algorithm=SHA-256\r\n\
             WWW-Authenticate: Digest realm=\"r\", nonce=\"c\", algorithm=MD5\r\n",
        );
        let (picked, alg) = pick_challenge(&r).unwrap();
        assert_eq!(alg, DigestAlgorithm::Sha256);
        let chs: Vec<_> = picked
            .headers
            .iter()
            .filter_map(|h| match h {
                Header::WwwAuthenticate(w) => Some(w.value().to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(
            chs,
            vec!["Digest realm=\"r\", nonce=\"b\", algorithm=SHA256".to_string()]
        );
    }

    #[test]
    fn a_407_uses_proxy_authenticate() {
        let r = response(
            407,
            "WWW-Authenticate: Digest realm=\"w\", nonce=\"w\"\r\n\
             Proxy-Authenticate: Digest realm=\"p\", nonce=\"p\", algorithm=MD5\r\n",
        );
        let (picked, _) = pick_challenge(&r).unwrap();
        assert!(picked.headers.iter().any(
            |h| matches!(h, Header::ProxyAuthenticate(p) if p.value().contains("nonce=\"p\""))
        ));
        assert!(!picked
            .headers
            .iter()
            .any(|h| matches!(h, Header::WwwAuthenticate(_))));
        assert!(pick_challenge(&response(401, "")).is_none());
    }

    #[test]
    fn credentials_get_the_rfc_name_back() {
        let v = "Digest username=\"rtmpuser\", realm=\"127.0.0.1\", nonce=\"n\", \
                 uri=sip:127.0.0.1:5060, response=\"abc\", algorithm=SHA256, qop=\"auth\", nc=00000001, cnonce=\"c\"";
        assert_eq!(
            standard_credentials(v),
            "Digest username=\"rtmpuser\", realm=\"127.0.0.1\", nonce=\"n\", \
             uri=sip:127.0.0.1:5060, response=\"abc\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"c\""
        );
        assert_eq!(standard_credentials("garbage \"x"), "garbage \"x");
    }
}
