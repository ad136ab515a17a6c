//! Load shedding: whether the media workers have headroom for a new call.
//!
//! [`LoadMeter`] is sans-IO: it is fed the media workers' cumulative busy
//! time (ns spent handling bridge steps, summed over every worker, a
//! counter that only grows) with `now`, and answers whether new calls are
//! admitted. The load is the busy time over a sliding window divided by
//! the window's capacity (`workers` × the window's length), a fraction of
//! the media workers' CPU in 0.0..=1.0.
//!
//! A worker that cannot keep its tick schedule is overloaded whatever
//! its CPU time says (another process took the core): the meter is also
//! fed the worker's ticks and late ticks ([`LoadMeter::sample_ticks`]),
//! and refuses while `max_late` (a media worker: [`MAX_LATE_FRACTION`])
//! or more of the window's ticks started late. The same meter, fed only
//! ticks, watches the I/O runtime's own schedule (the sampler's
//! wake-ups).
//!
//! A worker's meter is also fed its calls ([`LoadMeter::sample_worker`]):
//! the cost of one call is the window's load over the calls it had on
//! average over that window (time-weighted: the load is what those
//! call-seconds cost), and a new call must fit at that cost beside every
//! current call ([`LoadMeter::admits_call`]), so a burst of dials is not
//! admitted on the strength of a load measured before those calls began,
//! and cheap calls are not refused for a burst of them either.
//!
//! Hysteresis: new calls are refused once the load reaches `max_load`,
//! and admitted again only when it has fallen below
//! `max_load` × [`RESUME_FRACTION`], so the answer does not flap around
//! the limit. Calls already admitted are never touched: shedding refuses
//! new work only (the "shed load instead of degrading everyone").
//!
//! [`LoadFlag`] carries the answer to the places that admit calls (the
//! connection's `dial`, the SIP side's new INVITEs) without a lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// New calls are admitted again once the load falls below
/// `max_load × RESUME_FRACTION`.
pub const RESUME_FRACTION: f64 = 0.8;

/// New calls are refused while this fraction of the window's ticks (or
/// more) started late (2 %: four of a second's 200 ticks of 5 ms).
pub const MAX_LATE_FRACTION: f64 = 0.02;

/// Most samples kept, whatever the sampling rate (bounds the memory: the
/// window then covers fewer samples, each one further apart).
const MAX_SAMPLES: usize = 64;

/// What [`LoadMeter`] is configured with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadConfig {
    /// Media worker threads (1..=64): the window's capacity is
    /// `workers × window`.
    pub workers: u32,
    /// Fraction of the workers' capacity (0.0..=1.0) at which new calls
    /// are refused (`[limits] media_max_load`).
    pub max_load: f64,
    /// Length of the sliding window the load is averaged over.
    pub window: Duration,
    /// Fraction of the window's ticks (0.0..=1.0) that may start late
    /// before new calls are refused ([`MAX_LATE_FRACTION`] for a media
    /// worker).
    pub max_late: f64,
}

/// The sans-IO admission core: busy-time samples in, admit or refuse out.
#[derive(Debug)]
pub struct LoadMeter {
    cfg: LoadConfig,
    /// `(when, cumulative counters)`, oldest first; the oldest may lie
    /// before the window's start (it anchors the window's first interval).
    samples: VecDeque<(Instant, Sample)>,
    refusing: bool,
}

impl LoadMeter {
    /// A meter with no samples yet: it admits.
    pub fn new(cfg: LoadConfig) -> Self {
        Self {
            cfg,
            samples: VecDeque::with_capacity(MAX_SAMPLES),
            refusing: false,
        }
    }

    /// Changes `max_load` (a live reload of `[limits] media_max_load`);
    /// the next sample decides with it.
    pub fn set_max_load(&mut self, max_load: f64) {
        self.cfg.max_load = max_load;
    }

    /// The limit in force.
    pub fn max_load(&self) -> f64 {
        self.cfg.max_load
    }

