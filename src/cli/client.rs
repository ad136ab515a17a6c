//! A minimal HTTP/1.1 client for the status API: one request per
//! connection (hyper's client connection over a tokio `TcpStream`),
//! `http://` only, bounded in time ([`TIMEOUT`]) and size ([`MAX_BODY`]).

use std::time::Duration;

use axum::body::Body;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Most time one request may take, connect included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes of a response body read.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// Why a request failed before an HTTP answer came.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL is not `http://host:port[/path]`.
    #[error("--url {0:?}: expected http://HOST:PORT (https is not supported by the CLI)")]
    Url(String),
    /// The gateway could not be reached.
    #[error("cannot reach {0}: {1}")]
    Connect(String, String),
    /// The exchange failed or timed out.
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

/// `host:port` of an `http://` base URL (a trailing `/` allowed).
pub fn authority(base: &str) -> Result<String, ClientError> {
    let rest = base
        .strip_prefix("http://")
        .ok_or_else(|| ClientError::Url(base.to_string()))?;
    let auth = rest.trim_end_matches('/');
    if auth.is_empty() || auth.contains(['/', '?', '#', '@', ' ']) {
        return Err(ClientError::Url(base.to_string()));
    }
    Ok(auth.to_string())
}

/// Sends `method path` with the bearer `token` to `base` and reads the answer.
///
/// # Errors
/// [`ClientError`] when the URL is bad, the gateway is unreachable, or the
/// exchange fails or takes longer than [`TIMEOUT`].
pub async fn request(
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> Result<Answer, ClientError> {
    let host = authority(base)?;
    match tokio::time::timeout(TIMEOUT, exchange(&host, method, path, token)).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::Http(host, "timed out".into())),
    }
}

async fn exchange(
    host: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> Result<Answer, ClientError> {
    let http = |e: &dyn std::fmt::Display| ClientError::Http(host.to_string(), e.to_string());
    let stream = TcpStream::connect(host)
        .await
        .map_err(|e| ClientError::Connect(host.to_string(), e.to_string()))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
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

    #[test]
    fn only_plain_http_authorities() {
        assert_eq!(
            authority("http://127.0.0.1:8080").unwrap(),
            "127.0.0.1:8080"
        );
        assert_eq!(authority("http://gw:8080/").unwrap(), "gw:8080");
        assert!(authority("https://gw").is_err());
        assert!(authority("http://gw/x").is_err());
        assert!(authority("http://").is_err());
    }
}
