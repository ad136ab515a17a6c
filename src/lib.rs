//! rtmp2sip: an RTMP-to-SIP voice gateway.
//!
//! See `ARCHITECTURE.md` for the picture; each protocol module has a README.

pub mod call;
pub mod config;
pub mod sip;
