//! `[rtmp]`: the RTMP server.

use std::path::Path;

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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RtmpFile {
    listen: Vec<String>,
    app: String,
    chunk_size: u32,
    window_ack_size: u32,
}

impl Default for RtmpFile {
    fn default() -> Self {
        Self {
            listen: vec!["0.0.0.0:1935".into()],
            app: String::new(),
            chunk_size: 4096,
            window_ack_size: 2_500_000,
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
    Ok(RtmpConfig {
        listen,
        app: non_empty(r.app),
        chunk_size: r.chunk_size,
        window_ack_size: r.window_ack_size,
    })
}
