//! A per-call work budget: a client that publishes audio faster than real
//! time (e.g. 4 KiB Nellymoser messages at line rate, ~371 ms of audio
//! each) must not take a media worker's core.
//!
//! [`WorkBudget`] is a sans-IO token bucket in ms of media time: it fills
//! at [`RATE`] ms per ms of wall time (twice real time) up to [`BURST_MS`],
//! each published message is charged the media time it produced (at least
//! [`MIN_CHARGE_MS`], so floods of tiny or invalid messages are bounded
//! too), and while the bucket is empty published messages are dropped
//! before they are decoded. A client publishing in real time never runs
//! dry; one that sends a backlog after a stall may catch up by
//! [`BURST_MS`].

use std::time::{Duration, Instant};

/// Media time granted per unit of wall time.
pub const RATE: u32 = 2;

/// The most media time a call may take at once, in ms (the bucket's size).
pub const BURST_MS: u32 = 2000;

/// The least a published message is charged, in ms.
pub const MIN_CHARGE_MS: u32 = 1;

/// The sans-IO token bucket of one call's media work.
#[derive(Debug, Clone)]
pub struct WorkBudget {
    /// Media time left, in µs (negative after a message that overdrew it).
    tokens_us: i64,
    last: Instant,
    dropped: u64,
}

impl WorkBudget {
    /// A full bucket at `now`.
    pub fn new(now: Instant) -> Self {
        Self {
            tokens_us: i64::from(BURST_MS) * 1000,
            last: now,
            dropped: 0,
        }
    }

    /// Whether a message arriving at `now` may be handled; counts it as
    /// dropped when not.
    pub fn admit(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens_us > 0 {
            true
        } else {
            self.dropped += 1;
            false
        }
    }

    /// Charges a handled message for the media time it produced, in ms.
    pub fn charge(&mut self, media_ms: u32) {
        let ms = i64::from(media_ms.max(MIN_CHARGE_MS));
        // Overdrawn by at most one burst: a huge charge cannot lock the
        // call out for long.
        let floor = -i64::from(BURST_MS) * 1000;
        self.tokens_us = (self.tokens_us - ms * 1000).max(floor);
    }

    /// Messages dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = self.last.max(now);
        let gained = elapsed
            .min(Duration::from_secs(60))
            .as_micros()
            .saturating_mul(u128::from(RATE));
        let cap = i64::from(BURST_MS) * 1000;
        let gained = i64::try_from(gained).unwrap_or(cap);
        self.tokens_us = self.tokens_us.saturating_add(gained).min(cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T20: Duration = Duration::from_millis(20);

    #[test]
    fn real_time_audio_is_never_dropped() {
        let t0 = Instant::now();
        let mut b = WorkBudget::new(t0);
        for i in 1..=3000u32 {
            assert!(b.admit(t0 + T20 * i), "frame {i}");
            b.charge(20);
        }
        assert_eq!(b.dropped(), 0);
    }

    #[test]
    fn a_flood_is_held_to_twice_real_time() {
        // 4 KiB Nellymoser 44.1 kHz messages (64 blocks × 256 samples,
        // ~371 ms each) every 1 ms for 10 s.
        let t0 = Instant::now();
        let mut b = WorkBudget::new(t0);
        let mut handled_ms = 0u64;
        for i in 1..=10_000u32 {
            if b.admit(t0 + Duration::from_millis(u64::from(i))) {
                b.charge(371);
                handled_ms += 371;
            }
        }
        // 2 × 10 s, plus the first burst and one overdrawing message.
        let bound = 2 * 10_000 + u64::from(BURST_MS) + 371;
        assert!(handled_ms <= bound, "{handled_ms} ms of media in 10 s");
        assert!(handled_ms >= 2 * 10_000 - 371, "{handled_ms}");
        assert!(b.dropped() > 9_000);
    }

    #[test]
    fn a_backlog_after_a_stall_catches_up_by_the_burst() {
        let t0 = Instant::now();
        let mut b = WorkBudget::new(t0);
        // 1.5 s of 20 ms frames at once: within the burst.
        for _ in 0..75 {
            assert!(b.admit(t0));
            b.charge(20);
        }
        assert_eq!(b.dropped(), 0);
        // A second backlog right away runs dry ...
        let mut dropped = false;
        for _ in 0..100 {
            if b.admit(t0) {
                b.charge(20);
            } else {
                dropped = true;
            }
        }
        assert!(dropped);
        // ... and refills within a second.
        assert!(b.admit(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn tiny_messages_cost_at_least_the_minimum_and_debt_is_bounded() {
        let t0 = Instant::now();
        let mut b = WorkBudget::new(t0);
        let mut handled = 0;
        for _ in 0..10_000 {
            if b.admit(t0) {
                b.charge(0);
                handled += 1;
            }
        }
        assert_eq!(handled, BURST_MS / MIN_CHARGE_MS);
        b.charge(u32::MAX);
        // At most one burst of debt: 1 s at twice real time repays it.
        assert!(b.admit(t0 + Duration::from_millis(1001)));
    }

    #[test]
    fn time_going_backwards_grants_nothing() {
        let t0 = Instant::now() + Duration::from_secs(5);
        let mut b = WorkBudget::new(t0);
        b.charge(BURST_MS);
        assert!(!b.admit(t0 - Duration::from_secs(1)));
        assert!(!b.admit(t0));
    }
}
