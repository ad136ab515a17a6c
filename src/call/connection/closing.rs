//! Closing: the idle check, the close grace, `Closing` and `Close` (part
//! of [`ConnectionCore`]).

use std::time::Instant;

use super::ConnectionCore;
use crate::call::connection::effect::{AudioTarget, CloseReason, Effect};

impl ConnectionCore {
    /// Idle past `idle_timeout`: only a live call, or a stream bound to one
    /// by name, keeps the connection open.
    pub(super) fn on_idle(&mut self, now: Instant) {
        if self.controller.has_call() {
            self.last_rx = now;
        } else if self.publishing.values().any(|t| *t == AudioTarget::Named)
            || !self.named_play.is_empty()
        {
            self.out.push_back(Effect::ProbeStreams);
        } else {
            self.begin_close(now, CloseReason::Idle);
        }
    }

    pub(super) fn begin_close(&mut self, now: Instant, reason: CloseReason) {
        if self.closing.is_none() {
            self.out.push_back(Effect::Closing(reason));
            self.closing = Some(now + self.cfg.close_grace);
            self.controller.handle_disconnect(now);
            self.drain_controller();
        }
    }

    /// Closing, and the call has ended or the grace ran out: close.
    pub(super) fn check_close(&mut self, now: Instant) {
        let Some(deadline) = self.closing else {
            return;
        };
        if !self.closed && (!self.controller.has_call() || now >= deadline) {
            self.closed = true;
            self.out.push_back(Effect::Close);
        }
    }
}
