//! Early media (RFC 3261 §13.2.1, RFC 3960 §3): an 18x with SDP to our
//! INVITE starts the call's media before the answer, so the client hears
//! ring-back and announcements from the network. The client gets status 1
//! with `early_media: true` and the stream names (the controller's
//! [`crate::call::Controller::handle_early_media`]); the 200 then confirms
//! (status 2, 4). When the 200's SDP negotiates something else (another
//! address or codec, e.g. a forked call answered elsewhere), the media
//! follows the answer.

use tracing::{debug, info, warn};

use super::Connection;
use crate::media::codec::Negotiated;
use crate::sip::event::{SipEvent, SipStatus};
use crate::sip::sdp;

/// The early media of the own outgoing call: what the 200's SDP is
/// compared against.
pub(super) struct EarlyMedia {
    call_id: String,
    offer: sdp::SdpOffer,
    negotiated: Negotiated,
}

impl Connection {
    /// SIP events that concern early media. True when `ev` was consumed
    /// (an 18x whose SDP started the media: the controller was told).
    pub(super) fn on_early_sip(&mut self, call_id: &str, ev: &SipEvent) -> bool {
        match ev {
            SipEvent::Progress {
                status,
                sdp: Some(body),
            } => self.start_early(call_id, status, body),
            SipEvent::Answered { sdp: answer } => {
                self.confirm_early(call_id, answer);
                false
            }
            _ => false,
        }
    }

    /// Starts the media on an 18x's SDP, once per call.
    fn start_early(&mut self, call_id: &str, status: &SipStatus, body: &[u8]) -> bool {
        let Some(offer) = self
            .call
            .as_ref()
            .filter(|c| c.call_id == call_id)
            .and_then(|c| c.pending_media.as_ref())
            .map(|(_, offer)| offer.clone())
        else {
            return false; // not ours, or media already runs
        };
        let negotiated = match sdp::parse_answer(&offer, body) {
            Ok(n) => n,
            Err(e) => {
                debug!(%call_id, error = %e, "18x SDP unusable; media waits for the answer");
                return false;
            }
        };
        if let Err(reason) = self.start_media(call_id, body) {
            warn!(%call_id, %reason, "cannot start early media; ending the call");
            if let Some(mut h) = self.call.as_mut().and_then(|c| c.sip.take()) {
                h.hangup();
            }
            self.controller.handle_sip(
                std::time::Instant::now(),
                call_id,
                SipEvent::Failed(SipStatus::new(
                    488,
                    format!("Not Acceptable Here: {reason}"),
                )),
            );
            return true;
        }
        info!(%call_id, code = status.code(), "early media");
        self.early = Some(EarlyMedia {
            call_id: call_id.to_string(),
            offer,
            negotiated,
        });
        self.controller
            .handle_early_media(std::time::Instant::now(), call_id, status.clone());
        true
    }

    /// The 200 of a call with early media: the media follows its SDP when
    /// it differs from the 18x's.
    fn confirm_early(&mut self, call_id: &str, answer: &[u8]) {
        let Some(early) = self.early.take().filter(|e| e.call_id == call_id) else {
            return;
        };
        if answer.is_empty() {
            return; // RFC 3261 §13.2.1: the 18x's SDP was the answer
        }
        match sdp::parse_answer(&early.offer, answer) {
            Ok(n) if n == early.negotiated => {}
            Ok(n) => {
                info!(%call_id, codec = ?n.codec, remote = %n.remote_rtp, "answer SDP differs from early media");
                if let Some(m) = self.call.as_ref().and_then(|c| c.media.as_ref()) {
                    m.update(n);
                }
            }
            Err(e) => debug!(%call_id, error = %e, "answer SDP unusable; keeping early media"),
        }
    }
}
