//! The sans-IO registration state machine (RFC 3261 §10.2).
//!
//! ```text
//!  Idle --start--> Registering --2xx--> Registered --refresh_at--> Registering
//!                   |   ^  |                                        (attempt 0)
//!                   |   |  +--423 + Min-Expires--> Registering (asks Min-Expires)
//!                   |   +--until-- Backoff <--408/5xx/transport error/no answer
//!                   +--401/403/404/other 4xx, 6xx--> Done (Failed, no retry)
//!  any but Done --unregister--> Unregistering --answer/error/timeout--> Done
//! ```
//!
//! The core owns no socket and no clock: every input carries `now`, and the
//! owner sends a REGISTER for each [`Action::SendRegister`] it polls, then
//! feeds that request's outcome with [`RegistrationCore::on_response`] or
//! [`RegistrationCore::on_transport_error`]. A new `SendRegister` supersedes
//! any earlier REGISTER still in flight (its outcome must not be fed), and so
//! does leaving the awaiting states ([`RegistrationCore::awaiting_response`]).
//!
//! Policy:
//! - refresh per [`backoff::refresh_delay`] (60 s before expiry, at most
//!   half-way);
//! - 423 Interval Too Brief: retry at once asking the Min-Expires value
//!   (RFC 3261 §10.2.8), at most [`MAX_INTERVAL_RETRIES`] times in a row;
//! - 408, 480, 5xx, transport errors and REGISTERs left unanswered for
//!   [`CoreConfig::request_timeout`]: retry after [`backoff::backoff_delay`];
//! - any other final response (401/407 after the credentials were sent,
//!   403, 404, other 3xx-4xx, 6xx) stops the registration: `Failed` with
//!   `retry_in: None`, state `Done`. A wrong password is then reported
//!   once, promptly, and does not lock the account through endless retries.
//!   A binding from an earlier success stays on the registrar until it
//!   expires there.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::backoff::{self, Jitter, MAX_EXPIRES_S};
use super::{RegistrationError, RegistrationEvent};

/// Consecutive 423 answers followed before the registration fails.
pub const MAX_INTERVAL_RETRIES: u8 = 3;

/// Tunables of one registration.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreConfig {
    /// Lifetime asked for in each REGISTER's Expires, in seconds.
    pub expires: u32,
    /// Backoff after the first consecutive failure (doubles per failure).
    pub backoff_initial: Duration,
    /// Backoff cap.
    pub backoff_max: Duration,
    /// A REGISTER with no outcome after this long counts as 408. Must exceed
    /// the transaction layer's own timeout (64*T1 = 32 s for UDP).
    pub request_timeout: Duration,
    /// How long an unregister waits for its answer before reporting
    /// `Unregistered` anyway.
    pub unregister_timeout: Duration,
    /// Seed of the backoff jitter.
    pub jitter_seed: u64,
}

impl CoreConfig {
    /// Defaults: backoff 2 s doubling to 5 min, request timeout 40 s,
    /// unregister timeout 4 s.
    pub fn new(expires: u32, jitter_seed: u64) -> Self {
        Self {
            expires,
            backoff_initial: Duration::from_secs(2),
            backoff_max: Duration::from_secs(300),
            request_timeout: Duration::from_secs(40),
            unregister_timeout: Duration::from_secs(4),
            jitter_seed,
        }
    }
}

/// What the owner must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Send a REGISTER asking for `expires` seconds (0: remove the binding,
    /// RFC 3261 §10.2.2), then feed its outcome.
    SendRegister {
        /// Requested lifetime in seconds (the Expires header).
        expires: u32,
    },
}

/// Where a registration stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Created, nothing sent.
    Idle,
    /// A REGISTER is in flight; `failures` consecutive failures precede it.
    Registering {
        failures: u32,
        requested: u32,
        deadline: Instant,
    },
    /// The registrar holds the binding until `expires_at`.
    Registered {
        granted: u32,
        refresh_at: Instant,
        expires_at: Instant,
    },
    /// Waiting to retry after `failures` consecutive failures.
    Backoff { until: Instant, failures: u32 },
    /// REGISTER with Expires: 0 in flight.
    Unregistering { deadline: Instant },
    /// Finished: unregistered, or stopped by a definitive rejection.
    Done,
}

/// How a final response is handled.
enum Class {
    Success,
    IntervalTooBrief,
    Transient,
    Definitive,
}

fn classify(code: u16) -> Class {
    match code {
        200..=299 => Class::Success,
        423 => Class::IntervalTooBrief,
        408 | 480 | 500..=599 => Class::Transient,
        _ => Class::Definitive,
    }
}

