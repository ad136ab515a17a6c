//! The media side of the gateway: the calls' media run on media workers
//! ([`super::media_worker`]: `[media] workers` OS threads, each owning
//! many calls in a tick loop), apart from the I/O runtime that serves
//! RTMP, SIP and HTTP, so codec work never delays a socket or a control
//! message.
//!
//! Each worker counts its own thread CPU time, ticks and late ticks;
//! [`spawn_sampler`] feeds them to one sans-IO [`LoadMeter`] per worker
//! every [`SAMPLE_EVERY`] and publishes the answer in a [`LoadFlag`] that
//! `dial` and new INVITEs consult (load shedding, `[limits]
//! media_max_load`): new calls are admitted while some worker has room
//! for one more call ([`LoadMeter::admits_call`]) and the I/O runtime
//! keeps its own schedule: a probe task wakes every [`IO_PROBE_EVERY`]
//! and counts the wake-ups [`IO_LATE`] or more behind, ticks of another
//! meter (SIP, HTTP and the WebSocket and RTMPT connections run there; a
//! machine whose cores are taken by other processes shows there first).
//! Late wake-ups count only while some call is up ([`WhileBusy`]): with no
//! call, lateness delays no audio, and refusing the first call for a
//! moment's contention (a browser starting on the same machine) would
//! only lose it.
//!
//! The whole process is metered too: its CPU time (every thread's: the
//! workers', SIP's, HTTP's) over the CPUs it may run on
//! (`available_parallelism`: affinity and cgroup quota) must stay under
//! `max_load` with one more call at the measured cost per call
//! ([`LoadMeter::admits_call`]), while some call is up. A worker's own
//! meter cannot see
//! the other threads that share its core; on a gateway confined to one
//! CPU they took the last 10 % and every call's audio stalled together.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::media_worker::cputime::process_cpu_ns;
use super::media_worker::tick::DEFAULT_CALL_COST;
use super::media_worker::MediaWorkers;
use super::metrics::Metrics;
use crate::media::load::{LoadConfig, LoadFlag, LoadMeter, MAX_LATE_FRACTION, RESUME_FRACTION};

/// How often the load is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The sliding window the load is averaged over.
pub const LOAD_WINDOW: Duration = Duration::from_secs(1);

/// How often the I/O probe wakes.
pub const IO_PROBE_EVERY: Duration = Duration::from_millis(10);

/// A probe wake-up this late means the I/O runtime is behind (a 20 ms
/// frame).
pub const IO_LATE: Duration = Duration::from_millis(20);

/// Fraction of the probe's wake-ups in the window that may be late (2 %:
/// two a second) before new calls are refused.
pub const IO_MAX_LATE: f64 = 0.02;

/// What connections need to start media and admit calls.
#[derive(Debug, Clone)]
pub struct MediaRuntime {
    /// The media workers, where calls' media are placed.
    pub pool: MediaWorkers,
    /// True while new calls are refused for overload.
    pub load: LoadFlag,
}

impl MediaRuntime {
    /// Media on `pool`.
    pub fn new(pool: MediaWorkers) -> Self {
        Self {
            pool,
            load: LoadFlag::default(),
        }
    }
}

/// Starts the media workers: `workers` threads named `rtmp2sip-media-N`
/// ticking every `tick`.
///
/// # Errors
/// The OS error when a thread or its poller cannot be started.
pub fn build(workers: u32, tick: Duration) -> std::io::Result<MediaWorkers> {
    MediaWorkers::start(workers, tick)
}

/// Whether some worker has room for one more call: `meters` and each
/// worker's calls, the call fitting within `fraction` of the limit
/// ([`LoadMeter::admits_call_within`]).
pub fn admits(meters: &[LoadMeter], calls: &[usize], fraction: f64) -> bool {
    meters
        .iter()
        .zip(calls)
        .any(|(m, &calls)| m.admits_call_within(calls, fraction))
}

/// New calls that fit until the next sample ([`LoadMeter::room_within`]):
/// the workers' rooms summed (a call goes to one of them), bounded by the
/// whole process's room when it carries calls (`process`: its meter, its
/// calls, and the CPUs its load is a fraction of, which scale
/// [`DEFAULT_CALL_COST`]). 0 when no worker admits.
pub fn room(
    meters: &[LoadMeter],
    calls: &[usize],
    process: Option<(&LoadMeter, usize, usize)>,
    fraction: f64,
) -> u32 {
    let workers = meters
        .iter()
        .zip(calls)
        .map(|(m, &c)| m.room_within(c, fraction, DEFAULT_CALL_COST))
        .fold(0u32, u32::saturating_add);
    match process {
        Some((m, c, cpus)) => {
            let fallback = DEFAULT_CALL_COST / cpus.max(1) as f64;
            workers.min(m.room_within(c, fraction, fallback))
        }
        None => workers,
    }
}

