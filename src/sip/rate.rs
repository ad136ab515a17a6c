//! Per-source token buckets for SIP requests and refusals (sans-IO).
//!
//! A [`SourceLimiter`] keeps one token bucket per source IP address: it
//! holds at most `burst` tokens, refills at `per_s` tokens per second, and a
//! request (or a refusal sent back) costs one token. The table is bounded:
//! when it holds `capacity` sources, the oldest one inserted is forgotten
//! (its next packet starts from a full bucket). Time is an argument
//! (`now`); nothing here reads a clock.
//!
//! Sources are keyed by [`AddrKey`]: IPv4 address, or IPv6 /64 (one host
//! usually holds a whole /64, RFC 6177, so per-address buckets would let
//! it rotate addresses for fresh budgets).
//!
//! [`RateLimits`] pairs the two budgets of `[sip]`: `requests_per_s` /
//! `requests_burst` for every new request a source sends (over budget:
//! dropped without an answer), and `refusals_per_s` / `refusals_burst` for
//! the stateless 400/403 answers sent back to one source (over budget: no
//! answer), so the gateway cannot be used to amplify or reflect traffic.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Instant;

use crate::addr::AddrKey;

/// Micro-tokens per token: buckets count in fixed point.
const SCALE: u64 = 1_000_000;

/// A bucket's shape: `per_s` tokens per second, at most `burst` held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Refill rate, tokens per second.
    pub per_s: u32,
    /// Bucket size in tokens; a new source starts with a full bucket.
    pub burst: u32,
}

impl Budget {
    /// The bucket size in micro-tokens: `burst`, or 1 token when `burst` is
    /// 0 but `per_s` is not (a rate alone still lets requests through).
    fn capacity(self) -> u64 {
        let tokens = if self.burst == 0 && self.per_s > 0 {
            1
        } else {
            u64::from(self.burst)
        };
        tokens * SCALE
    }
}

/// One source's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Micro-tokens held.
    level: u64,
    /// When `level` was last brought up to date.
    at: Instant,
}

/// Token buckets for at most `capacity` source addresses.
#[derive(Debug)]
pub struct SourceLimiter {
    budget: Budget,
    capacity: usize,
    buckets: HashMap<AddrKey, Bucket>,
    /// Sources in insertion order: the front is evicted first.
    order: VecDeque<AddrKey>,
}

impl SourceLimiter {
    /// A limiter with `budget` per source, tracking at most `capacity`
    /// sources (at least 1).
    pub fn new(budget: Budget, capacity: usize) -> Self {
        Self {
            budget,
            capacity: capacity.max(1),
            buckets: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Takes one token from `source`'s bucket at `now`; false when it is
    /// empty (the request is over budget).
    pub fn allow(&mut self, now: Instant, source: IpAddr) -> bool {
        let source = AddrKey::of(source);
        let cap = self.budget.capacity();
        if !self.buckets.contains_key(&source) {
            self.make_room();
            self.order.push_back(source);
            self.buckets.insert(
                source,
                Bucket {
                    level: cap,
                    at: now,
                },
            );
        }
        let per_s = u64::from(self.budget.per_s);
        let Some(b) = self.buckets.get_mut(&source) else {
            return false;
        };
        let elapsed = now.saturating_duration_since(b.at);
        let elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        b.level = b
            .level
            .saturating_add(elapsed_us.saturating_mul(per_s))
            .min(cap);
        b.at = b.at.max(now);
        if b.level >= SCALE {
            b.level -= SCALE;
            true
        } else {
            false
        }
    }

    /// How many sources are tracked.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Forgets the oldest sources until one more fits.
    fn make_room(&mut self) {
        while self.buckets.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.buckets.remove(&old);
                }
                None => break,
            }
        }
    }
}

/// The two per-source budgets of `[sip]`.
#[derive(Debug)]
pub struct RateLimits {
    /// New requests from a source (`requests_per_s`, `requests_burst`).
    pub requests: SourceLimiter,
    /// Stateless refusals (400, 403) sent to a source (`refusals_per_s`,
    /// `refusals_burst`).
    pub refusals: SourceLimiter,
}

