//! [`Effect`]: what a connection core asks its driver to do.

use std::net::SocketAddr;

use bytes::Bytes;

use crate::amf::Value;
use crate::call::connection::api::{DtmfDigits, RegisterTarget};
use crate::call::status::CallStatus;
use crate::call::uri::DialUri;
use crate::media::codec::Negotiated;
use crate::sip::event::{CallId, SipStatus};

/// Which way a call goes; picks the metric and what resources it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDirection {
    /// `dial` to SIP.
    Outbound,
    /// `dial` to the built-in echo destination (no SIP leg).
    Echo,
    /// An INVITE from SIP.
    Inbound,
}

/// Where a publishing NetStream's audio goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioTarget {
    /// The call whose `publish` name the stream published (any
    /// connection's call): the driver's handle for `stream_id`.
    Named,
    /// This connection's own call, whichever it is now.
    Own,
}

/// Why a connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// No `connect` within `[limits] connect_timeout_s`.
    ConnectTimeout,
    /// No client bytes for `[limits] idle_timeout_s` and no live call.
    Idle,
    /// The client closed, failed, stalled, or broke the protocol.
    Client,
    /// The gateway is shutting down.
    Shutdown,
}

/// A command for a call's SIP leg (the dialog's UA side).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LegCommand {
    /// `hold()`: re-INVITE with `a=sendonly` (RFC 3264 §8.4, RFC 6337).
    Hold,
    /// `unhold()`: re-INVITE with `a=sendrecv`.
    Unhold,
}