/// Samples the media workers' counters every [`SAMPLE_EVERY`] until
/// `stop`, sets `media.load` (admit or refuse new calls) with the
/// hysteresis of [`LoadMeter`], and the `media_load` gauge (the mean of
/// the workers' loads). `max_load` is read at every sample, so a live
/// reload of `[limits] media_max_load` applies within [`SAMPLE_EVERY`].
pub fn spawn_sampler(
    media: &MediaRuntime,
    max_load: impl Fn() -> f64 + Send + 'static,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let limit = max_load;
    let max_load = limit();
    let pool = media.pool.clone();
    let cfg = LoadConfig {
        workers: 1,
        max_load,
        window: LOAD_WINDOW,
        max_late: MAX_LATE_FRACTION,
    };
    let mut meters: Vec<LoadMeter> = (0..pool.len()).map(|_| LoadMeter::new(cfg)).collect();
    let mut io = LoadMeter::new(LoadConfig {
        max_load: f64::INFINITY,
        max_late: IO_MAX_LATE,
        ..cfg
    });
    let probe = spawn_io_probe(stop.clone());
    let mut io_late = WhileBusy::default();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut process = LoadMeter::new(LoadConfig {
        workers: u32::try_from(cpus).unwrap_or(u32::MAX),
        max_late: f64::INFINITY,
        ..cfg
    });
    let mut process_cpu = WhileBusy::default();
    let flag = media.load.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            };
            let now = std::time::Instant::now();
            let max_load = limit();
            for m in meters
                .iter_mut()
                .chain(std::iter::once(&mut process))
                .filter(|m| m.max_load() != max_load)
            {
                m.set_max_load(max_load);
            }
            let counters = pool.counters();
            metrics.add_tick_lateness(&pool.take_tick_lateness());
            let (ticks, late) = probe.counts();
            let all_calls: usize = counters.iter().map(|c| c.calls).sum();
            let carrying_calls = all_calls > 0;
            io.sample_ticks(now, 0, ticks, io_late.update(late, carrying_calls));
            process.sample_worker(
                now,
                process_cpu.update(process_cpu_ns(), carrying_calls),
                0,
                0,
                all_calls,
            );
            let mut calls = Vec::with_capacity(counters.len());
            let mut total = 0.0;
            for (i, (m, c)) in meters.iter_mut().zip(&counters).enumerate() {
                m.sample_worker(now, c.cpu_ns, c.ticks, c.late_ticks, c.calls);
                pool.record_load(i, m.load(), c.calls);
                calls.push(c.calls);
                total += m.load();
            }
            let load = total / meters.len().max(1) as f64;
            metrics.set_media_load(load);
            // Hysteresis on the one-more-call check too: once refusing,
            // a call must fit within RESUME_FRACTION of the limit.
            let fraction = if flag.is_overloaded() {
                RESUME_FRACTION
            } else {
                1.0
            };
            let ok = io.admits()
                && (!carrying_calls || process.admits_call_within(all_calls, fraction))
                && admits(&meters, &calls, fraction);
            if ok == flag.is_overloaded() {
                if ok {
                    info!(load, "media load below the limit: admitting new calls");
                } else {
                    let late: Vec<f64> = meters.iter().map(LoadMeter::late_fraction).collect();
                    warn!(
                        load,
                        max_load,
                        ?late,
                        io_late = io.late_fraction(),
                        process_load = process.load(),
                        "media workers overloaded: refusing new calls"
                    );
                }
                flag.set_overloaded(!ok);
            }
            // The calls the dials before the next sample may still take
            // (a burst of dials cannot overshoot the headroom measured).
            let process_room = carrying_calls.then_some((&process, all_calls, cpus));
            flag.set_room(if ok {
                room(&meters, &calls, process_room, fraction)
            } else {
                0
            });
        }
    });
}

/// A cumulative counter (the I/O probe's late wake-ups, the process's
/// CPU time) counted only while some call is up (sans-IO; fed the
/// counter's cumulative value at each sample).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WhileBusy {
    /// The counter at the last sample.
    seen: u64,
    /// What counted so far (cumulative, for [`LoadMeter`]).
    counted: u64,
}

