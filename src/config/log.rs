//! `[log]`.

use serde::Deserialize;

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
