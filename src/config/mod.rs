//! Typed, validated configuration.
//!
//! `config/gateway.toml` documents every key and its default. Loading is two
//! steps: serde parses the file into the `*File` shapes (unknown keys are
//! errors), then [`Config::from_file`] validates them into the typed
//! [`Config`] the rest of the gateway uses. The protocol cores never see
//! files; they get the pieces of [`Config`] they need.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

pub mod auth;
mod cdr;
mod http;
mod limits;
mod log;
mod media;
mod metrics;
mod policy;
pub mod reload;
mod rtmp;
mod sip;
mod sip_listen;

pub use auth::{AuthConfig, AuthMode, JwtAlgorithm, KeyBytes};
pub use cdr::{CdrConfig, CdrSink};
pub use http::{AdminToken, HttpConfig, OriginPolicy};
pub use limits::LimitsConfig;
pub use log::{LogConfig, LogFormat};
pub use media::{Latching, MediaConfig, RtmpOutCodec, KNOWN_CODECS};
pub use metrics::MetricsConfig;
pub use policy::PolicyConfig;
pub use rtmp::RtmpConfig;
pub use sip::{SipAuth, SipConfig};
pub use sip_listen::{SipListen, SipStreamLimits, SipTls, SipTransport, SYSTEM_CA_BUNDLE};

use auth::{validate_auth, AuthFile};
use cdr::{validate_cdr, CdrFile};
use http::{validate_http, HttpFile};
use limits::{validate_limits, LimitsFile};
use log::{validate_log, LogFile};
use media::{validate_media, MediaFile};
use metrics::{validate_metrics, MetricsFile};
use policy::{validate_policy, PolicyFile};
use rtmp::{validate_rtmp, RtmpFile};
use sip::{validate_sip, SipFile};

/// A configuration that could not be loaded.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The configuration file's path as given.
        file: PathBuf,
        /// The I/O error from opening or reading it.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a value of the wrong type.
    #[error("{file}: {message}")]
    Parse {
        /// The configuration file's path as given.
        file: PathBuf,
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// A key has a value outside what it allows.
    #[error("{file}: key `{key}`: {reason}")]
    Invalid {
        /// The configuration file's path as given.
        file: PathBuf,
        /// The dotted key, e.g. `limits.max_streams`.
        key: &'static str,
        /// What the key allows, e.g. `must be 1..=1024`.
        reason: String,
    },
}

/// The whole gateway configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[rtmp]`: the RTMP listeners.
    pub rtmp: RtmpConfig,
    /// `[sip]` and `[sip.auth]`: the SIP user agent.
    pub sip: SipConfig,
    /// `[media]`: RTP and the media bridge.
    pub media: MediaConfig,
    /// `[policy]`: who may call and register where.
    pub policy: PolicyConfig,
    /// `[limits]`: resource bounds per gateway, address and connection.
    pub limits: LimitsConfig,
    /// `[log]`: logging.
    pub log: LogConfig,
    /// `[auth]`: client authentication (none or JWT).
    pub auth: AuthConfig,
    /// `[http]`: the HTTP listener (web phone page, SDK, RTMP over
    /// WebSocket, RTMPT).
    pub http: HttpConfig,
    /// `[metrics]`: Prometheus metrics and health endpoints (on the HTTP
    /// listener, or on their own `listen` addresses).
    pub metrics: MetricsConfig,
    /// `[cdr]`: call detail records (off by default).
    pub cdr: CdrConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ConfigFile {
    rtmp: RtmpFile,
    sip: SipFile,
    media: MediaFile,
    policy: PolicyFile,
    limits: LimitsFile,
    log: LogFile,
    auth: AuthFile,
    http: HttpFile,
    metrics: MetricsFile,
    cdr: CdrFile,
}

impl Default for Config {
    fn default() -> Self {
        // The defaults are valid by construction; `validate` only rejects
        // values a file supplies.
        match validate(Path::new("<defaults>"), ConfigFile::default()) {
            Ok(c) => c,
            Err(e) => unreachable!("built-in defaults are invalid: {e}"),
        }
    }
}

impl Config {
    /// Reads and validates a TOML file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, and for a bad value the key and reason.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(path, &text)
    }

    /// Parses and validates TOML text; `path` is used in error messages only.
    pub fn from_toml(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: path.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        validate(path, file)
    }
}

pub(crate) fn invalid(file: &Path, key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        file: file.to_path_buf(),
        key,
        reason: reason.into(),
    }
}

pub(crate) fn parse_addr(
    file: &Path,
    key: &'static str,
    s: &str,
) -> Result<SocketAddr, ConfigError> {
    s.parse()
        .map_err(|_| invalid(file, key, format!("`{s}` is not an IP:port address")))
}

