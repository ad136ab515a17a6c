//! RTMP listeners: one accept loop per `[rtmp] listen` address.

use std::sync::Arc;

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

async fn accept_loop(gw: Arc<Gateway>, listener: TcpListener, tracker: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = gw.shutdown.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = gw.connections.clone().try_acquire_owned() else {
            warn!(%peer, "refusing RTMP connection: [limits] max_connections reached");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let id = gw.next_connection_id();
        let span = tracing::info_span!("rtmp", conn = id, %peer);
        tracker.spawn(connection::run(gw.clone(), stream, permit).instrument(span));
    }
}