/// One registration's state machine. See the module docs.
#[derive(Debug)]
pub struct RegistrationCore {
    cfg: CoreConfig,
    state: State,
    /// Lifetime asked for; raised by 423 Min-Expires.
    requested: u32,
    /// Consecutive 423 answers.
    interval_retries: u8,
    /// When the last granted binding runs out, while it has not.
    binding_expires_at: Option<Instant>,
    jitter: Jitter,
    actions: VecDeque<Action>,
    events: VecDeque<RegistrationEvent>,
}

impl RegistrationCore {
    /// A registration in `Idle`; nothing happens until [`Self::start`].
    pub fn new(cfg: CoreConfig) -> Self {
        Self {
            requested: cfg.expires.min(MAX_EXPIRES_S),
            jitter: Jitter::new(cfg.jitter_seed),
            cfg,
            state: State::Idle,
            interval_retries: 0,
            binding_expires_at: None,
            actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Sends the first REGISTER.
    ///
    /// # Errors
    /// [`RegistrationError::AlreadyStarted`] unless in `Idle`.
    pub fn start(&mut self, now: Instant) -> Result<(), RegistrationError> {
        match self.state {
            State::Idle => {
                self.send(now, 0);
                Ok(())
            }
            _ => Err(RegistrationError::AlreadyStarted),
        }
    }

    /// The final response to the REGISTER in flight: status `code`, its
    /// `reason` phrase, the lifetime the registrar granted our Contact
    /// (`granted_expires`: its Contact `expires` param or Expires header, if
    /// any) and the Min-Expires header of a 423.
    ///
    /// # Errors
    /// [`RegistrationError::NotFinal`] for a 1xx code;
    /// [`RegistrationError::NoRequestInFlight`] when nothing awaits an
    /// outcome (the state is unchanged).
    pub fn on_response(
        &mut self,
        now: Instant,
        code: u16,
        reason: &str,
        granted_expires: Option<u32>,
        min_expires: Option<u32>,
    ) -> Result<(), RegistrationError> {
        if code < 200 {
            return Err(RegistrationError::NotFinal(code));
        }
        match self.state.clone() {
            State::Registering {
                failures,
                requested,
                ..
            } => {
                match classify(code) {
                    Class::Success => self.registered(now, requested, granted_expires, failures),
                    Class::IntervalTooBrief => {
                        self.interval_too_brief(now, code, reason, requested, min_expires, failures)
                    }
                    Class::Transient => self.transient(now, code, reason.to_string(), failures),
                    Class::Definitive => self.definitive(code, reason.to_string()),
                }
                Ok(())
            }
            State::Unregistering { .. } => {
                self.finish();
                Ok(())
            }
            _ => Err(RegistrationError::NoRequestInFlight),
        }
    }

    /// The REGISTER in flight could not be sent or its transport failed;
    /// handled as a 503 (RFC 3261 §8.1.3.1).
    ///
    /// # Errors
    /// [`RegistrationError::NoRequestInFlight`] when nothing awaits an outcome.
    pub fn on_transport_error(
        &mut self,
        now: Instant,
        reason: &str,
    ) -> Result<(), RegistrationError> {
        match self.state {
            State::Registering { failures, .. } => {
                self.transient(now, 503, reason.to_string(), failures);
                Ok(())
            }
            State::Unregistering { .. } => {
                self.finish();
                Ok(())
            }
            _ => Err(RegistrationError::NoRequestInFlight),
        }
    }

    /// Fires the timers due at `now`: binding expiry, refresh, end of
    /// backoff, request and unregister timeouts. Harmless when nothing is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let live = !matches!(self.state, State::Unregistering { .. } | State::Done);
        if live && self.binding_expires_at.is_some_and(|t| now >= t) {
            self.binding_expires_at = None;
            self.events.push_back(RegistrationEvent::Expired);
        }
        match self.state {
            State::Registered { refresh_at, .. } if now >= refresh_at => self.send(now, 0),
            State::Backoff { until, failures } if now >= until => self.send(now, failures),
            State::Registering {
                deadline, failures, ..
            } if now >= deadline => {
                self.transient(now, 408, "no answer to REGISTER".into(), failures)
            }
            State::Unregistering { deadline } if now >= deadline => self.finish(),
            _ => {}
        }
    }

    /// Removes the binding: sends REGISTER with Expires: 0 (superseding a
    /// REGISTER in flight) unless nothing was ever sent, then reports
    /// `Unregistered` on its answer, on an error, or after
    /// [`CoreConfig::unregister_timeout`]. A no-op when already unregistering
    /// or done.
    pub fn unregister(&mut self, now: Instant) {
        match self.state {
            State::Idle => self.finish(),
            State::Registering { .. } | State::Registered { .. } | State::Backoff { .. } => {
                self.actions.clear();
                self.state = State::Unregistering {
                    deadline: later(now, self.cfg.unregister_timeout),
                };
                self.actions.push_back(Action::SendRegister { expires: 0 });
            }
            State::Unregistering { .. } | State::Done => {}
        }
    }

    /// The next thing to send, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next event for the owner, if any.
    pub fn poll_event(&mut self) -> Option<RegistrationEvent> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] must next be called; `None` when no
    /// timer runs (idle or done).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let state_timer = match self.state {
            State::Idle | State::Done => return None,
            State::Registering { deadline, .. } => Some(deadline),
            State::Registered {
                refresh_at,
                expires_at,
                ..
            } => Some(refresh_at.min(expires_at)),
            State::Backoff { until, .. } => Some(until),
            State::Unregistering { deadline } => return Some(deadline),
        };
        match (state_timer, self.binding_expires_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True while a REGISTER's outcome is awaited; when false, any REGISTER
    /// still in flight is stale and its outcome must be dropped.
    pub fn awaiting_response(&self) -> bool {
        matches!(
            self.state,
            State::Registering { .. } | State::Unregistering { .. }
        )
    }

    /// True once the registration has ended (no timer, no further event).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// True while the registrar holds a binding granted to us that has not
    /// run out (as far as we know).
    pub fn has_binding(&self) -> bool {
        self.binding_expires_at.is_some()
    }

    /// The lifetime the registrar granted, while registered (in seconds).
    pub fn granted_expires(&self) -> Option<u32> {
        match self.state {
            State::Registered { granted, .. } => Some(granted),
            _ => None,
        }
    }

    /// The state's name, for logs: `idle`, `registering`, `registered`,
    /// `backoff`, `unregistering` or `done`.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            State::Idle => "idle",
            State::Registering { .. } => "registering",
            State::Registered { .. } => "registered",
            State::Backoff { .. } => "backoff",
            State::Unregistering { .. } => "unregistering",
            State::Done => "done",
        }
    }

    /// The lifetime currently asked for (the configured one, or Min-Expires
    /// after a 423).
    pub fn requested_expires(&self) -> u32 {
        self.requested
    }

    fn send(&mut self, now: Instant, failures: u32) {
        self.actions.clear();
        self.state = State::Registering {
            failures,
            requested: self.requested,
            deadline: later(now, self.cfg.request_timeout),
        };
        self.actions.push_back(Action::SendRegister {
            expires: self.requested,
        });
    }

    fn registered(&mut self, now: Instant, requested: u32, granted: Option<u32>, failures: u32) {
        let granted = granted.unwrap_or(requested).min(MAX_EXPIRES_S);
        if granted == 0 {
            let reason = "registrar granted 0 s (binding removed)".to_string();
            self.transient(now, 200, reason, failures);
            return;
        }
        self.interval_retries = 0;
        let expires_at = later(now, Duration::from_secs(u64::from(granted)));
        self.binding_expires_at = Some(expires_at);
        self.state = State::Registered {
            granted,
            refresh_at: later(now, backoff::refresh_delay(granted)),
            expires_at,
        };
        self.events
            .push_back(RegistrationEvent::Registered { expires: granted });
    }

    fn interval_too_brief(
        &mut self,
        now: Instant,
        code: u16,
        reason: &str,
        requested: u32,
        min_expires: Option<u32>,
        failures: u32,
    ) {
        match min_expires {
            Some(min)
                if min > requested
                    && min <= MAX_EXPIRES_S
                    && self.interval_retries < MAX_INTERVAL_RETRIES =>
            {
                self.interval_retries += 1;
                self.requested = min;
                self.send(now, failures);
            }
            _ => {
                let why = format!("{reason} (no usable Min-Expires: {min_expires:?})");
                self.definitive(code, why);
            }
        }
    }

    fn transient(&mut self, now: Instant, code: u16, reason: String, failures: u32) {
        let failures = failures.saturating_add(1);
        let delay = backoff::backoff_delay(
            failures,
            self.cfg.backoff_initial,
            self.cfg.backoff_max,
            self.jitter.next_unit(),
        );
        self.actions.clear();
        self.state = State::Backoff {
            until: later(now, delay),
            failures,
        };
        self.events.push_back(RegistrationEvent::Failed {
            code,
            reason,
            retry_in: Some(delay),
        });
    }

    fn definitive(&mut self, code: u16, reason: String) {
        self.actions.clear();
        self.state = State::Done;
        self.binding_expires_at = None;
        self.events.push_back(RegistrationEvent::Failed {
            code,
            reason,
            retry_in: None,
        });
    }

    fn finish(&mut self) {
        self.actions.clear();
        self.state = State::Done;
        self.binding_expires_at = None;
        self.events.push_back(RegistrationEvent::Unregistered);
    }
}

/// `now + d`, saturating far in the future instead of overflowing.
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(MAX_EXPIRES_S))))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests;
