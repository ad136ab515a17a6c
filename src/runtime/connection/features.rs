//! Call features on a connection, on top of the SIP call leg
//! (`sip::call`): `hold()` / `unhold()` invokes, `Sono.Call.Hold` events,
//! media updates when the far end or we re-negotiate, and the delayed
//! offer on incoming calls (an INVITE without SDP).
//!
//! Kept apart from `mod.rs` so that file has only one-line hooks:
//! `on_invoke` -> [`Connection::on_hold_invoke`], `on_sip` ->
//! [`Connection::on_call_feature`], `accept_incoming` ->
//! [`Connection::accept_delayed_offer`].

use rand::RngCore;
use tracing::info;

use super::{Connection, OwnCall};
use crate::amf::Value;
use crate::runtime::media_task;
use crate::runtime::metrics::SipDirection;
use crate::sip::incoming::AnswerHandle;
use crate::sip::sdp::{self, Direction, Negotiated};
use crate::sip::ua::SipEvent;

/// The hold state reported to the client for the own call.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct HoldState {
    /// The call it is about.
    call_id: String,
    /// Whether the last media update put the call on hold.
    held: bool,
}

/// Whether `n` puts the call on hold (either side): we do not both send
/// and receive, or the far end's address is the RFC 2543 `0.0.0.0`.
fn is_held(n: &Negotiated) -> bool {
    n.direction != Direction::SendRecv || n.is_hold()
}

/// The own call, when it is a confirmed SIP call (not the echo destination).
fn connected_sip_call(call: Option<&OwnCall>) -> Option<&OwnCall> {
    call.filter(|c| !c.is_echo && c.media.is_some() && c.incoming.is_none())
}

impl Connection {
    /// `hold()` / `unhold()`: a re-INVITE with `a=sendonly` / `a=sendrecv`.
    /// `_result` once sent; the outcome comes as `Sono.Call.Hold` (or
    /// `Sono.Call.HoldFailed`). `_error` `Sono.Call.NoCall` without a
    /// connected call.
    pub(super) fn on_hold_invoke(&mut self, txn: f64, held: bool) {
        let handle = connected_sip_call(self.call.as_ref()).and_then(|c| c.sip.as_ref());
        match handle {
            Some(h) if h.hold(held) => self.session.reply_result(txn, Value::Null),
            Some(_) => {
                self.session
                    .reply_error(txn, "Sono.Call.Failed", "too many call commands queued")
            }
            None => self.session.reply_error(
                txn,
                "Sono.Call.NoCall",
                "there is no connected call to hold or resume",
            ),
        }
    }

    /// Handles the SIP events of call features; true when `ev` was one.
    pub(super) fn on_call_feature(&mut self, call_id: &str, ev: &SipEvent) -> bool {
        match ev {
            SipEvent::MediaChanged {
                negotiated,
                by_remote,
            } => {
                self.on_media_changed(call_id, negotiated, *by_remote);
                true
            }
            SipEvent::HoldFailed { held, status } => {
                info!(%call_id, held, %status, "hold/resume refused");
                let info = Value::object_builder()
                    .set("level", "error")
                    .set("code", "Sono.Call.HoldFailed")
                    .set("call_id", call_id)
                    .set("held", *held)
                    .set("sip_code", f64::from(status.code()))
                    .set("reason", status.reason())
                    .build();
                self.session.send_connection_status(info);
                true
            }
            _ => false,
        }
    }

    fn on_media_changed(&mut self, call_id: &str, n: &Negotiated, by_remote: bool) {
        let Some(call) = self.call.as_ref().filter(|c| c.call_id == call_id) else {
            return;
        };
        info!(%call_id, codec = ?n.codec, remote = %n.remote_rtp, direction = ?n.direction, by_remote, "media changed");
        if let Some(m) = &call.media {
            m.update(*n);
        }
        let held = is_held(n);
        let was = self.hold.call_id == call_id && self.hold.held;
        self.hold = HoldState {
            call_id: call_id.to_string(),
            held,
        };
        if held != was {
            let info = Value::object_builder()
                .set("level", "status")
                .set("code", "Sono.Call.Hold")
                .set("call_id", call_id)
                .set("held", held)
                .set("by", if by_remote { "remote" } else { "local" })
                .build();
            self.session.send_connection_status(info);
        }
    }

    /// `accept()` of an incoming call whose INVITE had no SDP: our offer
    /// goes in the 200 OK and the media starts when the ACK brings the
    /// answer (the same path as an outgoing call's 200).
    pub(super) fn accept_delayed_offer(
        &mut self,
        call_id: &str,
        ports: crate::runtime::ports::PortPair,
        mut answer: AnswerHandle,
    ) -> Result<(), (u16, String)> {
        let host = self.gw.ua.media_host_for(None);
        let local = sdp::LocalMedia {
            addr: host
                .parse()
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
            port: ports.rtp_port(),
            session_id: rand::rngs::OsRng.next_u64() >> 1,
            session_version: 1,
        };
        let codecs = media_task::offer_codecs(&self.gw.codecs, self.session.client_caps());
        let offer = match sdp::build_offer(&codecs, &local) {
            Ok(o) => o,
            Err(e) => {
                answer.reject(500);
                return Err((500, e.to_string()));
            }
        };
        let Some(call) = self.call.as_mut().filter(|c| c.call_id == call_id) else {
            answer.reject(481);
            return Err((481, "no such call".into()));
        };
        info!(%call_id, "delayed offer: our offer in the 200 OK");
        answer.accept(offer.to_bytes());
        call.pending_media = Some((ports, offer));
        self.gw.metrics.sip_response(SipDirection::Sent, 200);
        Ok(())
    }
}