    /// Feeds the workers' cumulative busy time `busy_ns` (ns) at `now`
    /// and returns whether new calls are admitted. A sample older than the
    /// last one is ignored; a counter that went backwards restarts the
    /// window.
    pub fn sample(&mut self, now: Instant, busy_ns: u64) -> bool {
        self.sample_ticks(now, busy_ns, 0, 0)
    }

    /// [`LoadMeter::sample`] with a worker's tick counters too: `ticks`
    /// run and `late_ticks` that started late (both cumulative).
    pub fn sample_ticks(
        &mut self,
        now: Instant,
        busy_ns: u64,
        ticks: u64,
        late_ticks: u64,
    ) -> bool {
        self.sample_worker(now, busy_ns, ticks, late_ticks, 0)
    }

    /// [`LoadMeter::sample_ticks`] with the worker's `calls` now, for the
    /// cost of a call ([`LoadMeter::admits_call`]).
    pub fn sample_worker(
        &mut self,
        now: Instant,
        busy_ns: u64,
        ticks: u64,
        late_ticks: u64,
        calls: usize,
    ) -> bool {
        let s = Sample {
            busy_ns,
            ticks,
            late_ticks,
            calls,
        };
        match self.samples.back() {
            Some(&(t, _)) if now < t => return self.admits(),
            Some((_, b)) if s.before(b) => self.samples.clear(),
            _ => {}
        }
        self.samples.push_back((now, s));
        self.trim(now);
        self.decide();
        self.admits()
    }

    /// Whether new calls are admitted now.
    pub fn admits(&self) -> bool {
        !self.refusing
    }

    /// Whether one more call fits beside the worker's `calls` now: new
    /// calls are admitted and `(calls + 1) × cost` stays below
    /// `max_load`, the cost of a call being the load over the window's
    /// mean calls ([`LoadMeter::mean_calls`]; over `calls` when the
    /// window had less than one on average), or the load alone without
    /// calls.
    pub fn admits_call(&self, calls: usize) -> bool {
        self.admits_call_within(calls, 1.0)
    }

    /// [`LoadMeter::admits_call`] with the one-more-call check against
    /// `fraction × max_load` (0.0..=1.0): while new calls are being
    /// refused, the sampler admits again only once a call fits within
    /// [`RESUME_FRACTION`] of the limit, so the answer does not flap with
    /// the cost estimate's noise and let calls trickle in at the limit.
    pub fn admits_call_within(&self, calls: usize, fraction: f64) -> bool {
        let load = self.load();
        let cost = self.cost_per_call(calls);
        let need = if calls == 0 {
            load
        } else {
            cost * (calls + 1) as f64
        };
        self.admits() && need < self.cfg.max_load * fraction
    }

    /// The measured cost of one call (fraction of a core): the window's
    /// load over its mean calls, over `calls` when the window had less
    /// than one on average, 0.0 without calls.
    fn cost_per_call(&self, calls: usize) -> f64 {
        let load = self.load();
        let mean = self.mean_calls();
        if mean >= 1.0 {
            load / mean
        } else if calls > 0 {
            load / calls as f64
        } else {
            0.0
        }
    }

