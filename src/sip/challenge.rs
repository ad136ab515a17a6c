//! A Digest challenge: the value of a `WWW-Authenticate` (401) or
//! `Proxy-Authenticate` (407) header (RFC 3261 §22.4, §25.1 `challenge`;
//! RFC 7616 §3.3; RFC 7235 §2.1 `auth-param`).
//!
//! ```text
//! Digest realm="trunk.example.com", nonce="b3f1...", qop="auth,auth-int",
//!        algorithm=SHA-256, opaque="x", stale=FALSE
//! ```
//!
//! [`DigestChallenge::parse`] reads one such value strictly: the scheme
//! `Digest` (any case), then comma-separated `name=token` or
//! `name="quoted string"` parameters, each name at most once, `realm` and
//! `nonce` required. Input is bounded ([`MAX_CHALLENGE_LEN`] bytes,
//! [`MAX_PARAMS`] parameters); nothing here panics or allocates beyond the
//! input's size.

/// Longest challenge value parsed, in bytes.
pub const MAX_CHALLENGE_LEN: usize = 4096;
/// Most parameters in one challenge.
pub const MAX_PARAMS: usize = 32;

/// Why a challenge value was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// Longer than [`MAX_CHALLENGE_LEN`] or more than [`MAX_PARAMS`] params.
    #[error("challenge too long")]
    TooLong,
    /// The scheme is not `Digest` (e.g. `Basic`, RFC 3261 §22.1 forbids it).
    #[error("not a Digest challenge")]
    NotDigest,
    /// A parameter is not `name=value`, a quote is unterminated, or a value
    /// has control characters.
    #[error("malformed challenge parameter")]
    Malformed,
    /// A parameter appears twice (RFC 7235 §2.1).
    #[error("duplicated challenge parameter")]
    Duplicated,
    /// `realm` or `nonce` is missing.
    #[error("challenge without {0}")]
    Missing(&'static str),
}

/// One parsed Digest challenge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DigestChallenge {
    /// `realm` (RFC 3261 §22.1): the protection space; compared exactly.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `opaque`, to be echoed.
    pub opaque: Option<String>,
    /// `algorithm` as written (`MD5`, `SHA-256`, ...); `None`: MD5.
    pub algorithm: Option<String>,
    /// `qop` options, lower case (`auth`, `auth-int`); empty: no `qop`
    /// parameter, an RFC 2069 challenge.
    pub qop: Vec<String>,
    /// `stale=true`.
    pub stale: bool,
}

impl DigestChallenge {
    /// Parses one challenge header value.
    ///
    /// # Errors
    /// [`ChallengeError`] for anything but a well-formed Digest challenge
    /// with a realm and a nonce.
    pub fn parse(value: &str) -> Result<Self, ChallengeError> {
        if value.len() > MAX_CHALLENGE_LEN {
            return Err(ChallengeError::TooLong);
        }
        let value = value.trim();
        let (scheme, rest) = value
            .split_once(|c: char| c == ' ' || c == '\t')
            .unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("digest") {
            return Err(ChallengeError::NotDigest);
        }
        let mut out = DigestChallenge::default();
        let mut seen: Vec<String> = Vec::new();
        let (mut realm, mut nonce) = (None, None);
        let mut rest = rest;
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                break;
            }
            if seen.len() >= MAX_PARAMS {
                return Err(ChallengeError::TooLong);
            }
            let (name, v, next) = take_param(rest)?;
            let lname = name.to_ascii_lowercase();
            if seen.contains(&lname) {
                return Err(ChallengeError::Duplicated);
            }
            match lname.as_str() {
                "realm" => realm = Some(v),
                "nonce" => nonce = Some(v),
                "opaque" => out.opaque = Some(v),
                "algorithm" => out.algorithm = Some(v),
                "qop" => out.qop = qop_options(&v)?,
                "stale" => out.stale = v.eq_ignore_ascii_case("true"),
                _ => {}
            }
            seen.push(lname);
            rest = next;
        }
        out.realm = realm.ok_or(ChallengeError::Missing("realm"))?;
        out.nonce = nonce.ok_or(ChallengeError::Missing("nonce"))?;
        Ok(out)
    }

    /// Whether this is an RFC 2069 challenge: no `qop`, so no client nonce
    /// and no protection against chosen-plaintext attacks (RFC 7616 §5.5).
    pub fn is_rfc2069(&self) -> bool {
        self.qop.is_empty()
    }
}

