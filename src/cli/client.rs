//! A minimal HTTP/1.1 client for the status API and the health check: one
//! request per connection (hyper's client connection over a tokio
//! `TcpStream`, or over rustls for `https://`), bounded in time
//! ([`TIMEOUT`]) and size ([`MAX_BODY`]).
//!
//! `https://` verifies the server's certificate (RFC 8446; rustls's
//! verifier, RFC 6125 names) against the system trust roots plus the
//! [`Trust`] files (e.g. the gateway's own `[http] tls_cert`), for the
//! URL's host or [`Trust::server_name`]; a server presenting exactly one of
//! the [`Trust`] files' certificates is accepted as pinned
//! ([`super::pin`]), so a self-signed listener can be reached. There is no
//! way to turn verification off.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// Most time one request may take, connect included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes of a response body read.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// Why a request failed before an HTTP answer came.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL is not `http://host:port[/path]` or `https://...`.
    #[error("--url {0:?}: expected http://HOST:PORT or https://HOST:PORT")]
    Url(String),
    /// The gateway could not be reached.
    #[error("cannot reach {0}: {1}")]
    Connect(String, String),
    /// A trust-root file cannot be read, or the server name is not valid.
    #[error("TLS: {0}")]
    Tls(String),
    /// The exchange (TLS handshake included) failed or timed out.
    #[error("request to {0} failed: {1}")]
    Http(String, String),
}

/// An HTTP answer: status and body.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body (at most [`MAX_BODY`] bytes).
    pub body: Vec<u8>,
}

/// What `https://` trusts besides the system roots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// PEM files whose certificates are trust anchors (`--ca`, or the
    /// gateway's own `[http] tls_cert` read from `-c`).
    pub roots: Vec<PathBuf>,
    /// The name the certificate must carry (and SNI); default the URL's host.
    pub server_name: Option<String>,
}

/// A base URL, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// `https://`.
    pub tls: bool,
    /// `host:port` (the Host header and the address to connect to).
    pub authority: String,
}

impl Base {
    /// Parses `http://host:port` or `https://host:port` (a trailing `/`
    /// allowed; no path, user info, query or fragment).
    ///
    /// # Errors
    /// [`ClientError::Url`].
    pub fn parse(base: &str) -> Result<Self, ClientError> {
        let bad = || ClientError::Url(base.to_string());
        let (tls, rest) = match (base.strip_prefix("http://"), base.strip_prefix("https://")) {
            (Some(r), _) => (false, r),
            (_, Some(r)) => (true, r),
            _ => return Err(bad()),
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return Err(bad());
        }
        Ok(Self {
            tls,
            authority: authority.to_string(),
        })
    }

    /// The host without the port (IPv6 without brackets).
    pub fn host(&self) -> &str {
        let a = self.authority.as_str();
        if let Some(v6) = a.strip_prefix('[') {
            return v6.split(']').next().unwrap_or(v6);
        }
        a.rsplit_once(':').map(|(h, _)| h).unwrap_or(a)
    }
}

/// Sends `method path` with the bearer `token` to `base` and reads the answer.
///
/// # Errors
/// [`ClientError`] when the URL is bad, the gateway is unreachable, TLS
/// fails (an untrusted or misnamed certificate), or the exchange fails or
/// takes longer than [`TIMEOUT`].
pub async fn request(
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    trust: &Trust,
) -> Result<Answer, ClientError> {
    let base = Base::parse(base)?;
    let host = base.authority.clone();
    match tokio::time::timeout(TIMEOUT, exchange(&base, method, path, token, trust)).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::Http(host, "timed out".into())),
    }
}

async fn exchange(
    base: &Base,
    method: Method,
    path: &str,
    token: Option<&str>,
    trust: &Trust,
) -> Result<Answer, ClientError> {
    let host = base.authority.as_str();
    let stream = TcpStream::connect(host)
        .await
        .map_err(|e| ClientError::Connect(host.to_string(), e.to_string()))?;
    if !base.tls {
        return send(stream, host, method, path, token).await;
    }
    let connector = TlsConnector::from(Arc::new(client_config(trust)?));
    let name = trust.server_name.as_deref().unwrap_or(base.host());
    let name = ServerName::try_from(name.to_string())
        .map_err(|e| ClientError::Tls(format!("server name {name:?}: {e}")))?;
    let tls = connector
        .connect(name, stream)
        .await
        .map_err(|e| ClientError::Http(host.to_string(), format!("TLS: {e}")))?;
    send(tls, host, method, path, token).await
}

/// The system roots (Debian's bundle, when readable) and `trust.roots`
/// (also pinned: [`super::pin`]).
fn client_config(trust: &Trust) -> Result<ClientConfig, ClientError> {
    let mut roots = RootCertStore::empty();
    if let Ok(iter) = CertificateDer::pem_file_iter(crate::config::SYSTEM_CA_BUNDLE) {
        roots.add_parsable_certificates(iter.flatten());
    }
    let mut pinned = Vec::new();
    for file in &trust.roots {
        let certs = CertificateDer::pem_file_iter(file)
            .and_then(|i| i.collect::<Result<Vec<_>, _>>())
            .map_err(|e| ClientError::Tls(format!("{}: {e}", file.display())))?;
        if certs.is_empty() {
            return Err(ClientError::Tls(format!(
                "{}: no CERTIFICATE in the file",
                file.display()
            )));
        }
        roots.add_parsable_certificates(certs.iter().cloned());
        pinned.extend(certs);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki = if roots.is_empty() {
        None
    } else {
        Some(
            rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| ClientError::Tls(e.to_string()))?,
        )
    };
    let verifier = super::pin::PinnedOrWebPki {
        pinned,
        webpki,
        provider: provider.clone(),
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// One HTTP/1.1 exchange over `io`.
async fn send<S>(
    io: S,
    host: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> Result<Answer, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let http = |e: &dyn std::fmt::Display| ClientError::Http(host.to_string(), e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| http(&e))?;
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, host)
        .header(hyper::header::ACCEPT, "application/json")
        .header(
            hyper::header::USER_AGENT,
            concat!("rtmp2sip-cli/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(t) = token {
        req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req.body(Body::empty()).map_err(|e| http(&e))?;
    let resp = sender.send_request(req).await.map_err(|e| http(&e))?;
    let status = resp.status().as_u16();
    let body = axum::body::to_bytes(Body::new(resp.into_body()), MAX_BODY)
        .await
        .map_err(|e| http(&e))?;
    Ok(Answer {
        status,
        body: body.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Base {
        Base::parse(s).unwrap()
    }

    #[test]
    fn http_and_https_authorities() {
        assert_eq!(b("http://127.0.0.1:8080").authority, "127.0.0.1:8080");
        assert_eq!(b("http://gw:8080/").authority, "gw:8080");
        assert!(!b("http://gw:8080").tls);
        assert!(b("https://gw.example.com:8443").tls);
        assert_eq!(b("https://gw.example.com:8443").host(), "gw.example.com");
        assert_eq!(b("https://[::1]:8443").host(), "::1");
        assert_eq!(b("https://gw").host(), "gw");
        for bad in [
            "ftp://gw",
            "http://gw/x",
            "http://",
            "https://u@gw",
            "gw:80",
        ] {
            assert!(Base::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unreadable_trust_file_is_named() {
        let trust = Trust {
            roots: vec!["/nonexistent/ca.pem".into()],
            server_name: None,
        };
        let e = client_config(&trust).err().unwrap().to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
