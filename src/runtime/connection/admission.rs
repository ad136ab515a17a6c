//! Admission of a TCP connection: one gateway-wide permit (`[limits]
//! max_connections`) and one slot of its address (`[limits]
//! max_connections_per_ip`), both released when the [`Admission`] drops.
//!
//! Addresses are counted per IPv4 address and per IPv6 /64: one host
//! usually gets a whole /64 (RFC 6177), so counting single IPv6 addresses
//! would let it open 2^64 times the limit. IPv4-mapped IPv6 addresses
//! count as their IPv4 address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedSemaphorePermit;

/// What connections are counted by: an IPv4 address or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrKey {
    /// A whole IPv4 address (also an IPv4-mapped IPv6 peer).
    V4(Ipv4Addr),
    /// The upper 64 bits of an IPv6 address.
    V6Prefix(u64),
}

impl AddrKey {
    /// The key `ip` is counted under.
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => AddrKey::V4(v4),
            IpAddr::V6(v6) => AddrKey::V6Prefix((u128::from(v6) >> 64) as u64),
        }
    }
}

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
