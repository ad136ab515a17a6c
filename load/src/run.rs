//! The coordinator: ramps the connections, then the dials, waits for every
//! call to be up, measures the steady window, stops everything.
//!
//! ```text
//! connect ramp --> all connected? --> RSS (per connection)
//! dial ramp    --> all up?        --> window start: /proc samples A
//!                                      (dial phase: CPU and call-seconds up, setup_rate.rs)
//! sleep --duration                 --> window end:   /proc samples B
//! stop: each connection sends hangup and closes; outcomes are collected
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::{interval, MissedTickBehavior};

use crate::args::Options;
use crate::codec::FrameLoop;
use crate::conn::{self, Outcome, Progress, Shared};
use crate::procstat::{self, Sample};
use crate::setup_rate::DialPhase;

/// Everything a report is made of.
pub struct RunResult {
    /// The run's options.
    pub opts: Options,
    /// One outcome per connection (fewer only if a task panicked).
    pub outcomes: Vec<Outcome>,
    /// Gateway before anything connected.
    pub gw_idle: Option<Sample>,
    /// Gateway once every connection had connected (before any dial).
    pub gw_connected: Option<Sample>,
    /// Gateway at the window's start and end.
    pub gw_window: Option<(Sample, Sample)>,
    /// This process at the window's start and end.
    pub self_window: Option<(Sample, Sample)>,
    /// Calls up when the window started.
    pub up_at_window: usize,
    /// Connections that had connected before the dials.
    pub connected_before_dial: usize,
    /// The gateway around the dial phase.
    pub dial_phase: Option<DialPhase>,
}

/// Per-connection phase as the coordinator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Seen {
    Nothing,
    Connected,
    Up,
    Failed,
}

struct Tracker {
    seen: Vec<Seen>,
    /// When each call was seen up.
    up_at: Vec<Option<Instant>>,
    rx: mpsc::UnboundedReceiver<Progress>,
}

impl Tracker {
    fn apply(&mut self, p: Progress) {
        let (i, s) = match p {
            Progress::Connected(i) => (i, Seen::Connected),
            Progress::Up(i) => (i, Seen::Up),
            Progress::Failed(i) => (i, Seen::Failed),
        };
        if let Some(v) = self.seen.get_mut(i) {
            *v = (*v).max(s);
        }
        if s == Seen::Up {
            if let Some(t) = self.up_at.get_mut(i) {
                t.get_or_insert_with(Instant::now);
            }
        }
    }

    /// Sum over the calls up of how long each has been up at `at`, s.
    fn call_seconds_up(&self, at: Instant) -> f64 {
        self.seen
            .iter()
            .zip(&self.up_at)
            .filter(|(s, _)| **s == Seen::Up)
            .filter_map(|(_, t)| *t)
            .map(|t| at.saturating_duration_since(t).as_secs_f64())
            .sum()
    }

    fn drain(&mut self) {
        while let Ok(p) = self.rx.try_recv() {
            self.apply(p);
        }
    }

    fn count(&self, s: Seen) -> usize {
        self.seen.iter().filter(|&&v| v == s).count()
    }

    /// Waits until every connection is at least `at` or failed, or `deadline`.
    async fn wait_all(&mut self, at: Seen, deadline: Instant) {
        loop {
            self.drain();
            if self.seen.iter().all(|&v| v >= at) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(p)) => self.apply(p),
                Ok(None) | Err(_) => return,
            }
        }
    }
}

fn pid_sample(opts: &Options) -> Option<Sample> {
    opts.gateway_pid
        .and_then(|p| procstat::sample(&p.to_string()))
}

/// Runs the load described by `opts`, publishing `frames`.
pub async fn run(opts: Options, frames: FrameLoop) -> RunResult {
    let gw_idle = pid_sample(&opts);
    let (ptx, prx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        opts: opts.clone(),
        dial_gate: Semaphore::new(0),
        progress: ptx,
        frames,
    });
    let mut tracker = Tracker {
        seen: vec![Seen::Nothing; opts.calls],
        up_at: vec![None; opts.calls],
        rx: prx,
    };
    let step = Duration::from_secs_f64(1.0 / opts.ramp_per_s);
    let mut pace = interval(step);
    pace.set_missed_tick_behavior(MissedTickBehavior::Burst);

    let mut handles = Vec::with_capacity(opts.calls);
    for i in 0..opts.calls {
        pace.tick().await;
        handles.push(tokio::spawn(conn::run(i, shared.clone(), stop_rx.clone())));
        tracker.drain();
    }
    tracker
        .wait_all(Seen::Connected, Instant::now() + opts.setup_timeout)
        .await;
    let connected_before_dial =
        opts.calls - tracker.count(Seen::Nothing) - tracker.count(Seen::Failed);
    let gw_connected = pid_sample(&opts);

    for _ in 0..opts.calls {
        pace.tick().await;
        shared.dial_gate.add_permits(1);
        tracker.drain();
    }
    tracker
        .wait_all(Seen::Up, Instant::now() + opts.setup_timeout)
        .await;
    let up_at_window = tracker.count(Seen::Up);

    let gw_a = pid_sample(&opts);
    let self_a = procstat::sample("self");
    let dial_phase = gw_connected.zip(gw_a).map(|(before, after)| DialPhase {
        before,
        after,
        calls_up: up_at_window,
        call_s_up: tracker.call_seconds_up(after.at),
    });
    tokio::time::sleep(opts.duration).await;
    let gw_b = pid_sample(&opts);
    let self_b = procstat::sample("self");
    let _ = stop_tx.send(true);

    // One deadline for all: a connection stuck writing to a gateway that
    // stopped reading must not hold the report up for long.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut outcomes = Vec::with_capacity(handles.len());
    for h in handles {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, h).await {
            Ok(Ok(o)) => outcomes.push(o),
            Ok(Err(_)) => {}
            Err(_) => break,
        }
    }
    RunResult {
        opts,
        outcomes,
        gw_idle,
        gw_connected,
        gw_window: gw_a.zip(gw_b),
        self_window: self_a.zip(self_b),
        up_at_window,
        connected_before_dial,
        dial_phase,
    }
}
