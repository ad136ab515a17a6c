//! The transport-level guard: every request the UDP transport parsed passes
//! here before rsipstack looks up or creates a transaction.
//!
//! [`SipGuard`] is an rsipstack `TransportEventInspector`. For each
//! received request, in order:
//!
//! 1. **rate** (`[sip] requests_per_s`, `requests_burst`): a request other
//!    than ACK costs one token of its source IP's bucket
//!    ([`super::rate`]); over budget it is dropped without an answer;
//! 2. **sanity** ([`super::sanity`]): a request breaking RFC 3261 basics is
//!    answered 400 (483, 505, 416), or dropped when it is an ACK or its
//!    top Via does not parse;
//! 3. **real source**: any `received` and `rport` value in the top Via is
//!    replaced by the packet's source address (RFC 3261 §18.2.1: `received`
//!    always; RFC 3581 §4: `rport` when the request has one), so nothing
//!    after this (`[sip] trusted` in [`super::incoming`], the response
//!    address) can be steered by what the sender wrote;
//! 4. **trust**: a new INVITE (no To tag) from outside `[sip] trusted` is
//!    answered 403 without creating a transaction.
//!
//! Every refusal (steps 2 and 4) is stateless ([`super::stateless`]): sent
//! once, to the packet's source, never retransmitted, and only within the
//! source's refusal budget (`[sip] refusals_per_s`, `refusals_burst`);
//! beyond it the request is dropped. A 403 therefore cannot be used for
//! reflection or amplification (RFC 3261 §26.1.5).
//!
//! It also bounds TCP and TLS connections ([`streams`]): a `New`
//! connection beyond `[sip] max_connections` or `max_connections_per_ip`
//! is closed at once. Requests on stream connections go through the same
//! four steps (their source is the connection's peer).
//!
//! [`SipGuard::inspect`] is the sans-IO core (`now` passed in); the
//! inspector impl only adds the clock and the socket send.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Instant;

use rsipstack::sip::{HeadersExt, Method, Param, Request, Response, SipMessage, ToTypedHeader};
use rsipstack::transaction::endpoint::TransportEventInspector;
use rsipstack::transport::TransportEvent;
use tracing::{debug, trace};

use rsipstack::transport::SipConnection;

use self::streams::{ConnKey, StreamCount};
use super::incoming::is_trusted;
use super::rate::{Budget, RateLimits};
use super::sanity::{self, Violation};
use super::stateless;
use crate::config::SipConfig;

/// What happens to one received request.
#[derive(Debug)]
pub enum Verdict {
    /// Hand it to rsipstack (with the top Via rewritten).
    Pass(Box<Request>),
    /// Answer it with this stateless response, then forget it.
    Answer(Box<Response>, Refused),
    /// Forget it without an answer.
    Drop(Dropped),
}

/// Why a request was refused with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refused {
    /// It broke RFC 3261 basics.
    Insane(Violation),
    /// A new INVITE from outside `[sip] trusted`: 403.
    Untrusted,
}

/// Why a request was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dropped {
    /// The source is over its request budget.
    OverBudget,
    /// It should be refused, but the source is over its refusal budget.
    RefusalOverBudget(Refused),
    /// An ACK breaking RFC 3261 basics (never answered).
    InsaneAck(Violation),
    /// The top Via does not parse: there is nowhere to answer.
    BadVia,
}

/// Rate limits, sanity checks, real-source Via and trust for received
/// requests (see the module docs).
#[derive(Debug)]
pub struct SipGuard {
    trusted: std::sync::Arc<super::trust::TrustedRanges>,
    local: SocketAddr,
    server: String,
    limits: Mutex<RateLimits>,
    streams: Mutex<StreamCount>,
}

impl SipGuard {
    /// A guard for `cfg`'s trust ranges and budgets; `local` is our SIP
    /// socket (requests from it are the gateway calling itself).
    /// `trusted` is shared with the user agent (a live reload replaces it).
    pub fn new(
        cfg: &SipConfig,
        trusted: std::sync::Arc<super::trust::TrustedRanges>,
        local: SocketAddr,
    ) -> Self {
        let r = cfg.rate;
        let limits = RateLimits::new(
            Budget {
                per_s: r.requests_per_s,
                burst: r.requests_burst,
            },
            Budget {
                per_s: r.refusals_per_s,
                burst: r.refusals_burst,
            },
            r.sources,
        );
        Self {
            trusted,
            local,
            server: cfg.user_agent.clone(),
            limits: Mutex::new(limits),
            streams: Mutex::new(StreamCount::new(cfg.stream)),
        }
    }

    /// Decides what happens to `req`, received from `source` at `now`.
    pub fn inspect(&self, now: Instant, mut req: Request, source: SocketAddr) -> Verdict {
        let ack = req.method == Method::Ack;
        if !ack && !self.with_limits(|l| l.requests.allow(now, source.ip())) {
            return Verdict::Drop(Dropped::OverBudget);
        }
        if !sanity::top_via_parses(&req) {
            return Verdict::Drop(Dropped::BadVia);
        }
        if let Err(v) = sanity::check_request(&req) {
            if ack {
                return Verdict::Drop(Dropped::InsaneAck(v));
            }
            return self.refuse(now, &req, source, v.status(), Refused::Insane(v));
        }
        if set_real_source(&mut req, source).is_err() {
            return Verdict::Drop(Dropped::BadVia);
        }
        if is_new_invite(&req) && !is_trusted(&self.trusted.get(), source, self.local) {
            return self.refuse(now, &req, source, 403, Refused::Untrusted);
        }
        Verdict::Pass(Box::new(req))
    }

