//! The pure parts of a media worker's loop: when its ticks fall due
//! ([`TickClock`]) and which worker a new call goes to ([`pick_worker`]).

use std::time::{Duration, Instant};

/// The least lateness of a tick that counts as late for the load meter
/// ([`TickClock::is_late`]): one 20 ms frame, the same bound as the I/O
/// runtime's probe (`media_runtime::IO_LATE`).
pub const LATE_TICK: Duration = Duration::from_millis(20);

/// The tick schedule of one worker: ticks every `period`, keeping their
/// phase when a tick starts a little late and skipping the ticks a long
/// stall missed (a stalled worker runs one tick, not a burst of them).
#[derive(Debug, Clone)]
pub struct TickClock {
    period: Duration,
    next: Instant,
}

impl TickClock {
    /// The first tick falls due one `period` after `now`.
    pub fn new(now: Instant, period: Duration) -> Self {
        let period = period.max(Duration::from_millis(1));
        Self {
            period,
            next: now + period,
        }
    }

    /// When the next tick falls due.
    pub fn deadline(&self) -> Instant {
        self.next
    }

    /// A tick starts at `now`: returns how late it is (zero when on time
    /// or early) and schedules the next one a period after this one's
    /// deadline, or a period after `now` when that is already past.
    pub fn begin(&mut self, now: Instant) -> Duration {
        let late = now.saturating_duration_since(self.next);
        self.next += self.period;
        if self.next <= now {
            self.next = now + self.period;
        }
        late
    }

    /// Whether a tick `late` behind its deadline counts as late for the
    /// load meter: [`LATE_TICK`] (one 20 ms frame) or more, or a whole
    /// period when that is longer. The audio the tick carries is then
    /// delayed by a frame beyond the ticks' own batching: the thread
    /// waited that long for a core, or the ticks before it overran.
    /// A tick a few ms late is not: with short ticks (5 ms) the one that
    /// plays most calls' frames often runs past the next deadline, which
    /// delays those frames by a few ms and harms no audio (refusing calls
    /// for it shed at half a core's load).
    pub fn is_late(&self, late: Duration) -> bool {
        late >= self.period.max(LATE_TICK)
    }
}

/// What the pool knows about one worker when it places a new call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerView {
    /// Calls the worker owns now (including those still in its queue).
    pub calls: usize,
    /// Its load at the last sample (fraction of one core, thread CPU time).
    pub load: f64,
    /// Calls it owned at that sample.
    pub calls_at_load: usize,
}

/// The load of one call (fraction of a core) assumed while a worker has
/// no measured call yet: 0.5 %, about a transcoded call's cost.
pub const DEFAULT_CALL_COST: f64 = 0.005;

impl WorkerView {
    /// The measured cost of one of its calls (fraction of a core), or
    /// [`DEFAULT_CALL_COST`] when it had none at the sample.
    pub fn call_cost(&self) -> f64 {
        if self.calls_at_load == 0 {
            DEFAULT_CALL_COST
        } else {
            (self.load / self.calls_at_load as f64).max(0.0)
        }
    }

    /// Its load now, estimated: the measured load, plus the cost of the
    /// calls placed on it since (minus those ended).
    pub fn estimated_load(&self) -> f64 {
        let added = self.calls as f64 - self.calls_at_load as f64;
        (self.load + added * self.call_cost()).max(0.0)
    }
}

/// The least loaded worker ([`WorkerView::estimated_load`]; fewer calls
/// on a tie, then the first); `None` without workers.
pub fn pick_worker(views: &[WorkerView]) -> Option<usize> {
    views
        .iter()
        .enumerate()
        .min_by(|(_, a), (_, b)| {
            a.estimated_load()
                .total_cmp(&b.estimated_load())
                .then(a.calls.cmp(&b.calls))
        })
        .map(|(i, _)| i)
}

/// How much less loaded (fraction of a core) another worker must be
/// for a connection's call to leave the connection's own worker.
pub const NEAR_MARGIN: f64 = 0.05;

