//! `[limits] max_dials_per_minute`: a sliding-window count of one
//! connection's `dial`s.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The window the limit applies to.
pub const DIAL_WINDOW: Duration = Duration::from_secs(60);

/// At most `max` events in any [`DIAL_WINDOW`]; memory is `max` instants.
#[derive(Debug)]
pub struct DialRate {
    max: usize,
    /// Times of the admitted events still inside the window, oldest first.
    times: VecDeque<Instant>,
}

impl DialRate {
    /// A limiter admitting `max` (at least 1) events per window.
    pub fn new(max: u32) -> Self {
        let max = (max as usize).max(1);
        Self {
            max,
            times: VecDeque::with_capacity(max.min(64)),
        }
    }

    /// The limit, events per window.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Records an event at `now` when fewer than `max` happened in the
    /// window before it; false (nothing recorded) otherwise.
    pub fn admit(&mut self, now: Instant) -> bool {
        while self
            .times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= DIAL_WINDOW)
        {
            self.times.pop_front();
        }
        if self.times.len() >= self.max {
            return false;
        }
        self.times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_on_a_virtual_clock() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut r = DialRate::new(3);
        assert!(r.admit(at(0)));
        assert!(r.admit(at(10)));
        assert!(r.admit(at(20)));
        assert!(!r.admit(at(30)), "4th within 60 s");
        assert!(!r.admit(at(59)));
        assert!(r.admit(at(60)), "the first left the window");
        assert!(!r.admit(at(61)));
        assert!(r.admit(at(70)));
        assert_eq!(r.times.len(), 3, "memory stays at max");
    }
}
