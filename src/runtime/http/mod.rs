//! The HTTP listener (`[http] listen`): the web phone's files and RTMP over
//! WebSocket at `GET /rtmp`, over HTTP/1.1 (hyper + axum) or, with `[http]
//! tls_cert`/`tls_key`, HTTPS/WSS (rustls).
//!
//! Every accepted TCP connection is admitted like an RTMP one (`[limits]
//! max_connections`, `max_connections_per_ip`) before a byte is read; a
//! refused one is closed. A plain HTTP connection lives at most `[http]
//! connection_timeout_s`, and its request head must arrive within
//! `[limits] handshake_timeout_s` (as must the TLS handshake). An upgraded
//! WebSocket takes over the connection's admission and is from then on an
//! RTMP connection in [`crate::runtime::connection::run`] (see [`ws`]).
//!
//! - [`origin`]: the `Origin` check (pure);
//! - [`ws_stream`]: a WebSocket as `AsyncRead + AsyncWrite`;
//! - [`assets`]: the embedded page and SDK;
//! - [`rtmpt`]: RTMP tunnelled over HTTP `POST`s (`/open/1`, `/send`, ...);
//! - [`api`]: the status API under `/api/v1` (`[http] admin_token`).

pub mod api;
pub mod assets;
pub mod ops;
pub mod origin;
pub mod rtmpt;
pub mod ws;
pub mod ws_stream;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tracing::{debug, info, Instrument};

use super::connection::admission::Admission;
use super::server::Acceptor;
use super::{Gateway, RuntimeError};

/// Most bytes hyper buffers for one request head (hyper's minimum is 8 KiB).
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct App {
    /// The gateway: config, limits, auth, the SIP UA and call state.
    pub gw: Arc<Gateway>,
    /// Connections upgraded to RTMP join the gateway's tracker, so shutdown
    /// waits for their calls to end.
    pub tracker: TaskTracker,
    /// The open RTMPT sessions.
    pub rtmpt: Arc<rtmpt::Sessions>,
}

/// One accepted TCP connection, as request handlers see it.
#[derive(Clone)]
pub struct ConnInfo {
    /// Connection ID for log spans ([`Gateway::next_connection_id`]).
    pub id: u64,
    /// The client's TCP address (IP and port), as accepted.
    pub peer: SocketAddr,
    admission: Arc<Mutex<Option<Admission>>>,
    /// When the connection last carried an RTMPT request.
    rtmpt_seen: Arc<Mutex<Option<Instant>>>,
}

impl ConnInfo {
    /// Notes an RTMPT request at `now`: the connection then outlives `[http]
    /// connection_timeout_s` while RTMPT requests keep coming (see `serve`).
    pub fn saw_rtmpt(&self, now: Instant) {
        if let Ok(mut t) = self.rtmpt_seen.lock() {
            *t = Some(now);
        }
    }

    /// An RTMPT request came within `within` before `now`.
    fn rtmpt_recent(&self, now: Instant, within: Duration) -> bool {
        self.rtmpt_seen
            .lock()
            .ok()
            .and_then(|t| *t)
            .is_some_and(|t| now.saturating_duration_since(t) < within)
    }

    /// The connection's places in `[limits]`, once (for the WebSocket that
    /// takes the connection over).
    pub fn take_admission(&self) -> Option<Admission> {
        self.admission.lock().ok()?.take()
    }
}

/// Binds every `[http] listen` address and spawns the accept loops.
///
/// # Errors
/// [`RuntimeError::HttpBind`] for the first address that cannot be bound,
/// [`RuntimeError::Tls`] when the certificate or key cannot be used.
pub async fn listen_all(gw: &Arc<Gateway>, tracker: &TaskTracker) -> Result<(), RuntimeError> {
    let config = gw.config();
    let cfg = &config.http;
    let tls = gw.https.current().is_some();
    let app = App {
        gw: gw.clone(),
        tracker: tracker.clone(),
        rtmpt: Arc::default(),
    };
    for addr in &cfg.listen {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| RuntimeError::HttpBind {
                addr: *addr,
                source,
            })?;
        let scheme = if tls { "https" } else { "http" };
        info!(%addr, scheme, "HTTP listening (web phone at /, RTMP over WebSocket at /rtmp)");
        let r = router(app.clone());
        tokio::spawn(accept_loop(app.clone(), listener, tls, r, "HTTP"));
    }
    for addr in &config.metrics.listen {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| RuntimeError::HttpBind {
                addr: *addr,
                source,
            })?;
        info!(%addr, "metrics listening (/metrics, /healthz, /readyz)");
        let r = ops::router(app.clone());
        tokio::spawn(accept_loop(app.clone(), listener, false, r, "metrics"));
    }
    Ok(())
}

