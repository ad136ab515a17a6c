//! One call's media as a media worker owns it: the sans-IO bridge, its
//! sockets (non-blocking, registered with the worker's poller), the ends
//! of its [`MediaHandle`](crate::runtime::streams::MediaHandle), its work
//! budget and stats. Everything here is synchronous: the worker calls
//! [`CallMedia::tick`] once per tick and never waits on it.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::media::bridge::{Bridge, MediaEvent as BridgeEvent, TransmitKind};
use crate::media::budget::WorkBudget;
use crate::media::codec::Negotiated;
use crate::media::MediaError;
use crate::runtime::connection::inbox::{Inbound, InboxSender};
use crate::runtime::media_task::MediaEvent;
use crate::runtime::metrics::Metrics;
use crate::runtime::ports::{PortLease, StdPortPair};
use crate::runtime::streams::{MediaCommand, MediaSnapshot, PlayAudio};
use crate::time::RtmpTimestamp;

/// Most commands (published audio, DTMF, subscriptions) taken from a
/// call's queue in one tick: the whole queue ([`INBOUND_DEPTH`]).
///
/// [`INBOUND_DEPTH`]: crate::runtime::media_task::INBOUND_DEPTH
const COMMANDS_PER_TICK: usize = crate::runtime::media_task::INBOUND_DEPTH;

/// Most datagrams read from one socket in one tick (6,400 a second at
/// the default 10 ms tick, far above a call's 50-100): a flood waits in
/// the kernel's buffer, and is dropped there, instead of taking the
/// worker from its other calls.
const DATAGRAMS_PER_TICK: usize = 64;

/// Most transmits flushed after one input (a bridge produces a handful).
const TRANSMITS_PER_FLUSH: usize = 256;

/// How often a call refreshes [`MediaHandle::stats`](crate::runtime::streams::MediaHandle::stats).
const STATS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A call's RTP and RTCP sockets in the worker's poller.
#[derive(Debug)]
pub struct CallSockets {
    /// RTP (even port).
    pub rtp: mio::net::UdpSocket,
    /// RTCP (RTP + 1).
    pub rtcp: mio::net::UdpSocket,
    /// The port pair's lease: the pair is free again once this drops.
    pub _lease: PortLease,
    /// Readiness seen and not yet drained to `WouldBlock` (edge-triggered
    /// poller): RTP, RTCP.
    pub ready: [bool; 2],
}

/// A subscriber of the far end's audio.
struct Subscriber {
    stream_id: u32,
    queue: mpsc::Sender<(u32, PlayAudio)>,
}

/// Everything one call's media needs, owned by one worker.
pub struct CallMedia {
    pub(super) call_id: String,
    bridge: Bridge,
    /// `None` for the echo destination (and until the worker registers
    /// the pair it was handed).
    pub(super) sockets: Option<CallSockets>,
    /// The ports handed over with the call, registered by the worker.
    pub(super) pending_ports: Option<StdPortPair>,
    /// The built-in echo destination: RTP loops back into the bridge.
    echo: bool,
    /// `media{call_id}` (`echo{call_id}`): entered while the call is
    /// ticked, so its log lines name the call.
    span: tracing::Span,
    commands: mpsc::Receiver<MediaCommand>,
    updates: watch::Receiver<Option<Negotiated>>,
    subscribers: Vec<Subscriber>,
    events: InboxSender,
    stop: CancellationToken,
    metrics: Arc<Metrics>,
    stats: (watch::Sender<MediaSnapshot>, Instant),
    budget: WorkBudget,
    /// The SIP side's packet time (ms): each RTP packet a published
    /// message produced charges this much to the budget.
    ptime_ms: u32,
    /// The bridge's next deadline as of the end of the last visit (only
    /// a visit changes the bridge, so this is exact between visits).
    next_due: Option<Instant>,
}

/// The handle ends and reporting a [`CallMedia`] is built from.
pub struct CallEnds {
    /// The call's command queue (the handle's `tx`).
    pub commands: mpsc::Receiver<MediaCommand>,
    /// The handle's update slot.
    pub updates: watch::Receiver<Option<Negotiated>>,
    /// The handle's stats.
    pub stats: watch::Sender<MediaSnapshot>,
    /// The handle's stop token.
    pub stop: CancellationToken,
    /// The owning connection's inbox.
    pub events: InboxSender,
    /// Receives the call's counters when it ends.
    pub metrics: Arc<Metrics>,
}

impl CallMedia {
    /// A call around `bridge` (SIP packet time `ptime_ms`), its `ports`
    /// (`None`: the echo destination) and its handle's ends, at `now`.
    pub fn new(
        call_id: &str,
        bridge: Bridge,
        ptime_ms: u32,
        ports: Option<StdPortPair>,
        ends: CallEnds,
        now: Instant,
    ) -> Self {
        Self {
            call_id: call_id.to_string(),
            bridge,
            sockets: None,
            echo: ports.is_none(),
            span: if ports.is_some() {
                tracing::info_span!("media", call_id = %call_id)
            } else {
                tracing::info_span!("echo", call_id = %call_id)
            },
            pending_ports: ports,
            commands: ends.commands,
            updates: ends.updates,
            subscribers: Vec::new(),
            events: ends.events,
            stop: ends.stop,
            metrics: ends.metrics,
            stats: (ends.stats, now),
            budget: WorkBudget::new(now),
            ptime_ms,
            next_due: Some(now),
        }
    }

