//! `[http]`: the HTTP listener (web phone page, SDK, RTMP over WebSocket).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{invalid, non_empty, parse_addr, ConfigError};

/// Most entries `allowed_origins` may have.
const MAX_ORIGINS: usize = 256;

/// Which `Origin` headers a WebSocket upgrade may carry (RFC 6454 section 7,
/// RFC 6455 section 4.2.2). A request without `Origin` (not a browser) is
/// always allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPolicy {
    /// Origin's `host[:port]` equals the request's `Host` (default ports
    /// 80/443 left out on both sides).
    SameOrigin,
    /// `"*"`: any origin.
    Any,
    /// Exactly these serialized origins, lowercase, e.g. `https://app.example.com`.
    List(Vec<String>),
}

/// `[http]`: the HTTP listener, validated.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// TCP addresses to listen on; empty: no HTTP listener.
    pub listen: Vec<SocketAddr>,
    /// Origins allowed to open `GET /rtmp` WebSockets.
    pub allowed_origins: OriginPolicy,
    /// PEM certificate chain; with `tls_key`, the listener speaks HTTPS/WSS only.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
    /// Most time a plain HTTP connection (not upgraded to a WebSocket) stays
    /// open, keep-alive included (1..=600 s).
    pub connection_timeout: Duration,
    /// RTMPT (`POST /open/1`, `/send`, `/idle`, `/close`) on this listener.
    pub rtmpt: bool,
    /// Most RTMPT sessions open per IPv4 address / IPv6 /64 (1..=1000).
    pub rtmpt_max_sessions_per_ip: u32,
    /// An RTMPT session with no request for this long is ended (1..=300 s).
    pub rtmpt_idle_timeout: Duration,
    /// The bearer token of the status API (`/api/v1/...`, RFC 6750);
    /// `None`: the API is off (404). 16..=256 visible ASCII characters.
    pub admin_token: Option<AdminToken>,
}

/// Least and most characters of `[http] admin_token`.
pub const ADMIN_TOKEN_LEN: std::ops::RangeInclusive<usize> = 16..=256;

/// The status API's bearer token; `Debug` shows no secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl AdminToken {
    /// The token's text (compare it in constant time).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct HttpFile {
    listen: Vec<String>,
    allowed_origins: Vec<String>,
    tls_cert: String,
    tls_key: String,
    connection_timeout_s: u64,
    rtmpt: bool,
    rtmpt_max_sessions_per_ip: u32,
    rtmpt_idle_timeout_s: u64,
    admin_token: String,
}

impl Default for HttpFile {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            allowed_origins: Vec::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
            connection_timeout_s: 30,
            rtmpt: true,
            rtmpt_max_sessions_per_ip: 4,
            rtmpt_idle_timeout_s: 15,
            admin_token: String::new(),
        }
    }
}

pub(super) fn validate_http(file: &Path, h: HttpFile) -> Result<HttpConfig, ConfigError> {
    let listen = h
        .listen
        .iter()
        .map(|s| parse_addr(file, "http.listen", s))
        .collect::<Result<Vec<_>, _>>()?;
    let allowed_origins = origin_policy(file, &h.allowed_origins)?;
    let (tls_cert, tls_key) = tls_pair(file, "http.tls_cert", h.tls_cert, h.tls_key)?;
    if !(1..=600).contains(&h.connection_timeout_s) {
        return Err(invalid(
            file,
            "http.connection_timeout_s",
            "must be 1..=600",
        ));
    }
    if !(1..=1000).contains(&h.rtmpt_max_sessions_per_ip) {
        return Err(invalid(
            file,
            "http.rtmpt_max_sessions_per_ip",
            "must be 1..=1000",
        ));
    }
    if !(1..=300).contains(&h.rtmpt_idle_timeout_s) {
        return Err(invalid(
            file,
            "http.rtmpt_idle_timeout_s",
            "must be 1..=300",
        ));
    }
    let admin_token = admin_token(file, h.admin_token)?;
    Ok(HttpConfig {
        admin_token,
        listen,
        allowed_origins,
        tls_cert,
        tls_key,
        connection_timeout: Duration::from_secs(h.connection_timeout_s),
        rtmpt: h.rtmpt,
        rtmpt_max_sessions_per_ip: h.rtmpt_max_sessions_per_ip,
        rtmpt_idle_timeout: Duration::from_secs(h.rtmpt_idle_timeout_s),
    })
}

