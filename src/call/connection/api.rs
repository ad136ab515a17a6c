//! The product API as types: [`ApiCommand::from_invoke`] turns an RTMP
//! invoke (method name, transaction id, arguments after the command
//! object) into one typed command, or an [`ApiError`] naming what is wrong
//! with it. README.md, "RTMP API", lists the commands; every argument is
//! checked here, before the call state sees it.

use std::fmt;

use super::error::ApiError;
use crate::amf::Value;
use crate::call::uri::{DialUri, DialUriError};

/// Most digits one `sendDTMF` may carry.
pub const DTMF_MAX_DIGITS: usize = 32;
/// DTMF tone length when `sendDTMF` gives none, in ms.
pub const DTMF_DEFAULT_MS: u32 = 160;
/// Shortest and longest DTMF tone `sendDTMF` may ask for, in ms (a
/// duration outside is clamped).
pub const DTMF_MS_RANGE: (u32, u32) = (40, 2000);
/// `reject()` without a code: 603 Decline (RFC 3261 §21.6.2).
pub const REJECT_DEFAULT: u16 = 603;

/// One invoke of the product API, its arguments checked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ApiCommand {
    /// `dial(uri)`: place a call to `target` (not yet checked against the
    /// dial policy: the core does that).
    Dial {
        /// The invoke's AMF0 transaction id, echoed in the reply.
        txn: f64,
        /// The dialled URI, parsed strictly.
        target: DialUri,
    },
    /// `hangup()`: CANCEL, BYE, or 486 for a ringing incoming call.
    Hangup {
        /// The invoke's transaction id.
        txn: f64,
    },
    /// `accept()`: answer the ringing incoming call.
    Accept {
        /// The invoke's transaction id.
        txn: f64,
    },
    /// `reject([code])`: refuse the ringing incoming call.
    Reject {
        /// The invoke's transaction id.
        txn: f64,
        /// Final status, 400..=699 ([`REJECT_DEFAULT`] when not given).
        code: u16,
    },
    /// `sendDTMF(digits[, duration_ms])`.
    SendDtmf {
        /// The invoke's transaction id.
        txn: f64,
        /// The digits, checked and upper-cased.
        digits: DtmfDigits,
        /// Tone length per digit in ms, within [`DTMF_MS_RANGE`].
        duration_ms: u32,
    },
    /// `register()` or `register(user, registrar, password[, auth_user,
    /// display_name])`.
    Register {
        /// The invoke's transaction id.
        txn: f64,
        /// Which kind of address.
        target: RegisterTarget,
    },
    /// `unregister()`: release every address the connection holds.
    Unregister {
        /// The invoke's transaction id.
        txn: f64,
    },
    /// `hold()`: re-INVITE with `a=sendonly` (RFC 3264 §8.4, RFC 6337).
    Hold {
        /// The invoke's transaction id.
        txn: f64,
    },
    /// `unhold()`: re-INVITE with `a=sendrecv`.
    Unhold {
        /// The invoke's transaction id.
        txn: f64,
    },
    /// `transfer(uri)`: blind transfer by REFER (RFC 3515) to `target`
    /// (checked against `[policy] dial_allow` by the core).
    Transfer {
        /// The invoke's transaction id.
        txn: f64,
        /// The Refer-To target, parsed strictly.
        target: DialUri,
    },
}

/// What `register` asks for.
#[derive(Clone, PartialEq, Eq)]
pub enum RegisterTarget {
    /// `register()`: an address on the embedded registrar.
    Local,
    /// `register(user, registrar, password[, auth_user, display_name])`:
    /// a REGISTER at an outside registrar.
    Upstream(UpstreamRegister),
}

impl fmt::Debug for RegisterTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterTarget::Local => f.write_str("Local"),
            RegisterTarget::Upstream(u) => f.debug_tuple("Upstream").field(u).finish(),
        }
    }
}

/// `register(user, registrar, password[, auth_user, display_name])`'s
/// arguments, trimmed; the password is never shown by `Debug`. Checked
/// further (registrar syntax, `[policy] registrar_allow`) where they are
/// used.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamRegister {
    /// The AoR's user part.
    pub user: String,
    /// `host[:port]` or a `sip:` URI.
    pub registrar: String,
    /// Digest password (may be empty).
    pub password: String,
    /// Digest username when it differs from `user`.
    pub auth_user: Option<String>,
    /// Display name for From/To.
    pub display_name: Option<String>,
}

impl fmt::Debug for UpstreamRegister {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamRegister")
            .field("user", &self.user)
            .field("registrar", &self.registrar)
            .field("password", &"<hidden>")
            .field("auth_user", &self.auth_user)
            .field("display_name", &self.display_name)
            .finish()
    }
}

/// 1..=[`DTMF_MAX_DIGITS`] DTMF digits of `0-9 * # A-D`, upper-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtmfDigits(String);

impl DtmfDigits {
    /// Checks `digits` (case-insensitive) and keeps them upper-cased.
    pub fn parse(digits: &str) -> Result<Self, ApiError> {
        if digits.is_empty() {
            return Err(ApiError::DtmfEmpty);
        }
        if digits.chars().count() > DTMF_MAX_DIGITS {
            return Err(ApiError::DtmfTooLong);
        }
        let upper = digits.to_ascii_uppercase();
        match upper
            .chars()
            .find(|c| !matches!(c, '0'..='9' | '*' | '#' | 'A'..='D'))
        {
            Some(c) => Err(ApiError::DtmfDigit(c)),
            None => Ok(Self(upper)),
        }
    }

