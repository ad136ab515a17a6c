//! [`Input`]: everything a connection core is fed, besides `now`.

use super::sdp_plan::MediaAddr;
use crate::call::{Capacity, IncomingCallInfo};
use crate::rtmp::session::SessionEvent;
use crate::sip::event::{CallId, SipEvent, SipStatus};
use crate::sip::registration::RegistrationEvent;

/// One input of [`super::ConnectionCore::handle`].
///
/// Inputs marked *answer* reply to a query effect
/// ([`super::Effect::is_query`]); the driver feeds them right after
/// carrying out that effect, before any other input.
#[derive(Debug)]
#[non_exhaustive]
pub enum Input {
    /// Bytes arrived from the client (any amount): the idle timer restarts.
    ClientActivity,
    /// A session event other than `Publish`/`Play` (those come as
    /// [`Input::Publish`] / [`Input::Play`], with the stream registry's
    /// answer): `Connected`, `Invoke`, `StreamClosed`, `Audio`.
    Session(SessionEvent),
    /// `publish(name)` on NetStream `stream_id`; `named` is the driver's
    /// binding to the call whose `publish` name this is: `Ok(call)` bound
    /// (its Call-ID), `Err(why)` refused (the call already has a
    /// publisher: one NetStream publishes into a call at a time).
    Publish {
        /// Message stream id (1..).
        stream_id: u32,
        /// `None`: no call has this publish name.
        named: Option<Result<CallId, String>>,
    },
    /// `play(name)` on NetStream `stream_id`; `named` is the driver's
    /// subscription to the call whose `play` name this is: `Ok(call)`
    /// subscribed, `Err(why)` refused (e.g. `max_subscribers_per_call`).
    Play {
        /// Message stream id (1..).
        stream_id: u32,
        /// `None`: no call has this play name.
        named: Option<Result<CallId, String>>,
    },
    /// *Answer* to [`super::Effect::SubscribeOwn`]: `Err(why)` when the
    /// own call's media refused the player.
    OwnSubscribed {
        /// Message stream id (1..).
        stream_id: u32,
        /// The outcome.
        result: Result<(), String>,
    },
    /// A call a NetStream played by name has ended (its players get
    /// UnpublishNotify, Play.Stop and StreamEOF).
    PlayEnded {
        /// Message stream id of the player.
        stream_id: u32,
        /// The ended call.
        call_id: CallId,
    },
    /// *Answer* to [`super::Effect::ReserveCall`]: room for one more call.
    Reserved(Capacity),
    /// *Answer* to [`super::Effect::ProbeStreams`]: whether a stream
    /// bound by name still reaches a live call.
    StreamsLive(bool),
    /// A new INVITE routed to this connection (the driver holds its
    /// answer handle until [`super::Effect::BindCall`] or
    /// [`super::Effect::RefuseIncoming`]).
    Incoming {
        /// Who calls whom.
        info: IncomingCallInfo,
        /// The INVITE's SDP offer (already checked to share a codec with
        /// `[media] codecs`).
        offer: Vec<u8>,
    },
    /// *Answer* to [`super::Effect::AllocatePorts`]: where the call's RTP
    /// is, or why there is none (503 when the port range is exhausted).
    PortsAllocated {
        /// The call.
        call_id: CallId,
        /// The allocation.
        result: Result<MediaAddr, SipStatus>,
    },
    /// What the SIP side reports about a call.
    Sip {
        /// The call.
        call_id: CallId,
        /// The event.
        event: SipEvent,
    },
    /// *Answer* to [`super::Effect::StartMedia`]: `Err(reason)` when the
    /// media task could not start.
    MediaStarted {
        /// The call.
        call_id: CallId,
        /// The outcome.
        result: Result<(), String>,
    },
    /// What a call's media task reports.
    Media {
        /// The call.
        call_id: CallId,
        /// The event.
        event: MediaInput,
    },
    /// A registration's state changed.
    Registration {
        /// The AoR, as reported to the client.
        aor: String,
        /// The change.
        event: RegistrationEvent,
    },
    /// *Answer* to [`super::Effect::Register`]: the address, or why not.
    Registered {
        /// The invoke's transaction id.
        txn: f64,
        /// The AoR registered, or the reason for `Sono.Registration.Failed`.
        result: Result<String, String>,
    },
    /// *Answer* to [`super::Effect::Unregister`]: every address released.
    Unregistered {
        /// The invoke's transaction id.
        txn: f64,
    },
    /// *Answer* to [`super::Effect::SipLeg`]: the SIP leg took the command
    /// (`Ok`) or cannot (`Err(reason)`, e.g. its command queue is full).
    LegCommandDone {
        /// The invoke's transaction id.
        txn: f64,
        /// The outcome.
        result: Result<(), String>,
    },
    /// *Answer* to [`super::Effect::Refer`]: false when the SIP leg could
    /// not take the REFER (gone, or its command queue full).
    ReferSent {
        /// The call.
        call_id: CallId,
        /// Whether the REFER was queued.
        sent: bool,
    },
    /// The client's byte stream ended, failed or stalled, or the session
    /// must end: hang up, then close.
    ClientClosed,
    /// The gateway is shutting down: hang up, then close.
    Shutdown,
}

/// What a call's media task reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaInput {
    /// No RTP within `[media] rtp_timeout_s`: the call ends (408).
    RtpTimeout,
    /// The far end sent an RFC 4733 telephone-event digit.
    Dtmf(char),
    /// The far end has no telephone-event: send these digits by SIP INFO.
    DtmfFallback {
        /// The digits (`0-9 * # A-D`).
        digits: String,
        /// Tone length per digit, ms.
        duration_ms: u32,
    },
    /// The media task ended by itself (the echo destination after hangup).
    Ended,
}