    fn refuse(
        &self,
        now: Instant,
        req: &Request,
        source: SocketAddr,
        code: u16,
        why: Refused,
    ) -> Verdict {
        if self.with_limits(|l| l.refusals.allow(now, source.ip())) {
            let resp = stateless::response(req, code, &self.server);
            Verdict::Answer(Box::new(resp), why)
        } else {
            Verdict::Drop(Dropped::RefusalOverBudget(why))
        }
    }

    fn with_limits<T>(&self, f: impl FnOnce(&mut RateLimits) -> T) -> T {
        let mut guard = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    fn with_streams<T>(&self, f: impl FnOnce(&mut StreamCount) -> T) -> T {
        let mut guard = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// Counts a new stream connection, or closes it over a bound: our
    /// side shuts down (FIN) and its token is cancelled; rsipstack's read
    /// loop then ends when the peer closes or at the idle timeout.
    async fn stream_opened(&self, conn: &SipConnection) {
        let Some((key, ip)) = stream_key(conn) else {
            return;
        };
        if let Err(why) = self.with_streams(|s| s.opened(key.clone(), ip)) {
            debug!(local = %key.0, remote = %key.1, ?why, "SIP connection over limit: closed");
            if let Some(token) = conn.cancel_token() {
                token.cancel();
            }
            let _ = conn.close().await;
        }
    }

    fn stream_closed(&self, conn: &SipConnection) {
        if let Some((key, ip)) = stream_key(conn) {
            self.with_streams(|s| s.closed(&key, ip));
        }
    }

    async fn handle_event(&self, event: TransportEvent) -> Option<TransportEvent> {
        let (req, conn, from) = match event {
            TransportEvent::Incoming(SipMessage::Request(req), conn, from) => (req, conn, from),
            TransportEvent::New(conn) => {
                self.stream_opened(&conn).await;
                return Some(TransportEvent::New(conn));
            }
            TransportEvent::Closed(conn) => {
                self.stream_closed(&conn);
                return Some(TransportEvent::Closed(conn));
            }
            other => return Some(other),
        };
        let Ok(source) = from.get_socketaddr() else {
            return Some(TransportEvent::Incoming(req.into(), conn, from));
        };
        match self.inspect(Instant::now(), req, source) {
            Verdict::Pass(req) => Some(TransportEvent::Incoming((*req).into(), conn, from)),
            Verdict::Answer(resp, why) => {
                debug!(src = %source, code = resp.status_code.code(), ?why, "request refused");
                if let Err(e) = conn.send((*resp).into(), Some(&from)).await {
                    debug!(src = %source, error = %e, "cannot send refusal");
                }
                None
            }
            Verdict::Drop(why) => {
                trace!(src = %source, ?why, "request dropped");
                None
            }
        }
    }
}

impl TransportEventInspector for SipGuard {
    fn handle<'life0, 'async_trait>(
        &'life0 self,
        event: TransportEvent,
    ) -> Pin<Box<dyn Future<Output = Option<TransportEvent>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(self.handle_event(event))
    }
}

/// A stream connection's identity and peer IP; `None` for UDP.
fn stream_key(conn: &SipConnection) -> Option<(ConnKey, IpAddr)> {
    if !matches!(conn, SipConnection::Tcp(_) | SipConnection::Tls(_)) {
        return None;
    }
    let remote = conn.get_remote_addr()?;
    let ip = remote.get_socketaddr().ok()?.ip();
    Some(((conn.get_addr().to_string(), remote.to_string()), ip))
}

/// An INVITE outside any dialog: its To has no tag (RFC 3261 §12.1).
fn is_new_invite(req: &Request) -> bool {
    req.method == Method::Invite
        && req
            .to_header()
            .ok()
            .and_then(|t| t.tag().ok().flatten())
            .is_none()
}

/// Rewrites the top Via: every `received` and `rport` removed, then
/// `received=<source IP>` and, when the request asked for it (an `rport`
/// was present), `rport=<source port>`.
fn set_real_source(req: &mut Request, source: SocketAddr) -> Result<(), rsipstack::sip::Error> {
    req.via_header_mut()?.update_first_value(|via| {
        let mut typed = via.typed()?;
        let rport = typed.params.iter().any(|p| is_param(p, "rport"));
        typed
            .params
            .retain(|p| !is_param(p, "rport") && !is_param(p, "received"));
        let ip = match source.ip() {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        };
        typed
            .params
            .push(Param::Received(rsipstack::sip::param::Received::new(ip)));
        if rport {
            typed.params.push(Param::Rport(Some(source.port())));
        }
        Ok(typed.into())
    })
}

/// `p` is the Via parameter `name`, parsed or not, in any letter case.
fn is_param(p: &Param, name: &str) -> bool {
    match p {
        Param::Rport(_) => name == "rport",
        Param::Received(_) => name == "received",
        Param::Other(n, _) => n.value().eq_ignore_ascii_case(name),
        _ => false,
    }
}

pub mod streams;
#[cfg(test)]
mod tests;
