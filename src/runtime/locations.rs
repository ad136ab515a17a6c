//! The location service (RFC 3261 §10.3): which RTMP connection holds a
//! Request-URI user part.
//!
//! Two kinds of bindings, both made by a connection and removed when it
//! unregisters or closes:
//!
//! - embedded-registrar addresses `sip:<ident>@<domain>` (`register()`
//!   without arguments), keyed by `<ident>`;
//! - the Contact user token of a registration at an outside registrar
//!   (`register(user, registrar, password)`): the registrar routes an
//!   INVITE for the AoR to that Contact, whose user part is the token.
//!
//! Every instance binds only its own connections and writes its own
//! address into Contacts, so several instances behind one registrar need
//! no shared state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::metrics::Metrics;

use crate::media::load::LoadFlag;
use crate::sip::incoming::{IncomingRouter, IncomingTarget};

/// Request-URI user part -> the connection that takes its calls.
#[derive(Debug, Default)]
pub struct Locations {
    bindings: Mutex<HashMap<String, IncomingTarget>>,
    /// Set while the media workers are overloaded: new INVITEs get 503.
    load: LoadFlag,
    /// Counts the INVITEs refused for overload.
    metrics: Option<Arc<Metrics>>,
    /// Set when the gateway starts draining: new INVITEs get 503.
    draining: AtomicBool,
}

impl Locations {
    /// No bindings; new INVITEs are refused while `load` says overloaded.
    /// Refusals are counted in `metrics` (`refused{what="invite",reason="overload"}`).
    pub fn with_load(load: LoadFlag, metrics: Arc<Metrics>) -> Self {
        Self {
            bindings: Mutex::default(),
            load,
            metrics: Some(metrics),
            draining: AtomicBool::new(false),
        }
    }

    /// From now on new INVITEs are refused with 503 (graceful drain).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Binds `user` to a connection; false (nothing changed) when another
    /// live connection holds it.
    pub fn bind(&self, user: &str, target: IncomingTarget) -> bool {
        let Ok(mut map) = self.bindings.lock() else {
            return false;
        };
        if map.get(user).is_some_and(|t| !t.inbox.is_closed()) {
            return false;
        }
        map.insert(user.to_string(), target);
        true
    }

    /// Removes `user`'s binding.
    pub fn unbind(&self, user: &str) {
        if let Ok(mut map) = self.bindings.lock() {
            map.remove(user);
        }
    }

    /// Number of bindings (for logs and tests).
    pub fn len(&self) -> usize {
        self.bindings.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether no address is bound.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl IncomingRouter for Locations {
    fn route(&self, user: &str) -> Option<IncomingTarget> {
        let map = self.bindings.lock().ok()?;
        map.get(user).filter(|t| !t.inbox.is_closed()).cloned()
    }

    fn overloaded(&self) -> bool {
        // Takes one call's media room (`LoadFlag::try_admit`).
        let overloaded = !self.load.try_admit();
        if let Some(m) = self.metrics.as_ref().filter(|_| overloaded) {
            m.refused("invite", "overload");
        }
        overloaded
    }

    fn draining(&self) -> bool {
        let draining = self.draining.load(Ordering::Acquire);
        if let Some(m) = self.metrics.as_ref().filter(|_| draining) {
            m.refused("invite", "draining");
        }
        draining
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::connection::inbox::{inbox, Inbox};

    fn target() -> (IncomingTarget, Inbox) {
        let (tx, rx) = inbox();
        (
            IncomingTarget {
                inbox: std::sync::Arc::new(tx),
            },
            rx,
        )
    }

    #[test]
    fn binds_routes_and_frees_dead_connections() {
        let l = Locations::default();
        let (a, a_rx) = target();
        let (b, _b_rx) = target();
        assert!(l.bind("u1", a));
        assert!(!l.bind("u1", b.clone()), "a live binding is kept");
        assert!(l.route("u1").is_some());
        assert!(l.route("nobody").is_none());
        drop(a_rx);
        assert!(
            l.route("u1").is_none(),
            "a closed connection routes nowhere"
        );
        assert!(l.bind("u1", b), "a dead binding is replaced");
        l.unbind("u1");
        assert!(l.is_empty());
    }
}