/// `name=value` at the start of `s` (after separators): the name, the
/// value (quotes and escapes removed) and the text after it.
fn take_param(s: &str) -> Result<(&str, String, &str), ChallengeError> {
    let (name, after) = s.split_once('=').ok_or(ChallengeError::Malformed)?;
    let name = name.trim();
    if !is_token(name) {
        return Err(ChallengeError::Malformed);
    }
    let after = after.trim_start_matches([' ', '\t']);
    if let Some(q) = after.strip_prefix('"') {
        let (v, next) = take_quoted(q)?;
        let next = next.trim_start_matches([' ', '\t']);
        if !(next.is_empty() || next.starts_with(',')) {
            return Err(ChallengeError::Malformed);
        }
        return Ok((name, v, next));
    }
    let end = after.find(',').unwrap_or(after.len());
    let (v, next) = after.split_at(end);
    let v = v.trim_end_matches([' ', '\t']);
    if !is_token(v) {
        return Err(ChallengeError::Malformed);
    }
    Ok((name, v.to_string(), next))
}

/// A quoted string's content (after the opening quote), escapes resolved,
/// and the text after the closing quote.
fn take_quoted(s: &str) -> Result<(String, &str), ChallengeError> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, e)) if !e.is_control() => out.push(e),
                _ => return Err(ChallengeError::Malformed),
            },
            '"' => return Ok((out, s.get(i + 1..).unwrap_or(""))),
            c if c.is_control() && c != '\t' => return Err(ChallengeError::Malformed),
            c => out.push(c),
        }
    }
    Err(ChallengeError::Malformed)
}

/// `qop="auth,auth-int"` -> `["auth", "auth-int"]`.
fn qop_options(v: &str) -> Result<Vec<String>, ChallengeError> {
    let opts: Vec<String> = v
        .split(',')
        .map(|q| q.trim().to_ascii_lowercase())
        .filter(|q| !q.is_empty())
        .collect();
    if opts.iter().any(|q| !is_token(q)) {
        return Err(ChallengeError::Malformed);
    }
    Ok(opts)
}

/// RFC 3261 §25.1 token.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let _ = DigestChallenge::parse(&s);
            let _ = DigestChallenge::parse(&format!("Digest {s}"));
        }
    }

    #[test]
    fn reads_an_rfc_7616_challenge() {
        let c = DigestChallenge::parse(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
             algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
        )
        .unwrap();
        assert_eq!(c.realm, "http-auth@example.org");
        assert_eq!(c.qop, ["auth", "auth-int"]);
        assert_eq!(c.algorithm.as_deref(), Some("SHA-256"));
        assert!(c.opaque.is_some() && !c.stale && !c.is_rfc2069());
    }

    #[test]
    fn rfc_2069_and_escapes() {
        let c =
            DigestChallenge::parse("digest realm=\"a \\\"b\\\", c\",nonce=n1,stale=TRUE").unwrap();
        assert_eq!(c.realm, "a \"b\", c");
        assert_eq!(c.nonce, "n1");
        assert!(c.stale && c.is_rfc2069());
    }

    #[test]
    fn refusals() {
        use ChallengeError::*;
        let cases = [
            ("Basic realm=\"x\"", NotDigest),
            ("Digest nonce=\"n\"", Missing("realm")),
            ("Digest realm=\"r\"", Missing("nonce")),
            ("Digest realm=\"r\", realm=\"s\", nonce=n", Duplicated),
            ("Digest realm=\"r, nonce=n", Malformed),
            ("Digest realm", Malformed),
            ("Digest realm=\"r\"x, nonce=n", Malformed),
            ("Digest realm=a b, nonce=n", Malformed),
            ("Digest realm=\"r\r\n\", nonce=n", Malformed),
            ("Digest realm=\"r\", nonce=n, qop=\"a u\"", Malformed),
        ];
        for (v, e) in cases {
            assert_eq!(DigestChallenge::parse(v), Err(e), "{v}");
        }
        assert_eq!(DigestChallenge::parse(&"x".repeat(5000)), Err(TooLong));
        let many = (0..40)
            .map(|i| format!("p{i}=1"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            DigestChallenge::parse(&format!("Digest {many}")),
            Err(TooLong)
        );
    }
}
