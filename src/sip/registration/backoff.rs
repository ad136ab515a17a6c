//! Timing rules of a registration: when to refresh a binding and how long
//! to wait after a failure. Pure functions of their inputs.

use std::time::Duration;

/// The largest binding lifetime the timers honour, in seconds (one year).
/// RFC 3261 §20.19 allows up to 2^32-1 s; longer grants are treated as this.
pub const MAX_EXPIRES_S: u32 = 365 * 24 * 3600;

/// How long after a successful REGISTER the refresh goes out, for a binding
/// granted `granted_s` seconds.
///
/// Rule: 60 s before expiry, but never later than half-way through:
/// `max(granted/2, granted - 60 s)`. So 3600 s refreshes at 3540 s, 120 s at
/// 60 s, 10 s at 5 s. The 60 s margin leaves room for one whole UDP
/// transaction timeout (64*T1 = 32 s, RFC 3261 §17.1.2.2) plus a retry
/// before the binding lapses; RFC 3261 §10.2.4 leaves the choice to the UA.
pub fn refresh_delay(granted_s: u32) -> Duration {
    let granted_ms = u64::from(granted_s.min(MAX_EXPIRES_S)) * 1000;
    Duration::from_millis((granted_ms / 2).max(granted_ms.saturating_sub(60_000)))
}

/// Exponential backoff after consecutive failures: `initial` after the first
/// failure, doubling per further failure, capped at `max`, then scaled by a
/// jitter factor in [0.75, 1.0] (`jitter` in [0, 1) picks it; 0 gives the
/// full delay). The jitter spreads the retries of many registrations that
/// failed at once (one registrar outage) over a quarter of the interval.
pub fn backoff_delay(failures: u32, initial: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let base = initial.saturating_mul(1u32 << exp).min(max);
    let j = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    base.mul_f64(1.0 - 0.25 * j)
}

/// A small deterministic generator (SplitMix64) for the backoff jitter, so
/// the sans-IO core stays reproducible from a seed.
#[derive(Debug, Clone)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next value in [0, 1).
    pub fn next_unit(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 random bits -> [0, 1)
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn refresh_is_halfway_for_short_and_sixty_seconds_early_for_long() {
        assert_eq!(refresh_delay(10), Duration::from_millis(5_000));
        assert_eq!(refresh_delay(1), Duration::from_millis(500));
        assert_eq!(refresh_delay(60), S(30));
        assert_eq!(refresh_delay(120), S(60));
        assert_eq!(refresh_delay(300), S(240));
        assert_eq!(refresh_delay(3600), S(3540));
        assert_eq!(refresh_delay(0), Duration::ZERO);
    }

    #[test]
    fn refresh_caps_huge_grants() {
        assert_eq!(refresh_delay(u32::MAX), S(u64::from(MAX_EXPIRES_S) - 60));
    }

    #[test]
    fn backoff_doubles_from_two_seconds_to_five_minutes() {
        let d = |n| backoff_delay(n, S(2), S(300), 0.0);
        assert_eq!(d(1), S(2));
        assert_eq!(d(2), S(4));
        assert_eq!(d(3), S(8));
        assert_eq!(d(8), S(256));
        assert_eq!(d(9), S(300));
        assert_eq!(d(1000), S(300));
        assert_eq!(d(0), S(2));
    }

    #[test]
    fn jitter_takes_off_at_most_a_quarter() {
        assert_eq!(
            backoff_delay(1, S(2), S(300), 0.5),
            Duration::from_millis(1750)
        );
        assert_eq!(
            backoff_delay(9, S(2), S(300), 0.999_999),
            S(300).mul_f64(1.0 - 0.25 * 0.999_999)
        );
        assert_eq!(backoff_delay(1, S(2), S(300), f64::NAN), S(2));
        assert_eq!(
            backoff_delay(1, S(2), S(300), 7.0),
            Duration::from_millis(1500)
        );
    }

    #[test]
    fn jitter_generator_is_in_unit_range_and_varies() {
        let mut j = Jitter::new(42);
        let v: Vec<f64> = (0..1000).map(|_| j.next_unit()).collect();
        assert!(v.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((0.4..0.6).contains(&mean), "mean {mean}");
        let mut again = Jitter::new(42);
        assert_eq!(again.next_unit(), v[0]);
    }
}
