//! RTMP listeners: one accept loop per `[rtmp] listen` address, and one
//! per `[rtmp] tls_listen` address (RTMPS: the TLS handshake, then the
//! same connection code).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;
use tracing::{info, warn, Instrument};

use super::connection::admission::Admission;
use super::metrics::ConnTransport;
use super::registry::Origin;
use super::{connection, Gateway, RuntimeError};

/// Binds every listen address and spawns the accept loops.
///
/// # Errors
/// [`RuntimeError::RtmpBind`] for the first address that cannot be bound,
/// [`RuntimeError::Tls`] when `tls_listen` is set and the certificate or
/// key cannot be used.
pub async fn listen_all(gw: &Arc<Gateway>, tracker: &TaskTracker) -> Result<(), RuntimeError> {
    let config = gw.config();
    for addr in &config.rtmp.listen {
        let listener = bind(*addr).await?;
        info!(%addr, "RTMP listening");
        tokio::spawn(accept_loop(gw.clone(), listener, false, tracker.clone()));
    }
    if gw.rtmps.current().is_some() {
        for addr in &config.rtmp.tls_listen {
            let listener = bind(*addr).await?;
            info!(%addr, "RTMPS listening");
            tokio::spawn(accept_loop(gw.clone(), listener, true, tracker.clone()));
        }
    }
    Ok(())
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, RuntimeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| RuntimeError::RtmpBind { addr, source })
}

/// Admits a connection from `ip` against `[limits] max_connections` and
/// `max_connections_per_ip`; `Err(the limit's key)` when one is reached.
pub(super) fn admit(gw: &Gateway, ip: IpAddr) -> Result<Admission, &'static str> {
    gw.connections
        .try_acquire()
        .ok_or("max_connections")
        .and_then(|permit| {
            let per_ip = gw.config().limits.max_connections_per_ip;
            gw.per_address
                .admit(ip, per_ip, permit)
                .ok_or("max_connections_per_ip")
        })
}

/// A listener that yields admitted connections: accept errors (EMFILE
/// and friends) are logged at most once a second and backed off 50 ms; a
/// connection over `[limits]` is closed at once, before a byte is read,
/// and logged at most once a second.
pub(super) struct Acceptor {
    listener: TcpListener,
    what: &'static str,
    errors: LogThrottle,
    refusals: LogThrottle,
}

impl Acceptor {
    /// `what` names the listener in log lines ("RTMP", "HTTP").
    pub(super) fn new(listener: TcpListener, what: &'static str) -> Self {
        Self {
            listener,
            what,
            errors: LogThrottle::default(),
            refusals: LogThrottle::default(),
        }
    }

    /// The next admitted connection; `None` once the gateway shuts down.
    pub(super) async fn next(
        &mut self,
        gw: &Gateway,
    ) -> Option<(TcpStream, SocketAddr, Admission)> {
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = gw.shutdown.cancelled() => return None,
            };
            let (stream, peer) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    if let Some(suppressed) = self.errors.allow(Instant::now()) {
                        warn!(error = %e, suppressed, listener = self.what, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match admit(gw, peer.ip()) {
                Ok(admission) => return Some((stream, peer, admission)),
                Err(key) => {
                    gw.metrics.refused("connection", "limits");
                    if let Some(suppressed) = self.refusals.allow(Instant::now()) {
                        warn!(%peer, limit = key, suppressed, listener = self.what,
                            "refusing connection: [limits] reached");
                    }
                }
            }
        }
    }
}

/// At most one log line per [`LogThrottle::EVERY`] for one kind of
/// event; the ones in between are counted and reported with the next line.
#[derive(Debug, Default)]
pub(super) struct LogThrottle {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogThrottle {
    const EVERY: Duration = Duration::from_secs(1);