    /// One tick at `now`: stop and updates, the queued commands, the
    /// datagrams waiting on ready sockets (read into `buf`), the bridge's
    /// timer when due, then its output. False when the call's media ends.
    ///
    /// A call with nothing to do (no ready socket, no queued command or
    /// update, its timer not due) is skipped unless `housekeeping`: the
    /// stop token (a lock), a dropped handle and the stats are looked at
    /// only then, so most of a tick's calls cost a few loads each.
    pub fn tick(&mut self, now: Instant, buf: &mut [u8], housekeeping: bool) -> bool {
        if !housekeeping && !self.has_work(now) {
            return true;
        }
        let span = std::mem::replace(&mut self.span, tracing::Span::none());
        let alive = span.in_scope(|| self.tick_in_span(now, buf, housekeeping));
        self.span = span;
        self.next_due = self.bridge.poll_timeout();
        alive
    }

    /// Whether a visit at `now` would find anything to do.
    fn has_work(&self, now: Instant) -> bool {
        self.sockets
            .as_ref()
            .is_some_and(|s| s.ready[0] || s.ready[1])
            || !self.commands.is_empty()
            || self.next_due.is_some_and(|t| t <= now)
            || self.updates.has_changed().unwrap_or(true)
    }

    fn tick_in_span(&mut self, now: Instant, buf: &mut [u8], housekeeping: bool) -> bool {
        if housekeeping && self.stop.is_cancelled() {
            return false;
        }
        match self.updates.has_changed() {
            Ok(true) => self.apply_update(now),
            Ok(false) => {}
            Err(_) => return false,
        }
        if !self.drain_commands(now) {
            return false;
        }
        self.read_sockets(now, buf);
        if self.bridge.poll_timeout().is_some_and(|t| t <= now) {
            self.bridge.handle_timeout(now);
        }
        self.flush(now);
        self.publish_stats(now, false);
        true
    }

    /// Ends the call's media at `now`: the bridge's goodbye (RTCP BYE)
    /// goes out, the final stats and counters are reported, and the
    /// connection hears [`MediaEvent::Ended`].
    pub fn finish(mut self, now: Instant) {
        let span = self.span.clone();
        let _entered = span.enter();
        self.bridge.close(now);
        self.flush(now);
        self.publish_stats(now, true);
        let stats = self.bridge.stats();
        let budget_dropped = self.budget.dropped();
        info!(?stats, budget_dropped, "media ended");
        self.metrics.media_ended(&stats);
        self.metrics.media_budget_dropped(budget_dropped);
        self.events
            .send(Inbound::Media(self.call_id.clone(), MediaEvent::Ended));
    }

    /// Takes every queued command; false when the handle is gone.
    fn drain_commands(&mut self, now: Instant) -> bool {
        for _ in 0..COMMANDS_PER_TICK {
            match self.commands.try_recv() {
                Ok(cmd) => self.command(now, cmd),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return false,
            }
        }
        true
    }

    /// Reads what waits on the sockets the poller reported ready, until
    /// they would block (then they are no longer ready) or
    /// [`DATAGRAMS_PER_TICK`] each.
    fn read_sockets(&mut self, now: Instant, buf: &mut [u8]) {
        for kind in [TransmitKind::Rtp, TransmitKind::Rtcp] {
            let i = usize::from(kind == TransmitKind::Rtcp);
            for _ in 0..DATAGRAMS_PER_TICK {
                let Some(s) = self.sockets.as_mut().filter(|s| s.ready[i]) else {
                    break;
                };
                let sock = if i == 0 { &s.rtp } else { &s.rtcp };
                match sock.recv_from(buf) {
                    Ok((n, from)) => {
                        let d = buf.get(..n).unwrap_or_default();
                        self.datagram(now, kind, from, d);
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        if e.kind() != ErrorKind::WouldBlock {
                            debug!(error = %e, "RTP receive failed");
                        }
                        s.ready[i] = false;
                    }
                }
            }
            // Output after each socket's batch, so transmits never pile up.
            self.flush(now);
        }
    }

    fn datagram(&mut self, now: Instant, kind: TransmitKind, from: SocketAddr, d: &[u8]) {
        let r = match kind {
            TransmitKind::Rtp => self.bridge.handle_rtp(now, from, d),
            TransmitKind::Rtcp => self.bridge.handle_rtcp(now, from, d),
        };
        if let Err(e) = r {
            match kind {
                TransmitKind::Rtp => debug!(error = %e, "dropping RTP packet"),
                TransmitKind::Rtcp => debug!(error = %e, "dropping RTCP packet"),
            }
        }
    }