    /// How many more calls fit beside the worker's `calls` now, at the
    /// cost per call of [`LoadMeter::admits_call_within`]: the most `n`
    /// with `(calls + n) × cost < fraction × max_load`; 0 while refusing.
    /// Without a measured cost (no calls yet, or none in the window) a
    /// call is taken to cost `fallback_cost` (fraction of a core), and
    /// one call is always room while the load is under the limit, as
    /// [`LoadMeter::admits_call_within`] admits it.
    ///
    /// The sampler hands this out as [`LoadFlag::set_room`], so the dials
    /// between two samples cannot admit more calls than the measured
    /// headroom holds (at 50 dials a second, 5 land before the next
    /// 100 ms sample sees any of them).
    pub fn room_within(&self, calls: usize, fraction: f64, fallback_cost: f64) -> u32 {
        if !self.admits_call_within(calls, fraction) {
            return 0;
        }
        let limit = self.cfg.max_load * fraction;
        let load = self.load();
        let measured = self.cost_per_call(calls);
        let (cost, used) = if measured > 0.0 {
            (measured, measured * calls as f64)
        } else {
            (fallback_cost, load)
        };
        if cost <= 0.0 {
            return u32::MAX;
        }
        // Strictly under the limit: (calls + n) × cost < limit.
        let n = ((limit - used) / cost - 1e-9).ceil() - 1.0;
        if n.is_nan() || n < 1.0 {
            1
        } else if n >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            n as u32
        }
    }

    /// The worker's calls averaged over the window, weighted by time (each
    /// interval between samples counts the mean of its two ends); 0.0
    /// until two samples span some time.
    pub fn mean_calls(&self) -> f64 {
        let (Some(&(t0, _)), Some(&(t1, _))) = (self.samples.front(), self.samples.back()) else {
            return 0.0;
        };
        let span = t1.saturating_duration_since(t0).as_secs_f64();
        if span <= 0.0 {
            return 0.0;
        }
        let weighted: f64 = self
            .samples
            .iter()
            .zip(self.samples.iter().skip(1))
            .map(|((ta, a), (tb, b))| {
                let dt = tb.saturating_duration_since(*ta).as_secs_f64();
                dt * (a.calls + b.calls) as f64 / 2.0
            })
            .sum();
        weighted / span
    }

    /// The fraction of the window's ticks that started late (0.0 without
    /// ticks).
    pub fn late_fraction(&self) -> f64 {
        let (Some((_, a)), Some((_, b))) = (self.samples.front(), self.samples.back()) else {
            return 0.0;
        };
        let ticks = b.ticks.saturating_sub(a.ticks);
        if ticks == 0 {
            return 0.0;
        }
        b.late_ticks.saturating_sub(a.late_ticks) as f64 / ticks as f64
    }

    /// The load over the window as a fraction of the workers' capacity
    /// (0.0 until two samples span some time; may exceed 1.0 when a step
    /// outlasts a sampling interval).
    pub fn load(&self) -> f64 {
        let (Some(&(t0, s0)), Some(&(t1, s1))) = (self.samples.front(), self.samples.back()) else {
            return 0.0;
        };
        let (b0, b1) = (s0.busy_ns, s1.busy_ns);
        let span = t1.saturating_duration_since(t0).as_nanos() as f64;
        if span <= 0.0 {
            return 0.0;
        }
        (b1 - b0) as f64 / (span * f64::from(self.cfg.workers.max(1)))
    }

    /// Drops samples no longer needed: keeps the newest one at or before
    /// the window's start as its anchor, and at most [`MAX_SAMPLES`].
    fn trim(&mut self, now: Instant) {
        let start = now.checked_sub(self.cfg.window);
        while self.samples.len() > 2 {
            let second = self.samples.get(1).map(|&(t, _)| t);
            match (start, second) {
                (Some(s), Some(t)) if t <= s => {
                    self.samples.pop_front();
                }
                _ => break,
            }
        }
        while self.samples.len() > MAX_SAMPLES {
            self.samples.pop_front();
        }
    }

    /// Applies the hysteresis to the current load and late ticks.
    fn decide(&mut self) {
        let (load, late) = (self.load(), self.late_fraction());
        if self.refusing {
            self.refusing = load >= self.cfg.max_load * RESUME_FRACTION
                || late >= self.cfg.max_late * RESUME_FRACTION;
        } else {
            self.refusing = load >= self.cfg.max_load || late >= self.cfg.max_late;
        }
    }
}

/// One sample's cumulative counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    busy_ns: u64,
    ticks: u64,
    late_ticks: u64,
    /// Calls the worker had (0 when not told).
    calls: usize,
}

