//! What the SIP side reports about one call to the call controller: a
//! sans-IO leaf (plain data, no rsipstack, no tokio), so `call` can consume
//! it without importing the async drivers in `sip::ua` and `sip::incoming`
//! (the layering rule of ARCHITECTURE.md, checked by `tests/layering.rs`).

/// What happened to an outgoing call, in the order it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SipEvent {
    /// A provisional response other than 100 (180 Ringing, 183 Session
    /// Progress, ...), with its SDP body if any (early media).
    Progress {
        code: u16,
        reason: String,
        sdp: Option<Vec<u8>>,
    },
    /// 2xx: the call is up; `sdp` is the answer (RFC 3264 §6).
    Answered { sdp: Vec<u8> },
    /// The call ended before or instead of being answered: a 3xx-6xx final
    /// response, a timeout (408) or a transport failure (503).
    Failed { code: u16, reason: String },
    /// A confirmed call ended; `by_remote` is true for a BYE from the far end.
    Ended { by_remote: bool },
}
