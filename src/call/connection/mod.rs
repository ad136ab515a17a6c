//! One RTMP connection's product API and call plane, sans-IO.
//!
//! - [`api`]: [`ApiCommand::from_invoke`] turns an invoke into a typed
//!   command or an [`ApiError`] (README.md, "RTMP API").
//! - [`info`]: the `Sono.*` info objects, built from their types.
//! - [`core`]: [`ConnectionCore`], fed [`Input`]s and `now`, polled for
//!   [`Effect`]s and its next timeout; `runtime::connection` carries the
//!   effects out.
//! - [`rate`]: `[limits] max_dials_per_minute`.
//! - [`sdp_plan`]: the codecs offered and the local media description.

pub mod api;
pub mod core;
pub mod effect;
pub mod error;
pub mod info;
pub mod input;
pub mod rate;
pub mod sdp_plan;

pub use self::core::{ConnectionConfig, ConnectionCore, Resources};
pub use api::{ApiCommand, DtmfDigits, RegisterTarget, UpstreamRegister};
pub use effect::{AudioTarget, CallDirection, CloseReason, Effect, LegCommand};
pub use error::ApiError;
pub use input::{Input, MediaInput};
pub use sdp_plan::MediaAddr;