pub(crate) fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn validate(file: &Path, f: ConfigFile) -> Result<Config, ConfigError> {
    Ok(Config {
        rtmp: validate_rtmp(file, f.rtmp)?,
        sip: validate_sip(file, f.sip)?,
        media: validate_media(file, f.media)?,
        policy: validate_policy(file, f.policy)?,
        limits: validate_limits(file, f.limits)?,
        log: validate_log(file, f.log)?,
        auth: validate_auth(file, f.auth)?,
        http: validate_http(file, f.http)?,
        metrics: validate_metrics(file, f.metrics)?,
        cdr: validate_cdr(file, f.cdr)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(Path::new("test.toml"), text)
    }

    #[test]
    fn shipped_config_is_valid_and_matches_defaults() {
        let text = include_str!("../../config/gateway.toml");
        let c = load(text).expect("shipped config");
        let d = Config::default();
        assert_eq!(c.rtmp.listen, d.rtmp.listen);
        assert_eq!(c.sip.listen, d.sip.listen);
        assert_eq!(c.sip.stream_listen, d.sip.stream_listen);
        assert_eq!(c.sip.tls, d.sip.tls);
        assert_eq!(c.sip.stream, d.sip.stream);
        assert_eq!(c.media.codecs, d.media.codecs);
        assert_eq!(c.media.rtp_ports, d.media.rtp_ports);
        assert_eq!(c.media.speex_complexity, d.media.speex_complexity);
        assert_eq!(c.policy.dial_allow, d.policy.dial_allow);
        assert_eq!(c.policy.registrar_allow, d.policy.registrar_allow);
        assert_eq!(c.limits.max_calls, d.limits.max_calls);
        assert_eq!(c.sip.echo_user, "echo");
        assert_eq!(c.auth.mode, d.auth.mode);
        assert_eq!(c.auth.leeway, d.auth.leeway);
        assert_eq!(c.rtmp.tls_listen, d.rtmp.tls_listen);
        assert_eq!(c.http.allowed_origins, d.http.allowed_origins);
        assert_eq!(c.http.connection_timeout, d.http.connection_timeout);
        assert_eq!(c.http.rtmpt, d.http.rtmpt);
        assert_eq!(
            c.http.rtmpt_max_sessions_per_ip,
            d.http.rtmpt_max_sessions_per_ip
        );
        assert_eq!(c.http.rtmpt_idle_timeout, d.http.rtmpt_idle_timeout);
        assert_eq!(c.metrics, d.metrics);
        assert_eq!(c.cdr, d.cdr);
        assert_eq!(c.log.format, d.log.format);
        assert_eq!(c.http.admin_token, d.http.admin_token);
        // The one deliberate difference: the default is no HTTP listener
        // (tests and embedders opt in); the shipped file serves the quick start.
        assert!(d.http.listen.is_empty());
        assert_eq!(c.http.listen, vec!["0.0.0.0:8080".parse().unwrap()]);
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = load("").expect("empty");
        assert_eq!(c.rtmp.chunk_size, 4096);
        assert!(c.sip.auth.is_none());
        assert_eq!(c.media.rtp_timeout, Some(Duration::from_secs(60)));
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let e = load("[rtmp]\nlisten_typo = 1\n").unwrap_err().to_string();
        assert!(e.contains("test.toml"), "{e}");
        assert!(e.contains("listen_typo"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases = [
            ("[rtmp]\nlisten = [\"nope\"]\n", "rtmp.listen"),
            ("[rtmp]\nchunk_size = 1\n", "rtmp.chunk_size"),
            ("[media]\ncodecs = [\"G729\"]\n", "media.codecs"),
            ("[media]\nrtp_ports = [20000, 10000]\n", "media.rtp_ports"),
            (
                "[sip]\noutbound_proxy = \"proxy:5060\"\n",
                "sip.outbound_proxy",
            ),
            ("[sip.auth]\npassword = \"x\"\n", "sip.auth.username"),
            (
                "[limits]\nmax_message_size = 1\n",
                "limits.max_message_size",
            ),
            ("[limits]\nmax_calls = 100001\n", "limits.max_calls"),
            ("[http]\nlisten = [\"8080\"]\n", "http.listen"),
            ("[log]\nlevel = \"info,[[\"\n", "log.level"),
            (
                "[http]\nallowed_origins = [\"x\"]\n",
                "http.allowed_origins",
            ),
            ("[http]\ntls_key = \"k.pem\"\n", "http.tls_cert"),
            (
                "[http]\nconnection_timeout_s = 0\n",
                "http.connection_timeout_s",
            ),
            ("[rtmp]\ntls_listen = [\"0.0.0.0:443\"]\n", "rtmp.tls_cert"),
            (
                "[http]\nrtmpt_max_sessions_per_ip = 0\n",
                "http.rtmpt_max_sessions_per_ip",
            ),
            (
                "[http]\nrtmpt_idle_timeout_s = 301\n",
                "http.rtmpt_idle_timeout_s",
            ),
            ("[http]\nadmin_token = \"short\"\n", "http.admin_token"),
            ("[log]\nformat = \"xml\"\n", "log.format"),
            ("[cdr]\nqueue = 0\n", "cdr.queue"),
        ];
        for (text, key) in cases {
            let e = load(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn wrong_type_is_a_parse_error() {
        let e = load("[media]\njitter_ms = \"sixty\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("jitter_ms"), "{e}");
    }

    #[test]
    fn policy_patterns_are_compiled_at_load() {
        let e = load("[policy]\ndial_allow = [\"sip:*@127.0.0.1*\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("policy.dial_allow"), "{e}");
        assert!(e.contains("write \"sip:*@127.0.0.1\""), "{e}");
        let e = load("[policy]\nregistrar_allow = [\"sip:*@10.*\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("policy.registrar_allow"), "{e}");
        let c = load("[policy]\ndial_allow = []\nregistrar_allow = []\n").unwrap();
        assert!(c.policy.dial_allow.is_empty() && c.policy.registrar_allow.is_empty());
        let too_many = format!(
            "[policy]\ndial_allow = [{}]\n",
            vec!["\"*\""; 257].join(",")
        );
        assert!(load(&too_many).is_err());
    }

    #[test]
    fn password_is_redacted_in_debug() {
        let c = load(
            "[sip.auth]\nusername = \"u\"\npassword = \"hunter2\"\nrealm = \"r\"\nhost = \"h\"\n",
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
