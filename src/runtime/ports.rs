//! RTP/RTCP port pairs from `[media] rtp_ports`.
//!
//! Each call binds an even port for RTP and the next odd one for RTCP
//! (RFC 3550 §11). The allocator walks the range round-robin from a random
//! start, so a port a call just released is not reused at once (late
//! packets of the old call would land in the new one); a pair whose bind
//! fails (taken by another program) is skipped.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::net::UdpSocket;

/// A bound RTP socket and its RTCP companion.
#[derive(Debug)]
pub struct PortPair {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
}

impl PortPair {
    /// The RTP port.
    pub fn rtp_port(&self) -> u16 {
        self.rtp.local_addr().map(|a| a.port()).unwrap_or(0)
    }
}

/// Hands out port pairs from an inclusive range.
#[derive(Debug)]
pub struct PortAllocator {
    ip: IpAddr,
    first_even: u16,
    pairs: u32,
    next: AtomicU32,
}

impl PortAllocator {
    /// Pairs are `(p, p+1)` for even `p` with both inside `[lo, hi]`.
    #[allow(clippy::manual_div_ceil)]
    pub fn new(ip: IpAddr, lo: u16, hi: u16) -> Self {
        let first_even = lo + (lo % 2);
        let pairs = (u32::from(hi).saturating_sub(u32::from(first_even)) + 1) / 2; // (p, p+1) both <= hi
        let pairs = pairs.max(1);
        Self {
            ip,
            first_even,
            pairs,
            next: AtomicU32::new(rand::random::<u32>() % pairs.max(1)),
        }
    }

    /// Binds the next free pair.
    ///
    /// # Errors
    /// `AddrInUse` when every pair in the range is taken.
    pub async fn allocate(&self) -> std::io::Result<PortPair> {
        for _ in 0..self.pairs {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pairs;
            let Ok(offset) = u16::try_from(2 * i) else {
                continue;
            };
            let port = self.first_even + offset;
            let Ok(rtp) = UdpSocket::bind(SocketAddr::new(self.ip, port)).await else {
                continue;
            };
            let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(self.ip, port + 1)).await else {
                continue;
            };
            return Ok(PortPair { rtp, rtcp });
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "no free RTP port pair in [media] rtp_ports",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pairs_are_even_odd_and_distinct() {
        let a = PortAllocator::new("127.0.0.1".parse().unwrap(), 41001, 41010);
        let p1 = a.allocate().await.unwrap();
        let p2 = a.allocate().await.unwrap();
        for p in [&p1, &p2] {
            let rtp = p.rtp_port();
            assert_eq!(rtp % 2, 0);
            assert!((41002..=41009).contains(&rtp), "{rtp}");
            assert_eq!(p.rtcp.local_addr().unwrap().port(), rtp + 1);
        }
        assert_ne!(p1.rtp_port(), p2.rtp_port());
    }

    #[tokio::test]
    async fn exhaustion_is_an_error() {
        let a = PortAllocator::new("127.0.0.1".parse().unwrap(), 41020, 41023);
        let _p1 = a.allocate().await.unwrap();
        let _p2 = a.allocate().await.unwrap();
        assert!(a.allocate().await.is_err());
    }
}
