//! `Sono.Call.Status` events (README.md, "RTMP API").

/// `status_code` of a `Sono.Call.Status` event, as SEMS's flash_phone
/// defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum StatusCode {
    /// 0: idle, or the call ended.
    NotConnected = 0,
    /// 1: trying, ringing, early media.
    InProgress = 1,
    /// 2: answered.
    Connected = 2,
    /// 3: hanging up.
    Disconnecting = 3,
    /// 4: the client should now publish its microphone and play the far end.
    ConnectStreams = 4,
}

/// One `Sono.Call.Status` event; optional fields are omitted when `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallStatus {
    /// The `status` number of the event (0 not connected .. 4 connect streams).
    pub status: StatusCode,
    /// The SIP status code behind the event (180, 200, 486, ...).
    pub sip_code: Option<u16>,
    /// The SIP reason phrase or the gateway's reason.
    pub reason: Option<String>,
    /// The SIP Call-ID of the call.
    pub call_id: String,
    /// Stream name any connection may publish the caller's audio to (status 4).
    pub publish: Option<String>,
    /// Stream name any connection may play the far end from (status 4,
    /// and status 1 with early media).
    pub play: Option<String>,
    /// `Some(true)` on status 1 when the far end's early media (an 18x
    /// with SDP, RFC 3261 §13.2.1, RFC 3960) flows before the answer.
    pub early_media: Option<bool>,
}

impl CallStatus {
    /// An event with no optional fields.
    pub fn new(status: StatusCode, call_id: &str) -> Self {
        Self {
            status,
            sip_code: None,
            reason: None,
            call_id: call_id.to_string(),
            publish: None,
            play: None,
            early_media: None,
        }
    }
}
