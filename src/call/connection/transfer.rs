//! Blind transfer, the far end's side (part of [`ConnectionCore`]; RFC
//! 3515, RFC 5589 §6.1): a far end's REFER is checked like a client's
//! `dial` (the dial rate, `[policy] dial_allow`, the token's `dial`
//! claim) and, when allowed, the own call becomes a new call to the
//! Refer-To target (same call slots). The transferred call's SIP leg is
//! kept apart ([`TransferredLeg`]): the new call's progress goes to it as
//! NOTIFYs, and it ends itself (BYE) after the final one, or when the far
//! end hangs up.
//!
//! Our own `transfer(uri)` is the controller's
//! ([`crate::call::Controller::handle_transfer_uri`]): `Effect::Refer`,
//! then `Sono.Call.Transfer` from each `SipEvent::TransferProgress`.

use std::time::Instant;

use super::{CallSdp, ConnectionCore, OwnCall, Resources, TransferredLeg};
use crate::call::connection::effect::{CallDirection, Effect};
use crate::call::ReferDecision;
use crate::sip::event::{CallId, SipEvent, SipStatus};

impl ConnectionCore {
    /// The far end of `call_id` sent REFER to `target`: 202 and a new call,
    /// or a refusal (503 over the dial rate, 400 not a SIP URI, 403
    /// outside the policy, 481 not the connected call). The answer goes
    /// out before the controller's outputs, on the old call's leg. With
    /// `replaces` (attended transfer, RFC 5589 §7) the same checks apply
    /// and the new INVITE carries that `Replaces` header.
    pub(super) fn on_referred(
        &mut self,
        now: Instant,
        call_id: CallId,
        target: &str,
        replaces: Option<String>,
    ) {
        let decision = if !self.dial_rate.admit(now) {
            self.out.push_back(Effect::Refused {
                what: "dial",
                reason: "rate",
            });
            ReferDecision::Refuse(503)
        } else {
            self.controller
                .handle_referred_replacing(now, call_id.as_str(), target, replaces)
        };
        let code = match decision {
            ReferDecision::Accept => 202,
            ReferDecision::Refuse(code) => {
                if code == 403 {
                    self.out.push_back(Effect::Refused {
                        what: "dial",
                        reason: "policy",
                    });
                }
                code
            }
        };
        self.out.push_back(Effect::DecideRefer { call_id, code });
    }

    /// [`crate::call::Output::TransferLeg`]: the own call becomes the new
    /// call (its INVITE follows); the old leg is kept for NOTIFYs, the
    /// players following the own call get UnpublishNotify.
    pub(super) fn transfer_leg(&mut self, old: CallId, new: CallId) {
        if self.own(&old).is_none() {
            return;
        }
        self.call = Some(OwnCall {
            call_id: new.clone(),
            direction: CallDirection::Outbound,
            resources: Resources::Reserved,
            sdp: CallSdp::None,
            hold: Default::default(),
        });
        self.out.push_back(Effect::TransferLeg {
            old_call_id: old.clone(),
            new_call_id: new.clone(),
        });
        for &stream_id in &self.own_play {
            self.out.push_back(Effect::NotifyUnpublished(stream_id));
        }
        self.transferred = Some(TransferredLeg { old, new });
    }

    /// Events of a transfer's two calls. True when `event` was the
    /// transferred leg's (consumed; its end drops it). The new call's
    /// progress is NOTIFYed (`done` on its answer or failure; the leg then
    /// sends BYE and reports `Ended`) and goes on as the own call's.
    pub(super) fn on_transferred_sip(&mut self, call_id: &CallId, event: &SipEvent) -> bool {
        let Some(leg) = &self.transferred else {
            return false;
        };
        if &leg.old == call_id {
            if matches!(event, SipEvent::Ended { .. } | SipEvent::Failed(_)) {
                self.out
                    .push_back(Effect::DropTransferredLeg(call_id.clone()));
                self.transferred = None;
            }
            return true;
        }
        if &leg.new != call_id {
            return false;
        }
        let notify = match event {
            SipEvent::Progress { status, .. } => Some((status.clone(), false)),
            SipEvent::Answered { .. } => Some((SipStatus::new(200, "OK"), true)),
            SipEvent::Failed(status) => Some((status.clone(), true)),
            _ => None,
        };
        if let Some((status, done)) = notify {
            self.out.push_back(Effect::NotifyRefer {
                old_call_id: leg.old.clone(),
                status,
                done,
            });
        }
        false
    }
}
