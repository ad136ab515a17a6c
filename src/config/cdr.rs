//! `[cdr]`: call detail records.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{invalid, ConfigError};

/// Where call detail records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CdrSink {
    /// Appended to this file (created if missing).
    File(PathBuf),
    /// `"-"`: standard output.
    Stdout,
}

/// `[cdr]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrConfig {
    /// `None`: no records (default).
    pub sink: Option<CdrSink>,
    /// Most records waiting for the writer (1..=65536); more are dropped
    /// and counted.
    pub queue: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct CdrFile {
    path: String,
    queue: usize,
}

impl Default for CdrFile {
    fn default() -> Self {
        Self {
            path: String::new(),
            queue: 1024,
        }
    }
}

pub(super) fn validate_cdr(file: &Path, c: CdrFile) -> Result<CdrConfig, ConfigError> {
    if !(1..=65536).contains(&c.queue) {
        return Err(invalid(file, "cdr.queue", "must be 1..=65536"));
    }
    let sink = match c.path.trim() {
        "" => None,
        "-" => Some(CdrSink::Stdout),
        p => Some(CdrSink::File(p.into())),
    };
    Ok(CdrConfig {
        sink,
        queue: c.queue,
    })
}
