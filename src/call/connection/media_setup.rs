//! The own call's media setup (part of [`ConnectionCore`]): ports, then
//! the SDP offer or answer (RFC 3264), then the media task, in that order;
//! each failure ends the call with the status the client reads.

use std::time::Instant;

use super::{CallSdp, ConnectionCore, Resources};
use crate::call::connection::effect::{CallDirection, Effect};
use crate::call::connection::info::hold_info;
use crate::call::connection::sdp_plan::{offer_codecs, MediaAddr};
use crate::media::codec::{Direction, Negotiated};
use crate::sip::event::{CallId, SipEvent, SipStatus};
use crate::sip::sdp;
use rand::RngCore;

impl ConnectionCore {
    /// The call's ports: build the offer (outgoing) or the answer
    /// (`accept()`), or end the call (503 when none are left).
    pub(super) fn on_ports_allocated(
        &mut self,
        now: Instant,
        call_id: CallId,
        result: Result<MediaAddr, SipStatus>,
    ) {
        let Some(own) = self.own(&call_id) else {
            return;
        };
        let (direction, state) = (own.direction, own.sdp.clone());
        let addr = match result {
            Ok(addr) => addr,
            Err(status) => return self.fail(now, &call_id, status),
        };
        let local = addr.local(self.rng.next_u64());
        let codecs = offer_codecs(&self.cfg.codecs, self.caps);
        match (direction, state) {
            (CallDirection::Outbound, CallSdp::NeedOffer(target)) => {
                match sdp::build_offer_with(
                    &codecs,
                    &local,
                    Direction::SendRecv,
                    self.cfg.srtp,
                    None,
                ) {
                    Ok(offer) => {
                        let bytes = offer.to_bytes();
                        self.set_sdp(&call_id, CallSdp::Offered(offer));
                        self.set_resources(&call_id, Resources::Offered);
                        self.out.push_back(Effect::Invite {
                            call_id,
                            target,
                            offer: bytes,
                        });
                    }
                    Err(e) => self.fail(now, &call_id, SipStatus::new(500, e.to_string())),
                }
            }
            // Delayed offer (RFC 3261 §13.2.1): an INVITE without SDP gets
            // our offer in the 200 OK; the ACK's SDP answers it and starts
            // the media, as an outgoing call's 200 does.
            (CallDirection::Inbound, CallSdp::RemoteOffer(offer)) if offer.is_empty() => {
                match sdp::build_offer_with(
                    &codecs,
                    &local,
                    Direction::SendRecv,
                    self.cfg.srtp,
                    None,
                ) {
                    Ok(ours) => {
                        let bytes = ours.to_bytes();
                        self.set_sdp(&call_id, CallSdp::Offered(ours));
                        self.set_resources(&call_id, Resources::Offered);
                        self.out.push_back(Effect::AnswerIncoming {
                            call_id,
                            answer: bytes,
                        });
                    }
                    Err(e) => {
                        self.out.push_back(Effect::RefuseIncoming {
                            call_id: call_id.clone(),
                            code: 500,
                        });
                        self.fail(now, &call_id, SipStatus::new(500, e.to_string()));
                    }
                }
            }
            (CallDirection::Inbound, CallSdp::RemoteOffer(offer)) => {
                match sdp::answer_with(&offer, &codecs, &local, self.cfg.srtp, None) {
                    Ok((answer, negotiated)) => {
                        self.set_sdp(&call_id, CallSdp::Answer(answer.to_bytes()));
                        self.start_media(call_id, negotiated);
                    }
                    Err(e) => {
                        self.out.push_back(Effect::RefuseIncoming {
                            call_id: call_id.clone(),
                            code: 488,
                        });
                        let status = SipStatus::new(488, format!("Not Acceptable Here: {e}"));
                        self.fail(now, &call_id, status);
                    }
                }
            }
            _ => {}
        }
    }

    /// The far end's answer to our offer: start the media, or hang up
    /// (488) when it is unusable.
    pub(super) fn on_answer(&mut self, now: Instant, call_id: CallId, answer: &[u8]) {
        let offer = match self.own(&call_id).map(|c| &c.sdp) {
            Some(CallSdp::Offered(offer)) => offer.clone(),
            _ => return self.no_media(now, call_id, "no offer for this answer".into()),
        };
        self.set_sdp(&call_id, CallSdp::None);
        match sdp::parse_answer(&offer, answer) {
            Ok(negotiated) => self.start_media(call_id, negotiated),
            Err(e) => self.no_media(now, call_id, e.to_string()),
        }
    }

    /// An 18x with SDP to our offer (RFC 3261 §13.2.1, RFC 3960 §3): the
    /// media starts on it, and the client gets status 1 with
    /// `early_media` once it runs. An unusable SDP leaves the media to the
    /// answer (a plain status 1).
    pub(super) fn on_early_sdp(
        &mut self,
        now: Instant,
        call_id: CallId,
        status: SipStatus,
        body: &[u8],
    ) {
        let Some(CallSdp::Offered(offer)) = self.own(&call_id).map(|c| c.sdp.clone()) else {
            return;
        };
        let event = SipEvent::Progress {
            status: status.clone(),
            sdp: Some(body.to_vec()),
        };
        match sdp::parse_answer(&offer, body) {
            Ok(negotiated) => {
                self.set_sdp(
                    &call_id,
                    CallSdp::Early {
                        offer,
                        negotiated,
                        status,
                    },
                );
                self.start_media(call_id, negotiated);
            }
            Err(_) => self.controller.handle_sip(now, call_id.as_str(), event),
        }
    }

