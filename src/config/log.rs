//! `[log]`.

use std::path::Path;

use serde::Deserialize;

use super::{invalid, ConfigError};

/// `[log]`.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// A tracing-subscriber `EnvFilter` directive.
    pub level: String,
    /// How each log line is written.
    pub format: LogFormat,
}

/// `[log] format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `"text"`: human-readable lines (default).
    Text,
    /// `"json"`: one JSON object per line (tracing-subscriber's JSON
    /// formatter: `timestamp`, `level`, `fields`, `target`, `spans`).
    Json,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct LogFile {
    pub(super) level: String,
    pub(super) format: String,
}

impl Default for LogFile {
    fn default() -> Self {
        Self {
            level: "info,rsipstack=warn".into(),
            format: "text".into(),
        }
    }
}

/// `level` must parse as a tracing `EnvFilter` directive, so that
/// `check-config` and a reload catch what start-up would refuse.
pub(super) fn validate_log(file: &Path, l: LogFile) -> Result<LogConfig, ConfigError> {
    tracing_subscriber::EnvFilter::try_new(&l.level)
        .map_err(|e| invalid(file, "log.level", e.to_string()))?;
    let format = match l.format.as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        _ => return Err(invalid(file, "log.format", "must be \"text\" or \"json\"")),
    };
    Ok(LogConfig {
        level: l.level,
        format,
    })
}