    /// Refreshes the handle's stats at most every [`STATS_EVERY`]
    /// (always with `force`: when the call ends).
    fn publish_stats(&mut self, now: Instant, force: bool) {
        if force || now.saturating_duration_since(self.stats.1) >= STATS_EVERY {
            self.stats.1 = now;
            self.stats.0.send_replace(MediaSnapshot {
                stats: self.bridge.stats(),
                rtmp_in: self.bridge.rtmp_in_codec(),
            });
        }
    }

    fn command(&mut self, now: Instant, cmd: MediaCommand) {
        match cmd {
            MediaCommand::Audio { timestamp_ms, body } => self.published(now, timestamp_ms, &body),
            MediaCommand::Subscribe { stream_id, queue } => {
                // An Opus player needs the OpusHead before any frame.
                if let Some(head) = self.bridge.rtmp_stream_header() {
                    let play = PlayAudio {
                        timestamp_ms: head.timestamp_ms,
                        body: head.body,
                    };
                    let _ = queue.try_send((stream_id, play));
                }
                self.subscribers.push(Subscriber { stream_id, queue });
            }
            MediaCommand::Dtmf {
                digits,
                duration_ms,
            } => match self.bridge.send_dtmf(now, &digits, duration_ms) {
                Ok(()) => debug!(%digits, "DTMF as RFC 4733 telephone-event"),
                Err(MediaError::NoTelephoneEvent) => {
                    let ev = MediaEvent::DtmfFallback {
                        digits,
                        duration_ms,
                    };
                    self.events.send(Inbound::Media(self.call_id.clone(), ev));
                }
                Err(e) => debug!(error = %e, "DTMF not sent"),
            },
        }
    }

    /// One published audio message, within the call's work budget: it is
    /// charged the media time of the RTP packets it produced.
    fn published(&mut self, now: Instant, timestamp_ms: u32, body: &[u8]) {
        if !self.budget.admit(now) {
            if self.budget.dropped() == 1 {
                info!("audio published faster than twice real time: dropping the excess");
            }
            return;
        }
        let before = self.bridge.stats().rtp_sent;
        if let Err(e) = self
            .bridge
            .handle_rtmp_audio(now, RtmpTimestamp(timestamp_ms), body)
        {
            debug!(error = %e, "dropping RTMP audio");
        }
        let packets = self.bridge.stats().rtp_sent.saturating_sub(before);
        let ms = u32::try_from(packets)
            .unwrap_or(u32::MAX)
            .saturating_mul(self.ptime_ms);
        self.budget.charge(ms);
        // Each message's packets leave before the next is handled.
        self.flush(now);
    }

    /// Adopts the latest update; a codec the bridge cannot start leaves
    /// the media as it was (logged).
    fn apply_update(&mut self, now: Instant) {
        let Some(negotiated) = *self.updates.borrow_and_update() else {
            return;
        };
        if self.echo {
            return; // the echo destination has no far end to renegotiate
        }
        self.ptime_ms = negotiated.ptime_ms;
        match self.bridge.update(now, negotiated) {
            Ok(change) => info!(?change, "media renegotiated"),
            Err(e) => {
                info!(error = %e, "renegotiated media refused; keeping the old")
            }
        }
    }

    /// Sends what the bridge produced: RTP/RTCP to the far end (or back
    /// into the bridge for the echo destination), audio to subscribers
    /// (a full queue drops the frame, a closed one the subscriber),
    /// events to the connection.
    fn flush(&mut self, now: Instant) {
        for _ in 0..TRANSMITS_PER_FLUSH {
            let Some(t) = self.bridge.poll_transmit() else {
                break;
            };
            match &self.sockets {
                Some(s) => {
                    let sock = match t.kind {
                        TransmitKind::Rtp => &s.rtp,
                        TransmitKind::Rtcp => &s.rtcp,
                    };
                    if let Err(e) = sock.send_to(&t.payload, t.dest) {
                        debug!(error = %e, dest = %t.dest, "RTP send failed");
                    }
                }
                None if self.echo => {
                    if t.kind == TransmitKind::Rtp {
                        let _ = self.bridge.handle_rtp(now, t.dest, &t.payload);
                    }
                }
                None => {}
            }
        }
        while let Some(audio) = self.bridge.poll_rtmp_audio() {
            let play = PlayAudio {
                timestamp_ms: audio.timestamp_ms,
                body: audio.body,
            };
            self.subscribers
                .retain(|s| match s.queue.try_send((s.stream_id, play.clone())) {
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                });
        }
        while let Some(ev) = self.bridge.poll_event() {
            let out = match ev {
                BridgeEvent::RtpTimeout => Some(MediaEvent::RtpTimeout),
                BridgeEvent::Dtmf { digit, end: false } => Some(MediaEvent::Dtmf(digit)),
                BridgeEvent::RemoteLatched(addr) => {
                    debug!(%addr, "RTP latched");
                    None
                }
                BridgeEvent::RtmpCodecChanged { from, to } => {
                    info!(?from, ?to, "RTMP client audio codec");
                    None
                }
                _ => None,
            };
            if let Some(ev) = out {
                self.events.send(Inbound::Media(self.call_id.clone(), ev));
            }
        }
    }
}
