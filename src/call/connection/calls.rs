//! The own call: SIP and media inputs, and the controller's outputs as
//! effects (part of [`ConnectionCore`]).

use std::time::Instant;

use super::{CallSdp, ConnectionCore, OwnCall, Resources};
use crate::amf::Value;
use crate::call::connection::effect::{CallDirection, Effect};
use crate::call::connection::info::{dtmf_info, hold_failed_info, incoming_info, transfer_info};
use crate::call::connection::input::MediaInput;
use crate::call::grammar::DialHost;
use crate::call::uri::DialUri;
use crate::call::Output;
use crate::sip::event::{CallId, SipEvent};

impl ConnectionCore {
    pub(super) fn own(&self, call_id: &CallId) -> Option<&OwnCall> {
        self.call.as_ref().filter(|c| &c.call_id == call_id)
    }

    /// A SIP event of `call_id`: one arm per event.
    /// - the transferred call's leg consumes its own events, and the new
    ///   call's progress is NOTIFYed on it first (`transfer.rs`);
    /// - `Progress` with SDP to our offer -> early media (`media_setup.rs`);
    /// - `Answered` to our offer -> media first, then the controller;
    /// - `MediaChanged` -> `Effect::UpdateMedia` and `Sono.Call.Hold` when
    ///   the hold state flips; `HoldFailed` -> `Sono.Call.HoldFailed`;
    /// - `TransferProgress` -> the controller (`Sono.Call.Transfer`, BYE on
    ///   success);
    /// - `Referred` -> the dial rate and `controller.handle_referred`
    ///   (`[policy] dial_allow` applies to the Refer-To target), then
    ///   `Effect::DecideRefer`.
    pub(super) fn on_sip(&mut self, now: Instant, call_id: CallId, event: SipEvent) {
        if self.on_transferred_sip(&call_id, &event) {
            return;
        }
        let sdp = self.own(&call_id).map(|c| (c.resources, c.sdp.clone()));
        let offered = matches!(sdp, Some((Resources::Offered, CallSdp::Offered(_))));
        match event {
            SipEvent::Progress {
                status,
                sdp: Some(body),
            } if offered => self.on_early_sdp(now, call_id, status, &body),
            // The answer to our offer: media first, then the controller.
            SipEvent::Answered { sdp } if offered => self.on_answer(now, call_id, &sdp),
            SipEvent::Answered { sdp: answer } => {
                if let Some((
                    _,
                    CallSdp::Early {
                        offer, negotiated, ..
                    },
                )) = sdp
                {
                    self.confirm_early(&call_id, &offer, negotiated, &answer);
                }
                self.to_controller(now, &call_id, SipEvent::Answered { sdp: answer })
            }
            event @ SipEvent::Progress { .. } => self.to_controller(now, &call_id, event),
            event @ SipEvent::Failed(_) => self.to_controller(now, &call_id, event),
            event @ SipEvent::Ended { .. } => self.to_controller(now, &call_id, event),
            event @ SipEvent::TransferProgress { .. } => self.to_controller(now, &call_id, event),
            SipEvent::Referred { target, replaces } => {
                self.on_referred(now, call_id, &target, replaces)
            }
            SipEvent::MediaChanged {
                negotiated,
                by_remote,
            } => self.on_media_changed(call_id, negotiated, by_remote),
            SipEvent::HoldFailed { held, status } => {
                if self.own(&call_id).is_some() {
                    let info = hold_failed_info(call_id.as_str(), held, &status);
                    self.out.push_back(Effect::Status(info));
                }
            }
        }
    }

    fn to_controller(&mut self, now: Instant, call_id: &CallId, event: SipEvent) {
        self.controller.handle_sip(now, call_id.as_str(), event);
    }

    pub(super) fn on_media(&mut self, now: Instant, call_id: CallId, event: MediaInput) {
        let Some(own) = self.own(&call_id) else {
            return;
        };
        match event {
            MediaInput::RtpTimeout => {
                self.controller
                    .handle_media_failure(now, call_id.as_str(), 408, "RTP timeout")
            }
            MediaInput::Dtmf(digit) => {
                if self.controller.call_id() == Some(call_id.as_str()) {
                    self.out
                        .push_back(Effect::Status(dtmf_info(digit, call_id.as_str())));
                }
            }
            MediaInput::DtmfFallback {
                digits,
                duration_ms,
            } => {
                if own.direction != CallDirection::Echo {
                    self.out.push_back(Effect::SipInfoDtmf {
                        call_id,
                        digits,
                        duration_ms,
                    });
                }
            }
            MediaInput::Ended => {
                if own.direction == CallDirection::Echo {
                    self.controller.handle_sip(
                        now,
                        call_id.as_str(),
                        SipEvent::Ended { by_remote: false },
                    );
                }
            }
        }
    }

