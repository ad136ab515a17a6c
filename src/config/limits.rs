//! `[limits]`: resource bounds, per gateway, per address and per connection.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::{invalid, ConfigError};

/// `[limits]`: resource bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    /// `handshake_timeout_s`: time a client has to complete the RTMP
    /// handshake; 1..=86400 s, default 10 s.
    pub handshake_timeout: Duration,
    /// `idle_timeout_s`: time without any byte from a client before it is
    /// disconnected (not while it has a call or a live stream); 1..=86400 s,
    /// default 300 s.
    pub idle_timeout: Duration,
    /// `max_message_size`: largest RTMP message accepted, in bytes;
    /// 4096..=16777216, default 262144.
    pub max_message_size: u32,
    /// `max_chunk_streams`: most chunk streams (RTMP chunk stream IDs) one
    /// client may use; 8..=65599 (65599: the largest 3-byte basic header
    /// ID, RTMP 1.0 §5.3.1.1), default 64.
    pub max_chunk_streams: u32,
    /// `max_connections`: most simultaneous RTMP connections, more are
    /// refused at accept; 1..=1000000, default 1000.
    pub max_connections: u32,
    /// `max_calls`: most simultaneous calls gateway-wide, a `dial` beyond
    /// it gets `Sono.Call.Failed` and an incoming INVITE 503; 0..=100000
    /// (0: no calls), default 500.
    pub max_calls: u32,
    /// Most simultaneous connections from one IPv4 address or one IPv6 /64.
    pub max_connections_per_ip: u32,
    /// Deadline for `connect` after the handshake.
    pub connect_timeout: Duration,
    /// Most `dial`s one connection may place in any 60 s window.
    pub max_dials_per_minute: u32,
    /// Most NetStreams (`createStream`) per connection.
    pub max_streams: u32,
    /// Most playing NetStreams (subscribers) one call's audio goes to.
    pub max_subscribers_per_call: u32,
    /// Gateway-wide budget for chunk reassembly memory, in bytes.
    pub max_reassembly_bytes: u64,
    /// Largest RTMP message accepted before `connect`, in bytes.
    pub max_message_size_before_connect: u32,
    /// Most chunk streams before `connect`:
    /// `MAX_CHUNK_STREAMS_BEFORE_CONNECT`, 8 (not a file key).
    pub max_chunk_streams_before_connect: u32,
    /// `media_max_load`: the media workers' load (fraction of their CPU
    /// over the last second) at which new calls are refused, `dial` with
    /// `Sono.Call.Failed` (503) and an incoming INVITE with 503 and
    /// Retry-After, until the load falls below 0.8 × this;
    /// 0.001..=1.0, default 0.85.
    pub media_max_load: LoadFraction,
    /// `drain_timeout_s`: after SIGTERM/SIGINT, how long the gateway
    /// refuses new calls (503) and waits for the running ones to end
    /// before it hangs up the rest; 0..=3600 s (0: hang up at once),
    /// default 30 s.
    pub drain_timeout: Duration,
}

/// A fraction of the media workers' capacity, kept in thousandths
/// (1..=1000) so the configuration stays `Eq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadFraction(u16);

impl LoadFraction {
    /// The fraction, 0.001..=1.0.
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 1000.0
    }
}

/// `limits.media_max_load`: a number in 0.001..=1.0, rounded to 0.001.
fn load_fraction(file: &Path, v: f64) -> Result<LoadFraction, ConfigError> {
    if !(0.001..=1.0).contains(&v) {
        return Err(invalid(
            file,
            "limits.media_max_load",
            "must be 0.001..=1.0",
        ));
    }
    // In range, so the product is 1..=1000 and fits a u16.
    Ok(LoadFraction((v * 1000.0).round() as u16))
}

/// Largest `drain_timeout_s`, in seconds (systemd's unit waits
/// `TimeoutStopSec` for the stop; keep it above this key).
pub const MAX_DRAIN_TIMEOUT_S: u64 = 3600;

/// Most chunk streams a client may use before `connect` (not configurable:
/// a `connect` needs one, a control message another).
pub const MAX_CHUNK_STREAMS_BEFORE_CONNECT: u32 = 8;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct LimitsFile {
    handshake_timeout_s: u64,
    idle_timeout_s: u64,
    max_message_size: u32,
    max_chunk_streams: u32,
    max_connections: u32,
    max_calls: u32,
    max_connections_per_ip: u32,
    connect_timeout_s: u64,
    max_dials_per_minute: u32,
    max_streams: u32,
    max_subscribers_per_call: u32,
    max_reassembly_bytes: u64,
    max_message_size_before_connect: u32,
    media_max_load: f64,
    drain_timeout_s: u64,
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
            max_connections_per_ip: 20,
            connect_timeout_s: 10,
            max_dials_per_minute: 20,
            max_streams: 16,
            max_subscribers_per_call: 8,
            max_reassembly_bytes: 64 * 1024 * 1024,
            max_message_size_before_connect: 8192,
            media_max_load: 0.85,
            drain_timeout_s: 30,
        }
    }
}

/// Checks `value` is in `range`, else names `key`.
fn bounded<T: PartialOrd + std::fmt::Display>(
    file: &Path,
    key: &'static str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        let why = format!("must be {}..={}", range.start(), range.end());
        Err(invalid(file, key, why))
    }
}

