//! Places under a limit that a live reload may change: one permit per
//! call (`[limits] max_calls`) or per connection (`max_connections`).
//!
//! A tokio semaphore with room for the largest allowed limit hands out the
//! permits; the live limit is checked after taking one, so lowering it
//! never touches the holders (running calls go on) and only refuses new
//! ones until enough have ended. Two takers racing at the limit may both
//! be refused (never both admitted).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Room in the semaphore: the largest limit any `[limits]` key allows
/// (`max_connections` 1..=1000000).
const CAPACITY: usize = 1_000_000;

/// Permits under a limit that can change while they are held.
#[derive(Debug)]
pub struct Slots {
    sem: Arc<Semaphore>,
    limit: AtomicUsize,
}

impl Slots {
    /// Slots for at most `limit` holders (clamped to 1000000).
    pub fn new(limit: u32) -> Self {
        Self {
            sem: Arc::new(Semaphore::new(CAPACITY)),
            limit: AtomicUsize::new((limit as usize).min(CAPACITY)),
        }
    }

    /// A permit (released on drop), or `None` when `limit` are held.
    pub fn try_acquire(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.sem.clone().try_acquire_owned().ok()?;
        (self.in_use() <= self.limit.load(Ordering::Acquire)).then_some(permit)
    }

    /// Permits held now (including one being checked by `try_acquire`).
    pub fn in_use(&self) -> usize {
        CAPACITY.saturating_sub(self.sem.available_permits())
    }

    /// The limit from now on; held permits stay valid.
    pub fn set_limit(&self, limit: u32) {
        self.limit
            .store((limit as usize).min(CAPACITY), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowering_the_limit_keeps_holders_and_refuses_new_ones() {
        let s = Slots::new(2);
        let a = s.try_acquire().expect("first");
        let b = s.try_acquire().expect("second");
        assert!(s.try_acquire().is_none(), "at the limit");
        s.set_limit(1);
        assert_eq!(s.in_use(), 2, "holders keep their places");
        drop(a);
        assert!(s.try_acquire().is_none(), "still at the new limit");
        drop(b);
        let c = s.try_acquire().expect("room again");
        s.set_limit(3);
        let _d = s.try_acquire().expect("raised");
        drop(c);
        assert_eq!(s.in_use(), 1);
    }

    #[test]
    fn zero_admits_nobody() {
        let s = Slots::new(0);
        assert!(s.try_acquire().is_none());
        assert_eq!(s.in_use(), 0);
    }
}
