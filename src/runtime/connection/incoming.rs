//! Incoming calls on a connection: ring, accept (media + SDP answer),
//! reject.

use rand::RngCore;
use tracing::{info, warn};

use super::{Connection, OwnCall};
use crate::call::{IncomingCallInfo, IncomingDecision};
use crate::runtime::media_task;
use crate::runtime::metrics::SipDirection;
use crate::sip::incoming::IncomingCall;
use crate::sip::sdp;

impl Connection {
    /// A new INVITE routed here by the location service.
    pub(super) fn on_incoming(&mut self, call: IncomingCall) {
        let now = std::time::Instant::now();
        let IncomingCall {
            call_id,
            from_uri,
            display_name,
            to,
            offer,
            mut answer,
            handle,
        } = call;
        let slot = self.subject_slot();
        if let (super::auth::SubjectSlot::Full { max }, false) = (&slot, self.controller.has_call())
        {
            info!(%call_id, max, "the client's token subject is at its max_calls: 486");
            self.gw.metrics.sip_response(SipDirection::Sent, 486);
            answer.reject(486);
            return;
        }
        let permit = self.gw.calls.clone().try_acquire_owned().ok();
        let call_id = String::from(call_id);
        let info = IncomingCallInfo {
            call_id: call_id.clone(),
            uri: from_uri,
            display_name,
            to,
        };
        let decision = self
            .controller
            .handle_incoming(now, info.clone(), permit.is_some());
        match (decision, permit) {
            (IncomingDecision::Ringing, Some(permit)) => {
                info!(%call_id, from = ?info.uri, to = ?info.to, "incoming call rings");
                self.call = Some(OwnCall {
                    call_id,
                    _permit: permit,
                    _subject: match slot {
                        super::auth::SubjectSlot::Ok(p) => p,
                        super::auth::SubjectSlot::Full { .. } => None,
                    },
                    sip: Some(handle),
                    pending_media: None,
                    media: None,
                    is_echo: false,
                    incoming: Some((answer, offer)),
                    metric: self
                        .gw
                        .metrics
                        .call(crate::runtime::metrics::CallDirection::Inbound),
                    started: tokio::time::Instant::now(),
                });
            }
            (IncomingDecision::Busy, _) => {
                info!(%call_id, "busy: 486");
                self.gw.metrics.sip_response(SipDirection::Sent, 486);
                answer.reject(486);
            }
            (IncomingDecision::NoCapacity, _) | (IncomingDecision::Ringing, None) => {
                info!(%call_id, "at the call limit: 503");
                self.gw.metrics.sip_response(SipDirection::Sent, 503);
                answer.reject(503);
            }
        }
    }

    /// `accept()`: allocate RTP ports, answer the offer, start the media,
    /// send 200 OK. The call is connected when the ACK arrives.
    pub(super) async fn accept_incoming(&mut self, call_id: &str) -> Result<(), (u16, String)> {
        let ports = self.allocate_ports().await?;
        let Some(call) = self.call.as_mut().filter(|c| c.call_id == call_id) else {
            return Err((481, "no such call".into()));
        };
        let Some((mut answer, offer)) = call.incoming.take() else {
            return Err((500, "the call was already answered".into()));
        };
        if offer.is_empty() {
            return self.accept_delayed_offer(call_id, ports, answer);
        }
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
        let (sdp_answer, negotiated) = match sdp::answer(&offer, &codecs, &local) {
            Ok(x) => x,
            Err(e) => {
                self.gw.metrics.sip_response(SipDirection::Sent, 488);
                answer.reject(488);
                return Err((488, format!("Not Acceptable Here: {e}")));
            }
        };
        info!(%call_id, codec = ?negotiated.codec, remote = %negotiated.remote_rtp, "media negotiated");
        let media = match media_task::spawn_rtp(
            &self.gw.config.media,
            self.session.client_caps(),
            call_id,
            negotiated,
            ports,
            self.media_tx.clone(),
            self.gw.metrics.clone(),
        ) {
            Ok(m) => m,
            Err(e) => {
                self.gw.metrics.sip_response(SipDirection::Sent, 500);
                answer.reject(500);
                return Err((500, format!("cannot start media: {e}")));
            }
        };
        call.media = Some(media);
        self.gw.metrics.sip_response(SipDirection::Sent, 200);
        answer.accept(sdp_answer.to_bytes());
        Ok(())
    }

    /// Refuses the ringing call with `code`.
    pub(super) fn reject_incoming(&mut self, call_id: &str, code: u16) {
        let Some(call) = self.call.as_mut().filter(|c| c.call_id == call_id) else {
            return;
        };
        match call.incoming.as_mut() {
            Some((answer, _)) => {
                self.gw.metrics.sip_response(SipDirection::Sent, code);
                answer.reject(code);
            }
            None => warn!(%call_id, "reject for a call that is not ringing"),
        }
    }
}
