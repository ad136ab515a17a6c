//! `[sip] listen` transports, `tls_*` and the stream-connection bounds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{invalid, non_empty, parse_addr, ConfigError};

/// A SIP transport (RFC 3261 §18; TLS: §26.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SipTransport {
    /// Datagrams.
    Udp,
    /// A byte stream, framed by Content-Length (RFC 3261 §18.3).
    Tcp,
    /// TCP under TLS 1.2/1.3 (rustls).
    Tls,
}

impl SipTransport {
    /// The Via / `transport=` token: `udp`, `tcp`, `tls`.
    pub fn token(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
        }
    }
}

/// One `[sip] listen` entry: `udp:IP:port`, `tcp:IP:port`, `tls:IP:port`,
/// or a bare `IP:port` (UDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipListen {
    /// The transport.
    pub transport: SipTransport,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// `[sip] tls_*`: the server certificate for `tls:` listeners and the trust
/// roots for outgoing TLS connections (verification cannot be turned off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipTls {
    /// PEM certificate chain (leaf first); required with a `tls:` listener.
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    pub key: Option<PathBuf>,
    /// PEM trust roots for servers we connect to; default the system bundle
    /// ([`SYSTEM_CA_BUNDLE`]).
    pub ca: PathBuf,
    /// The name the server certificate must carry (and SNI); `None`: the
    /// Request-URI's or proxy's host.
    pub server_name: Option<String>,
}

/// Debian's bundle of the system trust roots (package `ca-certificates`).
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// `[sip] max_connections*`, `stream_idle_timeout_s`: bounds on TCP and TLS
/// connections, incoming and outgoing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipStreamLimits {
    /// Most open stream connections in total (1..=100000).
    pub max_connections: usize,
    /// Most open stream connections from or to one IP address (1..=10000).
    pub max_connections_per_ip: usize,
    /// A connection without a message for this long is closed (10..=86400 s).
    pub idle_timeout: Duration,
    /// An incoming TLS handshake must finish within this (1..=60 s,
    /// `[sip] tls_handshake_timeout_s`).
    pub handshake_timeout: Duration,
}

/// `listen = "addr"` or `listen = ["udp:addr", "tls:addr", ...]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum ListenFile {
    One(String),
    Many(Vec<String>),
}

impl Default for ListenFile {
    fn default() -> Self {
        Self::One("0.0.0.0:5060".into())
    }
}

/// Most `[sip] listen` entries.
const MAX_LISTEN: usize = 16;

/// The UDP listener (exactly one: the registration and media paths use
/// it) and the stream listeners.
pub(super) fn validate_listen(
    file: &Path,
    l: ListenFile,
) -> Result<(SocketAddr, Vec<SipListen>), ConfigError> {
    let entries = match l {
        ListenFile::One(s) => vec![s],
        ListenFile::Many(v) => v,
    };
    if entries.len() > MAX_LISTEN {
        return Err(invalid(file, "sip.listen", "at most 16 addresses"));
    }
    let mut udp = None;
    let mut streams = Vec::new();
    for e in &entries {
        let one = parse_listen(file, e)?;
        if one.transport == SipTransport::Udp {
            if udp.replace(one.addr).is_some() {
                return Err(invalid(file, "sip.listen", "only one udp: address"));
            }
        } else {
            streams.push(one);
        }
    }
    let udp = udp.ok_or_else(|| invalid(file, "sip.listen", "needs one udp: address"))?;
    Ok((udp, streams))
}

fn parse_listen(file: &Path, s: &str) -> Result<SipListen, ConfigError> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let (transport, rest) = [
        ("udp:", SipTransport::Udp),
        ("tcp:", SipTransport::Tcp),
        ("tls:", SipTransport::Tls),
    ]
    .iter()
    .find(|(p, _)| lower.starts_with(p))
    .map(|(p, tr)| (*tr, &t[p.len()..]))
    .unwrap_or((SipTransport::Udp, t));
    Ok(SipListen {
        transport,
        addr: parse_addr(file, "sip.listen", rest)?,
    })
}

