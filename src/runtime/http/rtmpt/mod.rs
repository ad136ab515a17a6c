//! RTMPT: RTMP tunnelled over HTTP `POST`s on the HTTP listener, for the
//! clients that cannot use WebSocket (ffmpeg, librtmp, Flash in AIR).
//!
//! ```text
//! POST /open/1                 → 200 "<32 hex digits>\n"        a session (its own [limits] admission)
//! POST /send/<id>/<seq>  bytes → 200 <interval> <server bytes>  client bytes into the RTMP connection
//! POST /idle/<id>/<seq>        → 200 <interval> <server bytes>  a poll
//! POST /close/<id>/<seq>       → 200 00                          the end
//! ```
//!
//! All with `Content-Type: application/x-fcs`. Each session is an
//! [`session::RtmptStream`] byte transport run by
//! [`crate::runtime::connection::run`], the code of RTMP over TCP, under the
//! same `[limits]` (the session holds one admission of `max_connections` /
//! `max_connections_per_ip`, besides the HTTP connections that carry it),
//! `[auth]` and `[policy]`. Pieces: [`path`] (pure parsing), [`core`]
//! (sans-IO session), [`session`] (its driver).
//!
//! Answers: 404 unknown or foreign session id (ids are 128-bit random and
//! bound to the opener's address key), 400 bad sequence number, reused or
//! out-of-window `<seq>` or an empty `send` body, 413 a body over
//! [`MAX_BODY`], 429 `[http] rtmpt_max_sessions_per_ip` reached, 503
//! `[limits]` reached or client bytes over [`MAX_INBOUND`].

pub mod core;
pub mod path;
pub mod session;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use rand::RngCore;
use tracing::{debug, info, Instrument};

use self::core::{Limits, Request, RtmptError};
use self::path::{Command, PathError, SessionId};
use self::session::{ExchangeError, RtmptStream, Shared};
use super::{App, ConnInfo};
use crate::runtime::connection::{self, admission::AddrKey};
use crate::runtime::server::admit;

/// Most bytes of one request body.
pub const MAX_BODY: usize = 64 * 1024;
/// Most requests of one session in flight (waiting for their turn).
pub const WINDOW: u64 = 16;
/// Most client bytes queued for one session's RTMP connection.
pub const MAX_INBOUND: usize = 256 * 1024;
/// Most server bytes queued for one session's client (then the RTMP
/// connection waits for a poll).
pub const MAX_OUTBOUND: usize = 256 * 1024;

const CONTENT_TYPE: &str = "application/x-fcs";

/// The open sessions.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<SessionId, Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    shared: Arc<Shared>,
    owner: AddrKey,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Entry>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session `id` if `ip` opened it.
    fn get(&self, id: SessionId, ip: IpAddr) -> Option<Arc<Shared>> {
        let map = self.lock();
        let e = map.get(&id)?;
        (e.owner == AddrKey::of(ip)).then(|| e.shared.clone())
    }

    /// Adds a session with a fresh id unless `ip` has `max` open.
    fn insert(&self, ip: IpAddr, max: u32, shared: Arc<Shared>) -> Option<SessionId> {
        let owner = AddrKey::of(ip);
        let mut map = self.lock();
        if map.values().filter(|e| e.owner == owner).count() >= max as usize {
            return None;
        }
        let id = loop {
            let mut b = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut b);
            let id = SessionId(u128::from_be_bytes(b));
            if !map.contains_key(&id) {
                break id;
            }
        };
        map.insert(id, Entry { shared, owner });
        Some(id)
    }

    fn remove(&self, id: SessionId) {
        self.lock().remove(&id);
    }

    /// Open sessions.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is open (`len() == 0`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Answers a `POST` if its path is an RTMPT command; `None` when it is not
/// (the caller answers 404/405), or when RTMPT is off.
pub async fn route(
    app: &App,
    conn: &ConnInfo,
    path: &str,
    headers: &HeaderMap,
    body: Body,
) -> Option<Response> {
    if !app.gw.config().http.rtmpt {
        return None;
    }
    let cmd = match path::parse(path) {
        Ok(c) => c,
        Err(PathError::NotRtmpt) => return None,
        Err(PathError::BadId) => return Some(status(StatusCode::NOT_FOUND, "unknown session\n")),
        Err(PathError::BadSeq) => {
            return Some(status(StatusCode::BAD_REQUEST, "bad sequence number\n"))
        }
    };
    conn.saw_rtmpt(Instant::now());
    let body = match read_body(headers, body).await {
        Ok(b) => b,
        Err(r) => return Some(r),
    };
    Some(match cmd {
        Command::Open => open(app, conn).await,
        Command::Send(id, seq) if body.is_empty() => {
            debug!(?id, seq, "RTMPT send without a body");
            status(StatusCode::BAD_REQUEST, "empty send\n")
        }
        Command::Send(id, seq) => exchange(app, conn, id, seq, Request::Send(body)).await,
        Command::Idle(id, seq) => exchange(app, conn, id, seq, Request::Idle).await,
        Command::Close(id, seq) => exchange(app, conn, id, seq, Request::Close).await,
    })
}

fn status(code: StatusCode, text: &'static str) -> Response {
    (code, text).into_response()
}

