//! Rate-limited logging of peer faults.
//!
//! A client can send thousands of tiny malformed messages a second; one
//! log line each would let it fill the disk and drown other connections'
//! lines. [`FaultLog`] lets the first [`FaultLog::LOGGED_PER_KIND`] faults
//! of each kind be logged and only counts the rest; the driver logs the
//! totals once when the connection ends ([`FaultLog::suppressed`]).

/// A kind of peer fault that does not end the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// A command message whose AMF could not be decoded.
    UnreadableCommand,
    /// A malformed Window Ack Size or User Control message.
    MalformedControl,
    /// Audio on a NetStream that is not publishing.
    StrayAudio,
    /// A message type the session does not handle (video, data, ...).
    IgnoredMessage,
}

impl FaultKind {
    const ALL: [FaultKind; 4] = [
        FaultKind::UnreadableCommand,
        FaultKind::MalformedControl,
        FaultKind::StrayAudio,
        FaultKind::IgnoredMessage,
    ];

    fn index(self) -> usize {
        match self {
            FaultKind::UnreadableCommand => 0,
            FaultKind::MalformedControl => 1,
            FaultKind::StrayAudio => 2,
            FaultKind::IgnoredMessage => 3,
        }
    }

    /// A short name for logs.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::UnreadableCommand => "unreadable command",
            FaultKind::MalformedControl => "malformed control message",
            FaultKind::StrayAudio => "audio on a stream not publishing",
            FaultKind::IgnoredMessage => "ignored message type",
        }
    }
}

/// Per-kind fault counters of one session.
#[derive(Debug, Default, Clone)]
pub struct FaultLog {
    counts: [u64; 4],
}

impl FaultLog {
    /// Faults of one kind that are logged; later ones are only counted.
    pub const LOGGED_PER_KIND: u64 = 5;

    /// Counts one fault; true when it should be logged.
    pub fn note(&mut self, kind: FaultKind) -> bool {
        let c = &mut self.counts[kind.index()];
        *c = c.saturating_add(1);
        *c <= Self::LOGGED_PER_KIND
    }

    /// True when this fault is the last one logged of its kind (the caller
    /// may say that further ones are only counted).
    pub fn is_last_logged(&self, kind: FaultKind) -> bool {
        self.counts[kind.index()] == Self::LOGGED_PER_KIND
    }

    /// Faults counted but not logged, per kind (kinds with none left out).
    pub fn suppressed(&self) -> Vec<(FaultKind, u64)> {
        FaultKind::ALL
            .iter()
            .map(|k| {
                let n = self.counts[k.index()].saturating_sub(Self::LOGGED_PER_KIND);
                (*k, n)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_five_per_kind_then_counts() {
        let mut f = FaultLog::default();
        let logged = (0..100)
            .filter(|_| f.note(FaultKind::UnreadableCommand))
            .count();
        assert_eq!(logged, 5);
        assert!(f.note(FaultKind::StrayAudio), "kinds are separate");
        assert_eq!(f.suppressed(), vec![(FaultKind::UnreadableCommand, 95)]);
    }
}
