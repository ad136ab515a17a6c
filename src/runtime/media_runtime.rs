//! The media runtime: the calls' media tasks run on their own tokio
//! threads (`[media] workers`), apart from the I/O runtime that serves
//! RTMP, SIP and HTTP, so codec work never delays a socket or a control
//! message. Each media task re-registers its RTP/RTCP sockets with the
//! media runtime's reactor, so a datagram wakes a media thread directly.
//!
//! Every media task adds the time it spends on each step (a bridge input
//! and its output) to one [`BusyClock`]; [`spawn_sampler`] feeds it to
//! the sans-IO [`LoadMeter`] every [`SAMPLE_EVERY`] and publishes the
//! answer in a [`LoadFlag`] that `dial` and new INVITEs consult (load
//! shedding, `[limits] media_max_load`).

use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::metrics::Metrics;
use crate::media::load::{BusyClock, LoadConfig, LoadFlag, LoadMeter};

/// How often the load is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The sliding window the load is averaged over.
pub const LOAD_WINDOW: Duration = Duration::from_secs(1);

/// What connections need to start media and admit calls.
#[derive(Debug, Clone)]
pub struct MediaRuntime {
    /// Where media tasks are spawned.
    pub handle: Handle,
    /// The media workers (threads of `handle`'s runtime).
    pub workers: u32,
    /// Busy time of every media task, in ns.
    pub busy: BusyClock,
    /// True while new calls are refused for overload.
    pub load: LoadFlag,
}

impl MediaRuntime {
    /// Media on `handle` (a runtime of `workers` threads).
    pub fn new(handle: Handle, workers: u32) -> Self {
        Self {
            handle,
            workers: workers.max(1),
            busy: BusyClock::default(),
            load: LoadFlag::default(),
        }
    }
}

/// Builds the media runtime: `workers` threads named `rtmp2sip-media`.
///
/// # Errors
/// The OS error when the threads cannot be started.
pub fn build(workers: u32) -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1) as usize)
        .thread_name("rtmp2sip-media")
        .enable_all()
        .build()
}

/// Samples the media workers' busy time every [`SAMPLE_EVERY`] until
/// `stop`, sets `media.load` (admit or refuse new calls) with the
/// hysteresis of [`LoadMeter`], and the `media_load` gauge.
pub fn spawn_sampler(
    media: &MediaRuntime,
    max_load: f64,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let mut meter = LoadMeter::new(LoadConfig {
        workers: media.workers,
        max_load,
        window: LOAD_WINDOW,
    });
    let busy = media.busy.clone();
    let flag = media.load.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let admits = meter.sample(std::time::Instant::now(), busy.total_ns());
            metrics.set_media_load(meter.load());
            if admits == flag.is_overloaded() {
                if admits {
                    info!(
                        load = meter.load(),
                        "media load below the limit: admitting new calls"
                    );
                } else {
                    warn!(
                        load = meter.load(),
                        max_load, "media workers overloaded: refusing new calls"
                    );
                }
                flag.set_overloaded(!admits);
            }
        }
    });
}
