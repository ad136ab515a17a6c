//! Bounds on open TCP and TLS connections (`[sip] max_connections`,
//! `max_connections_per_ip`): the sans-IO count behind [`super::SipGuard`].
//!
//! rsipstack reports each stream connection, accepted or dialled, as
//! `TransportEvent::New` before any message on it, and as `Closed` once
//! its read loop ends (peer close, error, `[sip] stream_idle_timeout_s`,
//! or a message over its 65535-byte framing limit, RFC 3261 §18.3). A
//! connection over a bound is closed at once; it is never counted.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::config::SipStreamLimits;

/// One connection: its local and remote addresses (`ip:port` each).
pub type ConnKey = (String, String);

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OverLimit {
    /// `[sip] max_connections` connections are open.
    Total,
    /// `[sip] max_connections_per_ip` connections are open with this IP.
    PerIp,
}

/// Counts of open stream connections, in total and per remote IP.
#[derive(Debug)]
pub struct StreamCount {
    limits: SipStreamLimits,
    open: HashSet<ConnKey>,
    per_ip: HashMap<IpAddr, usize>,
}

impl StreamCount {
    /// No connection open.
    pub fn new(limits: SipStreamLimits) -> Self {
        Self {
            limits,
            open: HashSet::new(),
            per_ip: HashMap::new(),
        }
    }

    /// A new connection with `ip`: counted, or refused over a bound. A key
    /// already counted is admitted again without counting twice.
    pub fn opened(&mut self, key: ConnKey, ip: IpAddr) -> Result<(), OverLimit> {
        if self.open.contains(&key) {
            return Ok(());
        }
        if self.open.len() >= self.limits.max_connections {
            return Err(OverLimit::Total);
        }
        let n = self.per_ip.entry(ip).or_insert(0);
        if *n >= self.limits.max_connections_per_ip {
            return Err(OverLimit::PerIp);
        }
        *n += 1;
        self.open.insert(key);
        Ok(())
    }

    /// A connection ended; unknown keys (refused ones) are ignored.
    pub fn closed(&mut self, key: &ConnKey, ip: IpAddr) {
        if !self.open.remove(key) {
            return;
        }
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }

    /// Open connections.
    pub fn total(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn count(total: usize, per_ip: usize) -> StreamCount {
        StreamCount::new(SipStreamLimits {
            max_connections: total,
            max_connections_per_ip: per_ip,
            idle_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(5),
        })
    }

    fn key(n: u16) -> ConnKey {
        ("192.0.2.1:5060".into(), format!("203.0.113.9:{n}"))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn per_ip_bound_then_freed_on_close() {
        let mut c = count(10, 2);
        let a = ip("203.0.113.9");
        assert_eq!(c.opened(key(1), a), Ok(()));
        assert_eq!(c.opened(key(2), a), Ok(()));
        assert_eq!(c.opened(key(3), a), Err(OverLimit::PerIp));
        assert_eq!(c.opened(key(4), ip("203.0.113.10")), Ok(()));
        c.closed(&key(1), a);
        assert_eq!(c.opened(key(3), a), Ok(()));
        assert_eq!(c.total(), 3);
    }

    #[test]
    fn total_bound() {
        let mut c = count(2, 5);
        assert!(c.opened(key(1), ip("203.0.113.1")).is_ok());
        assert!(c.opened(key(2), ip("203.0.113.2")).is_ok());
        assert_eq!(c.opened(key(3), ip("203.0.113.3")), Err(OverLimit::Total));
    }

    #[test]
    fn refused_close_and_duplicate_new_do_not_skew() {
        let mut c = count(5, 1);
        let a = ip("203.0.113.9");
        assert!(c.opened(key(1), a).is_ok());
        assert!(c.opened(key(1), a).is_ok());
        assert!(c.opened(key(2), a).is_err());
        c.closed(&key(2), a);
        assert_eq!(c.total(), 1);
        assert!(c.opened(key(2), a).is_err());
        c.closed(&key(1), a);
        c.closed(&key(1), a);
        assert_eq!(c.total(), 0);
        assert!(c.opened(key(2), a).is_ok());
    }
}
