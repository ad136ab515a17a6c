//! Registrations on behalf of RTMP clients: REGISTER with digest
//! authentication at a real registrar, refreshed until unregistered
//! (RFC 3261 §10, digest per RFC 7616 / RFC 8760 through rsipstack).
//!
//! - [`core`]: the sans-IO state machine (`Idle -> Registering ->
//!   Registered -> ... -> Unregistering -> Done`, with `Backoff`). It is fed
//!   `now` and the outcome of each REGISTER and polled for
//!   [`Action::SendRegister`], [`RegistrationEvent`]s and its next timeout.
//! - [`driver`]: a tokio task per registration that sends each REGISTER
//!   through rsipstack's transaction layer (digest via
//!   `rsipstack::dialog::authenticate`) and feeds the outcome back;
//!   [`spawn_registration`] starts it and returns a [`RegistrationHandle`].
//! - [`token`]: the per-registration Contact user token that routes an
//!   INVITE sent to the Contact back to its RTMP connection.
//!
//! This module depends only on std, tokio, rsipstack, rand, tracing and
//! thiserror (not on the gateway's config), so that the call controller
//! wires it. See `README.md` beside this file for the feature matrix and the
//! message sequence.

pub mod backoff;
pub mod challenge;
pub mod core;
pub mod driver;
mod event;
pub mod params;
pub mod request;
pub mod response;
pub mod token;

pub use self::core::{Action, CoreConfig, RegistrationCore};
pub use self::driver::{spawn_registration, spawn_registration_with, RegistrationHandle};
pub use self::event::RegistrationEvent;
pub use self::params::{ClientRegister, RegisterParams};
pub use self::token::{is_registration_token, registration_token};

use thiserror::Error;

/// Errors of the registration layer. Peer behaviour (rejections, timeouts,
/// unreachable registrars) is not an error here: it is reported as
/// [`RegistrationEvent::Failed`] / [`RegistrationEvent::Expired`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// Local misuse: an outcome was fed while no REGISTER was awaiting one.
    #[error("no REGISTER is awaiting an outcome")]
    NoRequestInFlight,
    /// Local misuse: `start` called on a registration that already started.
    #[error("the registration has already started")]
    AlreadyStarted,
    /// Local misuse: a provisional (1xx) code fed as a final outcome.
    #[error("{0} is not a final response code")]
    NotFinal(u16),
    /// Local misuse: parameters that cannot make a REGISTER (e.g. an
    /// address-of-record without a user part).
    #[error("invalid registration parameters: {0}")]
    InvalidParams(String),
}