fn fcs(body: Bytes) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// The body, at most [`MAX_BODY`] bytes (413 beyond, before reading when
/// `Content-Length` says so).
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    let too_big = || status(StatusCode::PAYLOAD_TOO_LARGE, "body too large\n");
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_big());
    }
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        debug!(error = %e, "RTMPT body refused");
        too_big()
    })
}

async fn open(app: &App, conn: &ConnInfo) -> Response {
    let gw = &app.gw;
    let config = gw.config();
    let cfg = &config.http;
    let ip = conn.peer.ip();
    let admission = match admit(gw, ip) {
        Ok(a) => a,
        Err(key) => {
            info!(limit = key, "RTMPT open refused: [limits] reached");
            gw.metrics.refused("connection", "limits");
            return status(StatusCode::SERVICE_UNAVAILABLE, "limits reached\n");
        }
    };
    let limits = Limits {
        window: WINDOW,
        max_inbound: MAX_INBOUND,
        max_outbound: MAX_OUTBOUND,
        idle_timeout: cfg.rtmpt_idle_timeout,
    };
    let shared = Shared::new(limits, Instant::now());
    let Some(id) = app
        .rtmpt
        .insert(ip, cfg.rtmpt_max_sessions_per_ip, shared.clone())
    else {
        info!("RTMPT open refused: [http] rtmpt_max_sessions_per_ip reached");
        return status(StatusCode::TOO_MANY_REQUESTS, "too many RTMPT sessions\n");
    };
    let conn_id = gw.next_connection_id();
    let span = tracing::info_span!(parent: None, "rtmpt", conn = conn_id, peer = %conn.peer, session = ?id);
    let origin = crate::runtime::registry::Origin {
        id: conn_id,
        transport: crate::runtime::metrics::ConnTransport::Rtmpt.label(),
        peer: conn.peer,
    };
    let stream = RtmptStream::new(shared.clone());
    let gw2 = gw.clone();
    app.tracker.spawn(
        async move {
            info!("RTMP over RTMPT");
            let _metric = gw2
                .metrics
                .connection(crate::runtime::metrics::ConnTransport::Rtmpt);
            connection::run(gw2, stream, admission, origin).await;
        }
        .instrument(span.clone()),
    );
    tokio::spawn(reap(app.rtmpt.clone(), id, shared).instrument(span));
    fcs(Bytes::from(format!("{id}\n")))
}

/// Forgets the session when it ends (closed or idle past its timeout).
async fn reap(sessions: Arc<Sessions>, id: SessionId, shared: Arc<Shared>) {
    loop {
        let changed = shared.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let deadline = shared.deadline();
        if shared.expire(Instant::now()) {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.into()) => {}
            _ = changed => {}
        }
    }
    sessions.remove(id);
    debug!("RTMPT session ended");
}

async fn exchange(app: &App, conn: &ConnInfo, id: SessionId, seq: u64, req: Request) -> Response {
    let Some(shared) = app.rtmpt.get(id, conn.peer.ip()) else {
        return status(StatusCode::NOT_FOUND, "unknown session\n");
    };
    let result = shared.exchange(seq, req).await;
    if shared.expire(Instant::now()) {
        // Closed (or told it is closing): its place is free at once.
        app.rtmpt.remove(id);
    }
    match result {
        Ok(answer) => fcs(answer),
        Err(ExchangeError::Ended) | Err(ExchangeError::Refused(RtmptError::Ended)) => {
            status(StatusCode::NOT_FOUND, "session ended\n")
        }
        Err(ExchangeError::Refused(RtmptError::InboundFull)) => {
            status(StatusCode::SERVICE_UNAVAILABLE, "too many bytes queued\n")
        }
        Err(ExchangeError::Refused(e)) => {
            debug!(?id, seq, error = %e, "RTMPT request refused");
            status(StatusCode::BAD_REQUEST, "bad sequence number\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn shared() -> Arc<Shared> {
        let limits = Limits {
            window: WINDOW,
            max_inbound: MAX_INBOUND,
            max_outbound: MAX_OUTBOUND,
            idle_timeout: Duration::from_secs(15),
        };
        Shared::new(limits, Instant::now())
    }

    #[test]
    fn sessions_are_capped_per_address_and_bound_to_it() {
        let t = Sessions::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let a_same_64: IpAddr = "2001:db8::1".parse().unwrap();
        let a_other_in_64: IpAddr = "2001:db8::2".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let one = t.insert(a, 2, shared()).unwrap();
        let two = t.insert(a, 2, shared()).unwrap();
        assert_ne!(one, two);
        assert!(t.insert(a, 2, shared()).is_none(), "third from one address");
        assert!(t.insert(b, 2, shared()).is_some(), "another address");
        assert!(t.get(one, a).is_some());
        assert!(t.get(one, b).is_none(), "foreign address: unknown");
        t.remove(one);
        assert!(t.get(one, a).is_none());
        assert!(t.insert(a, 2, shared()).is_some(), "place freed");
        let v6 = t.insert(a_same_64, 1, shared()).unwrap();
        assert!(t.get(v6, a_other_in_64).is_some(), "same /64");
        assert!(
            t.insert(a_other_in_64, 1, shared()).is_none(),
            "counted per /64"
        );
        assert_eq!(t.len(), 4);
    }
}
