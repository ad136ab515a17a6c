//! A media worker's thread: the tick loop over the calls it owns.
//!
//! Between ticks the thread's runtime serves its RTMP connections as
//! their input arrives. Each tick (every `[media] tick_ms`), in one pass
//! and without waiting on anything: take the calls placed on this worker, ask the poller
//! (`epoll_wait` with a zero timeout, through `mio`) which sockets have
//! datagrams, then tick every call ([`CallMedia::tick`]: stop, updates,
//! commands with `try_recv`, datagrams, the bridge's timer, output). The
//! thread's CPU time since the last tick (its connections' included) and
//! whether the tick started late are added to its [`WorkerShared`]
//! counters for the load meter.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;
use tracing::{debug, info};

use super::call::{CallMedia, CallSockets};
use super::cputime::thread_cpu_ns;
use super::tick::TickClock;
use super::WorkerShared;
use crate::media::delay_hist::DelayHistogram;
use crate::runtime::ports::StdPortPair;

/// Poller events taken per tick (more wait for the next `epoll_wait`).
const EVENTS_PER_POLL: usize = 1024;

/// Largest datagram read (bigger ones are truncated, then refused by the
/// bridge's parser).
const DATAGRAM_BYTES: usize = 2048;

/// Every call is visited (stop token, dropped handle, stats) at least
/// every this many ticks, whether or not it has work (20 ms at the
/// default 5 ms tick); in between only calls with work are.
const HOUSEKEEPING_EVERY: usize = 4;

/// A worker merges its ticks' lateness into [`WorkerShared`] every this
/// many ticks that carried calls (0.25 s at the default 5 ms tick): one
/// lock per merge, not per tick.
pub(super) const LATENESS_MERGE_TICKS: u32 = 50;

/// How long a worker without calls waits for a new one before it looks
/// at the stop flag again. An idle worker does not tick: it spends no CPU
/// (200 idle ticks a second at 5 ms would read as load).
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// The calls one worker owns: slots reused through a free list; a
/// socket's poller token is `slot × 2 + (0: RTP, 1: RTCP)`.
struct Calls {
    slots: Vec<Option<CallMedia>>,
    free: Vec<usize>,
    /// Occupied slots.
    live: usize,
}

impl Calls {
    fn insert(&mut self, call: CallMedia) -> usize {
        self.live += 1;
        match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i) {
                    *s = Some(call);
                }
                i
            }
            None => {
                self.slots.push(Some(call));
                self.slots.len() - 1
            }
        }
    }
}

/// Registers `pair` with the poller under `slot`'s tokens.
fn register(poll: &Poll, slot: usize, pair: StdPortPair) -> std::io::Result<CallSockets> {
    let mut rtp = mio::net::UdpSocket::from_std(pair.rtp);
    let mut rtcp = mio::net::UdpSocket::from_std(pair.rtcp);
    poll.registry()
        .register(&mut rtp, Token(slot * 2), Interest::READABLE)?;
    poll.registry()
        .register(&mut rtcp, Token(slot * 2 + 1), Interest::READABLE)?;
    Ok(CallSockets {
        rtp,
        rtcp,
        _lease: pair.lease,
        // Datagrams may have arrived before registration: look once.
        ready: [true, true],
    })
}

/// The ticks' lateness the thread counted since its last merge into
/// [`WorkerShared::lateness`].
#[derive(Default)]
struct Lateness {
    hist: DelayHistogram,
    ticks: u32,
}

impl Lateness {
    /// Counts one tick that started `late`; merges every
    /// [`LATENESS_MERGE_TICKS`].
    fn record(&mut self, late: Duration, shared: &WorkerShared) {
        self.hist.record(late);
        self.ticks += 1;
        if self.ticks >= LATENESS_MERGE_TICKS {
            self.merge_into(shared);
        }
    }

    fn merge_into(&mut self, shared: &WorkerShared) {
        if let Ok(mut h) = shared.lateness.lock() {
            h.merge(&self.hist);
            self.hist = DelayHistogram::default();
            self.ticks = 0;
        }
    }
}

/// The worker's state between ticks.
pub(super) struct Worker {
    pub(super) shared: Arc<WorkerShared>,
    pub(super) queue: mpsc::Receiver<CallMedia>,
    pub(super) poll: Poll,
    pub(super) period: Duration,
}

