//! `[limits]`: resource bounds.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::{invalid, ConfigError};

/// `[limits]`: resource bounds.
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    /// Largest RTMP message accepted, in bytes.
    pub max_message_size: u32,
    pub max_chunk_streams: u32,
    pub max_connections: u32,
    pub max_calls: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct LimitsFile {
    handshake_timeout_s: u64,
    idle_timeout_s: u64,
    max_message_size: u32,
    max_chunk_streams: u32,
    max_connections: u32,
    max_calls: u32,
}

impl Default for LimitsFile {
    fn default() -> Self {
        Self {
            handshake_timeout_s: 10,
            idle_timeout_s: 300,
            max_message_size: 262_144,
            max_chunk_streams: 64,
            max_connections: 1000,
            max_calls: 500,
        }
    }
}

pub(super) fn validate_limits(file: &Path, l: LimitsFile) -> Result<LimitsConfig, ConfigError> {
    if l.handshake_timeout_s == 0 {
        return Err(invalid(file, "limits.handshake_timeout_s", "must be > 0"));
    }
    if l.idle_timeout_s == 0 {
        return Err(invalid(file, "limits.idle_timeout_s", "must be > 0"));
    }
    if !(4096..=16 * 1024 * 1024).contains(&l.max_message_size) {
        return Err(invalid(
            file,
            "limits.max_message_size",
            "must be 4096..=16777216",
        ));
    }
    if !(2..=65599).contains(&l.max_chunk_streams) {
        return Err(invalid(
            file,
            "limits.max_chunk_streams",
            "must be 2..=65599",
        ));
    }
    if l.max_connections == 0 {
        return Err(invalid(file, "limits.max_connections", "must be > 0"));
    }
    Ok(LimitsConfig {
        handshake_timeout: Duration::from_secs(l.handshake_timeout_s),
        idle_timeout: Duration::from_secs(l.idle_timeout_s),
        max_message_size: l.max_message_size,
        max_chunk_streams: l.max_chunk_streams,
        max_connections: l.max_connections,
        max_calls: l.max_calls,
    })
}
