//! Minting HS256 tokens for `rtmp2sip token` (tests and small sites; a
//! real site mints them in its own back end with any JWT library).

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Map, Value};

use super::claims::{self, Rules};
use super::AuthError;
use crate::config::auth::{MAX_KEY_FILE, MIN_SECRET};

/// Longest `--ttl`: 30 days.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// What the token grants (the claims of [`super::claims`]).
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    /// `sub` claim (`--sub`): the caller's SIP user part and display name.
    pub sub: String,
    /// `dial` claim (`--dial`, repeatable): dial patterns narrowing
    /// `[policy] dial_allow`; empty: the claim is left out (not narrowed).
    pub dial: Vec<String>,
    /// `register` claim (`--register`): whether the client may `register`.
    pub register: bool,
    /// `max_calls` claim (`--max-calls`, 0..=1000): concurrent calls of this
    /// subject; `None`: the claim is left out (no own limit).
    pub max_calls: Option<u32>,
    /// `iss` claim (`--iss`, RFC 7519 §4.1.1); should equal `[auth] issuer`;
    /// `None`: left out.
    pub issuer: Option<String>,
    /// `aud` claim (`--aud`, RFC 7519 §4.1.3); should equal `[auth] audience`;
    /// `None`: left out.
    pub audience: Option<String>,
    /// Lifetime: `exp = now + ttl`.
    pub ttl: Duration,
}

/// Reads an HS256 secret file the way `[auth] secret_file` is read:
/// trailing whitespace dropped, at least 32 bytes, at most 16 KiB.
///
/// # Errors
/// A message naming the file.
pub fn read_secret(path: &Path) -> Result<Vec<u8>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    f.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(format!(
            "{}: larger than {MAX_KEY_FILE} bytes",
            path.display()
        ));
    }
    while bytes.last().is_some_and(u8::is_ascii_whitespace) {
        bytes.pop();
    }
    if bytes.len() < MIN_SECRET {
        return Err(format!(
            "{}: the secret must have at least {MIN_SECRET} bytes",
            path.display()
        ));
    }
    Ok(bytes)
}

/// Signs `req` with HS256 at `now` (since the Unix epoch). The claims are
/// checked with the gateway's own rules first, so a token this mints is
/// one the gateway accepts (given the same secret, issuer and audience).
///
/// # Errors
/// [`AuthError::Claim`] for a bad `sub` or `dial` pattern or a `ttl` out
/// of 1 s..=30 days; [`AuthError::Key`] when signing fails.
pub fn mint_hs256(secret: &[u8], req: &TokenRequest, now: Duration) -> Result<String, AuthError> {
    if req.ttl.is_zero() || req.ttl > MAX_TTL {
        return Err(AuthError::Claim {
            claim: "exp",
            reason: "ttl must be 1 s..=30 days".into(),
        });
    }
    let mut c = Map::new();
    c.insert("sub".into(), json!(req.sub));
    c.insert("iat".into(), json!(now.as_secs()));
    c.insert("exp".into(), json!(now.as_secs() + req.ttl.as_secs()));
    if !req.dial.is_empty() {
        c.insert("dial".into(), json!(req.dial));
    }
    c.insert("register".into(), json!(req.register));
    if let Some(n) = req.max_calls {
        c.insert("max_calls".into(), json!(n));
    }
    if let Some(i) = &req.issuer {
        c.insert("iss".into(), json!(i));
    }
    if let Some(a) = &req.audience {
        c.insert("aud".into(), json!(a));
    }
    let rules = Rules {
        issuer: req.issuer.as_deref(),
        audience: req.audience.as_deref(),
        leeway_s: 0,
    };
    claims::check(&c, &rules, now.as_secs())?;
    encode(
        &Header::default(),
        &Value::Object(c),
        &EncodingKey::from_secret(secret),
    )
    .map_err(|e| AuthError::Key(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ClientAuth;
    use crate::config::{AuthConfig, AuthMode, KeyBytes};

    #[test]
    fn minted_token_verifies_with_its_claims() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let now = Duration::from_secs(1_800_000_000);
        let req = TokenRequest {
            sub: "alice".into(),
            dial: vec!["sip:*@pbx.example.com".into()],
            register: true,
            max_calls: Some(2),
            issuer: Some("site".into()),
            ttl: Duration::from_secs(3600),
            ..TokenRequest::default()
        };
        let t = mint_hs256(secret, &req, now).unwrap();
        let cfg = AuthConfig {
            mode: AuthMode::Jwt,
            key: Some(KeyBytes::new(secret.to_vec())),
            issuer: Some("site".into()),
            ..AuthConfig::default()
        };
        let a = ClientAuth::new(&cfg).unwrap().unwrap();
        let id = a.verify(&t, now).unwrap();
        assert_eq!(
            (id.subject.as_str(), id.register, id.max_calls),
            ("alice", true, Some(2))
        );
        assert!(id.dial.is_some());
        assert_eq!(
            a.verify(&t, now + Duration::from_secs(3600 + 31)),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn bad_requests_are_refused() {
        let s = b"0123456789abcdef0123456789abcdef";
        let now = Duration::from_secs(1_800_000_000);
        let ok = TokenRequest {
            sub: "alice".into(),
            ttl: Duration::from_secs(60),
            ..TokenRequest::default()
        };
        assert!(mint_hs256(s, &ok, now).is_ok());
        let bad_sub = TokenRequest {
            sub: "a b".into(),
            ..ok.clone()
        };
        assert!(mint_hs256(s, &bad_sub, now).is_err());
        let bad_dial = TokenRequest {
            dial: vec!["sip:*@10.*".into()],
            ..ok.clone()
        };
        assert!(mint_hs256(s, &bad_dial, now).is_err());
        let long = TokenRequest {
            ttl: MAX_TTL + Duration::from_secs(1),
            ..ok
        };
        assert!(mint_hs256(s, &long, now).is_err());
    }
}