/// The worker for a call placed by a connection running on worker
/// `here` (`None`: not on a worker): `here` unless another is lower by
/// more than [`NEAR_MARGIN`] ([`WorkerView::estimated_load`]), else the
/// least loaded ([`pick_worker`]). A call beside its connection crosses
/// no thread; the margin keeps workers from drifting far apart.
pub fn pick_worker_near(views: &[WorkerView], here: Option<usize>) -> Option<usize> {
    let best = pick_worker(views)?;
    let Some(own) = here.and_then(|i| views.get(i).map(|v| (i, v))) else {
        return Some(best);
    };
    let best_load = views.get(best).map_or(0.0, WorkerView::estimated_load);
    if own.1.estimated_load() <= best_load + NEAR_MARGIN {
        Some(own.0)
    } else {
        Some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn ticks_keep_their_phase_and_skip_what_a_stall_missed() {
        let t0 = Instant::now();
        let mut c = TickClock::new(t0, 10 * MS);
        assert_eq!(c.deadline(), t0 + 10 * MS);
        // On time.
        assert_eq!(c.begin(t0 + 10 * MS), Duration::ZERO);
        assert_eq!(c.deadline(), t0 + 20 * MS);
        // 3 ms late: the next keeps the phase.
        assert_eq!(c.begin(t0 + 23 * MS), 3 * MS);
        assert_eq!(c.deadline(), t0 + 30 * MS);
        assert!(!c.is_late(3 * MS));
        assert!(
            !c.is_late(10 * MS),
            "a whole 10 ms period delays no frame by a frame"
        );
        assert!(!c.is_late(19 * MS));
        assert!(c.is_late(20 * MS), "a whole 20 ms frame is late");
        // A 45 ms stall: one tick, then a period later.
        assert_eq!(c.begin(t0 + 75 * MS), 45 * MS);
        assert!(c.is_late(45 * MS));
        assert_eq!(c.deadline(), t0 + 85 * MS);
        // Early (a spurious wake-up): not late.
        assert_eq!(c.begin(t0 + 80 * MS), Duration::ZERO);
    }

    #[test]
    fn a_tick_longer_than_a_frame_is_late_after_a_whole_period() {
        let c = TickClock::new(Instant::now(), 30 * MS);
        assert!(!c.is_late(29 * MS));
        assert!(c.is_late(30 * MS));
    }

    #[test]
    fn a_zero_period_is_one_ms() {
        let t0 = Instant::now();
        let c = TickClock::new(t0, Duration::ZERO);
        assert_eq!(c.deadline(), t0 + MS);
    }

    fn view(calls: usize, load: f64, calls_at_load: usize) -> WorkerView {
        WorkerView {
            calls,
            load,
            calls_at_load,
        }
    }

    #[test]
    fn new_calls_go_to_the_least_loaded_worker() {
        assert_eq!(pick_worker(&[]), None);
        // Same calls, different measured load.
        let w = [view(10, 0.5, 10), view(10, 0.2, 10)];
        assert_eq!(pick_worker(&w), Some(1));
        // Calls placed since the sample count at the measured cost: 20
        // more calls of 2 % each make the second the busier.
        let w = [view(10, 0.5, 10), view(30, 0.2, 10)];
        assert_eq!(pick_worker(&w), Some(0));
        // Idle workers: fewer calls first, then the first.
        let w = [view(2, 0.0, 0), view(1, 0.0, 0), view(1, 0.0, 0)];
        assert_eq!(pick_worker(&w), Some(1));
    }

    #[test]
    fn a_connections_call_stays_on_its_worker_unless_another_is_clearly_lighter() {
        let w = [view(10, 0.30, 10), view(10, 0.28, 10)];
        assert_eq!(pick_worker_near(&w, Some(0)), Some(0), "within the margin");
        assert_eq!(pick_worker_near(&w, None), Some(1), "not on a worker");
        let w = [view(30, 0.60, 30), view(10, 0.20, 10)];
        assert_eq!(pick_worker_near(&w, Some(0)), Some(1), "clearly lighter");
        assert_eq!(pick_worker_near(&w, Some(7)), Some(1), "unknown worker");
        assert_eq!(pick_worker_near(&[], Some(0)), None);
    }

    #[test]
    fn a_burst_of_new_calls_is_spread() {
        let mut w = vec![view(0, 0.0, 0); 3];
        for _ in 0..30 {
            let i = pick_worker(&w).unwrap();
            w[i].calls += 1;
        }
        assert!(w.iter().all(|v| v.calls == 10), "{w:?}");
    }

    #[test]
    fn ended_calls_lower_the_estimate() {
        let v = view(5, 0.5, 10);
        assert!((v.estimated_load() - 0.25).abs() < 1e-9);
        assert!((view(0, 0.5, 10).estimated_load()).abs() < 1e-9);
    }
}
