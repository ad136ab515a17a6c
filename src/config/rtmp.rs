//! `[rtmp]`: the RTMP server.

use std::path::{Path, PathBuf};

use super::http::tls_pair;
use super::{invalid, non_empty, parse_addr, ConfigError};
use serde::Deserialize;
use std::net::SocketAddr;

/// `[rtmp]`: the RTMP server.
#[derive(Debug, Clone)]
pub struct RtmpConfig {
    /// TCP addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// Required application name; `None` accepts any.
    pub app: Option<String>,
    /// Outgoing chunk size in bytes (128..=65536).
    pub chunk_size: u32,
    /// Window Acknowledgement Size announced to clients, in bytes.
    pub window_ack_size: u32,
    /// TCP addresses for RTMPS (RTMP inside TLS); empty: none.
    pub tls_listen: Vec<SocketAddr>,
    /// PEM certificate chain for RTMPS (required with `tls_listen`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for RTMPS (required with `tls_listen`).
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RtmpFile {
    listen: Vec<String>,
    app: String,
    chunk_size: u32,
    window_ack_size: u32,
    tls_listen: Vec<String>,
    tls_cert: String,
    tls_key: String,
}

impl Default for RtmpFile {
    fn default() -> Self {
        Self {
            listen: vec!["0.0.0.0:1935".into()],
            app: String::new(),
            chunk_size: 4096,
            window_ack_size: 2_500_000,
            tls_listen: Vec::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
        }
    }
}

pub(super) fn validate_rtmp(file: &Path, r: RtmpFile) -> Result<RtmpConfig, ConfigError> {
    if r.listen.is_empty() {
        return Err(invalid(file, "rtmp.listen", "needs at least one address"));
    }
    let listen = r
        .listen
        .iter()
        .map(|s| parse_addr(file, "rtmp.listen", s))
        .collect::<Result<Vec<_>, _>>()?;
    if !(128..=65536).contains(&r.chunk_size) {
        return Err(invalid(file, "rtmp.chunk_size", "must be 128..=65536"));
    }
    if r.window_ack_size < 4096 {
        return Err(invalid(file, "rtmp.window_ack_size", "must be >= 4096"));
    }
    let tls_listen = r
        .tls_listen
        .iter()
        .map(|s| parse_addr(file, "rtmp.tls_listen", s))
        .collect::<Result<Vec<_>, _>>()?;
    let (tls_cert, tls_key) = tls_pair(file, "rtmp.tls_cert", r.tls_cert, r.tls_key)?;
    if !tls_listen.is_empty() && tls_cert.is_none() {
        return Err(invalid(
            file,
            "rtmp.tls_cert",
            "rtmp.tls_listen needs tls_cert and tls_key",
        ));
    }
    Ok(RtmpConfig {
        listen,
        tls_listen,
        tls_cert,
        tls_key,
        app: non_empty(r.app),
        chunk_size: r.chunk_size,
        window_ack_size: r.window_ack_size,
    })
}