pub(super) fn validate_limits(file: &Path, l: LimitsFile) -> Result<LimitsConfig, ConfigError> {
    let secs =
        |key: &'static str, v: u64| bounded(file, key, v, 1..=86_400).map(Duration::from_secs);
    let handshake_timeout = secs("limits.handshake_timeout_s", l.handshake_timeout_s)?;
    let idle_timeout = secs("limits.idle_timeout_s", l.idle_timeout_s)?;
    let connect_timeout = bounded(
        file,
        "limits.connect_timeout_s",
        l.connect_timeout_s,
        1..=600,
    )
    .map(Duration::from_secs)?;
    let max_message_size = bounded(
        file,
        "limits.max_message_size",
        l.max_message_size,
        4096..=16 * 1024 * 1024,
    )?;
    let max_chunk_streams = bounded(
        file,
        "limits.max_chunk_streams",
        l.max_chunk_streams,
        MAX_CHUNK_STREAMS_BEFORE_CONNECT..=65599,
    )?;
    let max_connections = bounded(
        file,
        "limits.max_connections",
        l.max_connections,
        1..=1_000_000,
    )?;
    Ok(LimitsConfig {
        handshake_timeout,
        idle_timeout,
        max_message_size,
        max_chunk_streams,
        max_connections,
        max_calls: bounded(file, "limits.max_calls", l.max_calls, 0..=100_000)?,
        // Above max_connections it could never bind: clamped, not refused,
        // so lowering max_connections alone stays valid.
        max_connections_per_ip: bounded(
            file,
            "limits.max_connections_per_ip",
            l.max_connections_per_ip,
            1..=1_000_000,
        )?
        .min(max_connections),
        connect_timeout,
        max_dials_per_minute: bounded(
            file,
            "limits.max_dials_per_minute",
            l.max_dials_per_minute,
            1..=10_000,
        )?,
        max_streams: bounded(file, "limits.max_streams", l.max_streams, 1..=1024)?,
        max_subscribers_per_call: bounded(
            file,
            "limits.max_subscribers_per_call",
            l.max_subscribers_per_call,
            1..=1024,
        )?,
        max_reassembly_bytes: bounded(
            file,
            "limits.max_reassembly_bytes",
            l.max_reassembly_bytes,
            1024 * 1024..=64 * 1024 * 1024 * 1024,
        )?,
        max_message_size_before_connect: bounded(
            file,
            "limits.max_message_size_before_connect",
            l.max_message_size_before_connect,
            1024..=16 * 1024 * 1024,
        )?
        .min(max_message_size),
        max_chunk_streams_before_connect: MAX_CHUNK_STREAMS_BEFORE_CONNECT,
        media_max_load: load_fraction(file, l.media_max_load)?,
        drain_timeout: bounded(
            file,
            "limits.drain_timeout_s",
            l.drain_timeout_s,
            0..=MAX_DRAIN_TIMEOUT_S,
        )
        .map(Duration::from_secs)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    #[test]
    fn shipped_limits_equal_the_defaults() {
        let text = include_str!("../../config/gateway.toml");
        let shipped = Config::from_toml(Path::new("gateway.toml"), text).expect("shipped config");
        let defaults = Config::from_toml(Path::new("empty.toml"), "").expect("defaults");
        assert_eq!(shipped.limits, defaults.limits);
        assert_eq!(defaults.limits.max_connections_per_ip, 20);
        assert_eq!(defaults.limits.max_reassembly_bytes, 64 << 20);
        assert_eq!(defaults.limits.media_max_load.as_f64(), 0.85);
    }

    #[test]
    fn new_keys_are_bounded() {
        for (text, key) in [
            ("max_connections_per_ip = 0", "max_connections_per_ip"),
            ("connect_timeout_s = 0", "connect_timeout_s"),
            ("connect_timeout_s = 601", "connect_timeout_s"),
            ("max_dials_per_minute = 0", "max_dials_per_minute"),
            ("max_streams = 0", "max_streams"),
            (
                "max_subscribers_per_call = 2000",
                "max_subscribers_per_call",
            ),
            ("max_reassembly_bytes = 10", "max_reassembly_bytes"),
            ("max_message_size_before_connect = 100", "before_connect"),
            ("idle_timeout_s = 999999", "idle_timeout_s"),
            ("media_max_load = 0.0", "media_max_load"),
            ("media_max_load = 1.5", "media_max_load"),
            ("media_max_load = nan", "media_max_load"),
            ("drain_timeout_s = 3601", "drain_timeout_s"),
        ] {
            let toml = format!("[limits]\n{text}\n");
            let e = Config::from_toml(Path::new("t.toml"), &toml)
                .expect_err(text)
                .to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn per_connection_keys_are_clamped_to_the_wider_ones() {
        let toml = "[limits]\nmax_connections = 2\nmax_message_size = 4096\n";
        let c = Config::from_toml(Path::new("t.toml"), toml).expect("valid");
        assert_eq!(c.limits.max_connections_per_ip, 2);
        assert_eq!(c.limits.max_message_size_before_connect, 4096);
    }
}
