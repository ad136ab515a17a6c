//! What a registration reports to its owner.

use std::time::Duration;

/// A change in a registration's state, in the order it happens. Maps to the
/// RTMP `Sono.Registration.Status` event (`status` registered / failed /
/// expired / unregistered).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationEvent {
    /// A REGISTER got a 2xx; the registrar keeps the binding for `expires`
    /// seconds (the granted value, RFC 3261 §10.2.4). Reported after the
    /// first REGISTER and after every refresh.
    Registered {
        /// Granted binding lifetime in seconds.
        expires: u32,
    },
    /// A REGISTER failed: a final non-2xx `code` with its reason phrase, 408
    /// when no answer came in time, 503 for a transport error (RFC 3261
    /// §8.1.3.1). `retry_in` is when the next attempt goes out, or `None`
    /// when the registration stopped (a definitive rejection such as a wrong
    /// password: 401/403/404).
    Failed {
        /// SIP status code (408/503 for local timeouts and transport errors).
        code: u16,
        /// Reason phrase or a description of the local error.
        reason: String,
        /// Delay until the next attempt; `None` when no retry follows.
        retry_in: Option<Duration>,
    },
    /// The binding's granted lifetime ran out without a successful refresh;
    /// attempts go on (see the preceding `Failed`).
    Expired,
    /// The registration ended: REGISTER with Expires: 0 was answered (or
    /// could not be, within the unregister timeout). Always the last event.
    Unregistered,
}