impl WhileBusy {
    /// Takes the counter's cumulative value `total` and whether some call
    /// is up now (`carrying_calls`); returns the cumulative amount that
    /// counts. The increase since the last sample is charged to this
    /// sample's state.
    pub fn update(&mut self, total: u64, carrying_calls: bool) -> u64 {
        let new = total.saturating_sub(self.seen);
        self.seen = total;
        if carrying_calls {
            self.counted = self.counted.saturating_add(new);
        }
        self.counted
    }
}

/// The I/O probe's counters: wake-ups, and those [`IO_LATE`] late.
#[derive(Debug, Clone, Default)]
struct IoProbe(Arc<(AtomicU64, AtomicU64)>);

impl IoProbe {
    fn counts(&self) -> (u64, u64) {
        (
            self.0 .0.load(Ordering::Relaxed),
            self.0 .1.load(Ordering::Relaxed),
        )
    }
}

/// Wakes every [`IO_PROBE_EVERY`] on the I/O runtime until `stop`,
/// counting how often it woke [`IO_LATE`] or more after its time.
fn spawn_io_probe(stop: CancellationToken) -> IoProbe {
    let probe = IoProbe::default();
    let counts = probe.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(IO_PROBE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let due = tokio::select! {
                _ = stop.cancelled() => break,
                due = tick.tick() => due,
            };
            let late = std::time::Instant::now().saturating_duration_since(due.into_std());
            counts.0 .0.fetch_add(1, Ordering::Relaxed);
            if late >= IO_LATE {
                counts.0 .1.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    probe
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn admission_needs_one_worker_with_room() {
        let cfg = LoadConfig {
            workers: 1,
            max_load: 0.85,
            window: LOAD_WINDOW,
            max_late: MAX_LATE_FRACTION,
        };
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        let busy = |ms: u64| ms * 1_000_000;
        let mut full = LoadMeter::new(cfg);
        full.sample(t0, 0);
        full.sample(t1, busy(900));
        let mut half = LoadMeter::new(cfg);
        half.sample(t0, 0);
        half.sample(t1, busy(500));
        assert!(!admits(&[full], &[45], 1.0));
        let mut full2 = LoadMeter::new(cfg);
        full2.sample(t0, 0);
        full2.sample(t1, busy(900));
        assert!(admits(&[full2, half], &[45, 25], 1.0));
        // The half-loaded worker's calls are expensive: one more does not fit.
        let mut half2 = LoadMeter::new(cfg);
        half2.sample(t0, 0);
        half2.sample(t1, busy(500));
        assert!(!admits(&[half2], &[1], 1.0));
        assert!(!admits(&[], &[], 1.0));
    }

    #[test]
    fn the_room_sums_the_workers_and_is_bounded_by_the_process() {
        let cfg = |workers: u32| LoadConfig {
            workers,
            max_load: 0.85,
            window: LOAD_WINDOW,
            max_late: MAX_LATE_FRACTION,
        };
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        let worker = |busy_ms: u64, calls: usize| {
            let mut m = LoadMeter::new(cfg(1));
            m.sample_worker(t0, 0, 0, 0, calls);
            m.sample_worker(t1, busy_ms * 1_000_000, 0, 0, calls);
            m
        };
        // 50 % over 25 calls (2 % each): 17 more; 90 %: none.
        let w = [worker(500, 25), worker(900, 45)];
        assert_eq!(room(&w, &[25, 45], None, 1.0), 17);
        // Two workers with room: their rooms add up.
        let w = [worker(500, 25), worker(500, 25)];
        assert_eq!(room(&w, &[25, 25], None, 1.0), 34);
        // The whole process (2 CPUs) at 60 % with 50 calls (1.2 % of both
        // each): (85 - 60) / 1.2 = 20.8: 20 more, not 34.
        let mut p = LoadMeter::new(cfg(2));
        p.sample_worker(t0, 0, 0, 0, 50);
        p.sample_worker(t1, 1_200_000_000, 0, 0, 50);
        assert_eq!(room(&w, &[25, 25], Some((&p, 50, 2)), 1.0), 20);
        assert_eq!(room(&[], &[], None, 1.0), 0);
    }

    #[test]
    fn late_io_wake_ups_count_only_while_a_call_is_up() {
        let mut b = WhileBusy::default();
        // Idle: 3 late wake-ups (a browser starting beside the gateway).
        assert_eq!(b.update(3, false), 0);
        assert_eq!(b.update(3, true), 0, "nothing new");
        // With calls up: 2 more count.
        assert_eq!(b.update(5, true), 2);
        // Idle again: not counted, and not charged later either.
        assert_eq!(b.update(9, false), 2);
        assert_eq!(b.update(10, true), 3);
        // The meter refuses only on what counts: the idle burst admits.
        let mut io = LoadMeter::new(LoadConfig {
            workers: 1,
            max_load: f64::INFINITY,
            window: LOAD_WINDOW,
            max_late: IO_MAX_LATE,
        });
        let mut b = WhileBusy::default();
        let t0 = Instant::now();
        let mut t = t0;
        for i in 1..=10u64 {
            t += SAMPLE_EVERY;
            // 10 wake-ups per sample, 3 of them late in every sample.
            assert!(io.sample_ticks(t, 0, 10 * i, b.update(3 * i, false)));
        }
        t += SAMPLE_EVERY;
        assert!(!io.sample_ticks(t, 0, 110, b.update(33, true)));
    }

    #[test]
    fn the_process_cpu_counts_against_its_cpus_while_calls_are_up() {
        let meter = |cpus: u32| {
            LoadMeter::new(LoadConfig {
                workers: cpus,
                max_load: 0.85,
                window: LOAD_WINDOW,
                max_late: f64::INFINITY,
            })
        };
        let ms = |n: u64| n * 1_000_000;
        let (mut one, mut two) = (meter(1), meter(2));
        let (mut w1, mut w2) = (WhileBusy::default(), WhileBusy::default());
        let t0 = Instant::now();
        let (mut t, mut cpu) = (t0, 0u64);
        one.sample(t, 0);
        two.sample(t, 0);
        // Idle but busy (starting up): 95 ms of CPU per 100 ms, no call.
        for _ in 0..10 {
            t += SAMPLE_EVERY;
            cpu += ms(95);
            assert!(one.sample(t, w1.update(cpu, false)));
            assert!(two.sample(t, w2.update(cpu, false)));
        }
        // Calls up: 90 ms per 100 ms is 0.9 of one CPU, 0.45 of two.
        for _ in 0..10 {
            t += SAMPLE_EVERY;
            cpu += ms(90);
            one.sample(t, w1.update(cpu, true));
            assert!(two.sample(t, w2.update(cpu, true)));
        }
        assert!(!one.admits(), "load {}", one.load());
        assert!((two.load() - 0.45).abs() < 0.01, "load {}", two.load());
        // With the calls counted, one more must fit at the measured cost:
        // 0.6 of one CPU for 12 calls is 0.05 a call.
        let mut m = meter(1);
        let mut w = WhileBusy::default();
        let (mut t, mut cpu) = (t0, 0u64);
        m.sample_worker(t, 0, 0, 0, 12);
        for _ in 0..10 {
            t += SAMPLE_EVERY;
            cpu += ms(60);
            m.sample_worker(t, w.update(cpu, true), 0, 0, 12);
        }
        assert!(m.admits_call(12), "13 x 0.05 = 0.65");
        // Calls admitted since (the window lags a ramp of dials): 17 now.
        assert!(!m.admits_call(16), "17 x 0.05 = 0.85");
        // While refusing, one more must fit within 0.8 of the limit.
        assert!(m.admits_call_within(12, RESUME_FRACTION), "0.65 < 0.68");
        assert!(!m.admits_call_within(13, RESUME_FRACTION), "0.70 > 0.68");
    }

    #[test]
    fn a_late_io_runtime_refuses_for_a_second() {
        let mut io = LoadMeter::new(LoadConfig {
            workers: 1,
            max_load: f64::INFINITY,
            window: LOAD_WINDOW,
            max_late: IO_MAX_LATE,
        });
        let t0 = Instant::now();
        let mut t = t0;
        // 10 probe wake-ups per sample, on time.
        for i in 1..=10u64 {
            t += SAMPLE_EVERY;
            assert!(io.sample_ticks(t, 0, 10 * i, 0));
        }
        // Two late in a second: refused...
        t += SAMPLE_EVERY;
        assert!(!io.sample_ticks(t, 0, 110, 2));
        // ...until they have left the window.
        let mut ok = false;
        for i in 12..=22u64 {
            t += SAMPLE_EVERY;
            ok = io.sample_ticks(t, 0, 10 * i, 2);
        }
        assert!(ok, "late {}", io.late_fraction());
    }
}
