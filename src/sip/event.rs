//! What the SIP side reports about one call to the call controller: a
//! sans-IO leaf (plain data, no rsipstack, no tokio), so `call` can consume
//! it without importing the async drivers in `sip::ua` and `sip::incoming`
//! (the layering rule of ARCHITECTURE.md, checked by `tests/layering.rs`).

use std::fmt;

/// A SIP response status: the three-digit code (RFC 3261 §21, 100..=699)
/// and its reason phrase (§7.2), as reported to the client in
/// `Sono.Call.Status` `sip_code` / `reason`. Also used for outcomes the
/// gateway decides itself (408 on a timeout, 487 on CANCEL, 503 on
/// shutdown), with the phrase saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipStatus {
    code: u16,
    reason: String,
}

impl SipStatus {
    /// A status with `code` and reason phrase `reason` (not checked: the
    /// far end's phrase is kept as sent; the client escapes it).
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// The status code (100..=699 from the network).
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The reason phrase.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Code and phrase, taken apart.
    pub fn into_parts(self) -> (u16, String) {
        (self.code, self.reason)
    }
}

impl fmt::Display for SipStatus {
    /// `"486 Busy Here"` (the reason escaped as `{:?}` would be, minus quotes
    /// is not attempted: use `{:?}` on untrusted phrases in logs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.code, self.reason)
    }
}

/// What happened to an outgoing call, in the order it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SipEvent {
    /// A provisional response other than 100 (180 Ringing, 183 Session
    /// Progress, ...), with its SDP body if any (early media).
    Progress {
        /// The provisional status (101..=199).
        status: SipStatus,
        /// The SDP body, if the response carries one.
        sdp: Option<Vec<u8>>,
    },
    /// 2xx: the call is up; `sdp` is the answer (RFC 3264 §6).
    Answered {
        /// The SDP answer body.
        sdp: Vec<u8>,
    },
    /// The call ended before or instead of being answered: a 3xx-6xx final
    /// response, a timeout (408) or a transport failure (503).
    Failed(SipStatus),
    /// A confirmed call ended; `by_remote` is true for a BYE from the far end.
    Ended {
        /// True when the far end sent the BYE.
        by_remote: bool,
    },
}
