//! Media time on the RTP timeline: a wrapping 32-bit timestamp in clock
//! ticks (RFC 3550 §5.1 "timestamp"), and explicit conversions to and from
//! milliseconds and [`Duration`] for a given clock rate (RFC 3551 §4.5).

use std::time::Duration;

/// An RTP timestamp: ticks of the payload format's clock, wrapping at 2^32.
///
/// Comparisons across the wrap use [`RtpTimestamp::delta`], which is
/// meaningful while the two stamps are less than 2^31 ticks apart (about
/// 37 hours at 16 kHz).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RtpTimestamp(pub u32);

impl RtpTimestamp {
    /// This timestamp advanced by `ticks`, wrapping.
    pub fn advance(self, ticks: u32) -> Self {
        RtpTimestamp(self.0.wrapping_add(ticks))
    }

    /// Signed distance `self - earlier`, in ticks (negative if `self` is
    /// before `earlier` on the wrapping timeline).
    pub fn delta(self, earlier: RtpTimestamp) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }

    /// Whether `self` is strictly after `other` on the wrapping timeline.
    pub fn is_after(self, other: RtpTimestamp) -> bool {
        self.delta(other) > 0
    }
}

/// Milliseconds to clock ticks at `clock_rate` Hz (truncating).
pub fn ms_to_ticks(ms: u32, clock_rate: u32) -> u32 {
    (u64::from(ms) * u64::from(clock_rate) / 1000) as u32
}

/// Clock ticks to milliseconds at `clock_rate` Hz (truncating; 0 Hz gives 0).
pub fn ticks_to_ms(ticks: u64, clock_rate: u32) -> u64 {
    ticks
        .saturating_mul(1000)
        .checked_div(u64::from(clock_rate))
        .unwrap_or(0)
}

/// A [`Duration`] as clock ticks at `clock_rate` Hz, modulo 2^32 (for
/// RTP arrival times, RFC 3550 §A.8).
pub fn duration_to_ticks(d: Duration, clock_rate: u32) -> u32 {
    (d.as_nanos() * u128::from(clock_rate) / 1_000_000_000) as u32
}

/// Clock ticks at `clock_rate` Hz as a [`Duration`] (0 Hz gives zero).
pub fn ticks_to_duration(ticks: u32, clock_rate: u32) -> Duration {
    if clock_rate == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(u64::from(ticks) * 1_000_000_000 / u64::from(clock_rate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wraps_and_compares() {
        let near_end = RtpTimestamp(u32::MAX - 100);
        let after = near_end.advance(320);
        assert_eq!(after, RtpTimestamp(219));
        assert_eq!(after.delta(near_end), 320);
        assert_eq!(near_end.delta(after), -320);
        assert!(after.is_after(near_end));
        assert!(!near_end.is_after(after));
    }

    #[test]
    fn conversions() {
        assert_eq!(ms_to_ticks(20, 8_000), 160);
        assert_eq!(ms_to_ticks(20, 16_000), 320);
        assert_eq!(ticks_to_ms(320, 16_000), 20);
        assert_eq!(ticks_to_ms(5, 0), 0);
        assert_eq!(duration_to_ticks(Duration::from_millis(20), 8_000), 160);
        assert_eq!(ticks_to_duration(160, 8_000), Duration::from_millis(20));
        assert_eq!(ticks_to_duration(160, 0), Duration::ZERO);
    }

    proptest! {
        #[test]
        fn delta_inverts_add(start in any::<u32>(), ticks in 0u32..(1 << 31)) {
            let t = RtpTimestamp(start);
            prop_assert_eq!(t.advance(ticks).delta(t), ticks as i32);
        }
    }
}
