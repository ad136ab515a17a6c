//! Media workers: `[media] workers` OS threads (`rtmp2sip-media-N`), each
//! owning many calls' media and driving them all in one tick loop
//! (every `[media] tick_ms`), the str0m / quinn way: sans-IO bridges
//! driven by a small loop instead of one task per call.
//!
//! Each thread runs a current-thread tokio runtime: the tick loop is one
//! task of it, and RTMP connections placed with
//! [`MediaWorkers::spawn_connection`] are the others, so a connection and
//! its call (placed on the connection's worker, [`tick::pick_worker_near`])
//! share a thread and their audio crosses none.
//!
//! Per tick a worker takes its new calls, reads the sockets its poller
//! reports ready (one `epoll_wait(0)` for all its calls, no syscall per
//! idle socket), drains each call's command queue with `try_recv` (so a
//! connection's `send` registers no waker and wakes nothing), runs the
//! bridges' timers that fell due and flushes their output: RTP with
//! `send_to`, frames to subscribers (the frames of one tick arrive
//! together: one wake of the connection at most), events to the
//! connection. A tick batches up to `tick_ms` of input: it adds up to
//! `tick_ms` (half of it on average) to each direction's latency.
//!
//! [`MediaWorkers::place`] puts a new call on its connection's worker or
//! the least loaded one ([`tick::pick_worker_near`]) through its bounded
//! queue. Each worker counts
//! its thread CPU time, its ticks and its late ticks ([`WorkerShared`]);
//! the load sampler (`media_runtime::spawn_sampler`) turns them into
//! per-worker loads for admission.

mod call;
pub mod cputime;
mod thread;
pub mod tick;

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{self, error::TrySendError};

use crate::media::delay_hist::DelayHistogram;
use tokio_util::task::TaskTracker;

pub use call::{CallEnds, CallMedia};
use tick::{pick_worker_near, WorkerView};

thread_local! {
    /// On a worker's thread, that worker's index in its pool.
    static CURRENT_WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// New calls waiting for one worker's next tick, at most.
const NEW_CALLS_DEPTH: usize = 256;

/// What a worker shares with the pool and the load sampler (counters
/// only grow, except `calls`).
#[derive(Debug, Default)]
pub struct WorkerShared {
    /// Calls placed on the worker and not ended.
    calls: AtomicUsize,
    /// Thread CPU time spent in ticks, ns.
    cpu_ns: AtomicU64,
    /// Ticks run while it owned calls.
    ticks: AtomicU64,
    /// Of those, ticks that started late ([`tick::TickClock::is_late`]:
    /// a 20 ms frame, or a whole period if longer).
    late_ticks: AtomicU64,
    /// Its load at the last sample (an `f64`'s bits).
    load_bits: AtomicU64,
    /// Calls at the last sample.
    calls_at_load: AtomicUsize,
    /// Set when the pool stops.
    stop: AtomicBool,
    /// RTMP connections running on the worker's thread.
    connections: AtomicUsize,
    /// How late its ticks started (those that carried calls), merged
    /// from the thread's own histogram every [`thread::LATENESS_MERGE_TICKS`]
    /// ticks and taken by [`MediaWorkers::take_tick_lateness`].
    lateness: Mutex<DelayHistogram>,
}

/// One worker's counters at a moment, for the load meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkerCounters {
    /// Calls it owns.
    pub calls: usize,
    /// Thread CPU time spent in ticks, ns (cumulative).
    pub cpu_ns: u64,
    /// Ticks run while it owned calls (cumulative).
    pub ticks: u64,
    /// Late ticks (cumulative).
    pub late_ticks: u64,
}

struct Slot {
    queue: mpsc::Sender<CallMedia>,
    shared: Arc<WorkerShared>,
    /// The worker thread's runtime, for the connections placed on it.
    runtime: tokio::runtime::Handle,
}

struct Pool {
    slots: Vec<Slot>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    tick: Duration,
}

/// The media worker threads; clones share them.
#[derive(Clone)]
pub struct MediaWorkers {
    pool: Arc<Pool>,
}

impl std::fmt::Debug for MediaWorkers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaWorkers")
            .field("workers", &self.pool.slots.len())
            .field("tick", &self.pool.tick)
            .finish()
    }
}

