//! Call control: one sans-IO [`controller::Controller`] per RTMP connection
//! turns `dial`/`hangup` into SIP actions and SIP events into
//! `Sono.Call.Status` events, applying `[policy]`.

pub mod controller;
pub mod grammar;
pub mod pattern;
pub mod policy;
pub mod status;
pub mod uri;

pub use controller::{
    Controller, ControllerConfig, DialError, IncomingCallInfo, IncomingDecision, Output,
};
pub use status::{CallStatus, StatusCode};
