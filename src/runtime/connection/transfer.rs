//! Blind transfer on a connection (RFC 3515, RFC 5589 §6.1): the client's
//! `transfer(uri)`, `Sono.Call.Transfer` events, and a far end's REFER
//! honoured by calling the target for the same client.
//!
//! A far end's REFER reaches the connection as [`SipEvent::Referred`];
//! the controller checks the target like a client's dial (`[policy]
//! dial_allow`, the token's `dial` claim) and the dial rate limit applies.
//! On accept, the old call's SIP leg is kept in [`HeldLeg`]: the new
//! call's progress goes to it as NOTIFYs, and the leg ends itself (BYE)
//! after the final one, or when the far end hangs up. The new call reuses
//! the old call's capacity permit.

use tracing::{debug, info};

use super::Connection;
use crate::amf::Value;
use crate::call::{ReferDecision, TransferEvent};
use crate::sip::event::{SipEvent, SipStatus};
use crate::sip::ua::CallHandle;

/// The SIP leg of a call the far end transferred away, until its
/// subscription's final NOTIFY or its BYE.
pub(super) struct HeldLeg {
    /// The transferred call's Call-ID.
    old_call_id: String,
    /// The call placed to the Refer-To target.
    new_call_id: String,
    /// Sends the NOTIFYs; dropping it ends the leg with BYE.
    handle: CallHandle,
}

impl Connection {
    /// `transfer(uri)` invoke.
    pub(super) fn on_transfer_invoke(&mut self, inv: &crate::rtmp::session::Invoke) {
        let uri = inv.args.first().and_then(|v| v.as_str());
        self.controller
            .handle_transfer(std::time::Instant::now(), inv.txn, uri);
    }

    /// [`crate::call::Output::Refer`]: our REFER in the connected call.
    pub(super) fn send_refer(&mut self, call_id: &str, target: &crate::call::uri::DialUri) {
        let sent = self
            .call
            .as_ref()
            .filter(|c| c.call_id == call_id)
            .and_then(|c| c.sip.as_ref())
            .is_some_and(|h| h.transfer(target.uri()));
        if !sent {
            self.controller.handle_sip(
                std::time::Instant::now(),
                call_id,
                SipEvent::TransferProgress {
                    status: SipStatus::new(503, "Cannot send REFER"),
                    done: true,
                },
            );
        }
    }

    /// [`crate::call::Output::Transfer`]: the client's event.
    pub(super) fn send_transfer_event(&mut self, ev: &TransferEvent) {
        self.session.send_connection_status(transfer_info(ev));
    }

    /// SIP events that concern transfers. True when `ev` was consumed
    /// (a REFER to decide, or an event of a held leg); the new call's own
    /// events are passed on after being NOTIFYed to its held leg.
    pub(super) fn on_transfer_sip(&mut self, call_id: &str, ev: &SipEvent) -> bool {
        if let SipEvent::Referred { target } = ev {
            self.on_referred(call_id, target);
            return true;
        }
        if self.held.as_ref().is_some_and(|h| h.old_call_id == call_id) {
            if matches!(ev, SipEvent::Ended { .. } | SipEvent::Failed(_)) {
                debug!(%call_id, "transferred call's leg ended");
                self.held = None;
            }
            return true;
        }
        let notify = match ev {
            SipEvent::Progress { status, .. } => Some((status.clone(), false)),
            SipEvent::Answered { .. } => Some((SipStatus::new(200, "OK"), true)),
            SipEvent::Failed(status) => Some((status.clone(), true)),
            _ => None,
        };
        if let (Some((status, done)), Some(held)) = (
            notify,
            self.held.as_ref().filter(|h| h.new_call_id == call_id),
        ) {
            info!(old = %held.old_call_id, %status, done, "transfer progress NOTIFY");
            // After the final NOTIFY the leg sends BYE itself and reports
            // `Ended`, which drops the held leg (dropping it first could
            // send the BYE before the NOTIFY).
            held.handle.notify_transfer(status, done);
        }
        false
    }

    fn on_referred(&mut self, call_id: &str, target: &str) {
        let now = std::time::Instant::now();
        let decision = if !self.dial_rate.admit(now) {
            info!(%call_id, "REFER refused: dial rate limit");
            self.gw.metrics.refused("dial", "rate");
            ReferDecision::Refuse(503)
        } else {
            self.controller.handle_referred(now, call_id, target)
        };
        let code = match decision {
            ReferDecision::Accept => 202,
            ReferDecision::Refuse(code) => {
                info!(%call_id, target = ?target, code, "REFER refused");
                if code == 403 {
                    self.gw.metrics.refused("dial", "policy");
                }
                code
            }
        };
        if let Some(h) = self
            .call
            .as_ref()
            .filter(|c| c.call_id == call_id)
            .and_then(|c| c.sip.as_ref())
        {
            h.decide_transfer(code);
        }
    }

    /// [`crate::call::Output::TransferLeg`]: the own call becomes the new
    /// call (same capacity permit); the old SIP leg is held for NOTIFYs,
    /// its media and stream names end.
    pub(super) fn transfer_leg(&mut self, old_call_id: &str, new_call_id: &str) {
        let Some(call) = self.call.as_mut().filter(|c| c.call_id == old_call_id) else {
            return;
        };
        let handle = call.sip.take();
        if let Some(m) = call.media.take() {
            m.stop.cancel();
        }
        call.call_id = new_call_id.to_string();
        call.pending_media = None;
        call.incoming = None;
        call.is_echo = false;
        call.started = tokio::time::Instant::now();
        call.metric = self
            .gw
            .metrics
            .call(super::super::metrics::CallDirection::Outbound);
        self.early = None;
        self.gw.streams.remove_call(old_call_id);
        for &stream_id in &self.own_play {
            self.session.notify_unpublished(stream_id);
        }
        info!(old = %old_call_id, new = %new_call_id, "call transferred by the far end");
        self.held = handle.map(|handle| HeldLeg {
            old_call_id: old_call_id.to_string(),
            new_call_id: new_call_id.to_string(),
            handle,
        });
    }
}

/// The `Sono.Call.Transfer` info object.
fn transfer_info(ev: &TransferEvent) -> Value {
    Value::object_builder()
        .set("level", "status")
        .set("code", "Sono.Call.Transfer")
        .set("call_id", ev.call_id.as_str())
        .set("status", ev.status.as_str())
        .set_opt("sip_code", ev.sip_code.map(f64::from))
        .set_opt("reason", ev.reason.clone())
        .set_opt("target", ev.target.clone())
        .build()
}
