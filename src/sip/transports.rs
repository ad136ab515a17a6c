//! SIP over TCP and TLS (RFC 3261 §18, §26.2) on rsipstack's transports:
//! the `tcp:` / `tls:` listeners of `[sip] listen`, the trust roots for
//! outgoing TLS, and which transport a request to a URI takes.
//!
//! rsipstack frames stream messages by Content-Length (RFC 3261 §18.3,
//! 65535 bytes at most: a longer message closes the connection), closes a
//! connection idle for `[sip] stream_idle_timeout_s`, dials TCP/TLS when a
//! request's destination has that transport (reusing an open connection
//! to the same address), and writes the transport into Via (with
//! `alias`, RFC 5923). [`super::guard`] bounds the connection count.
//! A `tls:` listener's handshakes are ours ([`super::tls_accept`]:
//! deadline and bounds), then the connection is rsipstack's.
//! Outgoing TLS verifies the server certificate against `[sip] tls_ca`
//! (default the system bundle) for the URI's host or `[sip]
//! tls_server_name`; there is no way to turn verification off.

use std::net::SocketAddr;

use rsipstack::sip::uri::ParamsExt;
use rsipstack::sip::{Scheme, Transport, Uri};
use rsipstack::transport::tcp_listener::TcpListenerConnection;
use rsipstack::transport::{SipAddr, TlsConfig, TlsListenerConnection, TransportLayer};
use tokio_rustls::rustls::ServerConfig;
use tracing::warn;

use super::tls_accept::{TlsAccept, TlsListener};
use super::SipError;
use crate::config::{SipConfig, SipTransport};

/// Adds `cfg.stream_listen` to `transport` (bound and served when the
/// endpoint starts) and sets the outgoing TLS trust roots and the idle
/// timeout. The `tls:` listeners come back bound, for
/// [`super::tls_accept::spawn`] once the endpoint is built.
///
/// # Errors
/// [`SipError::Tls`] when `tls_cert` / `tls_key` cannot be read;
/// [`SipError::Bind`] when a listener cannot be created.
pub async fn add_stream_listeners(
    transport: &TransportLayer,
    cfg: &SipConfig,
) -> Result<Vec<TlsListener>, SipError> {
    // rsipstack builds rustls configs from the process default provider.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    transport.set_stream_idle_timeout(cfg.stream.idle_timeout);
    transport.set_tls_config(client_tls(cfg));
    let mut tls = Vec::new();
    for l in &cfg.stream_listen {
        let external = external_addr(cfg, l.addr);
        match l.transport {
            SipTransport::Tcp => {
                let conn = TcpListenerConnection::new(l.addr, external)
                    .await
                    .map_err(|e| SipError::Bind(l.addr, e.to_string()))?;
                transport.add_transport(conn.into());
            }
            SipTransport::Tls => {
                tls.push(add_tls_listener(transport, cfg, l.addr, external).await?)
            }
            SipTransport::Udp => {}
        }
    }
    Ok(tls)
}

/// A `tls:` listener: our accept loop ([`super::tls_accept`]) on `addr`,
/// and an rsipstack TLS listener entry that only names the address for
/// Via and Contact. rsipstack binds every listener it knows when the
/// endpoint starts, so that entry is bound to an ephemeral loopback port
/// (reachable by nothing outside the host) and advertises `addr` (or
/// `external`) instead.
async fn add_tls_listener(
    transport: &TransportLayer,
    cfg: &SipConfig,
    addr: SocketAddr,
    external: Option<SocketAddr>,
) -> Result<TlsListener, SipError> {
    let (tls_config, server) = server_tls(cfg)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| SipError::Bind(addr, e.to_string()))?;
    let advertised = external.unwrap_or(addr);
    let placeholder = SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), 0);
    let entry = TlsListenerConnection::new(placeholder, Some(advertised), tls_config)
        .await
        .map_err(|e| SipError::Bind(addr, e.to_string()))?;
    let local = SipAddr {
        r#type: Some(Transport::Tls),
        addr: advertised.into(),
    };
    transport.add_transport(entry.into());
    let accept = TlsAccept {
        acceptor: tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server)),
        limits: cfg.stream,
        local,
    };
    Ok(TlsListener { listener, accept })
}

