//! The plain data a [`super::CallLeg`] is fed and emits: no rsipstack, no
//! tokio. The driver translates rsipstack's responses, dialog states and
//! transactions into [`Input`]s and carries out [`Action`]s.

use super::super::event::SipStatus;
use super::super::ua::DtmfInfo;

/// A SIP header as a name and a value, in the order they should be sent
/// or as received (names compared case-insensitively). Values from the
/// network are bounded by the SIP parser's message size.
pub type Header = (String, String);

/// The first value of header `name` (case-insensitive; compact forms are
/// the caller's business), trimmed.
pub fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Whether a comma-separated option-tag header (`Supported`, `Require`,
/// RFC 3261 §20.37, §20.32) lists `tag`; `k` is `Supported`'s compact form.
pub fn lists_option(headers: &[Header], name: &str, tag: &str) -> bool {
    headers
        .iter()
        .filter(|(n, _)| {
            n.eq_ignore_ascii_case(name) || (name.eq_ignore_ascii_case("supported") && n == "k")
        })
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(tag))
}

/// Names one in-dialog request the far end sent, until it is answered
/// with [`Action::Reply`]. Assigned by the driver, unique per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// An in-dialog request method the leg distinguishes (RFC 3261 §7.1,
/// RFC 3311, RFC 3515, RFC 6086, RFC 6665).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// re-INVITE (RFC 3261 §14).
    Invite,
    /// UPDATE (RFC 3311).
    Update,
    /// OPTIONS (RFC 3261 §11).
    Options,
    /// INFO (RFC 6086).
    Info,
    /// REFER (RFC 3515).
    Refer,
    /// NOTIFY (RFC 6665).
    Notify,
    /// MESSAGE (RFC 3428).
    Message,
    /// Anything else, by name.
    Other(String),
}

/// An in-dialog request from the far end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InDialogRequest {
    /// Answer it with this id.
    pub id: RequestId,
    /// Its method.
    pub method: Method,
    /// Its headers (those the leg reads: Session-Expires, Min-SE,
    /// Supported, Require, Content-Type, Event, Refer-To ...).
    pub headers: Vec<Header>,
    /// Its body (an SDP offer for INVITE/UPDATE, empty when none).
    pub body: Vec<u8>,
}

/// What the connection asks of a call (through [`super::super::ua::CallHandle`]
/// and [`super::super::incoming::AnswerHandle`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// End the call: CANCEL while early, 486 while ringing, BYE once confirmed.
    Hangup,
    /// Hold (`true`: re-INVITE `a=sendonly`) or resume (`false`: `a=sendrecv`).
    Hold(bool),
    /// Send one DTMF digit as INFO (confirmed calls only).
    Dtmf(DtmfInfo),
    /// Incoming call: answer 200 OK with this SDP (an answer, or an offer
    /// when the INVITE had none).
    Answer(Vec<u8>),
    /// Incoming call: refuse with this final code (4xx-6xx).
    Reject(u16),
    /// A blind-transfer step (REFER out, the answer to a REFER in, its
    /// NOTIFYs): see [`super::refer`].
    Transfer(super::refer::TransferCommand),
}

/// The far end's final response to a request we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalResponse {
    /// Code and reason.
    pub status: SipStatus,
    /// Its headers.
    pub headers: Vec<Header>,
    /// Its body (the SDP answer of a 2xx to an offer).
    pub body: Vec<u8>,
}

