//! Incoming calls on a connection: hand the INVITE to the core, then
//! carry out its answer (200 OK with the core's SDP answer) or refusal.

use tracing::{info, warn};

use super::Connection;
use crate::call::connection::Input;
use crate::call::IncomingCallInfo;
use crate::runtime::metrics::SipDirection;
use crate::sip::event::CallId;
use crate::sip::incoming::IncomingCall;

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
        let offer = call.offer.clone();
        if let Some(mut old) = self.new_incoming.replace(call) {
            // Unreachable: the core answers every INVITE at once.
            old.answer.reject(503);
        }
        self.feed(Input::Incoming { info, offer }).await;
    }

    /// `accept()`, media running: 200 OK with the core's SDP answer. The
    /// call is connected when the ACK arrives.
    pub(super) fn answer_incoming(&mut self, call_id: &CallId, answer: Vec<u8>) {
        let Some(call) = self.call.as_mut().filter(|c| &c.call_id == call_id) else {
            return;
        };
        match call.incoming.take() {
            Some(mut handle) => {
                self.gw.metrics.sip_response(SipDirection::Sent, 200);
                handle.accept(answer);
            }
            None => warn!(%call_id, "answer for a call that is not ringing"),
        }
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
            Some(answer) => {
                self.gw.metrics.sip_response(SipDirection::Sent, code);
                answer.reject(code);
            }
            None => warn!(%call_id, "reject for a call that is not ringing"),
        }
    }
}
