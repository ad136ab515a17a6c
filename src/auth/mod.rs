//! Client authentication with JSON Web Tokens (RFC 7519), `[auth] mode = "jwt"`.
//!
//! The web site that embeds the phone mints a short-lived token for its
//! logged-in user; the client passes it as the first `connect` argument or
//! as `?token=` on the tcUrl. [`ClientAuth::verify`] checks the JWS
//! signature (RFC 7515; HS256, ES256 or EdDSA, RFC 7518 §3 / RFC 8037) with
//! the `jsonwebtoken` crate, then the claims itself against `now` (so tests
//! run on a virtual clock): see [`claims`]. The result is an [`Identity`]:
//! who the caller is (From of its calls), which URIs it may dial (narrowing
//! `[policy] dial_allow`), whether it may `register`, and how many calls
//! its subject may hold at once across connections ([`SubjectCalls`]).
//!
//! No user database: the same model as LiveKit and Jitsi access tokens.

pub mod claims;
pub mod mint;
mod subject_calls;

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::config::{AuthConfig, AuthMode, JwtAlgorithm};

pub use claims::Identity;
pub use subject_calls::{SubjectCalls, SubjectPermit};

/// Longest token accepted, in bytes (a token with a few dozen dial
/// patterns stays well below).
pub const MAX_TOKEN_LEN: usize = 8192;

/// Why a token was refused. `Display` is the reason sent to the client in
/// `NetConnection.Connect.Rejected`'s `description`: it never contains the
/// token or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No token on `connect` (first argument, or `?token=` on the tcUrl).
    #[error("authentication required: no token (pass a JWT as the first connect argument or ?token= on the URL)")]
    NoToken,
    /// The token is longer than [`MAX_TOKEN_LEN`].
    #[error("token too long ({0} bytes, at most 8192)")]
    TooLong(usize),
    /// Not a compact JWS, bad base64 or JSON (RFC 7519 §7.2).
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header names another algorithm than `[auth] algorithm`
    /// (`got`: the header's `alg` when short and printable, else `?`).
    #[error("token signed with the wrong algorithm (`{got}`; this gateway accepts {want})")]
    WrongAlgorithm {
        /// The token header's `alg` (RFC 7515 §4.1.1), or `?`.
        got: String,
        /// The configured algorithm: `HS256`, `ES256` or `EdDSA`.
        want: &'static str,
    },
    /// The signature does not verify with the configured key.
    #[error("bad signature")]
    BadSignature,
    /// `exp` is past (RFC 7519 §4.1.4), beyond the leeway.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (RFC 7519 §4.1.5), beyond the leeway.
    #[error("token not valid yet (nbf)")]
    NotYetValid,
    /// A claim is missing, of the wrong type, or its value is refused;
    /// `claim` names it (`iss`, `aud`, `sub`, `dial`, ...).
    #[error("bad claim `{claim}`: {reason}")]
    Claim {
        /// The claim's JSON name (`iss`, `aud`, `sub`, `dial`, ...).
        claim: &'static str,
        /// Why it was refused, for the client (no token material).
        reason: String,
    },
    /// The configured key cannot be used (config time only).
    #[error("unusable key: {0}")]
    Key(String),
}

/// The verifier for `[auth] mode = "jwt"`. `Debug` shows no key material.
#[derive(Clone)]
pub struct ClientAuth {
    key: DecodingKey,
    validation: Validation,
    issuer: Option<String>,
    audience: Option<String>,
    leeway_s: u64,
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("algorithms", &self.validation.algorithms)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway_s", &self.leeway_s)
            .finish_non_exhaustive()
    }
}