/// What happened, as the driver saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// A provisional response (101-199) to our INVITE.
    Provisional {
        /// Its status.
        status: SipStatus,
        /// Its SDP body, if any.
        sdp: Option<Vec<u8>>,
    },
    /// The final response to our (initial) INVITE; a transport failure is
    /// reported as a 503 and no response at all as a 408.
    InviteFinal(FinalResponse),
    /// The final response to our re-INVITE (hold, resume, refresh).
    ReinviteFinal(FinalResponse),
    /// Incoming call: the ACK for our 200 OK, with its body (the answer
    /// when our 200 carried the offer, RFC 3261 §13.2.1).
    Acked {
        /// The ACK body (empty when none).
        sdp: Vec<u8>,
    },
    /// Incoming call: the caller cancelled (487 already sent by the transaction).
    Cancelled,
    /// An in-dialog request from the far end, to answer with [`Action::Reply`].
    Request(InDialogRequest),
    /// The ACK for our 2xx to the far end's re-INVITE.
    RequestAcked {
        /// The request it acknowledges.
        id: RequestId,
        /// The ACK body.
        sdp: Vec<u8>,
    },
    /// Our 2xx to the far end's re-INVITE `id` was retransmitted for
    /// 64 x T1 and no ACK came (RFC 3261 §13.3.1.4, §14.2): the session
    /// ends with BYE.
    RequestUnacked {
        /// The re-INVITE answered.
        id: RequestId,
    },
    /// Incoming call: the dialog layer ended the dialog because our 200 OK
    /// to the INVITE got no ACK within 64 x T1 (it sends the BYE itself,
    /// RFC 3261 §13.3.1.4).
    AckTimeout,
    /// The far end ended the dialog (its BYE was answered 200).
    RemoteBye,
    /// The dialog ended below us for another reason (transaction timeout).
    DialogTerminated,
    /// A command from the connection.
    Command(Command),
    /// The gateway shuts down: CANCEL, refuse or BYE.
    Shutdown,
    /// The final response to our REFER (`None`: none came).
    ReferFinal(Option<SipStatus>),
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Send the initial INVITE (again after a 422, RFC 4028 §7.4) with
    /// these extra headers and the offer.
    Invite {
        /// Extra headers (Supported, Session-Expires, Min-SE).
        headers: Vec<Header>,
        /// The SDP offer.
        body: Vec<u8>,
    },
    /// CANCEL the pending INVITE (RFC 3261 §9.1).
    Cancel,
    /// Incoming call: 180 Ringing.
    Ringing,
    /// Incoming call: 200 OK with these extra headers and body.
    Accept {
        /// Extra headers (Session-Expires, Require, Supported).
        headers: Vec<Header>,
        /// The SDP.
        body: Vec<u8>,
    },
    /// Incoming call: a final refusal.
    Reject {
        /// 4xx-6xx.
        code: u16,
        /// Extra headers (`Min-SE` on a 422). rsipstack's `reject` takes
        /// none, so the driver drops them: the UA sends an initial
        /// INVITE's 422 itself while screening (`sip::incoming`).
        headers: Vec<Header>,
    },
    /// Send BYE (RFC 3261 §15.1).
    Bye,
    /// Send a re-INVITE with this offer.
    Reinvite {
        /// Extra headers (Session-Expires, Supported).
        headers: Vec<Header>,
        /// The SDP offer.
        body: Vec<u8>,
    },
    /// Answer an in-dialog request.
    Reply {
        /// Which one.
        id: RequestId,
        /// The final code.
        code: u16,
        /// Extra headers.
        headers: Vec<Header>,
        /// The body (SDP with `Content-Type: application/sdp` when non-empty).
        body: Vec<u8>,
    },
    /// Send INFO with this DTMF digit (`application/dtmf-relay`).
    Info(DtmfInfo),
    /// Send REFER with `Refer-To: <target>` (RFC 3515); its final
    /// response comes back as [`Input::ReferFinal`].
    Refer {
        /// The transfer target, a SIP URI.
        target: String,
    },
    /// Send NOTIFY (`Event: refer`, `message/sipfrag`, RFC 3515 §2.4.5).
    Notify {
        /// The sipfrag body.
        body: Vec<u8>,
        /// The `Subscription-State` value.
        subscription_state: String,
    },
    /// Replace the dialog's remote target (where our later in-dialog
    /// requests go) with this SIP URI, taken from the Contact of a far
    /// end's target-refresh request we accepted or of its 2xx to our
    /// re-INVITE (RFC 3261 §12.2.1.2, §12.2.2; RFC 3311 §5.2).
    RemoteTarget {
        /// A `sip:` or `sips:` URI, as received (at most
        /// [`super::target::MAX_CONTACT`] bytes).
        uri: String,
    },
    /// The leg is over: the driver stops after the actions before this.
    Done,
}
