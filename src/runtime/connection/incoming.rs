//! Incoming calls on a connection: ring, accept (media + SDP answer),
//! reject.

use rand::RngCore;
use tracing::{info, warn};

use super::Connection;
use crate::call::connection::Input;
use crate::call::IncomingCallInfo;
use crate::runtime::media_task;
use crate::runtime::metrics::SipDirection;
use crate::sip::event::CallId;
use crate::sip::incoming::IncomingCall;
use crate::sip::sdp;

impl Connection {
    /// A new INVITE routed here by the location service: held until the
    /// core binds it to a call (it rings) or refuses it.
    pub(super) async fn on_incoming(&mut self, call: IncomingCall) {
        let info = IncomingCallInfo {
            call_id: call.call_id.as_str().to_string(),
            uri: call.from_uri.clone(),
            display_name: call.display_name.clone(),
            to: call.to.clone(),
        };
        info!(call_id = %call.call_id, from = ?info.uri, to = ?info.to, "incoming call");
        if let Some(mut old) = self.new_incoming.replace(call) {
            // Unreachable: the core answers every INVITE at once.
            old.answer.reject(503);
        }
        self.feed(Input::Incoming(info)).await;
    }

    /// `accept()`: allocate RTP ports, answer the offer, start the media,
    /// send 200 OK. The call is connected when the ACK arrives.
    pub(super) async fn accept_incoming(&mut self, call_id: &CallId) -> Result<(), (u16, String)> {
        let ports = self.allocate_ports().await?;
        let caps = self.session.client_caps();
        let Some(call) = self.call.as_mut().filter(|c| &c.call_id == call_id) else {
            return Err((481, "no such call".into()));
        };
        let Some((mut answer, offer)) = call.incoming.take() else {
            return Err((500, "the call was already answered".into()));
        };
        let host = self.gw.ua.media_host_for(None);
        let local = sdp::LocalMedia {
            addr: host
                .parse()
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
            port: ports.rtp_port(),
            session_id: rand::rngs::OsRng.next_u64() >> 1,
            session_version: 1,
        };
        let codecs = media_task::offer_codecs(&self.gw.codecs, caps);
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
            caps,
            call_id.as_str(),
            negotiated,
            ports,
            self.inbox_tx.clone(),
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

    /// Refuses an INVITE with `code`: the ringing call's, or a new one
    /// that may not ring.
    pub(super) fn refuse_incoming(&mut self, call_id: &CallId, code: u16) {
        if let Some(mut call) = self.new_incoming.take_if(|c| &c.call_id == call_id) {
            info!(%call_id, code, "incoming call refused");
            self.gw.metrics.sip_response(SipDirection::Sent, code);
            call.answer.reject(code);
            return;
        }
        let Some(call) = self.call.as_mut().filter(|c| &c.call_id == call_id) else {
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
