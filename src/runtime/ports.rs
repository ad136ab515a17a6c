//! RTP/RTCP port pairs from `[media] rtp_ports`.
//!
//! Each call binds an even port for RTP and the next odd one for RTCP
//! (RFC 3550 §11). Pairs are drawn at random: each allocation starts its
//! search at a random pair and takes the first one free in a bitmap of the
//! pairs in use, so an off-path attacker cannot predict a new call's port
//! (RFC 3550 §9 and RFC 7362 §3.2 on guessing and hijacking media ports),
//! and a port a call just released is unlikely to be reused at once (late
//! packets of the old call would land in the new one). A pair whose bind
//! fails (taken by another program) is skipped. A pair returns to the
//! bitmap when its [`PortPair`] is dropped.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::UdpSocket;

/// A bound RTP socket and its RTCP companion; the pair is free again once
/// this is dropped.
#[derive(Debug)]
pub struct PortPair {
    /// The RTP socket, bound to an even port (RFC 3550 §11).
    pub rtp: UdpSocket,
    /// The RTCP socket, bound to the RTP port + 1 (RFC 3550 §11).
    pub rtcp: UdpSocket,
    _lease: Lease,
}

impl PortPair {
    /// The same pair as non-blocking std sockets, deregistered from the
    /// tokio reactor they were bound on, for a media worker's own poller.
    ///
    /// # Errors
    /// The OS error when a socket cannot be taken from the reactor.
    pub fn into_std(self) -> std::io::Result<StdPortPair> {
        let (rtp, rtcp) = (self.rtp.into_std()?, self.rtcp.into_std()?);
        rtp.set_nonblocking(true)?;
        rtcp.set_nonblocking(true)?;
        Ok(StdPortPair {
            rtp,
            rtcp,
            lease: PortLease(self._lease),
        })
    }

    /// The RTP port.
    pub fn rtp_port(&self) -> u16 {
        self.rtp.local_addr().map(|a| a.port()).unwrap_or(0)
    }
}

/// A [`PortPair`] outside tokio: non-blocking std sockets (a media
/// worker registers them with its own poller) and the pair's lease.
#[derive(Debug)]
pub struct StdPortPair {
    /// The RTP socket (even port).
    pub rtp: std::net::UdpSocket,
    /// The RTCP socket (RTP + 1).
    pub rtcp: std::net::UdpSocket,
    /// Holds the pair in the allocator: free again once this drops.
    pub lease: PortLease,
}

/// A pair held in its allocator; released when dropped.
#[derive(Debug)]
pub struct PortLease(#[allow(dead_code)] Lease);

/// Which pairs are in use: one bit per pair (at most 32768 pairs, 4 KiB).
#[derive(Debug, Default)]
struct PairBitmap {
    words: Vec<u64>,
}

impl PairBitmap {
    fn new(pairs: u32) -> Self {
        PairBitmap {
            words: vec![0; pairs.div_ceil(64) as usize],
        }
    }

    /// Marks pair `i` used; false if it already was (or is out of range).
    fn claim(&mut self, i: u32) -> bool {
        let bit = 1u64 << (i % 64);
        match self.words.get_mut((i / 64) as usize) {
            Some(w) if *w & bit == 0 => {
                *w |= bit;
                true
            }
            _ => false,
        }
    }

    /// Marks pair `i` free.
    fn release(&mut self, i: u32) {
        if let Some(w) = self.words.get_mut((i / 64) as usize) {
            *w &= !(1u64 << (i % 64));
        }
    }

    /// The first free pair at or after `start`, wrapping, among `pairs`.
    fn next_free(&self, start: u32, pairs: u32) -> Option<u32> {
        (0..pairs).map(|k| (start + k) % pairs).find(|&i| {
            self.words
                .get((i / 64) as usize)
                .is_some_and(|w| w & (1 << (i % 64)) == 0)
        })
    }
}

type Shared = Arc<Mutex<PairBitmap>>;

/// Locks the bitmap; a panic elsewhere cannot leave it inconsistent (every
/// update is one bit), so a poisoned lock is used as is.
fn lock(used: &Shared) -> MutexGuard<'_, PairBitmap> {
    used.lock().unwrap_or_else(|e| e.into_inner())
}

