//! RTMP timestamps: 32-bit milliseconds that wrap (RTMP spec 1.0, 5.3.1.2).
//!
//! A leaf module (imports nothing from the crate): `rtmp` stamps messages
//! with [`RtmpTimestamp`] and re-exports it, and the media bridge takes
//! published audio's time as one (`media::Bridge::handle_rtmp_audio`),
//! without `media` importing `rtmp` (ARCHITECTURE.md, Layering).

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Sub};

/// An RTMP timestamp in milliseconds, relative to an arbitrary epoch chosen
/// by the sender. It wraps at 2^32 ms (about 49.7 days), so arithmetic is
/// modular and ordering is serial-number ordering (RFC 1982 style): `a` is
/// after `b` when `a - b` (mod 2^32) is in `1..2^31`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RtmpTimestamp(pub u32);

impl RtmpTimestamp {
    /// Timestamp 0.
    pub const ZERO: Self = Self(0);

    /// Makes a timestamp from milliseconds.
    pub const fn from_millis(ms: u32) -> Self {
        Self(ms)
    }

    /// The timestamp in milliseconds (mod 2^32).
    pub const fn as_millis(self) -> u32 {
        self.0
    }

    /// Adds a delta in ms, wrapping at 2^32.
    #[must_use]
    pub const fn wrapping_add(self, delta_ms: u32) -> Self {
        Self(self.0.wrapping_add(delta_ms))
    }

    /// `self - earlier` in ms, wrapping at 2^32 (the forward distance).
    pub const fn wrapping_sub(self, earlier: Self) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }

    /// Signed distance `self - other` in ms under serial arithmetic,
    /// in `-2^31..2^31`.
    pub const fn signed_delta(self, other: Self) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// Serial-number comparison: `Less` when `self` is before `other`.
    /// Two timestamps exactly 2^31 apart are ambiguous; this follows
    /// [`Self::signed_delta`] and returns `Less` for both orders.
    pub fn serial_cmp(self, other: Self) -> Ordering {
        self.signed_delta(other).cmp(&0)
    }

    /// True when `self` is strictly after `other` in serial order.
    pub fn is_after(self, other: Self) -> bool {
        self.serial_cmp(other) == Ordering::Greater
    }
}

impl Add<u32> for RtmpTimestamp {
    type Output = Self;
    /// Wrapping addition of a delta in ms.
    fn add(self, delta_ms: u32) -> Self {
        self.wrapping_add(delta_ms)
    }
}

impl Sub for RtmpTimestamp {
    type Output = u32;
    /// Wrapping forward distance in ms.
    fn sub(self, earlier: Self) -> u32 {
        self.wrapping_sub(earlier)
    }
}

impl fmt::Display for RtmpTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_2_pow_32() {
        let t = RtmpTimestamp(u32::MAX - 9);
        assert_eq!(t + 20, RtmpTimestamp(10));
        assert_eq!(RtmpTimestamp(10) - t, 20);
        assert_eq!(RtmpTimestamp(10).signed_delta(t), 20);
        assert_eq!(t.signed_delta(RtmpTimestamp(10)), -20);
    }

    #[test]
    fn serial_order_across_the_wrap() {
        let before = RtmpTimestamp(u32::MAX - 5);
        let after = RtmpTimestamp(3);
        assert!(after.is_after(before));
        assert!(!before.is_after(after));
        assert_eq!(before.serial_cmp(after), Ordering::Less);
        assert_eq!(after.serial_cmp(after), Ordering::Equal);
        assert!(RtmpTimestamp(2000).is_after(RtmpTimestamp(1000)));
    }
}