/// `tls_cert` and `tls_key` together, required with a `tls:` listener.
pub(super) fn validate_tls(
    file: &Path,
    cert: String,
    key: String,
    ca: String,
    server_name: String,
    has_tls_listener: bool,
) -> Result<SipTls, ConfigError> {
    let cert = non_empty(cert).map(PathBuf::from);
    let key = non_empty(key).map(PathBuf::from);
    if cert.is_some() != key.is_some() {
        return Err(invalid(
            file,
            "sip.tls_cert",
            "tls_cert and tls_key go together",
        ));
    }
    if has_tls_listener && cert.is_none() {
        return Err(invalid(
            file,
            "sip.tls_cert",
            "required with a tls: listener",
        ));
    }
    let server_name = non_empty(server_name);
    if let Some(n) = &server_name {
        if n.len() > 253
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        {
            return Err(invalid(file, "sip.tls_server_name", "is not a host name"));
        }
    }
    Ok(SipTls {
        cert,
        key,
        ca: non_empty(ca)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(SYSTEM_CA_BUNDLE)),
        server_name,
    })
}

/// Each bound checked.
pub(super) fn validate_stream_limits(
    file: &Path,
    max_connections: usize,
    per_ip: usize,
    idle_s: u64,
    handshake_s: u64,
) -> Result<SipStreamLimits, ConfigError> {
    if !(1..=100_000).contains(&max_connections) {
        return Err(invalid(file, "sip.max_connections", "must be 1..=100000"));
    }
    if !(1..=10_000).contains(&per_ip) {
        return Err(invalid(
            file,
            "sip.max_connections_per_ip",
            "must be 1..=10000",
        ));
    }
    if !(10..=86_400).contains(&idle_s) {
        return Err(invalid(
            file,
            "sip.stream_idle_timeout_s",
            "must be 10..=86400",
        ));
    }
    if !(1..=60).contains(&handshake_s) {
        return Err(invalid(
            file,
            "sip.tls_handshake_timeout_s",
            "must be 1..=60",
        ));
    }
    Ok(SipStreamLimits {
        max_connections,
        max_connections_per_ip: per_ip,
        idle_timeout: Duration::from_secs(idle_s),
        handshake_timeout: Duration::from_secs(handshake_s),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("t.toml")
    }

    #[test]
    fn bare_address_stays_udp() {
        let (udp, s) = validate_listen(p(), ListenFile::One("127.0.0.1:5060".into())).unwrap();
        assert_eq!(udp, "127.0.0.1:5060".parse().unwrap());
        assert!(s.is_empty());
    }

    #[test]
    fn several_transports() {
        let l = ListenFile::Many(vec![
            "udp:0.0.0.0:5060".into(),
            "TCP:0.0.0.0:5060".into(),
            "tls:[::1]:5061".into(),
        ]);
        let (udp, s) = validate_listen(p(), l).unwrap();
        assert_eq!(udp.port(), 5060);
        assert_eq!(s[0].transport, SipTransport::Tcp);
        assert_eq!(s[1].transport, SipTransport::Tls);
        assert_eq!(s[1].addr, "[::1]:5061".parse().unwrap());
    }

    #[test]
    fn one_udp_required() {
        let l = ListenFile::Many(vec!["tcp:0.0.0.0:5060".into()]);
        assert!(validate_listen(p(), l).is_err());
        let l = ListenFile::Many(vec!["0.0.0.0:5060".into(), "udp:0.0.0.0:5062".into()]);
        assert!(validate_listen(p(), l).is_err());
        let l = ListenFile::Many(vec!["sctp:0.0.0.0:5060".into()]);
        assert!(validate_listen(p(), l).is_err());
    }

    #[test]
    fn tls_listener_needs_a_certificate() {
        let e = validate_tls(p(), "".into(), "".into(), "".into(), "".into(), true);
        assert!(e.is_err());
        let e = validate_tls(p(), "c.pem".into(), "".into(), "".into(), "".into(), false);
        assert!(e.is_err());
        let ok = validate_tls(p(), "".into(), "".into(), "".into(), "".into(), false).unwrap();
        assert_eq!(ok.ca, PathBuf::from(SYSTEM_CA_BUNDLE));
    }

    #[test]
    fn stream_limits_bounded() {
        assert!(validate_stream_limits(p(), 0, 1, 60, 5).is_err());
        assert!(validate_stream_limits(p(), 10, 0, 60, 5).is_err());
        assert!(validate_stream_limits(p(), 10, 1, 5, 5).is_err());
        assert!(validate_stream_limits(p(), 10, 1, 60, 0).is_err());
        assert!(validate_stream_limits(p(), 10, 1, 60, 61).is_err());
        assert!(validate_stream_limits(p(), 10, 1, 60, 5).is_ok());
    }
}