    /// The 200 of a call with early media: the media follows its SDP when
    /// it differs from the 18x's (a forked call answered elsewhere); an
    /// answer without SDP or an unusable one keeps the early media.
    pub(super) fn confirm_early(
        &mut self,
        call_id: &CallId,
        offer: &sdp::SdpOffer,
        early: Negotiated,
        answer: &[u8],
    ) {
        self.set_sdp(call_id, CallSdp::None);
        if answer.is_empty() {
            return;
        }
        match sdp::parse_answer(offer, answer) {
            Ok(n) if n != early => self.out.push_back(Effect::UpdateMedia {
                call_id: call_id.clone(),
                negotiated: n,
            }),
            _ => {}
        }
    }

    /// A confirmed call's media changed (a far end's re-INVITE/UPDATE, or
    /// our hold/resume answered): the media task follows it, and the
    /// client gets `Sono.Call.Hold` (and the driver `Effect::HoldChanged`)
    /// when the hold state flips. On hold
    /// when either side stops sending or the address is `0.0.0.0` (RFC
    /// 3264 §8.4, RFC 2543).
    pub(super) fn on_media_changed(&mut self, call_id: CallId, n: Negotiated, by_remote: bool) {
        let Some(call) = self.call.as_mut().filter(|c| c.call_id == call_id) else {
            return;
        };
        // An UPDATE in the early dialog (RFC 3311 §5.2) moved the early
        // media: the 200's SDP is compared with this one.
        if let CallSdp::Early { negotiated, .. } = &mut call.sdp {
            *negotiated = n;
        }
        let before = call.hold;
        let (lacks_send, lacks_recv) = match n.direction {
            Direction::SendRecv => (false, false),
            Direction::SendOnly => (false, true),
            Direction::RecvOnly => (true, false),
            Direction::Inactive => (true, true),
        };
        if by_remote {
            call.hold.remote = lacks_send || n.remote_rtp.ip().is_unspecified();
        } else {
            call.hold.local = lacks_recv;
        }
        let held = if by_remote {
            call.hold.remote
        } else {
            call.hold.local
        };
        let flipped = call.hold != before;
        self.out.push_back(Effect::UpdateMedia {
            call_id: call_id.clone(),
            negotiated: n,
        });
        if flipped {
            let info = hold_info(call_id.as_str(), held, by_remote);
            self.out.push_back(Effect::Status(info));
            self.out.push_back(Effect::HoldChanged {
                call_id,
                held,
                by_remote,
            });
        }
    }

    fn start_media(&mut self, call_id: CallId, negotiated: Negotiated) {
        self.out.push_back(Effect::StartMedia {
            call_id,
            negotiated,
        });
    }

    /// The media task runs (or not): an outgoing call is answered, an
    /// incoming one gets its 200 OK.
    pub(super) fn on_media_started(
        &mut self,
        now: Instant,
        call_id: CallId,
        result: Result<(), String>,
    ) {
        let Some(own) = self.own(&call_id) else {
            return;
        };
        let (direction, state) = (own.direction, own.sdp.clone());
        match (direction, result) {
            (CallDirection::Inbound, Ok(())) => {
                self.set_resources(&call_id, Resources::Media);
                self.set_sdp(&call_id, CallSdp::None);
                match state {
                    CallSdp::Answer(answer) => self
                        .out
                        .push_back(Effect::AnswerIncoming { call_id, answer }),
                    // A delayed offer's answer came in the ACK.
                    _ => self.controller.handle_sip(
                        now,
                        call_id.as_str(),
                        SipEvent::Answered { sdp: Vec::new() },
                    ),
                }
            }
            (CallDirection::Inbound, Err(reason)) if !matches!(state, CallSdp::Answer(_)) => {
                self.no_media(now, call_id, reason)
            }
            (CallDirection::Inbound, Err(reason)) => {
                self.out.push_back(Effect::RefuseIncoming {
                    call_id: call_id.clone(),
                    code: 500,
                });
                let status = SipStatus::new(500, format!("cannot start media: {reason}"));
                self.fail(now, &call_id, status);
            }
            (_, Ok(())) if matches!(state, CallSdp::Early { .. }) => {
                self.set_resources(&call_id, Resources::Media);
                if let CallSdp::Early { status, .. } = state {
                    self.controller
                        .handle_early_media(now, call_id.as_str(), status);
                }
            }
            (_, Ok(())) => {
                self.set_resources(&call_id, Resources::Media);
                self.controller.handle_sip(
                    now,
                    call_id.as_str(),
                    SipEvent::Answered { sdp: Vec::new() },
                );
            }
            (_, Err(reason)) => self.no_media(now, call_id, reason),
        }
    }

    /// An answered outgoing call without media: BYE, and status 0 with 488.
    fn no_media(&mut self, now: Instant, call_id: CallId, reason: String) {
        self.out.push_back(Effect::SipHangup(call_id.clone()));
        let status = SipStatus::new(488, format!("Not Acceptable Here: {reason}"));
        self.fail(now, &call_id, status);
    }

    /// Ends the call as the SIP side would have: status 0 with `status`.
    fn fail(&mut self, now: Instant, call_id: &CallId, status: SipStatus) {
        self.controller
            .handle_sip(now, call_id.as_str(), SipEvent::Failed(status));
    }

    pub(super) fn set_sdp(&mut self, call_id: &CallId, sdp: CallSdp) {
        if let Some(c) = self.call.as_mut().filter(|c| &c.call_id == call_id) {
            c.sdp = sdp;
        }
    }
}
