//! `[log]`.

use std::path::Path;

use serde::Deserialize;

use super::{invalid, ConfigError};

/// `[log]`.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// A tracing-subscriber `EnvFilter` directive.
    pub level: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct LogFile {
    pub(super) level: String,
}

impl Default for LogFile {
    fn default() -> Self {
        Self {
            level: "info,rsipstack=warn".into(),
        }
    }
}

/// `level` must parse as a tracing `EnvFilter` directive, so that
/// `check-config` and a reload catch what start-up would refuse.
pub(super) fn validate_log(file: &Path, l: LogFile) -> Result<LogConfig, ConfigError> {
    tracing_subscriber::EnvFilter::try_new(&l.level)
        .map_err(|e| invalid(file, "log.level", e.to_string()))?;
    Ok(LogConfig { level: l.level })
}
