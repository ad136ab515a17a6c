//! `[auth]` on a connection: the JWT connect gate, and what the client's
//! [`Identity`] changes afterwards (dial policy, `max_calls` per subject,
//! `register`, From of its calls).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::info;

use super::Connection;
use crate::amf::Value;
use crate::auth::{
    strip_query, token_from_connect, AuthError, ClientAuth, Identity, SubjectPermit,
};
use crate::call::Capacity;
use crate::rtmp::session::{ConnectGate, ConnectRequest, Grant};
use crate::sip::ua::CallerId;

/// Admits a `connect` only with a valid token; grants its [`Identity`].
pub(super) struct JwtGate {
    pub(super) auth: Arc<ClientAuth>,
    /// Counts refused connects (`rtmp2sip_refused_total{what="connect",reason="auth"}`).
    pub(super) metrics: Arc<crate::runtime::metrics::Metrics>,
}

impl ConnectGate for JwtGate {
    fn admit(&mut self, req: &ConnectRequest<'_>) -> Result<Grant, String> {
        let first = req.args.first().and_then(Value::as_str);
        let result = match token_from_connect(first, req.tc_url, req.app) {
            None => Err(AuthError::NoToken),
            Some(token) => {
                // The wall clock: `exp` and `nbf` are Unix times.
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                self.auth.verify(token, now)
            }
        };
        match result {
            Ok(id) => {
                info!(subject = ?id.subject, register = id.register, max_calls = ?id.max_calls,
                    dial_narrowed = id.dial.is_some(), "client authenticated");
                Ok(Grant::new(id))
            }
            Err(e) => {
                info!(app = ?strip_query(req.app), reason = %e, "connect rejected");
                self.metrics.refused("connect", "auth");
                Err(e.to_string())
            }
        }
    }
}

/// Room for one more call of this connection's subject, and the slot.
pub(super) enum SubjectSlot {
    /// Not limited (no identity or no `max_calls`), or a slot was taken.
    Ok(Option<SubjectPermit>),
    /// The subject holds `max` calls already.
    Full { max: u32 },
}

impl Connection {
    /// `connect` was admitted: keep the identity (the core narrows the
    /// dial policy and checks `register` itself).
    pub(super) fn on_connected(&mut self, app: &str, grant: &Grant) {
        info!(app = ?strip_query(app), "NetConnection connected");
        self.identity = grant.get::<Identity>().cloned();
        let subject = self.identity.as_ref().map(|id| id.subject.as_str());
        self.gw
            .registry
            .connected(self.id, strip_query(app), subject);
    }

    /// Takes a call slot for this connection's subject (`max_calls`).
    pub(super) fn subject_slot(&self) -> SubjectSlot {
        let Some((subject, max)) = self
            .identity
            .as_ref()
            .and_then(|id| id.max_calls.map(|m| (id.subject.as_str(), m)))
        else {
            return SubjectSlot::Ok(None);
        };
        match self.gw.subject_calls.try_acquire(subject, max) {
            Some(p) => SubjectSlot::Ok(Some(p)),
            None => SubjectSlot::Full { max },
        }
    }

    /// From of this connection's calls: its token subject, if any.
    pub(super) fn caller_id(&self) -> Option<CallerId> {
        self.identity.as_ref().map(|id| CallerId {
            user: id.subject.clone(),
            display_name: Some(id.subject.clone()),
        })
    }
}

/// The controller's view of the gateway and subject limits; an
/// `overloaded` gateway (load shedding) refuses before any limit.
pub(super) fn capacity(overloaded: bool, gateway: bool, subject: &SubjectSlot) -> Capacity {
    match (gateway, subject) {
        _ if overloaded => Capacity::Overloaded,
        (false, _) => Capacity::GatewayFull,
        (true, SubjectSlot::Full { max }) => Capacity::SubjectFull { max: *max },
        (true, SubjectSlot::Ok(_)) => Capacity::Available,
    }
}