/// One pair held in the bitmap; released on drop.
#[derive(Debug)]
struct Lease {
    index: u32,
    used: Shared,
}

impl Drop for Lease {
    fn drop(&mut self) {
        lock(&self.used).release(self.index);
    }
}

/// Hands out port pairs from an inclusive range.
#[derive(Debug)]
pub struct PortAllocator {
    ip: IpAddr,
    first_even: u16,
    pairs: u32,
    used: Shared,
}

impl PortAllocator {
    /// Pairs are `(p, p+1)` for even `p` with both inside `[lo, hi]`.
    pub fn new(ip: IpAddr, lo: u16, hi: u16) -> Self {
        let first_even = lo.saturating_add(lo % 2);
        let pairs = (u32::from(hi).saturating_sub(u32::from(first_even)) + 1) / 2; // (p, p+1) both <= hi
        let pairs = pairs.max(1);
        Self {
            ip,
            first_even,
            pairs,
            used: Arc::new(Mutex::new(PairBitmap::new(pairs))),
        }
    }

    /// Binds a free pair, searching from a random one.
    ///
    /// # Errors
    /// `AddrInUse` when every pair in the range is taken.
    pub async fn allocate(&self) -> std::io::Result<PortPair> {
        let mut start = rand::random::<u32>() % self.pairs;
        for _ in 0..self.pairs {
            let Some(index) = self.claim_from(start) else {
                break;
            };
            let lease = Lease {
                index,
                used: self.used.clone(),
            };
            start = (index + 1) % self.pairs;
            if let Some((rtp, rtcp)) = self.bind(index).await {
                return Ok(PortPair {
                    rtp,
                    rtcp,
                    _lease: lease,
                });
            }
            // Taken by another program: the lease drops, try the next.
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "no free RTP port pair in [media] rtp_ports",
        ))
    }

    /// Claims the first free pair from `start` (wrapping).
    fn claim_from(&self, start: u32) -> Option<u32> {
        let mut used = lock(&self.used);
        let index = used.next_free(start, self.pairs)?;
        used.claim(index).then_some(index)
    }

    async fn bind(&self, index: u32) -> Option<(UdpSocket, UdpSocket)> {
        let offset = u16::try_from(2 * index).ok()?;
        let port = self.first_even.checked_add(offset)?;
        let rtp = UdpSocket::bind(SocketAddr::new(self.ip, port)).await.ok()?;
        let rtcp = UdpSocket::bind(SocketAddr::new(self.ip, port.checked_add(1)?))
            .await
            .ok()?;
        Some((rtp, rtcp))
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
        drop(_p1);
        let p3 = a.allocate().await.unwrap();
        assert!((41020..=41023).contains(&p3.rtp_port()));
    }

    #[tokio::test]
    async fn pairs_are_drawn_at_random_not_in_sequence() {
        let a = PortAllocator::new("127.0.0.1".parse().unwrap(), 41100, 41299);
        let mut held = Vec::new();
        for _ in 0..8 {
            held.push(a.allocate().await.unwrap());
        }
        let ports: Vec<u16> = held.iter().map(PortPair::rtp_port).collect();
        let sequential = ports.windows(2).filter(|w| w[1] == w[0] + 2).count();
        assert!(
            sequential < 7,
            "allocations walk the range in order: {ports:?}"
        );
        let mut sorted = ports.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), ports.len());
    }

    #[test]
    fn bitmap_claims_and_releases() {
        let mut b = PairBitmap::new(130);
        assert!(b.claim(129));
        assert!(!b.claim(129));
        assert!(!b.claim(200), "out of range");
        assert_eq!(b.next_free(129, 130), Some(0));
        b.release(129);
        assert_eq!(b.next_free(129, 130), Some(129));
        for i in 0..130 {
            b.claim(i);
        }
        assert_eq!(b.next_free(5, 130), None);
    }
}
