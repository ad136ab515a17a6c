//! Live reload: SIGHUP (and the HTTP API, through [`reload`]) re-reads the
//! configuration file, validates it as start-up and `check-config` do,
//! and applies the live keys (`config::reload::LIVE_KEYS`: `[policy]`,
//! `[auth]`, `[limits]`, `[sip] trusted`,
//! `[log] level`, `[http] admin_token`, the TLS certificate files) without
//! touching running calls:
//!
//! | key | takes effect |
//! |---|---|
//! | `[policy] dial_allow` | the next `dial`/`transfer`, on new and open connections |
//! | `[policy] registrar_allow` | the next `register` |
//! | `[auth]` | the next `connect` (open connections keep their identity) |
//! | `[limits] max_calls`, `max_connections` | the next call / connection (holders keep their places) |
//! | other `[limits]` keys | new connections (and `drain_timeout_s` at the next stop) |
//! | `[sip] trusted` | the next new INVITE |
//! | `[log] level` | at once (unless `RUST_LOG` is set) |
//! | TLS certificate and key files (`[rtmp]`, `[http]`) | the next TLS handshake |
//! | `[http] admin_token` | the next status API request |
//!
//! Every other changed key is logged as "needs a restart" and keeps its
//! running value. A file that does not load, a key file or certificate
//! that cannot be used, or a bad log directive refuses the whole reload:
//! the reason is logged at error level and nothing changes. Each reload
//! is counted in `rtmp2sip_config_reloads_total{result}`.

use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;
use tracing::{error, info, warn};

use super::{tls, Gateway, RuntimeError};
use crate::config::reload::plan;
use crate::config::{Config, ConfigError};

/// Sets the log filter at run time (from [`super::init_logging`]).
pub struct LogControl {
    from_env: bool,
    set: Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>,
}

impl LogControl {
    /// `from_env`: `RUST_LOG` chose the filter, and reloads leave it alone;
    /// `set` parses and installs a tracing `EnvFilter` directive.
    pub fn new(
        from_env: bool,
        set: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            from_env,
            set: Box::new(set),
        }
    }
}

impl std::fmt::Debug for LogControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogControl")
            .field("from_env", &self.from_env)
            .finish()
    }
}

/// Where a reload reads the configuration, and how it sets the log level.
#[derive(Debug, Default)]
pub struct ReloadSource {
    /// The file given with `--config`; `None`: reloads are refused.
    pub path: Option<PathBuf>,
    /// The log filter control; `None`: `[log] level` is not reloaded.
    pub log: Option<LogControl>,
}

/// Why a reload was refused (the running configuration stays).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The gateway was not started from a file.
    #[error("no configuration file to reload")]
    NoFile,
    /// The file does not load or validate (names the file, key and reason).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `[auth]` or a TLS certificate/key cannot be used.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// `[log] level` is not a valid tracing directive.
    #[error("key `log.level`: {0}")]
    LogLevel(String),
    /// Another reload is being applied.
    #[error("another reload is in progress")]
    Busy,
}

/// What an applied reload changed (JSON for `POST /api/v1/reload`:
/// `{"applied": ["policy"], "needs_restart": ["rtmp.listen"]}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReloadReport {
    /// Live keys that changed and are now in force.
    pub applied: Vec<&'static str>,
    /// Keys that changed but need a restart; they keep their old values.
    pub needs_restart: Vec<&'static str>,
}

/// Re-reads, validates and applies the configuration file; logs and
/// counts the outcome. For SIGHUP and `POST /api/v1/reload` (it reads a
/// few small files: call it from `spawn_blocking` in a request handler).
///
/// # Errors
/// [`ReloadError`] when the reload is refused (nothing changed).
pub fn reload(gw: &Gateway) -> Result<ReloadReport, ReloadError> {
    let result = try_reload(gw);
    gw.metrics.config_reload(result.is_ok());
    match &result {
        Ok(r) => {
            info!(applied = ?r.applied, "configuration reloaded");
            if !r.needs_restart.is_empty() {
                warn!(keys = ?r.needs_restart,
                    "configuration keys changed that need a restart; they keep their running values");
            }
        }
        Err(e) => {
            error!(error = %e, "configuration reload refused; the running configuration stays")
        }
    }
    result
}

fn try_reload(gw: &Gateway) -> Result<ReloadReport, ReloadError> {
    let _one = gw.reloading.try_lock().map_err(|_| ReloadError::Busy)?;
    let path = gw.source.path.as_deref().ok_or(ReloadError::NoFile)?;
    let new = Config::from_file(path)?;
    let old = gw.config();
    let plan = plan(&old, &new);
    let cfg = plan.config;
    // Everything that can fail, before anything changes.
    let auth = crate::auth::ClientAuth::new(&cfg.auth)
        .map_err(RuntimeError::from)?
        .map(Arc::new);
    let rtmps = tls::rtmps_acceptor(&cfg)?;
    let https = tls::https_acceptor(&cfg)?;
    let log = gw.source.log.as_ref().filter(|l| !l.from_env);
    if let Some(log) = log.filter(|_| plan.applied.contains(&"log.level")) {
        (log.set)(&cfg.log.level).map_err(ReloadError::LogLevel)?;
    }
    // Apply.
    gw.auth.store(auth);
    if let Some(a) = rtmps {
        gw.rtmps.set(a);
    }
    if let Some(a) = https {
        gw.https.set(a);
    }
    gw.ua.set_trusted(cfg.sip.trusted.clone());
    gw.calls.set_limit(cfg.limits.max_calls);
    gw.connections.set_limit(cfg.limits.max_connections);
    gw.reassembly.set_limit(cfg.limits.max_reassembly_bytes);
    gw.config.store(Arc::new(cfg));
    gw.generation
        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    Ok(ReloadReport {
        applied: plan.applied,
        needs_restart: plan.needs_restart,
    })
}
