//! The accept loop of a `tls:` SIP listener (RFC 3261 §26.2, RFC 5630),
//! ours rather than rsipstack's: rsipstack 0.7.14 runs each TLS handshake
//! without a deadline and without counting it, so a peer that opens TCP
//! connections and never sends a ClientHello holds a descriptor and a
//! task each for as long as it likes, and [`super::guard`] (which counts
//! connections from rsipstack's `New` event, sent only after the
//! handshake) never sees them.
//!
//! Here a handshake must finish within `[sip] tls_handshake_timeout_s`,
//! and handshakes in progress are bounded like open connections (`[sip]
//! max_connections` in total, `max_connections_per_ip` per address; over
//! either the connection is closed at once). A finished handshake is
//! handed to rsipstack (`TlsConnection::from_server_stream`,
//! `TransportLayer::add_connection`), which then frames, reads and
//! reports it as for its own listener; the guard counts it from there.
//!
//! ```text
//! peer ──TCP──▶ accept ─ pending < bounds? ─no─▶ close
//!                          │yes
//!                          ▼
//!              rustls handshake ≤ timeout ─fail/late─▶ close (counted, logged)
//!                          │done
//!                          ▼
//!              rsipstack connection (guard: open-connection bounds)
//! ```

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transport::tls::TlsConnection;
use rsipstack::transport::{SipAddr, SipConnection, TransportLayer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::guard::streams::{ConnKey, StreamCount};
use crate::config::SipStreamLimits;

/// A bound `tls:` listener, ready to accept once the endpoint exists.
pub struct TlsListener {
    /// The bound socket.
    pub listener: TcpListener,
    /// How its connections are accepted.
    pub accept: TlsAccept,
}

/// How a `tls:` listener's connections are accepted.
pub struct TlsAccept {
    /// The server configuration (certificate chain and key).
    pub acceptor: TlsAcceptor,
    /// Bounds: in-progress handshakes count against `max_connections*`,
    /// and each must finish within `handshake_timeout`.
    pub limits: SipStreamLimits,
    /// The listener's address as advertised (Via, Contact).
    pub local: SipAddr,
}

/// Handshakes in progress, in total and per IP (the same bounds as open
/// connections, counted apart from them).
type Pending = Arc<Mutex<StreamCount>>;

/// Accepts on `listener` until `stop`, each connection handled in its own
/// task (see the module docs).
pub fn spawn(l: TlsListener, endpoint: EndpointInnerRef, stop: CancellationToken) {
    let TlsListener { listener, accept } = l;
    let pending: Pending = Arc::new(Mutex::new(StreamCount::new(accept.limits)));
    let accept = Arc::new(accept);
    tokio::spawn(async move {
        loop {
            let (stream, remote) = tokio::select! {
                _ = stop.cancelled() => break,
                r = listener.accept() => match r {
                    Ok(v) => v,
                    Err(e) => {
                        // EMFILE and the like: back off instead of spinning.
                        warn!(error = %e, "SIP TLS accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Some(slot) = PendingSlot::claim(&pending, &listener, remote) else {
                info!(%remote, "SIP TLS connection refused: too many handshakes in progress");
                continue; // `stream` dropped: closed
            };
            let accept = accept.clone();
            let endpoint = endpoint.clone();
            let stop = stop.child_token();
            tokio::spawn(async move {
                handshake(stream, remote, &accept, &endpoint.transport_layer, stop).await;
                drop(slot);
            });
        }
        debug!("SIP TLS listener stopped");
    });
}

/// One handshake within the deadline; on success the connection goes to
/// rsipstack.
async fn handshake(
    stream: TcpStream,
    remote: SocketAddr,
    accept: &TlsAccept,
    transport: &TransportLayer,
    stop: CancellationToken,
) {
    let done = tokio::time::timeout(
        accept.limits.handshake_timeout,
        accept.acceptor.accept(stream),
    );
    let tls = tokio::select! {
        _ = stop.cancelled() => return,
        r = done => match r {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                info!(%remote, error = %e, "SIP TLS handshake failed");
                return;
            }
            Err(_) => {
                info!(%remote, timeout = ?accept.limits.handshake_timeout, "SIP TLS handshake timed out");
                return;
            }
        },
    };
    let remote_sip = SipAddr {
        r#type: Some(rsipstack::sip::Transport::Tls),
        addr: remote.into(),
    };
    match TlsConnection::from_server_stream(tls, accept.local.clone(), remote_sip, Some(stop)).await
    {
        Ok(conn) => transport.add_connection(SipConnection::Tls(conn)),
        Err(e) => warn!(%remote, error = %e, "SIP TLS connection not started"),
    }
}

/// A handshake's place in [`Pending`], given back when dropped.
struct PendingSlot {
    pending: Pending,
    key: ConnKey,
    ip: IpAddr,
}

impl PendingSlot {
    /// A place for `remote`'s handshake, or `None` over a bound.
    fn claim(pending: &Pending, listener: &TcpListener, remote: SocketAddr) -> Option<Self> {
        let local = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let key = (local, remote.to_string());
        let ip = remote.ip();
        pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .opened(key.clone(), ip)
            .ok()?;
        Some(Self {
            pending: pending.clone(),
            key,
            ip,
        })
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed(&self.key, self.ip);
    }
}
