//! `[metrics]`: where `GET /metrics`, `/healthz` and `/readyz` are served.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use super::{invalid, parse_addr, ConfigError};

/// Most addresses `[metrics] listen` may have.
const MAX_LISTEN: usize = 16;

/// `[metrics]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Serve the endpoints on `[http] listen` too (default true).
    pub on_http: bool,
    /// Listeners of their own serving only the endpoints (plain HTTP/1.1,
    /// admitted under `[limits]`); empty (default): none.
    pub listen: Vec<SocketAddr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct MetricsFile {
    on_http: bool,
    listen: Vec<String>,
}

impl Default for MetricsFile {
    fn default() -> Self {
        Self {
            on_http: true,
            listen: Vec::new(),
        }
    }
}

pub(super) fn validate_metrics(file: &Path, m: MetricsFile) -> Result<MetricsConfig, ConfigError> {
    if m.listen.len() > MAX_LISTEN {
        return Err(invalid(file, "metrics.listen", "at most 16 addresses"));
    }
    let listen = m
        .listen
        .iter()
        .map(|s| parse_addr(file, "metrics.listen", s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MetricsConfig {
        on_http: m.on_http,
        listen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let p = Path::new("t.toml");
        let d = validate_metrics(p, MetricsFile::default()).expect("defaults");
        assert!(d.on_http && d.listen.is_empty());
        let bad = MetricsFile {
            on_http: true,
            listen: vec!["9100".into()],
        };
        assert!(validate_metrics(p, bad).is_err());
        let many = MetricsFile {
            on_http: false,
            listen: vec!["127.0.0.1:9100".into(); 17],
        };
        assert!(validate_metrics(p, many).is_err());
    }
}
