//! The status API under `/api/v1` on `[http] listen` (JSON shapes in
//! `docs/openapi.yaml`):
//!
//! | Method and path                  | Answer |
//! |----------------------------------|--------|
//! | `GET /api/v1/status`             | version, uptime, counts |
//! | `GET /api/v1/calls`              | every call |
//! | `GET /api/v1/calls/{call_id}`    | one call, 404 if none |
//! | `DELETE /api/v1/calls/{call_id}` | 202: the call is being hung up (BYE/CANCEL at the far end, status 0 at the client); 404 if none |
//! | `GET /api/v1/registrations`      | every registration |
//! | `GET /api/v1/connections`        | every RTMP connection |
//! | `POST /api/v1/reload`            | re-read the configuration file as SIGHUP does: 200 with the `ReloadReport` (`applied`, `needs_restart`), 422 `{"error": ...}` when refused (nothing changed) |
//!
//! **Access.** Off (404 for every path) unless `[http] admin_token` is
//! set; then every request needs `Authorization: Bearer <admin_token>`
//! (RFC 6750 section 2.1), else 401 with `WWW-Authenticate: Bearer`
//! (section 3). The comparison takes the same time whatever the token
//! (SHA-256 of both, compared in constant time), and an `Authorization`
//! header longer than [`MAX_AUTHORIZATION`] bytes is refused unread.
//!
//! [`routes`] holds the endpoints, [`router`] adds the access check: add
//! further endpoints to [`routes`] so that they share it.

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::info;

use super::App;
use crate::config::AdminToken;

/// Most bytes of an `Authorization` header the API reads.
pub const MAX_AUTHORIZATION: usize = 512;

/// The `/api/v1` endpoints, without the access check.
pub fn routes() -> Router<App> {
    Router::new()
        .route("/status", get(status))
        .route("/calls", get(calls))
        .route("/calls/{call_id}", get(call).delete(hangup))
        .route("/registrations", get(registrations))
        .route("/connections", get(connections))
        .route("/reload", post(reload))
}

/// The `/api/v1` router: [`routes`] behind the access check. Nest it at
/// `/api/v1`.
pub fn router(app: &App) -> Router<App> {
    routes().layer(middleware::from_fn_with_state(app.clone(), access))
}

/// Why a request may not use the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The API is off (`[http] admin_token` unset): 404.
    Off,
    /// No usable `Authorization: Bearer` header: 401.
    NoToken,
    /// A bearer token that is not the admin token: 401 `invalid_token`.
    WrongToken,
}

/// Checks the `Authorization` header against `token` (pure).
pub fn check(token: Option<&AdminToken>, headers: &HeaderMap) -> Result<(), Denied> {
    let Some(token) = token else {
        return Err(Denied::Off);
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(Denied::NoToken);
    };
    if value.len() > MAX_AUTHORIZATION {
        return Err(Denied::WrongToken);
    }
    let given = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    match given {
        None => Err(Denied::NoToken),
        Some(t) if same_secret(t.as_bytes(), token.expose().as_bytes()) => Ok(()),
        Some(_) => Err(Denied::WrongToken),
    }
}

/// Equal secrets, in time independent of where they differ and of their
/// lengths: their SHA-256 digests are compared byte by byte without an
/// early exit.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

async fn access(State(app): State<App>, req: Request, next: Next) -> Response {
    match check(app.gw.config().http.admin_token.as_ref(), req.headers()) {
        Ok(()) => next.run(req).await,
        Err(Denied::Off) => super::assets::not_found(),
        Err(why) => {
            info!(?why, path = ?req.uri().path(), "status API request refused");
            unauthorized(why)
        }
    }
}

/// 401 with the RFC 6750 section 3 challenge.
fn unauthorized(why: Denied) -> Response {
    let challenge = match why {
        Denied::WrongToken => "Bearer realm=\"rtmp2sip\", error=\"invalid_token\"",
        _ => "Bearer realm=\"rtmp2sip\"",
    };
    let mut r = error(StatusCode::UNAUTHORIZED, "unauthorized");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    r
}

/// `status` with `body` as JSON, never cached.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `{"error": message}` with `status`.
pub fn error(status: StatusCode, message: &str) -> Response {
    json(status, &serde_json::json!({ "error": message }))
}

