//! Call control: one sans-IO [`controller::Controller`] per RTMP connection
//! turns `dial`/`hangup` into SIP actions and SIP events into
//! `Sono.Call.Status` events, applying `[policy]`.
//!
//! - [`uri`]: the dial string parsed strictly (RFC 3261 §19.1, §25.1) into a
//!   [`uri::DialUri`]; the INVITE's Request-URI and To are built from its
//!   parts only, never from the client's text.
//! - [`policy`], [`pattern`]: `[policy] dial_allow` / `registrar_allow`
//!   patterns, matched per part (user glob, host exact or `*.domain`, port
//!   only where named).
//! - [`grammar`]: the RFC 3261 character classes, hosts and ports both use.

pub mod connection;
pub mod controller;
pub mod grammar;
pub mod pattern;
pub mod policy;
pub mod status;
pub mod transfer;
pub mod uri;

pub use controller::{
    CallPhase, Capacity, Controller, ControllerConfig, DialError, IncomingCallInfo,
    IncomingDecision, Output, ReferDecision,
};
pub use status::{CallStatus, StatusCode};
pub use transfer::{TransferEvent, TransferStatus};