impl ClientAuth {
    /// The verifier for `cfg`; `Ok(None)` when `mode = "none"`.
    ///
    /// # Errors
    /// [`AuthError::Key`] when the key is missing or its PEM cannot be read.
    pub fn new(cfg: &AuthConfig) -> Result<Option<Self>, AuthError> {
        if cfg.mode == AuthMode::None {
            return Ok(None);
        }
        let bytes = cfg
            .key
            .as_ref()
            .ok_or_else(|| AuthError::Key("no key configured".into()))?
            .expose();
        let pem_err = |e: jsonwebtoken::errors::Error| AuthError::Key(e.to_string());
        let (alg, key) = match cfg.algorithm {
            JwtAlgorithm::HS256 => (Algorithm::HS256, DecodingKey::from_secret(bytes)),
            JwtAlgorithm::ES256 => (
                Algorithm::ES256,
                DecodingKey::from_ec_pem(bytes).map_err(pem_err)?,
            ),
            JwtAlgorithm::EdDSA => (
                Algorithm::EdDSA,
                DecodingKey::from_ed_pem(bytes).map_err(pem_err)?,
            ),
        };
        // The crate checks the algorithm and the signature only; the claims
        // are ours (claims.rs), against the caller's `now`.
        let mut validation = Validation::new(alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        Ok(Some(Self {
            key,
            validation,
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
            leeway_s: cfg.leeway.as_secs(),
        }))
    }

    /// Verifies `token` at `now` (time since the Unix epoch) and returns
    /// the caller's [`Identity`].
    ///
    /// # Errors
    /// [`AuthError`]: the first problem found (size, form, algorithm,
    /// signature, then the claims in the order of [`claims::check`]).
    pub fn verify(&self, token: &str, now: Duration) -> Result<Identity, AuthError> {
        if token.is_empty() {
            return Err(AuthError::NoToken);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::TooLong(token.len()));
        }
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &self.key,
            &self.validation,
        )
        .map_err(|e| self.map_jwt_error(token, e))?;
        let rules = claims::Rules {
            issuer: self.issuer.as_deref(),
            audience: self.audience.as_deref(),
            leeway_s: self.leeway_s,
        };
        claims::check(&data.claims, &rules, now.as_secs())
    }
}

impl ClientAuth {
    fn want(&self) -> &'static str {
        match self.validation.algorithms.first() {
            Some(Algorithm::ES256) => "ES256",
            Some(Algorithm::EdDSA) => "EdDSA",
            _ => "HS256",
        }
    }

    fn map_jwt_error(&self, token: &str, e: jsonwebtoken::errors::Error) -> AuthError {
        // An `alg` the crate does not know ("none", RFC 7519 §6) fails as
        // JSON: read it ourselves to say so.
        if let Some(got) = header_alg(token).filter(|a| a != self.want()) {
            return AuthError::WrongAlgorithm {
                got,
                want: self.want(),
            };
        }
        match e.kind() {
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
                AuthError::WrongAlgorithm {
                    got: "?".into(),
                    want: self.want(),
                }
            }
            ErrorKind::Base64(_) => AuthError::Malformed("bad base64url".into()),
            ErrorKind::Json(_) => {
                AuthError::Malformed("header or claims are not a JSON object".into())
            }
            ErrorKind::Utf8(_) => AuthError::Malformed("not UTF-8".into()),
            ErrorKind::InvalidToken => {
                AuthError::Malformed("not a compact JWS (header.claims.signature)".into())
            }
            ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidEddsaKey
            | ErrorKind::InvalidKeyFormat => AuthError::BadSignature,
            _ => AuthError::Malformed("cannot be verified".into()),
        }
    }
}

/// The JOSE header's `alg` (RFC 7515 §4.1.1), when it is 1..=16 ASCII
/// alphanumerics; `None` when the header cannot be read.
fn header_alg(token: &str) -> Option<String> {
    use base64::Engine;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let alg = json.get("alg")?.as_str()?;
    let printable =
        !alg.is_empty() && alg.len() <= 16 && alg.bytes().all(|b| b.is_ascii_alphanumeric());
    Some(if printable {
        alg.to_string()
    } else {
        "?".into()
    })
}

/// Finds the token a client sent on `connect`: the first argument after
/// the command object when it is a string, else `token=` in the query of
/// the tcUrl (or of the app name, where librtmp and ffmpeg put it too).
pub fn token_from_connect<'a>(
    first_arg: Option<&'a str>,
    tc_url: Option<&'a str>,
    app: &'a str,
) -> Option<&'a str> {
    first_arg
        .filter(|t| !t.is_empty())
        .or_else(|| tc_url.and_then(query_token))
        .or_else(|| query_token(app))
}

/// The value of `token=` in `url`'s query (up to `&` or `#`).
fn query_token(url: &str) -> Option<&str> {
    let (_, query) = url.split_once('?')?;
    let query = query.split('#').next().unwrap_or_default();
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .filter(|t| !t.is_empty())
}

/// `url` without its query (for logs: the token must not be logged).
pub fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or_default()
}

#[cfg(test)]
mod tests;