/// Checks that every stream listener's port is free (rsipstack binds them
/// in the background and would only log a failure).
///
/// # Errors
/// [`SipError::Bind`] naming the address.
pub fn check_stream_ports(cfg: &SipConfig) -> Result<(), SipError> {
    for l in &cfg.stream_listen {
        std::net::TcpListener::bind(l.addr).map_err(|e| SipError::Bind(l.addr, e.to_string()))?;
    }
    Ok(())
}

/// `public_address` (when an IP) with `addr`'s port.
fn external_addr(cfg: &SipConfig, addr: SocketAddr) -> Option<SocketAddr> {
    cfg.public_address
        .as_deref()
        .and_then(|h| h.parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, addr.port()))
}

/// The listener's certificate and key, for rsipstack and as our rustls
/// server configuration ([`crate::tls::server_pair`]). A SEC1 `EC PRIVATE
/// KEY` is refused: rsipstack's listener entry reads PKCS#8 and PKCS#1 only.
fn server_tls(cfg: &SipConfig) -> Result<(TlsConfig, ServerConfig), SipError> {
    let (Some(cert), Some(key)) = (&cfg.tls.cert, &cfg.tls.key) else {
        return Err(SipError::Tls(
            "tls_cert".into(),
            "required with a tls: listener".into(),
        ));
    };
    let pair = crate::tls::server_pair(cert, key).map_err(|e| SipError::Tls(e.path, e.reason))?;
    if pair.sec1 {
        return Err(SipError::Tls(
            key.to_path_buf(),
            "SEC1 EC key: convert it with `openssl pkcs8 -topk8 -nocrypt`".into(),
        ));
    }
    let rsip = TlsConfig {
        cert: Some(pair.cert_pem),
        key: Some(pair.key_pem),
        ..TlsConfig::default()
    };
    Ok((rsip, pair.config))
}

/// Trust roots and expected name for connections we open. An unreadable
/// `tls_ca` leaves no root: every outgoing TLS connection then fails
/// verification (logged once here).
fn client_tls(cfg: &SipConfig) -> TlsConfig {
    let ca_certs = match std::fs::read(&cfg.tls.ca) {
        Ok(pem) => Some(pem),
        Err(e) => {
            warn!(path = ?cfg.tls.ca, error = %e, "SIP TLS trust roots unreadable: outgoing TLS will fail");
            None
        }
    };
    TlsConfig {
        ca_certs,
        sni_hostname: cfg.tls.server_name.clone(),
        ..TlsConfig::default()
    }
}

/// The transport a request to `uri` takes (RFC 3261 §18.1.1, RFC 3263
/// §4.1 without NAPTR): TLS for `sips:`, else the `transport` parameter,
/// else UDP.
pub fn uri_transport(uri: &Uri) -> Transport {
    if matches!(uri.scheme, Some(Scheme::Sips)) {
        return Transport::Tls;
    }
    uri.transport().copied().unwrap_or(Transport::Udp)
}

/// The transport of `req`'s top Via (how it reached us); UDP when that
/// does not parse.
pub fn via_transport(req: &rsipstack::sip::Request) -> Transport {
    use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
    req.via_header()
        .ok()
        .and_then(|v| v.typed().ok())
        .map(|v| v.transport)
        .unwrap_or(Transport::Udp)
}

/// Whether the gateway can carry `t` (UDP always; TCP and TLS as clients
/// even without a listener).
pub fn supported(t: Transport) -> bool {
    matches!(t, Transport::Udp | Transport::Tcp | Transport::Tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Transport {
        uri_transport(&Uri::try_from(s).unwrap())
    }

    #[test]
    fn transport_follows_scheme_then_parameter() {
        assert_eq!(t("sip:bob@192.0.2.1"), Transport::Udp);
        assert_eq!(t("sip:bob@192.0.2.1;transport=tcp"), Transport::Tcp);
        assert_eq!(t("sip:bob@192.0.2.1;transport=TLS"), Transport::Tls);
        assert_eq!(t("sips:bob@example.com"), Transport::Tls);
        assert_eq!(t("sips:bob@example.com;transport=tcp"), Transport::Tls);
    }

    #[test]
    fn only_udp_tcp_tls_supported() {
        assert!(supported(Transport::Tcp));
        assert!(!supported(Transport::Sctp));
        assert!(!supported(Transport::Ws));
    }
}
