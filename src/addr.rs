//! The unit per-address limits count by (a leaf: imports nothing of the
//! crate).
//!
//! One host usually holds a whole IPv6 /64 (RFC 6177), so counting single
//! IPv6 addresses would let it take 2^64 times any limit: IPv6 sources are
//! counted per /64, IPv4 per address, and an IPv4-mapped IPv6 address
//! (RFC 4291 §2.5.5.2) as its IPv4 address. Used by the RTMP/HTTP admission,
//! RTMPT sessions and the SIP rate limits.

use std::net::{IpAddr, Ipv4Addr};

/// What per-address limits count by: an IPv4 address or an IPv6 /64.
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
