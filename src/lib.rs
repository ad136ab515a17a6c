#![warn(missing_docs)]
//! rtmp2sip: an RTMP-to-SIP voice gateway.
//!
//! See `ARCHITECTURE.md` for the picture; each protocol module has a README.

pub mod addr;
pub mod amf;
pub mod auth;
pub mod call;
pub mod cli;
pub mod config;
pub mod flv;
pub mod media;
pub mod rtmp;
pub mod runtime;
pub mod sip;
pub mod time;
pub mod tls;
