//! `Sono.Call.Transfer` events (blind transfer, RFC 5589 §6.1): what the
//! client is told about a transfer, in either direction.

use crate::sip::event::SipStatus;

/// `status` of a `Sono.Call.Transfer` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferStatus {
    /// The transferee is trying the target (a NOTIFY with a 1xx sipfrag).
    Trying,
    /// The REFER was accepted (202; or, for a far end's REFER, we accepted
    /// it and call the target).
    Accepted,
    /// The target answered (a NOTIFY with a 2xx sipfrag).
    Succeeded,
    /// The REFER was refused, the target did not answer, or the
    /// subscription ended without a final status.
    Failed,
}

impl TransferStatus {
    /// The status a transfer step reports: the REFER's 2xx (not `done`) is
    /// accepted, a 1xx trying, a final 2xx succeeded, anything else failed.
    pub fn from_progress(status: &SipStatus, done: bool) -> Self {
        match status.code() {
            100..=199 if !done => Self::Trying,
            200..=299 if done => Self::Succeeded,
            200..=299 => Self::Accepted,
            _ => Self::Failed,
        }
    }

    /// The event's `status` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trying => "trying",
            Self::Accepted => "accepted",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// One `Sono.Call.Transfer` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferEvent {
    /// The transferred call's Call-ID.
    pub call_id: String,
    /// Where the transfer stands.
    pub status: TransferStatus,
    /// The SIP status behind it (REFER response or sipfrag code).
    pub sip_code: Option<u16>,
    /// Its reason phrase, or the gateway's reason.
    pub reason: Option<String>,
    /// The transfer target (a far end's REFER: the URI the gateway calls).
    pub target: Option<String>,
}

impl TransferEvent {
    /// An event for `call_id` carrying `status`'s code and reason.
    pub fn new(call_id: &str, status: TransferStatus, sip: Option<SipStatus>) -> Self {
        let (sip_code, reason) = match sip.map(SipStatus::into_parts) {
            Some((c, r)) => (Some(c), Some(r)),
            None => (None, None),
        };
        Self {
            call_id: call_id.to_string(),
            status,
            sip_code,
            reason,
            target: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_maps_to_the_client_status() {
        let cases = [
            (202, false, TransferStatus::Accepted, "accepted"),
            (100, false, TransferStatus::Trying, "trying"),
            (180, false, TransferStatus::Trying, "trying"),
            (200, true, TransferStatus::Succeeded, "succeeded"),
            (487, true, TransferStatus::Failed, "failed"),
            (403, true, TransferStatus::Failed, "failed"),
            (408, true, TransferStatus::Failed, "failed"),
            (603, true, TransferStatus::Failed, "failed"),
        ];
        for (code, done, want, s) in cases {
            let got = TransferStatus::from_progress(&SipStatus::new(code, ""), done);
            assert_eq!((got, got.as_str()), (want, s), "{code} {done}");
        }
    }
}
