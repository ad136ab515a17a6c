//! `GET /rtmp`: the WebSocket upgrade (RFC 6455 section 4.2) that carries
//! an RTMP byte stream into [`connection::run`], the same code as TCP.
//!
//! Checks, in order: a valid upgrade request (axum answers 400/405/426
//! otherwise), the `Origin` against `[http] allowed_origins` (403), then
//! the connection's admission is moved from the HTTP connection to the
//! RTMP one (so `[limits] max_connections_per_ip` counts the socket once).
//! The `binary` subprotocol is selected when offered, else none. Messages
//! and frames are bounded at [`MAX_MESSAGE`] bytes.

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use tracing::{info, Instrument};

use super::origin;
use super::ws_stream::WsByteStream;
use super::{App, ConnInfo};
use crate::runtime::connection;
use crate::runtime::metrics::ConnTransport;
use crate::runtime::registry::Origin;

/// Most bytes of one WebSocket message or frame from a client.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Handles `GET /rtmp`.
pub async fn upgrade(
    State(app): State<App>,
    Extension(conn): Extension<ConnInfo>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let origin_header = text(header::ORIGIN);
    if !origin::allowed(
        &app.gw.config().http.allowed_origins,
        origin_header,
        text(header::HOST),
    ) {
        info!(origin = ?origin_header, "WebSocket refused: Origin not allowed");
        return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
    }
    let Some(admission) = conn.take_admission() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "already upgraded\n").into_response();
    };
    let App { gw, tracker, .. } = app;
    let span = tracing::info_span!(parent: None, "ws", conn = conn.id, peer = %conn.peer);
    ws.protocols(["binary"])
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_failed_upgrade(|e| info!(error = %e, "WebSocket upgrade failed"))
        .on_upgrade(move |socket| {
            let stream = WsByteStream::new(socket);
            let origin = Origin {
                id: conn.id,
                transport: ConnTransport::Ws.label(),
                peer: conn.peer,
            };
            tracker.track_future(run(gw, stream, admission, origin).instrument(span))
        })
}

async fn run<S: connection::Transport>(
    gw: Arc<crate::runtime::Gateway>,
    stream: S,
    admission: connection::admission::Admission,
    origin: Origin,
) {
    info!("RTMP over WebSocket");
    let _metric = gw.metrics.connection(ConnTransport::Ws);
    connection::run(gw, stream, admission, origin).await;
}