/// `GET /api/v1/status`.
#[derive(Debug, Serialize)]
pub struct StatusView {
    /// The gateway's version.
    pub version: &'static str,
    /// When it started, RFC 3339 UTC.
    pub started: String,
    /// Seconds since it started.
    pub uptime_s: u64,
    /// Calls now.
    pub calls: usize,
    /// RTMP connections now.
    pub connections: usize,
    /// Registrations now.
    pub registrations: usize,
    /// `[limits] max_calls`.
    pub max_calls: u32,
    /// Call detail records dropped because the writer fell behind.
    pub cdr_dropped: u64,
    /// False once shutdown began.
    pub ready: bool,
}

async fn status(State(app): State<App>) -> Response {
    let gw = &app.gw;
    let r = &gw.registry;
    let body = StatusView {
        version: env!("CARGO_PKG_VERSION"),
        started: crate::runtime::registry::rfc3339(gw.started),
        uptime_s: gw.started.elapsed().map(|d| d.as_secs()).unwrap_or(0),
        calls: r.calls().len(),
        connections: r.connections().len(),
        registrations: r.registrations().len(),
        max_calls: gw.config().limits.max_calls,
        cdr_dropped: r.cdr_dropped(),
        ready: gw.metrics.is_ready() && !gw.shutdown.is_cancelled(),
    };
    json(StatusCode::OK, &body)
}

async fn calls(State(app): State<App>) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({ "calls": app.gw.registry.calls() }),
    )
}

async fn call(State(app): State<App>, Path(call_id): Path<String>) -> Response {
    match app.gw.registry.call(&call_id) {
        Some(c) => json(StatusCode::OK, &c),
        None => error(StatusCode::NOT_FOUND, "no such call"),
    }
}

async fn hangup(State(app): State<App>, Path(call_id): Path<String>) -> Response {
    if app.gw.registry.hangup(&call_id) {
        info!(call_id = ?call_id, "status API: hangup requested");
        json(
            StatusCode::ACCEPTED,
            &serde_json::json!({ "call_id": call_id, "result": "hanging up" }),
        )
    } else {
        error(StatusCode::NOT_FOUND, "no such call")
    }
}

async fn registrations(State(app): State<App>) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({ "registrations": app.gw.registry.registrations() }),
    )
}

async fn connections(State(app): State<App>) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({ "connections": app.gw.registry.connections() }),
    )
}

/// `POST /api/v1/reload`: [`crate::runtime::reload::reload`] on a
/// blocking thread (it reads the configuration and certificate files).
async fn reload(State(app): State<App>) -> Response {
    let gw = app.gw.clone();
    info!("status API: configuration reload requested");
    match tokio::task::spawn_blocking(move || crate::runtime::reload::reload(&gw)).await {
        Ok(Ok(report)) => json(StatusCode::OK, &report),
        Ok(Err(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "reload task failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> AdminToken {
        let c = crate::config::Config::from_toml(
            std::path::Path::new("t.toml"),
            "[http]\nadmin_token = \"0123456789abcdef\"\n",
        )
        .expect("config");
        c.http.admin_token.expect("token")
    }

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn the_api_is_off_without_a_token() {
        assert_eq!(check(None, &headers("Bearer x")), Err(Denied::Off));
    }

    #[test]
    fn only_the_admin_bearer_token_passes() {
        let t = token();
        let t = Some(&t);
        assert_eq!(check(t, &HeaderMap::new()), Err(Denied::NoToken));
        assert_eq!(check(t, &headers("Basic abc")), Err(Denied::NoToken));
        assert_eq!(check(t, &headers("Bearer")), Err(Denied::NoToken));
        assert_eq!(
            check(t, &headers("Bearer 0123456789abcdeX")),
            Err(Denied::WrongToken)
        );
        assert_eq!(
            check(t, &headers("Bearer 0123456789abcdef0")),
            Err(Denied::WrongToken)
        );
        let long = format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION));
        assert_eq!(check(t, &headers(&long)), Err(Denied::WrongToken));
        assert_eq!(check(t, &headers("Bearer 0123456789abcdef")), Ok(()));
        assert_eq!(check(t, &headers("bearer 0123456789abcdef")), Ok(()));
    }

    #[test]
    fn a_refusal_carries_the_bearer_challenge() {
        let r = unauthorized(Denied::WrongToken);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let c = r.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(c.starts_with("Bearer ") && c.contains("invalid_token"));
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }
}
