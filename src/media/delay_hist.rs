//! [`DelayHistogram`]: how long packets waited in the jitter buffer, from
//! arrival to playout, as fixed buckets (a `Copy` value, so it rides in
//! [`super::BridgeStats`] snapshots and is summed into a Prometheus
//! histogram when a call ends: `rtmp2sip_jitter_delay_seconds`).
//!
//! Issue 10 item 4 asks for the jitter buffer's added delay and its p99
//! next to the PESQ figures; [`DelayHistogram::quantile_ms`] reads them back
//! with the resolution of the buckets (5 ms up to 50 ms).

use std::time::Duration;

/// Upper bounds of the buckets, in ms; one more bucket holds the rest.
pub const BOUNDS_MS: [u32; 24] = [
    5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60, 70, 80, 90, 100, 120, 140, 160, 200, 250, 300, 500,
    750, 1000,
];

/// Number of buckets: one per bound, and the last for longer waits.
pub const BUCKETS: usize = BOUNDS_MS.len() + 1;

/// Counts of per-packet delays (arrival to playout) by bucket, and their sum.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct DelayHistogram {
    /// Packets per bucket: `counts[i]` waited at most `BOUNDS_MS[i]` ms
    /// and more than the bound before it; the last counts the rest.
    pub counts: [u64; BUCKETS],
    /// Sum of all delays, in µs.
    pub sum_us: u64,
}

impl DelayHistogram {
    /// Counts one packet that waited `delay`.
    pub fn record(&mut self, delay: Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_MS
            .iter()
            .position(|&b| us <= u64::from(b) * 1000)
            .unwrap_or(BUCKETS - 1);
        if let Some(c) = self.counts.get_mut(i) {
            *c = c.saturating_add(1);
        }
        self.sum_us = self.sum_us.saturating_add(us);
    }

    /// Packets counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().fold(0u64, |a, &c| a.saturating_add(c))
    }

    /// Adds another histogram's counts (e.g. several calls).
    pub fn merge(&mut self, other: &DelayHistogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
    }

    /// The upper bound (ms) of the bucket holding quantile `q` (0..=1),
    /// `None` when empty; a quantile in the last bucket reads as
    /// `u32::MAX` (over 1 s).
    pub fn quantile_ms(&self, q: f64) -> Option<u32> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen = seen.saturating_add(c);
            if seen >= rank {
                return Some(BOUNDS_MS.get(i).copied().unwrap_or(u32::MAX));
            }
        }
        Some(u32::MAX)
    }

    /// The mean delay, `None` when empty.
    pub fn mean(&self) -> Option<Duration> {
        let n = self.count();
        (n > 0).then(|| Duration::from_micros(self.sum_us / n))
    }

    /// `(upper bound in seconds, count)` per bucket, the last bound
    /// `f64::MAX` (+Inf): the shape a Prometheus histogram encodes.
    pub fn buckets_seconds(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        self.counts.iter().enumerate().map(|(i, &c)| {
            let bound = BOUNDS_MS
                .get(i)
                .map_or(f64::MAX, |&b| f64::from(b) / 1000.0);
            (bound, c)
        })
    }
}

/// Compact: count, mean and p50/p99 in ms (the buckets' bounds), not the
/// 25 counts (this lands in the "media ended" log line).
impl std::fmt::Debug for DelayHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |q: Option<u32>| q.map_or(0, u64::from);
        f.debug_struct("DelayHistogram")
            .field("count", &self.count())
            .field("mean_ms", &self.mean().map_or(0, |d| d.as_millis()))
            .field("p50_ms", &ms(self.quantile_ms(0.5)))
            .field("p99_ms", &ms(self.quantile_ms(0.99)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn empty_has_no_quantiles() {
        let h = DelayHistogram::default();
        assert_eq!(h.count(), 0);
        assert_eq!(h.quantile_ms(0.99), None);
        assert_eq!(h.mean(), None);
    }

    #[test]
    fn buckets_are_upper_inclusive() {
        let mut h = DelayHistogram::default();
        h.record(ms(5));
        h.record(Duration::from_micros(5001));
        h.record(ms(0));
        h.record(ms(1000));
        h.record(ms(5000));
        assert_eq!(h.counts[0], 2, "0 and 5 ms");
        assert_eq!(h.counts[1], 1, "5.001 ms");
        assert_eq!(h.counts[BUCKETS - 2], 1, "1 s");
        assert_eq!(h.counts[BUCKETS - 1], 1, "over 1 s");
        assert_eq!(h.count(), 5);
        assert_eq!(h.sum_us, 5000 + 5001 + 1_000_000 + 5_000_000);
    }

    #[test]
    fn quantiles_read_bucket_bounds() {
        let mut h = DelayHistogram::default();
        // 98 packets at 38 ms, one at 58 ms, one at 130 ms.
        for _ in 0..98 {
            h.record(ms(38));
        }
        h.record(ms(58));
        h.record(ms(130));
        assert_eq!(h.quantile_ms(0.5), Some(40));
        assert_eq!(h.quantile_ms(0.98), Some(40));
        assert_eq!(h.quantile_ms(0.99), Some(60));
        assert_eq!(h.quantile_ms(1.0), Some(140));
        assert_eq!(
            h.mean(),
            Some(Duration::from_micros(
                (98 * 38_000 + 58_000 + 130_000) / 100
            ))
        );
        h.record(ms(2000));
        assert_eq!(h.quantile_ms(1.0), Some(u32::MAX));
    }

    #[test]
    fn merge_adds_counts_and_sums() {
        let mut a = DelayHistogram::default();
        let mut b = DelayHistogram::default();
        a.record(ms(12));
        b.record(ms(12));
        b.record(ms(300));
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.counts[2], 2);
        assert_eq!(a.sum_us, 324_000);
        let secs: Vec<(f64, u64)> = a.buckets_seconds().collect();
        assert_eq!(secs.len(), BUCKETS);
        assert_eq!(secs[2], (0.015, 2));
        assert_eq!(secs[BUCKETS - 1].0, f64::MAX);
    }

    #[test]
    fn debug_is_compact() {
        let mut h = DelayHistogram::default();
        h.record(ms(30));
        assert_eq!(
            format!("{h:?}"),
            "DelayHistogram { count: 1, mean_ms: 30, p50_ms: 30, p99_ms: 30 }"
        );
    }
}