/// One thing for the driver to do, in order. *Query* effects
/// ([`Effect::is_query`]) need their answer input fed back at once.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Effect {
    /// Answer invoke `txn` with `_result` and `value` (Null when none).
    ReplyResult {
        /// The invoke's transaction id.
        txn: f64,
        /// The `_result` argument.
        value: Value,
    },
    /// Answer invoke `txn` with `_error {code, description[, sip_code]}`.
    ReplyError {
        /// The invoke's transaction id.
        txn: f64,
        /// e.g. `Sono.Call.Failed`.
        code: &'static str,
        /// Human-readable reason.
        description: String,
        /// A SIP-style status for the refusal, when it has one: 503 for a
        /// `dial` refused for overload (load shedding).
        sip_code: Option<u16>,
    },
    /// An `onStatus` on stream 0 with this info object (`Sono.*` other
    /// than the call status).
    Status(Value),
    /// A `Sono.Call.Status` event (sent as
    /// [`super::info::status_info`]; the driver also feeds its metrics).
    CallStatus(CallStatus),
    /// `NetStream.Publish.Start` on `stream_id`.
    AcceptPublish(u32),
    /// `NetStream.Publish.BadName` on `stream_id`.
    RejectPublish {
        /// The stream.
        stream_id: u32,
        /// Why.
        reason: String,
    },
    /// `NetStream.Play.Start` on `stream_id`.
    AcceptPlay(u32),
    /// `NetStream.Play.StreamNotFound` on `stream_id`.
    RejectPlay {
        /// The stream.
        stream_id: u32,
        /// Why.
        reason: String,
    },
    /// UnpublishNotify, Play.Stop and StreamEOF on a player of an ended
    /// named call.
    EndPlay(u32),
    /// `NetStream.Play.UnpublishNotify` on a stream following the own call.
    NotifyUnpublished(u32),
    /// Published audio for a call.
    Audio {
        /// The publishing stream (the key of a [`AudioTarget::Named`] handle).
        stream_id: u32,
        /// Where it goes.
        target: AudioTarget,
        /// RTMP timestamp, ms.
        timestamp_ms: u32,
        /// FLV audio tag body.
        body: Bytes,
    },
    /// Forget the named handle the driver holds for a closed stream.
    StreamClosed(u32),
    /// *Query*: subscribe `stream_id` to the own call's media, if it has
    /// any; answer [`super::Input::OwnSubscribed`].
    SubscribeOwn(u32),
    /// *Query*: idle past the timeout with streams bound to calls by name:
    /// does any still reach a live call? Answer
    /// [`super::Input::StreamsLive`].
    ProbeStreams,
    /// *Query*: take a gateway call slot (`[limits] max_calls`) and the
    /// token subject's (`max_calls`); answer [`super::Input::Reserved`].
    ReserveCall,
    /// The reserved slots now belong to call `call_id`.
    BindCall {
        /// The new call.
        call_id: CallId,
        /// Its direction.
        direction: CallDirection,
    },
    /// Give the reserved slots back (the call was refused).
    DropReservation,
    /// *Query*: allocate an RTP/RTCP port pair for the call (kept by the
    /// driver until [`Effect::StartMedia`] or the release) and name the
    /// address to advertise toward `toward` (the far end, when known);
    /// answer [`super::Input::PortsAllocated`].
    AllocatePorts {
        /// The call.
        call_id: CallId,
        /// The far end's address, when the dialled host is an IP literal.
        toward: Option<SocketAddr>,
    },
    /// Send the INVITE (`[policy]`-checked target, the core's SDP offer).
    /// A failure comes back as `Input::Sip` `Failed`.
    Invite {
        /// The new dialog's Call-ID.
        call_id: CallId,
        /// The checked target.
        target: DialUri,
        /// The SDP offer (RFC 3264 §5).
        offer: Vec<u8>,
    },
    /// Start the echo destination's media; the driver then feeds
    /// `Input::Sip` `Answered` (or `Failed`).
    StartEcho(CallId),
    /// *Query*: start the call's media task on its allocated ports with
    /// the negotiated codec; answer [`super::Input::MediaStarted`].
    StartMedia {
        /// The call.
        call_id: CallId,
        /// The offer/answer outcome.
        negotiated: Negotiated,
    },
    /// `accept()`, media running: send 200 OK with this SDP answer.
    AnswerIncoming {
        /// The INVITE's Call-ID.
        call_id: CallId,
        /// The SDP answer (RFC 3264 §6).
        answer: Vec<u8>,
    },
    /// Refuse an incoming INVITE with a final `code`: the ringing call, or
    /// a new one that may not ring (486 busy, 503 no capacity).
    RefuseIncoming {
        /// The INVITE's Call-ID.
        call_id: CallId,
        /// 400..=699.
        code: u16,
    },
    /// End the SIP side (CANCEL or BYE), or stop the echo destination.
    SipHangup(CallId),
    /// Send DTMF on the call's media (RFC 4733, or INFO fallback).
    SendDtmf {
        /// The call.
        call_id: CallId,
        /// Checked digits.
        digits: DtmfDigits,
        /// Tone length per digit, ms.
        duration_ms: u32,
    },
    /// Send DTMF digits by SIP INFO (`application/dtmf-relay`).
    SipInfoDtmf {
        /// The call.
        call_id: CallId,
        /// The digits.
        digits: String,
        /// Tone length per digit, ms.
        duration_ms: u32,
    },
    /// *Query*: a command for the call's SIP leg; answer
    /// [`super::Input::LegCommandDone`].
    SipLeg {
        /// The invoke's transaction id.
        txn: f64,
        /// The call.
        call_id: CallId,
        /// What to do.
        command: LegCommand,
    },
    /// The call's media changed by a new offer/answer (re-INVITE, UPDATE,
    /// hold, the 200 after early media; RFC 3264 §8): hand it to the
    /// running media task (`MediaHandle::update`).
    UpdateMedia {
        /// The call.
        call_id: CallId,
        /// The media now in force.
        negotiated: Negotiated,
    },
    /// *Query*: send REFER to `target` in the call (`transfer(uri)`, RFC
    /// 5589 §6.1; already allowed by `[policy] dial_allow` and the token);
    /// answer [`super::Input::ReferSent`].
    Refer {
        /// The connected call.
        call_id: CallId,
        /// The Refer-To target.
        target: DialUri,
    },
    /// Answer the far end's REFER in call `call_id` (RFC 3515 §2.4.2):
    /// 202 accepts, 4xx-6xx refuses.
    DecideRefer {
        /// The call the REFER came in.
        call_id: CallId,
        /// 202, or 400 / 403 / 481 / 503.
        code: u16,
    },
    /// The far end transferred the own call away: keep its SIP leg apart
    /// (for NOTIFYs) under `old_call_id`, stop its media and stream names;
    /// the own call's slots now belong to `new_call_id` (an outgoing call
    /// whose INVITE follows).
    TransferLeg {
        /// The transferred call.
        old_call_id: CallId,
        /// The call to the Refer-To target.
        new_call_id: CallId,
    },
    /// A NOTIFY on the transferred call's leg with the new call's progress
    /// (`message/sipfrag`, RFC 3515 §2.4.5); after the `done` one the leg
    /// ends itself with BYE.
    NotifyRefer {
        /// The transferred call.
        old_call_id: CallId,
        /// The new call's status line.
        status: SipStatus,
        /// The final NOTIFY (`Subscription-State: terminated`).
        done: bool,
    },
    /// The transferred call's leg has ended: drop it.
    DropTransferredLeg(CallId),
    /// Bind the call's `publish`/`play` names to its media, and subscribe
    /// the streams in `players` that follow the own call.
    ConnectStreams {
        /// The call.
        call_id: CallId,
        /// Name others may publish to.
        publish: String,
        /// Name others may play.
        play: String,
        /// NetStreams of this connection playing the own call.
        players: Vec<u32>,
    },
    /// The call's hold state flipped (as `Sono.Call.Hold` reports it): for
    /// the driver's metrics.
    HoldChanged {
        /// The call.
        call_id: CallId,
        /// On hold now (either side stops sending, or `c=0.0.0.0`; RFC
        /// 3264 §8.4), or resumed.
        held: bool,
        /// The far end's re-INVITE/UPDATE did it, not our `hold()`/`unhold()`.
        by_remote: bool,
    },
    /// The call ended: drop its names, media, SIP handle and slots.
    ReleaseCall(CallId),
    /// *Query*: `register(...)`; answer [`super::Input::Registered`].
    Register {
        /// The invoke's transaction id.
        txn: f64,
        /// What to register.
        target: RegisterTarget,
    },
    /// *Query*: `unregister()`; answer [`super::Input::Unregistered`].
    Unregister {
        /// The invoke's transaction id.
        txn: f64,
    },
    /// Refusal counters (`rtmp2sip_refused_total{what, reason}`).
    Refused {
        /// e.g. `dial`.
        what: &'static str,
        /// e.g. `rate`, `policy`, `capacity`.
        reason: &'static str,
    },
    /// The connection begins to close (the call, if any, is being hung
    /// up); the driver logs why.
    Closing(CloseReason),
    /// Close the connection now (the call, if any, has ended or the close
    /// grace ran out).
    Close,
}

impl Effect {
    /// True for effects whose answer input the driver must feed before
    /// any other input.
    pub fn is_query(&self) -> bool {
        matches!(
            self,
            Effect::SubscribeOwn(_)
                | Effect::ReserveCall
                | Effect::ProbeStreams
                | Effect::AllocatePorts { .. }
                | Effect::StartMedia { .. }
                | Effect::SipLeg { .. }
                | Effect::Refer { .. }
                | Effect::Register { .. }
                | Effect::Unregister { .. }
        )
    }
}