/// Both paths or neither; `key` names the certificate key in errors.
pub(super) fn tls_pair(
    file: &Path,
    key: &'static str,
    cert: String,
    private_key: String,
) -> Result<(Option<PathBuf>, Option<PathBuf>), ConfigError> {
    match (non_empty(cert), non_empty(private_key)) {
        (Some(c), Some(k)) => Ok((Some(c.into()), Some(k.into()))),
        (None, None) => Ok((None, None)),
        _ => Err(invalid(
            file,
            key,
            "tls_cert and tls_key must be set together",
        )),
    }
}

/// `http.admin_token`: empty (API off) or 16..=256 visible ASCII
/// characters (RFC 6750 section 2.1 `b64token` is a subset of these).
fn admin_token(file: &Path, s: String) -> Result<Option<AdminToken>, ConfigError> {
    const KEY: &str = "http.admin_token";
    if s.is_empty() {
        return Ok(None);
    }
    if !ADMIN_TOKEN_LEN.contains(&s.len()) {
        return Err(invalid(file, KEY, "must be 16..=256 characters"));
    }
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(file, KEY, "must be visible ASCII (no spaces)"));
    }
    Ok(Some(AdminToken(s)))
}

fn origin_policy(file: &Path, list: &[String]) -> Result<OriginPolicy, ConfigError> {
    const KEY: &str = "http.allowed_origins";
    if list.len() > MAX_ORIGINS {
        return Err(invalid(file, KEY, format!("at most {MAX_ORIGINS} entries")));
    }
    if list.is_empty() {
        return Ok(OriginPolicy::SameOrigin);
    }
    if list.iter().any(|s| s.trim() == "*") {
        return Ok(OriginPolicy::Any);
    }
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        let o = s.trim().trim_end_matches('/').to_ascii_lowercase();
        let rest = o
            .strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"));
        match rest {
            Some(authority)
                if !authority.is_empty() && !authority.contains(['/', '?', '#', '@']) =>
            {
                out.push(o)
            }
            _ => {
                return Err(invalid(
                    file,
                    KEY,
                    format!("{s:?} is not \"*\" nor an origin like \"https://host[:port]\""),
                ))
            }
        }
    }
    Ok(OriginPolicy::List(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(list: &[&str]) -> Result<OriginPolicy, ConfigError> {
        let v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        origin_policy(Path::new("t.toml"), &v)
    }

    #[test]
    fn origins_parse_into_a_policy() {
        assert_eq!(policy(&[]).unwrap(), OriginPolicy::SameOrigin);
        assert_eq!(
            policy(&["https://a.example", "*"]).unwrap(),
            OriginPolicy::Any
        );
        assert_eq!(
            policy(&["HTTPS://App.Example.com:8443/"]).unwrap(),
            OriginPolicy::List(vec!["https://app.example.com:8443".into()])
        );
        for bad in [
            "app.example.com",
            "https://",
            "https://a/b",
            "ftp://a",
            "https://u@a",
        ] {
            assert!(policy(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn admin_token_is_bounded_and_redacted() {
        let f = Path::new("t.toml");
        assert_eq!(admin_token(f, String::new()).unwrap(), None);
        assert!(admin_token(f, "short".into()).is_err());
        assert!(admin_token(f, "x".repeat(257)).is_err());
        assert!(admin_token(f, "has a space in it!!".into()).is_err());
        let t = admin_token(f, "0123456789abcdef".into()).unwrap().unwrap();
        assert_eq!(t.expose(), "0123456789abcdef");
        assert!(!format!("{t:?}").contains("0123"));
    }

    #[test]
    fn tls_paths_come_in_pairs() {
        let f = Path::new("t.toml");
        assert!(tls_pair(f, "http.tls_cert", "c.pem".into(), String::new()).is_err());
        assert!(tls_pair(f, "http.tls_cert", String::new(), "k.pem".into()).is_err());
        let (c, k) = tls_pair(f, "http.tls_cert", "c.pem".into(), "k.pem".into()).unwrap();
        assert_eq!((c.unwrap(), k.unwrap()), ("c.pem".into(), "k.pem".into()));
    }
}