/// The routes: `/rtmp` (WebSocket), the status API under `/api/v1`,
/// RTMPT `POST`s, the embedded files, 404 for the rest.
pub fn router(app: App) -> Router {
    let on_http = app.gw.config().metrics.on_http;
    let r = Router::new()
        .route("/rtmp", get(ws::upgrade))
        .nest("/api/v1", api::router(&app));
    let r = if on_http { ops::routes(r) } else { r };
    r.fallback(fallback).with_state(app)
}

/// RTMPT for a `POST` to one of its paths, else the embedded files.
async fn fallback(State(app): State<App>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if parts.method == Method::POST {
        if let Some(conn) = parts.extensions.get::<ConnInfo>() {
            let path = parts.uri.path();
            if let Some(r) = rtmpt::route(&app, conn, path, &parts.headers, body).await {
                return r;
            }
        }
    }
    files(parts.method, parts.uri).await
}

async fn files(method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, HeaderValue::from_static("GET, HEAD"))],
        )
            .into_response();
    }
    assets::respond(uri.path())
}

async fn accept_loop(
    app: App,
    listener: TcpListener,
    tls: bool,
    router: Router,
    what: &'static str,
) {
    let gw = &app.gw;
    let mut acceptor = Acceptor::new(listener, what);
    while let Some((stream, peer, admission)) = acceptor.next(gw).await {
        let _ = stream.set_nodelay(true);
        let conn = ConnInfo {
            id: gw.next_connection_id(),
            peer,
            admission: Arc::new(Mutex::new(Some(admission))),
            rtmpt_seen: Arc::default(),
        };
        let span = tracing::info_span!("http", conn = conn.id, %peer);
        // HTTPS: the certificate in force now (a reload may have changed it).
        let tls = match (tls, gw.https.current()) {
            (false, _) => None,
            (true, Some(acceptor)) => Some(acceptor),
            (true, None) => continue,
        };
        let serve = serve(gw.clone(), router.clone(), stream, tls, conn);
        tokio::spawn(serve.instrument(span));
    }
}

/// One HTTP connection: TLS if configured, then HTTP/1.1 until it ends,
/// is upgraded, or `[http] connection_timeout_s` runs out. A connection
/// that carries RTMPT gets another `connection_timeout_s` each time it
/// runs out while RTMPT requests came within `[http] rtmpt_idle_timeout_s`
/// (an RTMPT call lasts as long as its client keeps polling).
async fn serve(
    gw: Arc<Gateway>,
    router: Router,
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    conn: ConnInfo,
) {
    let config = gw.config();
    let head_timeout = config.limits.handshake_timeout;
    let info = conn.clone();
    let served = async move {
        match tls {
            None => serve_io(router, stream, conn, head_timeout).await,
            Some(acceptor) => {
                match tokio::time::timeout(head_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => serve_io(router, s, conn, head_timeout).await,
                    Ok(Err(e)) => debug!(error = %e, "TLS handshake failed"),
                    Err(_) => debug!("TLS handshake timed out"),
                }
            }
        }
    };
    tokio::pin!(served);
    let cfg = &config.http;
    loop {
        match tokio::time::timeout(cfg.connection_timeout, &mut served).await {
            Ok(()) => return,
            Err(_) if info.rtmpt_recent(Instant::now(), cfg.rtmpt_idle_timeout) => continue,
            Err(_) => {
                debug!("HTTP connection closed: [http] connection_timeout_s");
                return;
            }
        }
    }
}

async fn serve_io<I>(router: Router, io: I, conn: ConnInfo, head_timeout: Duration)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(conn.clone());
        router.clone().oneshot(req)
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        // librtmp (rtmpt://) looks for "Content-Length:" case-sensitively.
        .title_case_headers(true)
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades()
        .await;
    if let Err(e) = served {
        debug!(error = %e, "HTTP connection ended with an error");
    }
}