impl RateLimits {
    /// Both limiters, each tracking at most `sources` addresses.
    pub fn new(requests: Budget, refusals: Budget, sources: usize) -> Self {
        Self {
            requests: SourceLimiter::new(requests, sources),
            refusals: SourceLimiter::new(refusals, sources),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn allowed(l: &mut SourceLimiter, now: Instant, src: IpAddr, n: usize) -> usize {
        (0..n).filter(|_| l.allow(now, src)).count()
    }

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut l = SourceLimiter::new(
            Budget {
                per_s: 20,
                burst: 50,
            },
            16,
        );
        let a = ip("192.0.2.1");
        assert_eq!(allowed(&mut l, t0, a, 100), 50, "the burst");
        assert_eq!(allowed(&mut l, t0 + Duration::from_millis(500), a, 100), 10);
        assert_eq!(allowed(&mut l, t0 + Duration::from_millis(550), a, 100), 1);
        assert_eq!(
            allowed(&mut l, t0 + Duration::from_secs(100), a, 100),
            50,
            "capped"
        );
    }

    #[test]
    fn sources_are_independent() {
        let t0 = Instant::now();
        let mut l = SourceLimiter::new(Budget { per_s: 1, burst: 5 }, 16);
        assert_eq!(allowed(&mut l, t0, ip("192.0.2.1"), 10), 5);
        assert_eq!(allowed(&mut l, t0, ip("192.0.2.2"), 10), 5);
        assert_eq!(
            allowed(&mut l, t0 + Duration::from_secs(1), ip("192.0.2.1"), 10),
            1
        );
    }

    #[test]
    fn zero_budget_refuses_everything() {
        let t0 = Instant::now();
        let mut l = SourceLimiter::new(Budget { per_s: 0, burst: 0 }, 16);
        assert_eq!(
            allowed(&mut l, t0 + Duration::from_secs(10), ip("::1"), 10),
            0
        );
        let mut l = SourceLimiter::new(Budget { per_s: 2, burst: 0 }, 16);
        assert_eq!(allowed(&mut l, t0, ip("::1"), 10), 1);
        assert_eq!(
            allowed(&mut l, t0 + Duration::from_millis(500), ip("::1"), 10),
            1
        );
    }

    #[test]
    fn table_is_bounded_oldest_evicted() {
        let t0 = Instant::now();
        let mut l = SourceLimiter::new(Budget { per_s: 1, burst: 1 }, 16);
        let first = ip("10.0.0.0");
        assert!(l.allow(t0, first));
        assert!(!l.allow(t0, first));
        for i in 1..1000u32 {
            l.allow(t0, IpAddr::from(i.to_be_bytes()));
            assert!(l.len() <= 16);
        }
        assert!(l.allow(t0, first), "forgotten, so a full bucket again");
    }

    #[test]
    fn ipv6_sources_share_their_64() {
        let t0 = Instant::now();
        let mut l = SourceLimiter::new(Budget { per_s: 1, burst: 2 }, 16);
        assert!(l.allow(t0, ip("2001:db8:1:2::1")));
        assert!(l.allow(t0, ip("2001:db8:1:2:ffff::9")));
        assert!(!l.allow(t0, ip("2001:db8:1:2::abcd")), "same /64");
        assert!(l.allow(t0, ip("2001:db8:1:3::1")), "another /64");
    }

    #[test]
    fn time_going_backwards_is_harmless() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut l = SourceLimiter::new(Budget { per_s: 1, burst: 1 }, 16);
        assert!(l.allow(t0, ip("192.0.2.1")));
        assert!(!l.allow(t0 - Duration::from_secs(5), ip("192.0.2.1")));
        assert!(l.allow(t0 + Duration::from_secs(1), ip("192.0.2.1")));
    }
}
