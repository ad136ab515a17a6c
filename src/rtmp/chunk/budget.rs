//! A memory budget for chunk reassembly shared by every connection's
//! [`ChunkReader`](super::ChunkReader).
//!
//! Each reader may hold up to `max_chunk_streams x max_message_size` bytes
//! of partly received messages; over many connections that product can
//! exceed the machine. The budget bounds the sum: a reader takes bytes
//! from it before it grows a partial message's buffer and gives them back
//! when the message completes, is aborted (spec 5.4.2), or the reader is
//! dropped. A reader that cannot take what it needs fails with
//! [`RtmpError::ReassemblyBudgetExhausted`](crate::rtmp::RtmpError), and
//! its connection is closed; the others keep what they hold.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A shared byte budget (cheap to clone: an `Arc`).
#[derive(Debug, Clone)]
pub struct ReassemblyBudget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Bytes all readers together may hold (a live reload may change it).
    limit: AtomicU64,
    /// Bytes held now.
    used: AtomicU64,
}

impl ReassemblyBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                limit: AtomicU64::new(limit),
                used: AtomicU64::new(0),
            }),
        }
    }

    /// The budget's size in bytes.
    pub fn limit(&self) -> u64 {
        self.inner.limit.load(Ordering::Relaxed)
    }

    /// A new size (a live reload): bytes already held stay held; new
    /// reservations fit under `limit`.
    pub fn set_limit(&self, limit: u64) {
        self.inner.limit.store(limit, Ordering::Relaxed);
    }

    /// Bytes held by all readers now.
    pub fn used(&self) -> u64 {
        self.inner.used.load(Ordering::Relaxed)
    }

    /// Takes `n` bytes; false (and nothing taken) when fewer are left.
    pub fn try_take(&self, n: u64) -> bool {
        let limit = self.limit();
        self.inner
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|total| *total <= limit)
            })
            .is_ok()
    }

    /// Gives back `n` bytes taken before.
    pub fn give_back(&self, n: u64) {
        let _ = self
            .inner
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(n))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_up_to_the_limit_and_gives_back() {
        let b = ReassemblyBudget::new(100);
        assert!(b.try_take(60));
        assert!(!b.try_take(41));
        assert_eq!(b.used(), 60);
        assert!(b.try_take(40));
        b.give_back(100);
        assert_eq!(b.used(), 0);
        b.give_back(5);
        assert_eq!(b.used(), 0, "never below zero");
        assert!(!b.try_take(u64::MAX), "no overflow");
    }
}