    pub(super) fn set_resources(&mut self, call_id: &CallId, resources: Resources) {
        if let Some(c) = self.call.as_mut().filter(|c| &c.call_id == call_id) {
            c.resources = resources;
        }
    }

    /// Turns the controller's outputs into effects.
    pub(super) fn drain_controller(&mut self) {
        while let Some(out) = self.controller.poll_output() {
            self.on_output(out);
        }
    }

    pub(super) fn on_output(&mut self, out: Output) {
        let effect = match out {
            Output::Result { txn } => Effect::ReplyResult {
                txn,
                value: Value::Null,
            },
            Output::Error {
                txn,
                code,
                description,
            } => {
                let reason = self.count_refusal(code);
                Effect::ReplyError {
                    txn,
                    code,
                    description,
                    sip_code: matches!(reason, Some("overload" | "draining")).then_some(503),
                }
            }
            Output::Status(st) => Effect::CallStatus(st),
            Output::Invite { call_id, target } => {
                let call_id = CallId::new(call_id);
                let toward = target_addr(&target);
                self.set_sdp(&call_id, CallSdp::NeedOffer(target));
                Effect::AllocatePorts { call_id, toward }
            }
            Output::StartEcho { call_id } => {
                let call_id = CallId::new(call_id);
                self.set_resources(&call_id, Resources::Media);
                Effect::StartEcho(call_id)
            }
            Output::Hangup { call_id } => Effect::SipHangup(CallId::new(call_id)),
            Output::ConnectStreams {
                call_id,
                publish,
                play,
            } => Effect::ConnectStreams {
                call_id: CallId::new(call_id),
                publish,
                play,
                players: self.own_play.clone(),
            },
            Output::Release { call_id } => return self.release(CallId::new(call_id)),
            Output::Incoming(info) => Effect::Status(incoming_info(&info)),
            Output::Accept { call_id } => Effect::AllocatePorts {
                call_id: CallId::new(call_id),
                toward: None,
            },
            Output::Reject { call_id, code } => Effect::RefuseIncoming {
                call_id: CallId::new(call_id),
                code,
            },
            Output::Refer { call_id, target } => Effect::Refer {
                call_id: CallId::new(call_id),
                target,
            },
            Output::Transfer(ev) => Effect::Status(transfer_info(&ev)),
            Output::TransferLeg {
                old_call_id,
                new_call_id,
            } => return self.transfer_leg(CallId::new(old_call_id), CallId::new(new_call_id)),
        };
        self.out.push_back(effect);
    }

    pub(super) fn release(&mut self, call_id: CallId) {
        if self.own(&call_id).is_none() {
            return;
        }
        self.call = None;
        self.out.push_back(Effect::ReleaseCall(call_id));
        for &stream_id in &self.own_play {
            self.out.push_back(Effect::NotifyUnpublished(stream_id));
        }
    }

    /// A dial refused by the controller: `[policy]`, capacity or
    /// overload; returns the counted reason.
    pub(super) fn count_refusal(&mut self, code: &str) -> Option<&'static str> {
        let full = self.dial_full.take();
        let reason = match (code, full) {
            ("Sono.Call.Forbidden", _) => "policy",
            ("Sono.Call.Failed", Some(reason)) => reason,
            _ => return None,
        };
        self.out.push_back(Effect::Refused {
            what: "dial",
            reason,
        });
        Some(reason)
    }
}

/// The dialled host as a socket address when it is an IP literal (for
/// choosing the local address toward it).
fn target_addr(target: &DialUri) -> Option<std::net::SocketAddr> {
    match target.host() {
        DialHost::Ip(ip) => Some(std::net::SocketAddr::new(
            *ip,
            target.port().unwrap_or(5060),
        )),
        DialHost::Name(_) => None,
    }
}
