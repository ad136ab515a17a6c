//! Concurrent calls per token subject, across connections (the `max_calls`
//! claim). One counter per subject with at least one call; the map holds
//! at most as many entries as there are calls, so it is bounded by
//! `[limits] max_calls`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Shared in the gateway state: subject -> calls it holds.
#[derive(Debug, Default)]
pub struct SubjectCalls {
    counts: Mutex<HashMap<String, u32>>,
}

/// One call of a subject; dropping it gives the slot back.
#[derive(Debug)]
pub struct SubjectPermit {
    owner: Arc<SubjectCalls>,
    subject: String,
}

impl SubjectCalls {
    /// Takes a slot for `subject` when it holds fewer than `max` calls.
    pub fn try_acquire(self: &Arc<Self>, subject: &str, max: u32) -> Option<SubjectPermit> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let n = counts.get(subject).copied().unwrap_or(0);
        if n >= max {
            return None;
        }
        counts.insert(subject.to_string(), n + 1);
        Some(SubjectPermit {
            owner: self.clone(),
            subject: subject.to_string(),
        })
    }

    /// Calls `subject` holds now.
    pub fn count(&self, subject: &str) -> u32 {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(subject).copied().unwrap_or(0)
    }
}

impl Drop for SubjectPermit {
    fn drop(&mut self) {
        let mut counts = self
            .owner
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.subject) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.subject);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_subject_and_frees_on_drop() {
        let s = Arc::new(SubjectCalls::default());
        let a1 = s.try_acquire("alice", 2).unwrap();
        let _a2 = s.try_acquire("alice", 2).unwrap();
        assert!(s.try_acquire("alice", 2).is_none());
        let _b = s.try_acquire("bob", 1).unwrap();
        assert_eq!(s.count("alice"), 2);
        drop(a1);
        assert_eq!(s.count("alice"), 1);
        assert!(s.try_acquire("alice", 2).is_some());
        assert!(s.try_acquire("carol", 0).is_none());
    }

    #[test]
    fn map_is_emptied_when_the_last_call_ends() {
        let s = Arc::new(SubjectCalls::default());
        drop(s.try_acquire("alice", 1));
        assert!(s.counts.lock().unwrap().is_empty());
    }
}