impl Sample {
    /// True when a counter went backwards since `prev` (a restart).
    fn before(&self, prev: &Sample) -> bool {
        self.busy_ns < prev.busy_ns || self.ticks < prev.ticks || self.late_ticks < prev.late_ticks
    }
}

/// The media workers' cumulative busy time in ns, shared by every media
/// task (each adds the time it spent on one step) and read by the
/// sampler that feeds [`LoadMeter`].
#[derive(Debug, Clone, Default)]
pub struct BusyClock(Arc<AtomicU64>);

impl BusyClock {
    /// Adds `busy` (one step's work).
    pub fn add(&self, busy: Duration) {
        let ns = u64::try_from(busy.as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(ns, Ordering::Relaxed);
    }

    /// The total so far, in ns.
    pub fn total_ns(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Whether new calls are refused for overload, and how many may still be
/// admitted before the next sample: written by the sampler, read (and the
/// room taken) where calls are admitted.
#[derive(Debug, Clone)]
pub struct LoadFlag(Arc<FlagState>);

#[derive(Debug)]
struct FlagState {
    overloaded: AtomicBool,
    /// New calls that fit until the sampler measures again.
    room: AtomicU32,
}

impl Default for LoadFlag {
    /// Admitting, without a bound on the room (until a sampler sets one).
    fn default() -> Self {
        Self(Arc::new(FlagState {
            overloaded: AtomicBool::new(false),
            room: AtomicU32::new(u32::MAX),
        }))
    }
}

impl LoadFlag {
    /// Sets the answer: `true` refuses new calls.
    pub fn set_overloaded(&self, overloaded: bool) {
        self.0.overloaded.store(overloaded, Ordering::Relaxed);
    }

    /// True while new calls are refused.
    pub fn is_overloaded(&self) -> bool {
        self.0.overloaded.load(Ordering::Relaxed)
    }

    /// Sets how many new calls may be admitted until the next sample
    /// ([`LoadMeter::room_within`]).
    pub fn set_room(&self, room: u32) {
        self.0.room.store(room, Ordering::Relaxed);
    }

    /// The room left (new calls [`LoadFlag::try_admit`] will admit).
    pub fn room(&self) -> u32 {
        self.0.room.load(Ordering::Relaxed)
    }

    /// Admits one new call: false while refusing or once the room is
    /// used up (then until the sampler sets it again); true takes one
    /// call's room.
    pub fn try_admit(&self) -> bool {
        if self.is_overloaded() {
            return false;
        }
        self.0
            .room
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| r.checked_sub(1))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn meter(workers: u32, max_load: f64) -> LoadMeter {
        LoadMeter::new(LoadConfig {
            workers,
            max_load,
            window: Duration::from_secs(1),
            max_late: MAX_LATE_FRACTION,
        })
    }

    /// Feeds 100 ms samples from `t` for `steps` steps, each adding
    /// `busy_ms` of work; returns the last answer and the new (t, busy).
    fn run(
        m: &mut LoadMeter,
        mut t: Instant,
        mut busy: u64,
        steps: u32,
        busy_ms: u64,
    ) -> (bool, Instant, u64) {
        let mut ok = m.admits();
        for _ in 0..steps {
            t += Duration::from_millis(100);
            busy += busy_ms * MS;
            ok = m.sample(t, busy);
        }
        (ok, t, busy)
    }

    #[test]
    fn admits_until_it_has_samples() {
        let mut m = meter(2, 0.5);
        assert!(m.admits());
        assert!(m.sample(Instant::now(), 5 * MS));
        assert_eq!(m.load(), 0.0);
    }

    #[test]
    fn rising_load_refuses_and_falling_below_the_hysteresis_admits() {
        let mut m = meter(2, 0.5);
        let t0 = Instant::now();
        m.sample(t0, 0);
        // 80 ms of work per 100 ms on 2 workers: 40 %.
        let (ok, t, b) = run(&mut m, t0, 0, 10, 80);
        assert!(ok);
        assert!((m.load() - 0.4).abs() < 1e-9, "{}", m.load());
        // 120 ms per 100 ms: 60 % once the window is full of it.
        let (ok, t, b) = run(&mut m, t, b, 10, 120);
        assert!(!ok, "load {}", m.load());
        // Back to 45 %: below the limit, above 0.8 × 0.5 = 40 %: still refused.
        let (ok, t, b) = run(&mut m, t, b, 10, 90);
        assert!(!ok, "hysteresis, load {}", m.load());
        // 30 %: admitted again.
        let (ok, _, _) = run(&mut m, t, b, 10, 60);
        assert!(ok, "load {}", m.load());
    }

    #[test]
    fn the_window_forgets_old_work() {
        let mut m = meter(1, 0.5);
        let t0 = Instant::now();
        m.sample(t0, 0);
        // A burst: 100 % for 0.5 s refuses...
        let (ok, t, b) = run(&mut m, t0, 0, 5, 100);
        assert!(!ok);
        // ...and 1 s of idleness later it has left the window.
        let (ok, _, _) = run(&mut m, t, b, 10, 0);
        assert!(ok);
        assert_eq!(m.load(), 0.0);
    }

    #[test]
    fn exactly_at_the_limit_refuses() {
        let mut m = meter(1, 0.5);
        let t0 = Instant::now();
        m.sample(t0, 0);
        let (ok, _, _) = run(&mut m, t0, 0, 10, 50);
        assert!(!ok, "load {} = max_load", m.load());
    }

    #[test]
    fn window_edges_stale_and_backward_samples() {
        let mut m = meter(1, 0.5);
        let t0 = Instant::now() + Duration::from_secs(10);
        m.sample(t0, 0);
        m.sample(t0 + Duration::from_millis(500), 400 * MS);
        assert!((m.load() - 0.8).abs() < 1e-9);
        assert!(!m.admits());
        // An older sample changes nothing.
        assert!(!m.sample(t0, 0));
        // The same instant twice: no division by zero.
        let mut same = meter(1, 0.5);
        same.sample(t0, 0);
        assert!(same.sample(t0, 10 * MS));
        assert_eq!(same.load(), 0.0);
        // A counter that went backwards restarts the window: admitted.
        assert!(m.sample(t0 + Duration::from_secs(1), 0));
        // One sample far after a long pause: the anchor is the last sample
        // at or before the window's start, so a gap is measured as idle.
        let mut gap = meter(1, 0.5);
        gap.sample(t0, 0);
        assert!(gap.sample(t0 + Duration::from_secs(60), 30 * MS));
        assert!(gap.load() < 0.01);
    }

    #[test]
    fn samples_are_bounded() {
        let mut m = meter(1, 0.9);
        let t0 = Instant::now();
        for i in 0..10_000u64 {
            m.sample(t0 + Duration::from_micros(i), i);
        }
        assert!(m.samples.len() <= MAX_SAMPLES);
    }

    #[test]
    fn late_ticks_refuse_whatever_the_cpu_says() {
        let mut m = meter(1, 0.85);
        let t0 = Instant::now();
        m.sample_ticks(t0, 0, 0, 0);
        // 10 % CPU, 10 ticks per 100 ms, none late: admitted.
        let mut t = t0;
        let (mut busy, mut ticks, mut late) = (0, 0, 0);
        for _ in 0..10 {
            t += Duration::from_millis(100);
            busy += 10 * MS;
            ticks += 10;
            assert!(m.sample_ticks(t, busy, ticks, late));
        }
        assert_eq!(m.late_fraction(), 0.0);
        // A preempted worker: the same CPU, 1 tick in 10 late.
        for _ in 0..3 {
            t += Duration::from_millis(100);
            busy += 10 * MS;
            ticks += 10;
            late += 1;
            m.sample_ticks(t, busy, ticks, late);
        }
        assert!(!m.admits(), "late {}", m.late_fraction());
        assert!(m.load() < 0.2);
        // A second on schedule: admitted again.
        for _ in 0..11 {
            t += Duration::from_millis(100);
            busy += 10 * MS;
            ticks += 10;
            m.sample_ticks(t, busy, ticks, late);
        }
        assert!(m.admits(), "late {}", m.late_fraction());
    }

    #[test]
    fn a_new_call_must_fit() {
        let mut m = meter(1, 0.85);
        let t0 = Instant::now();
        m.sample(t0, 0);
        // 80 % over 40 calls (2 % each): 40 fit nothing more than 2 %...
        run(&mut m, t0, 0, 10, 80);
        assert!(m.admits(), "below max_load");
        assert!(m.admits_call(40), "82 % < 85 %");
        // ...but 80 % over 10 calls (8 % each) does not.
        assert!(!m.admits_call(10), "88 % > 85 %");
        // No calls measured: the load alone.
        assert!(m.admits_call(0));
    }

    /// Feeds a fresh meter 1 s of 100 ms samples with `calls` calls and
    /// `busy_ms` of work per sample; returns the last sample's time and
    /// busy counter.
    fn steady_calls(m: &mut LoadMeter, calls: usize, busy_ms: u64) -> (Instant, u64) {
        let mut t = Instant::now();
        let mut busy = 0;
        m.sample_worker(t, busy, 0, 0, calls);
        for _ in 0..10 {
            t += Duration::from_millis(100);
            busy += busy_ms * MS;
            m.sample_worker(t, busy, 0, 0, calls);
        }
        (t, busy)
    }

    #[test]
    fn a_burst_of_calls_is_costed_by_the_mean_calls() {
        let mut m = meter(1, 0.85);
        // 20 calls of 1 % each (1 ms of work per 100 ms each) for 1 s.
        let (mut t, mut busy) = steady_calls(&mut m, 20, 20);
        assert!(m.admits_call(20));
        // A burst: 90 calls within 0.5 s, each costing only once there.
        for calls in [34u64, 48, 62, 76, 90] {
            t += Duration::from_millis(100);
            busy += calls * MS;
            m.sample_worker(t, busy, 0, 0, calls as usize);
        }
        // The window's load (41 %) with the newest calls barely in it
        // would admit; 91 calls of 1 % do not fit in 85 %.
        assert!(m.load() < 0.5 && m.admits());
        assert!(!m.admits_call(90));
        // Steady at 60 calls: 61 × 1 % fits.
        for _ in 0..11 {
            t += Duration::from_millis(100);
            busy += 60 * MS;
            m.sample_worker(t, busy, 0, 0, 60);
        }
        assert!(m.admits_call(60), "load {}", m.load());
        assert!(!m.admits_call(85), "86 % of calls");
    }

    #[test]
    fn a_new_max_load_applies_at_the_next_sample() {
        let mut m = meter(1, 0.85);
        let t0 = Instant::now();
        m.sample(t0, 0);
        run(&mut m, t0, 0, 10, 60);
        assert!(m.admits(), "60 % < 85 %");
        m.set_max_load(0.5);
        assert_eq!(m.max_load(), 0.5);
        let t = t0 + Duration::from_millis(1100);
        assert!(!m.sample(t, 660 * MS), "60 % >= 50 %");
        m.set_max_load(0.9);
        assert!(
            m.sample(t + Duration::from_millis(100), 720 * MS),
            "below 0.8 x 90 %"
        );
    }

    #[test]
    fn a_ramp_of_cheap_calls_is_not_refused() {
        // Calls of 0.05 % each (G.711 passthrough) arriving at 40 per 100
        // ms: the count at the window's start says little, the mean says
        // what the load was spent on.
        let mut m = meter(1, 0.85);
        let t0 = Instant::now();
        let mut t = t0;
        let mut busy: u64 = 0;
        m.sample_worker(t, busy, 0, 0, 10);
        for step in 1..=10u64 {
            let calls = 10 + 40 * step;
            t += Duration::from_millis(100);
            busy += calls * MS / 20;
            m.sample_worker(t, busy, 0, 0, calls as usize);
        }
        assert!(m.load() < 0.2, "load {}", m.load());
        assert!(
            m.admits_call(410),
            "mean {} load {}",
            m.mean_calls(),
            m.load()
        );
    }

    #[test]
    fn the_room_is_what_the_headroom_holds_at_the_measured_cost() {
        let mut m = meter(1, 0.85);
        // 20 calls of 2 % each (2 ms of work per 100 ms each) for 1 s: 40 %.
        steady_calls(&mut m, 20, 40);
        // (20 + n) × 2 % < 85 %: n = 22 (42 calls = 84 %; 43 = 86 %).
        assert_eq!(m.room_within(20, 1.0, 0.005), 22);
        // Calls placed since the sample count at the same cost.
        assert_eq!(m.room_within(30, 1.0, 0.005), 12);
        assert_eq!(m.room_within(42, 1.0, 0.005), 0, "42 × 2 % + 2 % > 85 %");
        // Within 0.8 of the limit (resuming): 68 %: 33 calls.
        assert_eq!(m.room_within(20, RESUME_FRACTION, 0.005), 13);
        // One more fits at 41 (84 %), none at 42 (86 %): as admits_call.
        assert_eq!(m.room_within(41, 1.0, 0.005), 1);
        assert!(m.admits_call(41) && !m.admits_call(42));
    }

    #[test]
    fn without_calls_the_room_uses_the_fallback_cost_and_is_at_least_one() {
        let mut m = meter(1, 0.85);
        let t0 = Instant::now();
        m.sample(t0, 0);
        // An idle worker with 5 % of fixed work: (85 - 5) / 1 % = 80 calls.
        run(&mut m, t0, 0, 10, 5);
        assert_eq!(m.room_within(0, 1.0, 0.01), 79);
        // A fallback cost larger than the headroom still admits one.
        assert_eq!(m.room_within(0, 1.0, 2.0), 1);
        // Over the limit: none.
        let mut busy_meter = meter(1, 0.04);
        busy_meter.sample(t0, 0);
        run(&mut busy_meter, t0, 0, 10, 5);
        assert_eq!(busy_meter.room_within(0, 1.0, 0.01), 0);
    }

    #[test]
    fn the_flag_hands_out_its_room_one_call_at_a_time() {
        let f = LoadFlag::default();
        assert!(f.try_admit(), "no sampler yet: admits");
        f.set_room(2);
        let g = f.clone();
        assert!(g.try_admit());
        assert!(f.try_admit());
        assert_eq!(f.room(), 0);
        assert!(!f.try_admit(), "room used up until the next sample");
        assert!(!f.is_overloaded(), "no room is not a refusing flag");
        f.set_room(5);
        f.set_overloaded(true);
        assert!(!f.try_admit(), "refusing");
        assert_eq!(f.room(), 5, "a refused call takes no room");
        f.set_overloaded(false);
        assert!(f.try_admit());
        assert_eq!(f.room(), 4);
    }

    #[test]
    fn a_tick_counter_going_backwards_restarts_the_window() {
        let mut m = meter(1, 0.5);
        let t0 = Instant::now();
        m.sample_ticks(t0, 0, 100, 50);
        m.sample_ticks(t0 + Duration::from_millis(100), MS, 110, 60);
        assert!(!m.admits());
        assert!(m.sample_ticks(t0 + Duration::from_millis(200), 2 * MS, 5, 0));
    }

    #[test]
    fn busy_clock_and_flag() {
        let c = BusyClock::default();
        c.clone().add(Duration::from_micros(3));
        c.add(Duration::from_micros(2));
        assert_eq!(c.total_ns(), 5_000);
        let f = LoadFlag::default();
        assert!(!f.is_overloaded());
        f.clone().set_overloaded(true);
        assert!(f.is_overloaded());
    }
}