/// Why a call could not be placed on a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlaceError {
    /// Every worker's queue of new calls is full, or the pool stopped.
    #[error("media workers busy")]
    Busy,
}

impl MediaWorkers {
    /// Starts `workers` threads (at least one) ticking every `tick`,
    /// each with its own current-thread runtime for the connections
    /// placed on it ([`MediaWorkers::spawn_connection`]).
    ///
    /// # Errors
    /// The OS error when a poller, a runtime or a thread cannot be
    /// created.
    pub fn start(workers: u32, tick: Duration) -> std::io::Result<Self> {
        let mut slots = Vec::new();
        let mut threads = Vec::new();
        for n in 0..workers.max(1) {
            let (tx, rx) = mpsc::channel(NEW_CALLS_DEPTH);
            let shared = Arc::new(WorkerShared::default());
            let worker = thread::Worker {
                shared: shared.clone(),
                queue: rx,
                poll: mio::Poll::new()?,
                period: tick,
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let handle = runtime.handle().clone();
            let index = n as usize;
            let t = std::thread::Builder::new()
                .name(format!("rtmp2sip-media-{n}"))
                .spawn(move || {
                    CURRENT_WORKER.with(|c| c.set(Some(index)));
                    runtime.block_on(worker.run());
                })?;
            threads.push(t);
            slots.push(Slot {
                queue: tx,
                shared,
                runtime: handle,
            });
        }
        Ok(Self {
            pool: Arc::new(Pool {
                slots,
                threads: Mutex::new(threads),
                tick,
            }),
        })
    }

    /// The number of workers.
    pub fn len(&self) -> usize {
        self.pool.slots.len()
    }

    /// Always false: a pool has at least one worker.
    pub fn is_empty(&self) -> bool {
        self.pool.slots.is_empty()
    }

    /// The tick period.
    pub fn tick(&self) -> Duration {
        self.pool.tick
    }

    /// Puts `call` on a worker (the next ones when its queue is full);
    /// its first tick comes within one period. Called from a connection
    /// that runs on a worker, the call stays on that worker unless
    /// another is clearly less loaded ([`pick_worker_near`]); otherwise
    /// it goes to the least loaded.
    ///
    /// # Errors
    /// [`PlaceError::Busy`] when every queue is full or the pool stopped
    /// (the call is dropped: its ports are freed).
    pub fn place(&self, call: CallMedia) -> Result<(), PlaceError> {
        let views: Vec<WorkerView> = self.pool.slots.iter().map(view).collect();
        let here = CURRENT_WORKER.with(Cell::get);
        let first = pick_worker_near(&views, here).unwrap_or(0);
        let n = self.pool.slots.len();
        let mut call = call;
        for k in 0..n {
            let Some(slot) = self.pool.slots.get((first + k) % n) else {
                continue;
            };
            if slot.shared.stop.load(Ordering::Relaxed) {
                return Err(PlaceError::Busy);
            }
            slot.shared.calls.fetch_add(1, Ordering::Relaxed);
            match slot.queue.try_send(call) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(c) | TrySendError::Closed(c)) => {
                    slot.shared.calls.fetch_sub(1, Ordering::Relaxed);
                    call = c;
                }
            }
        }
        Err(PlaceError::Busy)
    }

    /// Runs `connection` (an RTMP connection's task) on the worker
    /// thread with the fewest connections, tracked by `tracker`. The
    /// connection's sockets must be registered from inside `connection`
    /// (e.g. `TcpStream::from_std`): it runs on that worker's runtime.
    /// Its calls then go to the same worker, so its audio crosses no
    /// thread.
    pub fn spawn_connection<F>(&self, tracker: &TaskTracker, connection: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let slot = self
            .pool
            .slots
            .iter()
            .min_by_key(|s| s.shared.connections.load(Ordering::Relaxed));
        let Some(slot) = slot else {
            return;
        };
        let shared = slot.shared.clone();
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let counted = async move {
            let _count = ConnectionCount(shared);
            connection.await;
        };
        tracker.spawn_on(counted, &slot.runtime);
    }

    /// Every worker's counters now.
    pub fn counters(&self) -> Vec<WorkerCounters> {
        self.pool
            .slots
            .iter()
            .map(|s| WorkerCounters {
                calls: s.shared.calls.load(Ordering::Relaxed),
                cpu_ns: s.shared.cpu_ns.load(Ordering::Relaxed),
                ticks: s.shared.ticks.load(Ordering::Relaxed),
                late_ticks: s.shared.late_ticks.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// How late every worker's ticks started since the last call, merged
    /// (one count per tick that carried calls, in the buckets of
    /// [`DelayHistogram`]): a tick late by 40 ms delays all its calls'
    /// audio by that much. The counts are taken: the next call returns
    /// only newer ticks.
    pub fn take_tick_lateness(&self) -> DelayHistogram {
        let mut all = DelayHistogram::default();
        for s in &self.pool.slots {
            if let Ok(mut h) = s.shared.lateness.lock() {
                all.merge(&std::mem::take(&mut *h));
            }
        }
        all
    }

    /// Records worker `i`'s measured `load` with `calls` calls, for
    /// placing new calls.
    pub fn record_load(&self, i: usize, load: f64, calls: usize) {
        if let Some(s) = self.pool.slots.get(i) {
            s.shared.load_bits.store(load.to_bits(), Ordering::Relaxed);
            s.shared.calls_at_load.store(calls, Ordering::Relaxed);
        }
    }

    /// Stops the workers: each ends the calls it still owns (RTCP BYE,
    /// counters, `Ended` to their connections) and exits; waits up to
    /// `timeout` for them.
    pub fn shutdown(&self, timeout: Duration) {
        for s in &self.pool.slots {
            s.shared.stop.store(true, Ordering::Relaxed);
        }
        let Ok(mut threads) = self.pool.threads.lock() else {
            return;
        };
        let deadline = Instant::now() + timeout;
        while threads.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        for t in threads.drain(..) {
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

/// Counts a connection on its worker while it runs.
struct ConnectionCount(Arc<WorkerShared>);

impl Drop for ConnectionCount {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

fn view(s: &Slot) -> WorkerView {
    WorkerView {
        calls: s.shared.calls.load(Ordering::Relaxed),
        load: f64::from_bits(s.shared.load_bits.load(Ordering::Relaxed)),
        calls_at_load: s.shared.calls_at_load.load(Ordering::Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_run_on_the_worker_threads_spread_by_count() {
        let pool = MediaWorkers::start(2, Duration::from_millis(5)).unwrap();
        let tracker = TaskTracker::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        for _ in 0..4 {
            let tx = tx.clone();
            let mut release = release_rx.clone();
            pool.spawn_connection(&tracker, async move {
                let name = std::thread::current().name().map(str::to_string);
                tx.send((CURRENT_WORKER.with(Cell::get), name)).unwrap();
                let _ = release.wait_for(|r| *r).await;
            });
        }
        let mut seen: Vec<_> = (0..4)
            .map(|_| rx.recv_timeout(Duration::from_secs(2)).unwrap())
            .collect();
        seen.sort();
        assert_eq!(
            seen.iter().map(|s| s.0).collect::<Vec<_>>(),
            [Some(0), Some(0), Some(1), Some(1)],
            "two connections on each worker: {seen:?}"
        );
        assert_eq!(seen[0].1.as_deref(), Some("rtmp2sip-media-0"));
        assert_eq!(seen[3].1.as_deref(), Some("rtmp2sip-media-1"));
        let counts: Vec<usize> = pool
            .pool
            .slots
            .iter()
            .map(|s| s.shared.connections.load(Ordering::Relaxed))
            .collect();
        assert_eq!(counts, [2, 2]);
        release_tx.send(true).unwrap();
        tracker.close();
        let t0 = Instant::now();
        while pool
            .pool
            .slots
            .iter()
            .any(|s| s.shared.connections.load(Ordering::Relaxed) > 0)
        {
            assert!(
                t0.elapsed() < Duration::from_secs(2),
                "ended connections uncounted"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        pool.shutdown(Duration::from_secs(2));
    }

    #[test]
    fn an_idle_worker_does_not_tick() {
        // A 1 ms tick would be 1000 passes a second; without calls the
        // worker waits for one instead, so its CPU time and ticks stay 0.
        let pool = MediaWorkers::start(1, Duration::from_millis(1)).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let c = pool.counters();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].cpu_ns, 0, "idle worker used CPU: {c:?}");
        let t0 = Instant::now();
        pool.shutdown(Duration::from_secs(2));
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "idle worker stops within IDLE_WAIT"
        );
    }
}
