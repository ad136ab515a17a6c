//! One publisher per call: a call's RTP stream toward the far end carries
//! one RTMP publisher's audio at a time.
//!
//! Two publishers mixed into one RTP stream (one SSRC, one sequence
//! counter, two interleaved timestamp timelines) are noise to the far end.
//! So each call's [`MediaHandle`](super::streams::MediaHandle) carries a
//! [`PublisherSlot`]; a NetStream that publishes into the call first takes
//! a [`PublishClaim`] on it, and a second publisher is refused
//! (`NetStream.Publish.BadName`) or, for the client's own unnamed stream,
//! its audio is not forwarded, until the first one's claim is dropped
//! (its NetStream closed, its connection gone, or the call ended).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Source of claim ids; 0 means "free".
static NEXT_CLAIM: AtomicU64 = AtomicU64::new(1);

/// A call's publisher slot, shared by every clone of its media handle.
#[derive(Debug, Clone, Default)]
pub struct PublisherSlot(Arc<AtomicU64>);

/// The right to publish into one call, held by one NetStream; dropping it
/// frees the slot.
#[derive(Debug)]
pub struct PublishClaim {
    slot: Arc<AtomicU64>,
    id: u64,
}

impl PublisherSlot {
    /// Takes the slot, or `None` when another NetStream holds it.
    pub fn claim(&self) -> Option<PublishClaim> {
        let id = NEXT_CLAIM.fetch_add(1, Ordering::Relaxed);
        self.0
            .compare_exchange(0, id, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| PublishClaim {
                slot: self.0.clone(),
                id,
            })
    }

    /// Whether `claim` is this slot's (a claim on another call's slot is not).
    pub fn holds(&self, claim: &PublishClaim) -> bool {
        Arc::ptr_eq(&self.0, &claim.slot)
    }
}

impl Drop for PublishClaim {
    fn drop(&mut self) {
        let _ = self
            .slot
            .compare_exchange(self.id, 0, Ordering::AcqRel, Ordering::Acquire);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_at_a_time_and_dropping_frees_the_slot() {
        let slot = PublisherSlot::default();
        let first = slot.claim();
        assert!(first.is_some());
        assert!(slot.claim().is_none(), "a second publisher is refused");
        assert!(slot.clone().claim().is_none(), "clones share the slot");
        drop(first);
        let again = slot.claim();
        assert!(again.is_some(), "free once the first claim is dropped");
        let other = PublisherSlot::default();
        assert!(again.as_ref().is_some_and(|c| slot.holds(c)));
        assert!(!again.as_ref().is_some_and(|c| other.holds(c)));
    }
}
