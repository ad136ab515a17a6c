//! Admission of a TCP connection: one gateway-wide permit (`[limits]
//! max_connections`) and one slot of its address (`[limits]
//! max_connections_per_ip`), both released when the [`Admission`] drops.
//!
//! Addresses are counted per [`AddrKey`]: IPv4 address or IPv6 /64.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedSemaphorePermit;

pub use crate::addr::AddrKey;

/// Open connections per [`AddrKey`], shared by the accept loops.
#[derive(Debug, Default)]
pub struct PerAddress {
    counts: Mutex<HashMap<AddrKey, u32>>,
}

impl PerAddress {
    /// Admits a connection from `ip` when that address has fewer than
    /// `max` open; `None` otherwise (the permit is dropped).
    pub fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        max: u32,
        permit: OwnedSemaphorePermit,
    ) -> Option<Admission> {
        let key = AddrKey::of(ip);
        let mut counts = self.counts.lock().ok()?;
        let n = counts.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Admission {
            key,
            table: self.clone(),
            _permit: permit,
        })
    }

    /// Open connections counted for `ip`'s key.
    pub fn count(&self, ip: IpAddr) -> u32 {
        self.counts
            .lock()
            .ok()
            .and_then(|c| c.get(&AddrKey::of(ip)).copied())
            .unwrap_or(0)
    }

    fn release(&self, key: AddrKey) {
        if let Ok(mut counts) = self.counts.lock() {
            if let Some(n) = counts.get_mut(&key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.remove(&key);
                }
            }
        }
    }
}

/// A connection's place in the gateway; dropping it frees the place.
#[derive(Debug)]
pub struct Admission {
    key: AddrKey,
    table: Arc<PerAddress>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.table.release(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use tokio::sync::Semaphore;

    fn permit(s: &Arc<Semaphore>) -> OwnedSemaphorePermit {
        s.clone().try_acquire_owned().unwrap()
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(AddrKey::of(a), AddrKey::of(b));
        assert_ne!(AddrKey::of(a), AddrKey::of(c));
        let m: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(AddrKey::of(m), AddrKey::V4(Ipv4Addr::new(10, 0, 0, 1)));
    }

    #[test]
    fn admits_up_to_max_and_releases_on_drop() {
        let sem = Arc::new(Semaphore::new(10));
        let t = Arc::new(PerAddress::default());
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let one = t.admit(ip, 2, permit(&sem)).unwrap();
        let _two = t.admit(ip, 2, permit(&sem)).unwrap();
        assert!(t.admit(ip, 2, permit(&sem)).is_none());
        assert_eq!(sem.available_permits(), 8, "refused permit dropped");
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert!(t.admit(other, 2, permit(&sem)).is_some());
        drop(one);
        assert_eq!(t.count(ip), 1);
        assert!(t.admit(ip, 2, permit(&sem)).is_some());
    }
}
