//! One inbox per connection: everything other tasks tell a connection
//! (SIP events, new incoming calls, media task events, ended players,
//! registration changes) arrives on one channel of [`Inbound`], in order.
//! Per-frame audio toward the client does not: it has its own bounded
//! queue (`[media] rtmp_out_max_ms`, dropped by the media task when full),
//! and the connection polls the inbox first, so a burst of audio never
//! delays a SIP or control message.
//!
//! **Bound.** The channel is unbounded, but what may wait in it is not:
//! - messages that carry state (a call's answer, failure or end, a media
//!   timeout or end, a player's call ending, a registration change) are
//!   few by construction (at most a handful per call, player or
//!   registration, and a connection holds one call, `[limits] max_streams`
//!   players and 4 registrations) and are never dropped;
//! - messages that may repeat at a far end's will (18x provisionals, DTMF
//!   digits) are dropped once [`SOFT_LIMIT`] messages wait: the next
//!   provisional or the final answer carries the state again, and a digit
//!   lost under a flood is what RFC 4733 receivers drop too;
//! - new incoming calls: at most [`MAX_NEW_CALLS`] wait; more are answered
//!   480 by the UA (as the old 4-slot queue did).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::debug;

use crate::runtime::media_task::MediaEvent;
use crate::sip::event::{CallId, SipEvent, SipEventSink};
use crate::sip::incoming::{CallInbox, IncomingCall};
use crate::sip::registration::RegistrationEvent;

/// Droppable messages are dropped while this many messages wait.
pub const SOFT_LIMIT: usize = 256;
/// Most new incoming calls waiting in one inbox.
pub const MAX_NEW_CALLS: usize = 4;

/// One message for a connection.
#[derive(Debug)]
pub enum Inbound {
    /// A call's SIP event.
    Sip(CallId, SipEvent),
    /// A new INVITE routed to this connection.
    Incoming(IncomingCall),
    /// A call's media task event (tagged with the call id).
    Media(String, MediaEvent),
    /// `(stream_id, call_id)`: a call this connection plays by name ended.
    PlayEnded(u32, String),
    /// A registration's change (tagged with its AoR).
    Registration(String, RegistrationEvent),
    /// The operator ends this call (status API `DELETE
    /// /api/v1/calls/{call_id}`); one per request, never dropped.
    OperatorHangup(CallId),
}

impl Inbound {
    /// True for messages a far end may repeat at will.
    fn droppable(&self) -> bool {
        matches!(
            self,
            Inbound::Sip(_, SipEvent::Progress { .. }) | Inbound::Media(_, MediaEvent::Dtmf(_))
        )
    }
}

#[derive(Debug, Default)]
struct Counts {
    queued: AtomicUsize,
    new_calls: AtomicUsize,
}

/// The sending side; cheap to clone, one per producer.
#[derive(Debug, Clone)]
pub struct InboxSender {
    tx: mpsc::UnboundedSender<Inbound>,
    counts: Arc<Counts>,
}

/// The connection's receiving side.
#[derive(Debug)]
pub struct Inbox {
    rx: mpsc::UnboundedReceiver<Inbound>,
    counts: Arc<Counts>,
}

/// A new inbox and its first sender.
pub fn inbox() -> (InboxSender, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let counts = Arc::new(Counts::default());
    (
        InboxSender {
            tx,
            counts: counts.clone(),
        },
        Inbox { rx, counts },
    )
}

impl InboxSender {
    /// Queues `msg`; false when it was dropped (see the module doc) or the
    /// connection has gone.
    pub fn send(&self, msg: Inbound) -> bool {
        if msg.droppable() && self.counts.queued.load(Ordering::Relaxed) >= SOFT_LIMIT {
            debug!("connection inbox full: a repeatable message dropped");
            return false;
        }
        self.counts.queued.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(msg).is_err() {
            self.counts.queued.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// True once the connection has gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl Inbox {
    /// The next message (None when every sender is gone, which cannot
    /// happen while the connection holds its own sender).
    pub async fn recv(&mut self) -> Option<Inbound> {
        let msg = self.rx.recv().await?;
        self.counts.queued.fetch_sub(1, Ordering::Relaxed);
        if matches!(msg, Inbound::Incoming(_)) {
            self.counts.new_calls.fetch_sub(1, Ordering::Relaxed);
        }
        Some(msg)
    }
}

impl SipEventSink for InboxSender {
    fn event(&self, call_id: CallId, event: SipEvent) {
        self.send(Inbound::Sip(call_id, event));
    }
}

impl CallInbox for InboxSender {
    fn incoming(&self, call: IncomingCall) -> Result<(), IncomingCall> {
        let waiting = self.counts.new_calls.fetch_add(1, Ordering::Relaxed);
        if waiting >= MAX_NEW_CALLS || self.tx.is_closed() {
            self.counts.new_calls.fetch_sub(1, Ordering::Relaxed);
            return Err(call);
        }
        self.counts.queued.fetch_add(1, Ordering::Relaxed);
        match self.tx.send(Inbound::Incoming(call)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendError(Inbound::Incoming(call))) => {
                self.counts.queued.fetch_sub(1, Ordering::Relaxed);
                self.counts.new_calls.fetch_sub(1, Ordering::Relaxed);
                Err(call)
            }
            Err(_) => Ok(()),
        }
    }

    fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl crate::runtime::streams::PlayEnded for InboxSender {
    fn ended(&self, stream_id: u32, call_id: &str) {
        self.send(Inbound::PlayEnded(stream_id, call_id.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::event::SipStatus;

    fn progress() -> Inbound {
        Inbound::Sip(
            CallId::new("c"),
            SipEvent::Progress {
                status: SipStatus::new(180, "Ringing"),
                sdp: None,
            },
        )
    }

    #[tokio::test]
    async fn repeatable_messages_drop_at_the_soft_limit_state_never() {
        let (tx, mut rx) = inbox();
        for _ in 0..SOFT_LIMIT {
            assert!(tx.send(progress()));
        }
        assert!(!tx.send(progress()), "a 181st... provisional is dropped");
        assert!(!tx.send(Inbound::Media("c".into(), MediaEvent::Dtmf('1'))));
        assert!(tx.send(Inbound::Sip(
            CallId::new("c"),
            SipEvent::Failed(SipStatus::new(486, "Busy"))
        )));
        assert!(tx.send(Inbound::Media("c".into(), MediaEvent::RtpTimeout)));
        let mut n = 0;
        while let Ok(Some(_)) =
            tokio::time::timeout(std::time::Duration::from_millis(10), rx.recv()).await
        {
            n += 1;
        }
        assert_eq!(n, SOFT_LIMIT + 2);
        assert!(tx.send(progress()), "room again once drained");
    }
}
