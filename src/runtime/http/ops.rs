//! Operations endpoints, open (no `[auth]`): `GET /metrics` (Prometheus /
//! OpenMetrics 1.0 text), `GET /healthz` (200 `ok` while the process
//! serves), `GET /readyz` (200 `ready` once the SIP transport and every
//! listener are up, 503 `not ready` before that and once shutdown began).
//!
//! Served on `[http] listen` when `[metrics] on_http` (default) and on
//! `[metrics] listen` (a listener of its own, admitted under `[limits]`
//! like every TCP connection). Bodies are bounded: the metric series are
//! closed label sets.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::App;

/// The OpenMetrics content type (Prometheus negotiates it too).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Adds `/metrics`, `/healthz` and `/readyz` to `router`.
pub fn routes(router: Router<App>) -> Router<App> {
    router
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The router of a `[metrics] listen` address: the endpoints, 404 else.
pub fn router(app: App) -> Router {
    routes(Router::new())
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(app)
}

async fn metrics(State(app): State<App>) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        app.gw.metrics.render(),
    )
        .into_response()
}

async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

async fn readyz(State(app): State<App>) -> Response {
    if app.gw.metrics.is_ready() && !app.gw.shutdown.is_cancelled() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}
