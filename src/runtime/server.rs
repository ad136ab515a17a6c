//! RTMP listeners: one accept loop per `[rtmp] listen` address.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;
use tracing::{info, warn, Instrument};

use super::{connection, Gateway, RuntimeError};

/// Binds every listen address and spawns the accept loops.
///
/// # Errors
/// [`RuntimeError::RtmpBind`] for the first address that cannot be bound.
pub async fn listen_all(gw: &Arc<Gateway>, tracker: &TaskTracker) -> Result<(), RuntimeError> {
    for addr in &gw.config.rtmp.listen {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| RuntimeError::RtmpBind {
                addr: *addr,
                source,
            })?;
        info!(%addr, "RTMP listening");
        tokio::spawn(accept_loop(gw.clone(), listener, tracker.clone()));
    }
    Ok(())
}

/// At most one log line per [`LogThrottle::EVERY`] for one kind of
/// event; the ones in between are counted and reported with the next line.
#[derive(Debug, Default)]
struct LogThrottle {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogThrottle {
    const EVERY: Duration = Duration::from_secs(1);

    /// `Some(lines suppressed since the last one)` when a line may be
    /// logged at `now`; `None` (counted) otherwise.
    fn allow(&mut self, now: Instant) -> Option<u64> {
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

async fn accept_loop(gw: Arc<Gateway>, listener: TcpListener, tracker: TaskTracker) {
    let mut accept_errors = LogThrottle::default();
    let mut refusals = LogThrottle::default();
    let limits = &gw.config.limits;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = gw.shutdown.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                if let Some(suppressed) = accept_errors.allow(Instant::now()) {
                    warn!(error = %e, suppressed, "accept failed");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let admission = gw
            .connections
            .clone()
            .try_acquire_owned()
            .map_err(|_| "max_connections")
            .and_then(|permit| {
                gw.per_address
                    .admit(peer.ip(), limits.max_connections_per_ip, permit)
                    .ok_or("max_connections_per_ip")
            });
        let admission = match admission {
            Ok(a) => a,
            Err(key) => {
                if let Some(suppressed) = refusals.allow(Instant::now()) {
                    warn!(%peer, limit = key, suppressed, "refusing RTMP connection: [limits] reached");
                }
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let id = gw.next_connection_id();
        let span = tracing::info_span!("rtmp", conn = id, %peer);
        tracker.spawn(connection::run(gw.clone(), stream, admission).instrument(span));
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
