//! `[sip] trusted`, shared by the transport guard and the INVITE screen
//! and replaced whole by a live reload (SIGHUP).

use std::sync::Arc;

use arc_swap::ArcSwap;
use ipnet::IpNet;

/// The source ranges allowed to send new INVITEs (empty: every source).
#[derive(Debug)]
pub struct TrustedRanges(ArcSwap<Vec<IpNet>>);

impl TrustedRanges {
    /// Ranges as configured at start-up.
    pub fn new(ranges: Vec<IpNet>) -> Self {
        Self(ArcSwap::from_pointee(ranges))
    }

    /// The ranges in force now.
    pub fn get(&self) -> Arc<Vec<IpNet>> {
        self.0.load_full()
    }

    /// Replaces the ranges; the next new INVITE is checked against them.
    pub fn set(&self, ranges: Vec<IpNet>) {
        self.0.store(Arc::new(ranges));
    }
}
