//! SIP: the user agent (on rsipstack), incoming calls and SDP offer/answer.
//!
//! See `README.md` in this folder for the feature matrix and call flows.

pub mod call;
pub mod challenge;
pub mod event;
pub mod guard;
pub mod incoming;
pub mod rate;
pub mod registration;
pub mod request_uri;
pub mod sanity;
pub mod sdp;
pub mod stateless;
pub mod tls_accept;
pub mod transports;
pub mod trunk;
pub mod trust;
pub mod ua;

use std::net::SocketAddr;

use thiserror::Error;

/// Errors of the SIP layer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SipError {
    /// The SIP transport could not be bound (local misuse or a busy port).
    #[error("cannot bind SIP transport on {0}: {1}")]
    Bind(SocketAddr, String),
    /// A TLS certificate, key or trust-root file could not be used.
    #[error("SIP TLS file {0:?}: {1}")]
    Tls(std::path::PathBuf, String),
    /// A URI could not be parsed.
    #[error("invalid SIP URI `{0}`: {1}")]
    BadUri(String, String),
    /// `[media] codecs` names a codec the SDP layer does not know.
    #[error("codec configuration: {0}")]
    Codecs(sdp::SdpError),
}
