//! The connect gate: who decides whether a `connect` is admitted.
//!
//! The session is mechanism: it parses `connect`, and answers `_result`
//! (`NetConnection.Connect.Success`) or `_error`
//! (`NetConnection.Connect.Rejected` with a `description`) itself. Whether
//! the client is admitted is policy, decided by a [`ConnectGate`] the
//! driver installs with [`super::Session::with_connect_gate`]. What the gate
//! grants (an authenticated identity, say) is opaque to the RTMP layer: it
//! travels in a [`Grant`] on [`super::SessionEvent::Connected`], and only
//! the driver that made the gate looks inside.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::amf::Value;

/// What a client sent on `connect`, as the gate sees it.
#[derive(Debug, Clone, Copy)]
pub struct ConnectRequest<'a> {
    /// The application name (`app` of the command object), as sent: it may
    /// carry a query string (`phone?token=...`).
    pub app: &'a str,
    /// `tcUrl` of the command object, if any.
    pub tc_url: Option<&'a str>,
    /// The arguments after the command object.
    pub args: &'a [Value],
}

/// Decides whether a `connect` is admitted.
pub trait ConnectGate: Send + Sync {
    /// `Ok(grant)` admits the client; `Err(reason)` rejects it with
    /// `NetConnection.Connect.Rejected` and `description = reason`, and the
    /// session ends.
    fn admit(&mut self, req: &ConnectRequest<'_>) -> Result<Grant, String>;
}

/// What a gate granted, opaque to the RTMP layer. Empty when no gate is
/// installed.
#[derive(Clone, Default)]
pub struct Grant(Option<Arc<dyn Any + Send + Sync>>);

impl Grant {
    /// A grant carrying `value`.
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        Self(Some(Arc::new(value)))
    }

    /// The granted value, when it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.as_deref().and_then(|v| v.downcast_ref::<T>())
    }

    /// True when nothing was granted (no gate).
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(_) => f.write_str("Grant(..)"),
            None => f.write_str("Grant(none)"),
        }
    }
}

impl PartialEq for Grant {
    /// Two grants are equal when both are empty or they share one value.
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
