//! The claims of a client token (RFC 7519 §4), checked after the signature.
//!
//! | claim | type | rule |
//! |---|---|---|
//! | `exp` | NumericDate (s) | required; refused when `now > exp + leeway` (§4.1.4) |
//! | `nbf` | NumericDate (s) | optional; refused when `now + leeway < nbf` (§4.1.5) |
//! | `iss` | string | must equal `[auth] issuer` when that is set (§4.1.1) |
//! | `aud` | string or array | must contain `[auth] audience` when that is set (§4.1.3) |
//! | `sub` | string | required: the caller, 1..=64 bytes of SIP user characters (RFC 3261 §25.1 `unreserved` and `&=+$,`); From user and display name of its calls |
//! | `dial` | string or array of strings | optional, at most 256: `[policy]` patterns; a dial must match both `dial_allow` and these |
//! | `register` | bool | optional, default false: may the client call `register` |
//! | `max_calls` | integer 0..=1000 | optional: concurrent calls (dialled or incoming) of this `sub` across connections |
//!
//! Other claims are ignored.

use serde_json::{Map, Value};

use super::AuthError;
use crate::call::grammar::is_unreserved;
use crate::call::policy::{DialPolicy, MAX_PATTERNS};

/// Longest `sub`, in bytes.
pub const MAX_SUBJECT: usize = 64;
/// Largest `max_calls`.
pub const MAX_CALLS_CLAIM: u64 = 1000;

/// What a verified token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `sub`: the caller's SIP user part, also its display name.
    pub subject: String,
    /// `dial`: patterns narrowing `[policy] dial_allow`; `None`: not narrowed.
    pub dial: Option<DialPolicy>,
    /// `register`: whether `register` is allowed.
    pub register: bool,
    /// `max_calls`: concurrent calls of this subject; `None`: no own limit.
    pub max_calls: Option<u32>,
}

/// The configured expectations (`[auth]`).
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// `[auth] issuer`: the `iss` claim must equal it (RFC 7519 §4.1.1);
    /// `None`: `iss` is not checked.
    pub issuer: Option<&'a str>,
    /// `[auth] audience`: the `aud` claim (string or array) must contain it
    /// (RFC 7519 §4.1.3); `None`: `aud` is not checked.
    pub audience: Option<&'a str>,
    /// `[auth] leeway_s`: clock skew in seconds tolerated on `exp` and `nbf`
    /// (RFC 7519 §4.1.4, §4.1.5); 0..=300, default 30.
    pub leeway_s: u64,
}

fn bad(claim: &'static str, reason: impl Into<String>) -> AuthError {
    AuthError::Claim {
        claim,
        reason: reason.into(),
    }
}

/// Checks `claims` at `now_s` (seconds since the Unix epoch), in this
/// order: `exp`, `nbf`, `iss`, `aud`, `sub`, `dial`, `register`, `max_calls`.
///
/// # Errors
/// [`AuthError::Expired`], [`AuthError::NotYetValid`] or
/// [`AuthError::Claim`] naming the claim.
pub fn check(
    claims: &Map<String, Value>,
    rules: &Rules<'_>,
    now_s: u64,
) -> Result<Identity, AuthError> {
    let now = now_s as f64;
    let leeway = rules.leeway_s as f64;
    let exp = numeric_date(claims, "exp")?.ok_or_else(|| bad("exp", "required"))?;
    if now > exp + leeway {
        return Err(AuthError::Expired);
    }
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if now + leeway < nbf {
            return Err(AuthError::NotYetValid);
        }
    }
    check_issuer(claims, rules.issuer)?;
    check_audience(claims, rules.audience)?;
    Ok(Identity {
        subject: subject(claims)?,
        dial: dial(claims)?,
        register: register(claims)?,
        max_calls: max_calls(claims)?,
    })
}

fn numeric_date(
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<f64>, AuthError> {
    match claims.get(claim) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| bad(claim, "must be a NumericDate (seconds since 1970)")),
    }
}

fn check_issuer(claims: &Map<String, Value>, want: Option<&str>) -> Result<(), AuthError> {
    let Some(want) = want else { return Ok(()) };
    match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == want => Ok(()),
        Some(_) => Err(bad("iss", "not the issuer this gateway trusts")),
        None => Err(bad("iss", "required")),
    }
}

fn check_audience(claims: &Map<String, Value>, want: Option<&str>) -> Result<(), AuthError> {
    let Some(want) = want else { return Ok(()) };
    let ok = match claims.get("aud") {
        Some(Value::String(a)) => a == want,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(want)),
        None => return Err(bad("aud", "required")),
        Some(_) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(bad("aud", "this gateway is not an audience of the token"))
    }
}

/// `sub` as a SIP user part: `unreserved` (RFC 3261 §25.1) and `&=+$,`;
/// no escapes, `;`, `?`, `/`, space or control characters.
fn subject(claims: &Map<String, Value>) -> Result<String, AuthError> {
    let sub = match claims.get("sub") {
        None => return Err(bad("sub", "required")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(bad("sub", "must be a string")),
    };
    if sub.is_empty() || sub.len() > MAX_SUBJECT {
        return Err(bad("sub", format!("must be 1..={MAX_SUBJECT} bytes")));
    }
    match sub
        .bytes()
        .find(|&b| !(is_unreserved(b) || b"&=+$,".contains(&b)))
    {
        Some(b) => Err(bad(
            "sub",
            format!("{:?} is not allowed in a SIP user part", char::from(b)),
        )),
        None => Ok(sub.clone()),
    }
}

fn dial(claims: &Map<String, Value>) -> Result<Option<DialPolicy>, AuthError> {
    let patterns: Vec<String> = match claims.get("dial") {
        None => return Ok(None),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(list)) if list.len() > MAX_PATTERNS => {
            return Err(bad("dial", format!("at most {MAX_PATTERNS} patterns")))
        }
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("dial", "must be a string or an array of strings"))?,
        Some(_) => return Err(bad("dial", "must be a string or an array of strings")),
    };
    DialPolicy::parse(&patterns)
        .map(Some)
        .map_err(|e| bad("dial", e.to_string()))
}

fn register(claims: &Map<String, Value>) -> Result<bool, AuthError> {
    match claims.get("register") {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad("register", "must be true or false")),
    }
}

fn max_calls(claims: &Map<String, Value>) -> Result<Option<u32>, AuthError> {
    match claims.get("max_calls") {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|n| *n <= MAX_CALLS_CLAIM)
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                bad(
                    "max_calls",
                    format!("must be an integer 0..={MAX_CALLS_CLAIM}"),
                )
            }),
    }
}