    /// `Some(lines suppressed since the last one)` when a line may be
    /// logged at `now`; `None` (counted) otherwise.
    pub(super) fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(t) if now.saturating_duration_since(t) < Self::EVERY => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

async fn accept_loop(gw: Arc<Gateway>, listener: TcpListener, tls: bool, tracker: TaskTracker) {
    let mut acceptor = Acceptor::new(listener, "RTMP");
    while let Some((stream, peer, admission)) = acceptor.next(&gw).await {
        let _ = stream.set_nodelay(true);
        let id = gw.next_connection_id();
        // RTMPS: the certificate in force now (a reload may have changed it).
        let tls = match (tls, gw.rtmps.current()) {
            (false, _) => None,
            (true, Some(acceptor)) => Some(acceptor),
            (true, None) => continue,
        };
        match &tls {
            None => {
                let span = tracing::info_span!("rtmp", conn = id, %peer);
                let metric = gw.metrics.connection(ConnTransport::Rtmp);
                let origin = Origin {
                    id,
                    transport: ConnTransport::Rtmp.label(),
                    peer,
                };
                let Some(stream) = to_worker(stream) else {
                    continue;
                };
                let gw2 = gw.clone();
                let run = async move {
                    if let Some(stream) = on_worker(stream) {
                        connection::run(gw2, stream, admission, origin).await;
                    }
                    drop(metric);
                };
                gw.media
                    .pool
                    .spawn_connection(&tracker, run.instrument(span));
            }
            Some(acceptor) => {
                let span = tracing::info_span!("rtmps", conn = id, %peer);
                let origin = Origin {
                    id,
                    transport: ConnTransport::Rtmps.label(),
                    peer,
                };
                let Some(stream) = to_worker(stream) else {
                    continue;
                };
                let gw2 = gw.clone();
                let acceptor = acceptor.clone();
                let run = async move {
                    if let Some(stream) = on_worker(stream) {
                        run_tls(gw2, acceptor, stream, admission, origin).await;
                    }
                };
                gw.media
                    .pool
                    .spawn_connection(&tracker, run.instrument(span));
            }
        }
    }
}

/// Takes an accepted socket off this runtime's poller, for a media
/// worker's runtime to adopt ([`on_worker`]); `None` (logged) if it
/// cannot be.
fn to_worker(stream: TcpStream) -> Option<std::net::TcpStream> {
    match stream.into_std() {
        Ok(s) => Some(s),
        Err(e) => {
            info!(error = %e, "cannot hand the connection to a media worker");
            None
        }
    }
}

/// Registers a socket from [`to_worker`] with the runtime this runs on
/// (the media worker's); `None` (logged) if it cannot be.
fn on_worker(stream: std::net::TcpStream) -> Option<TcpStream> {
    match TcpStream::from_std(stream) {
        Ok(s) => Some(s),
        Err(e) => {
            info!(error = %e, "cannot register the connection on its media worker");
            None
        }
    }
}

/// RTMPS: the TLS handshake (within `[limits] handshake_timeout_s`), then
/// the RTMP connection on the decrypted stream.
async fn run_tls(
    gw: Arc<Gateway>,
    acceptor: TlsAcceptor,
    stream: TcpStream,
    admission: Admission,
    origin: Origin,
) {
    let limit = gw.config().limits.handshake_timeout;
    match tokio::time::timeout(limit, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => {
            let _metric = gw.metrics.connection(ConnTransport::Rtmps);
            connection::run(gw, tls, admission, origin).await;
        }
        Ok(Err(e)) => info!(error = %e, "TLS handshake failed"),
        Err(_) => info!("TLS handshake timed out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_allows_one_line_per_second_and_counts_the_rest() {
        let t0 = Instant::now();
        let mut t = LogThrottle::default();
        assert_eq!(t.allow(t0), Some(0));
        for ms in 1..100 {
            assert_eq!(t.allow(t0 + Duration::from_millis(ms)), None);
        }
        assert_eq!(t.allow(t0 + Duration::from_millis(1000)), Some(99));
    }
}