    /// The digits, e.g. `"12#A"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ApiCommand {
    /// Parses invoke `name` with transaction id `txn` and `args` (the AMF
    /// values after the command object). Extra arguments are ignored.
    ///
    /// Errors: [`ApiError::Unsupported`] for a method outside the API;
    /// otherwise the argument that is missing or wrong.
    pub fn from_invoke(name: &str, txn: f64, args: &[Value]) -> Result<ApiCommand, ApiError> {
        let text = |i: usize| args.get(i).and_then(Value::as_str);
        Ok(match name {
            "dial" => ApiCommand::Dial {
                txn,
                target: parse_uri(text(0), ApiError::DialNoUri, ApiError::DialBadUri)?,
            },
            "hangup" => ApiCommand::Hangup { txn },
            "accept" => ApiCommand::Accept { txn },
            "reject" => ApiCommand::Reject {
                txn,
                code: reject_code(args.first())?,
            },
            "sendDTMF" => ApiCommand::SendDtmf {
                txn,
                digits: DtmfDigits::parse(text(0).unwrap_or_default())?,
                duration_ms: dtmf_duration(args.get(1)),
            },
            "register" => ApiCommand::Register {
                txn,
                target: register_target(args)?,
            },
            "unregister" => ApiCommand::Unregister { txn },
            "hold" => ApiCommand::Hold { txn },
            "unhold" => ApiCommand::Unhold { txn },
            "transfer" => ApiCommand::Transfer {
                txn,
                target: parse_uri(text(0), ApiError::TransferNoUri, ApiError::TransferBadUri)?,
            },
            other => return Err(ApiError::Unsupported(other.to_string())),
        })
    }

    /// The invoke's transaction id.
    pub fn txn(&self) -> f64 {
        match self {
            ApiCommand::Dial { txn, .. }
            | ApiCommand::Hangup { txn }
            | ApiCommand::Accept { txn }
            | ApiCommand::Reject { txn, .. }
            | ApiCommand::SendDtmf { txn, .. }
            | ApiCommand::Register { txn, .. }
            | ApiCommand::Unregister { txn }
            | ApiCommand::Hold { txn }
            | ApiCommand::Unhold { txn }
            | ApiCommand::Transfer { txn, .. } => *txn,
        }
    }

    /// The method name, as the client invokes it.
    pub fn name(&self) -> &'static str {
        match self {
            ApiCommand::Dial { .. } => "dial",
            ApiCommand::Hangup { .. } => "hangup",
            ApiCommand::Accept { .. } => "accept",
            ApiCommand::Reject { .. } => "reject",
            ApiCommand::SendDtmf { .. } => "sendDTMF",
            ApiCommand::Register { .. } => "register",
            ApiCommand::Unregister { .. } => "unregister",
            ApiCommand::Hold { .. } => "hold",
            ApiCommand::Unhold { .. } => "unhold",
            ApiCommand::Transfer { .. } => "transfer",
        }
    }
}

/// A dial or transfer target: missing (or blank) is `missing`, unparsable
/// is `bad(why)`.
fn parse_uri(
    text: Option<&str>,
    missing: ApiError,
    bad: fn(DialUriError) -> ApiError,
) -> Result<DialUri, ApiError> {
    match text.map(DialUri::parse) {
        None | Some(Err(DialUriError::Missing)) => Err(missing),
        Some(Err(why)) => Err(bad(why)),
        Some(Ok(uri)) => Ok(uri),
    }
}

/// `reject`'s code: absent or null is [`REJECT_DEFAULT`]; a Number must be
/// an integer in 400..=699; anything else is refused.
fn reject_code(arg: Option<&Value>) -> Result<u16, ApiError> {
    let n = match arg {
        None | Some(Value::Null) | Some(Value::Undefined) => return Ok(REJECT_DEFAULT),
        Some(Value::Number(n)) => *n,
        Some(_) => return Err(ApiError::RejectCode("a non-number".into())),
    };
    if n.fract() == 0.0 && (400.0..700.0).contains(&n) {
        Ok(n as u16)
    } else {
        Err(ApiError::RejectCode(format!("{n}")))
    }
}

/// `sendDTMF`'s tone length: a finite Number clamped to
/// [`DTMF_MS_RANGE`]; [`DTMF_DEFAULT_MS`] otherwise.
fn dtmf_duration(arg: Option<&Value>) -> u32 {
    let (lo, hi) = DTMF_MS_RANGE;
    arg.and_then(Value::as_f64)
        .filter(|d| d.is_finite())
        .map(|d| d.clamp(f64::from(lo), f64::from(hi)) as u32)
        .unwrap_or(DTMF_DEFAULT_MS)
}

/// `register`'s arguments: no (or a blank) user is the embedded
/// registrar; a user needs a registrar.
fn register_target(args: &[Value]) -> Result<RegisterTarget, ApiError> {
    let s = |i: usize| {
        args.get(i)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let Some(user) = s(0) else {
        return Ok(RegisterTarget::Local);
    };
    let registrar = s(1).ok_or(ApiError::RegisterArgs)?;
    Ok(RegisterTarget::Upstream(UpstreamRegister {
        user,
        registrar,
        password: args
            .get(2)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        auth_user: s(3),
        display_name: s(4),
    }))
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