impl Worker {
    /// Runs ticks until the pool stops, then ends every call it owns.
    /// Runs as a task of the worker thread's own (current-thread)
    /// runtime: the RTMP connections placed on this worker run between
    /// its ticks, on the same thread, so their audio reaches the calls
    /// and comes back without waking another thread; the frames a tick
    /// produces are written by their connections as soon as it awaits
    /// the next one.
    pub(super) async fn run(mut self) {
        let mut events = Events::with_capacity(EVENTS_PER_POLL);
        let mut calls = Calls {
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
        };
        let mut buf = vec![0u8; DATAGRAM_BYTES];
        let mut clock = TickClock::new(Instant::now(), self.period);
        let mut first = None;
        let mut tick_no = 0usize;
        // The thread's CPU time at the end of the last tick: each tick
        // charges the time since, the connections' work between ticks
        // included (they share the thread, so they share its headroom).
        let mut cpu_mark = thread_cpu_ns();
        let mut lateness = Lateness::default();
        loop {
            if calls.live == 0 {
                match tokio::time::timeout(IDLE_WAIT, self.queue.recv()).await {
                    Ok(Some(call)) => {
                        first = Some(call);
                        clock = TickClock::new(Instant::now(), self.period);
                        cpu_mark = thread_cpu_ns();
                    }
                    Ok(None) => break,
                    Err(_) => {
                        if self.shared.stop.load(Ordering::Relaxed) {
                            break;
                        }
                        continue;
                    }
                }
            }
            // The runtime serves the worker's connections as their input
            // arrives while this task waits for the tick.
            tokio::time::sleep_until(tokio::time::Instant::from_std(clock.deadline())).await;
            let now = Instant::now();
            let late = clock.begin(now);
            let stopping = self.shared.stop.load(Ordering::Relaxed);
            self.take_new_calls(&mut calls, first.take(), now);
            self.poll_ready(&mut events, &mut calls);
            tick_no = tick_no.wrapping_add(1);
            for slot in 0..calls.slots.len() {
                // Spread over the ticks: a quarter of the calls each.
                let housekeeping = (tick_no.wrapping_add(slot)) % HOUSEKEEPING_EVERY == 0;
                self.tick_one(&mut calls, slot, now, &mut buf, stopping || housekeeping);
            }
            // Only ticks that carried calls count: an idle worker's
            // lateness delays no audio.
            if calls.live > 0 {
                self.shared.ticks.fetch_add(1, Ordering::Relaxed);
                if clock.is_late(late) {
                    self.shared.late_ticks.fetch_add(1, Ordering::Relaxed);
                }
                lateness.record(late, &self.shared);
            }
            let cpu = thread_cpu_ns();
            self.shared
                .cpu_ns
                .fetch_add(cpu.saturating_sub(cpu_mark), Ordering::Relaxed);
            cpu_mark = cpu;
            if stopping {
                break;
            }
        }
        lateness.merge_into(&self.shared);
        debug!("media worker stopped");
    }

    /// Registers the calls placed on this worker since the last tick
    /// (`first`: one already taken off the queue while idle).
    fn take_new_calls(&mut self, calls: &mut Calls, mut first: Option<CallMedia>, now: Instant) {
        loop {
            let mut call = match first
                .take()
                .map(Ok)
                .unwrap_or_else(|| self.queue.try_recv())
            {
                Ok(c) => c,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return,
            };
            let ports = call.pending_ports.take();
            let slot = calls.insert(call);
            let Some(pair) = ports else { continue };
            match register(&self.poll, slot, pair) {
                Ok(s) => {
                    if let Some(Some(c)) = calls.slots.get_mut(slot) {
                        c.sockets = Some(s);
                    }
                }
                Err(e) => {
                    info!(error = %e, "cannot register the RTP sockets; media ends");
                    self.end(calls, slot, now);
                }
            }
        }
    }

    /// Marks the sockets that became readable since the last tick.
    fn poll_ready(&mut self, events: &mut Events, calls: &mut Calls) {
        if let Err(e) = self.poll.poll(events, Some(Duration::ZERO)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                debug!(error = %e, "media poller failed");
            }
            return;
        }
        for ev in events.iter() {
            let Token(t) = ev.token();
            let call = calls.slots.get_mut(t / 2).and_then(Option::as_mut);
            if let Some(s) = call.and_then(|c| c.sockets.as_mut()) {
                if let Some(r) = s.ready.get_mut(t % 2) {
                    *r = true;
                }
            }
        }
    }

    /// Ticks the call in `slot` (every check when `housekeeping`),
    /// ending it when it is done or the pool stops.
    fn tick_one(
        &mut self,
        calls: &mut Calls,
        slot: usize,
        now: Instant,
        buf: &mut [u8],
        housekeeping: bool,
    ) {
        let Some(Some(call)) = calls.slots.get_mut(slot) else {
            return;
        };
        let stopping = self.shared.stop.load(Ordering::Relaxed);
        if !call.tick(now, buf, housekeeping) || stopping {
            self.end(calls, slot, now);
        }
    }

    /// Ends the call in `slot`: its sockets leave the poller, its slot
    /// is free again.
    fn end(&mut self, calls: &mut Calls, slot: usize, now: Instant) {
        let Some(mut call) = calls.slots.get_mut(slot).and_then(Option::take) else {
            return;
        };
        if let Some(s) = call.sockets.as_mut() {
            let _ = self.poll.registry().deregister(&mut s.rtp);
            let _ = self.poll.registry().deregister(&mut s.rtcp);
        }
        calls.free.push(slot);
        calls.live = calls.live.saturating_sub(1);
        self.shared.calls.fetch_sub(1, Ordering::Relaxed);
        call.finish(now);
    }
}
