//! TLS acceptors for RTMPS and the HTTPS listener, from a PEM certificate
//! chain and private key read by [`crate::tls::server_pair`] (TLS 1.2 and
//! 1.3, RFC 5246, RFC 8446, rustls's safe defaults; no client
//! certificates), swapped on live reload.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;

use super::RuntimeError;

/// ALPN protocols offered by the server: none for RTMPS, `http/1.1` for HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    /// No ALPN protocol offered (RTMPS on `[rtmp] tls_listen`).
    None,
    /// Offer `http/1.1` (RFC 7301 §3.1; HTTPS on `[http]`).
    Http11,
}

/// A TLS acceptor for the PEM files `cert` (chain, leaf first) and `key`.
///
/// # Errors
/// [`RuntimeError::Tls`] naming the file when it cannot be read, holds no
/// certificate or key, or rustls refuses the pair.
pub fn acceptor(cert: &Path, key: &Path, alpn: Alpn) -> Result<TlsAcceptor, RuntimeError> {
    let mut config = crate::tls::server_pair(cert, key)
        .map_err(|e| RuntimeError::Tls {
            path: e.path,
            reason: e.reason,
        })?
        .config;
    // No TLS 1.3 session tickets (RFC 8446 section 4.6.1): sessions are
    // long-lived, resumption buys nothing, and librtmp's GnuTLS client
    // aborts on the post-handshake NewSessionTicket.
    config.send_tls13_tickets = 0;
    if alpn == Alpn::Http11 {
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
    }
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The TLS acceptor of a listener kind (RTMPS or HTTPS), swapped by a live
/// reload: each new handshake takes the current one, open connections
/// keep theirs.
#[derive(Default)]
pub struct LiveAcceptor(arc_swap::ArcSwapOption<TlsAcceptor>);

impl LiveAcceptor {
    /// The acceptor for the next handshake; `None`: TLS is not configured.
    pub fn current(&self) -> Option<TlsAcceptor> {
        self.0.load().as_deref().cloned()
    }

    /// Uses `acceptor` for every handshake from now on.
    pub fn set(&self, acceptor: TlsAcceptor) {
        self.0.store(Some(Arc::new(acceptor)));
    }
}

impl std::fmt::Debug for LiveAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.0.load().is_some();
        f.debug_struct("LiveAcceptor").field("set", &set).finish()
    }
}

/// The RTMPS acceptor `config` asks for: `Some` when `[rtmp] tls_listen`
/// is set (with its `tls_cert` and `tls_key`).
///
/// # Errors
/// [`RuntimeError::Tls`] as [`acceptor`].
pub fn rtmps_acceptor(config: &crate::config::Config) -> Result<Option<TlsAcceptor>, RuntimeError> {
    let r = &config.rtmp;
    match (r.tls_listen.is_empty(), &r.tls_cert, &r.tls_key) {
        (false, Some(cert), Some(key)) => acceptor(cert, key, Alpn::None).map(Some),
        _ => Ok(None),
    }
}

/// The HTTPS acceptor `config` asks for: `Some` when `[http] listen` and
/// `tls_cert`/`tls_key` are set.
///
/// # Errors
/// [`RuntimeError::Tls`] as [`acceptor`].
pub fn https_acceptor(config: &crate::config::Config) -> Result<Option<TlsAcceptor>, RuntimeError> {
    let h = &config.http;
    match (h.listen.is_empty(), &h.tls_cert, &h.tls_key) {
        (false, Some(cert), Some(key)) => acceptor(cert, key, Alpn::Http11).map(Some),
        _ => Ok(None),
    }
}
