//! The receiving side of an RTP session: source latching, extended sequence
//! numbers (RFC 3550 §A.1), loss (§A.3) and interarrival jitter (§A.8) for
//! receiver report blocks (§6.4.1).
//!
//! Latching: the first packet's SSRC becomes the source. The bridge has
//! already checked the source address (`super::latch`), so an SSRC change
//! is only ever accepted from the latched address. Packets from other
//! SSRCs are refused ([`MediaError::ForeignSsrc`]) until one of them has
//! sent [`RELATCH_PACKETS`] packets in a row with nothing from the latched
//! source in between; then it becomes the source (a PBX re-INVITE or
//! transfer often changes SSRC) and the statistics restart.

use std::time::{Duration, Instant};

use super::rtp::{self, RtpIn};
use super::timestamp::duration_to_ticks;
use super::MediaError;

/// Consecutive packets from a new SSRC that make us switch to it.
pub const RELATCH_PACKETS: u32 = 5;
/// Largest forward sequence jump accepted as loss (RFC 3550 §A.1 MAX_DROPOUT).
const MAX_DROPOUT: u16 = 3000;
/// Largest backward sequence jump accepted as reordering (§A.1 MAX_MISORDER).
const MAX_MISORDER: u16 = 100;

/// An accepted packet with its position on the source's sequence space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    /// The packet.
    pub packet: RtpIn<'a>,
    /// Extended sequence number (cycles << 16 | seq, RFC 3550 §A.1).
    pub ext_seq: u64,
    /// True for the first packet of a (re)latched source or after a
    /// sequence restart: playout state should resynchronise.
    pub resync: bool,
}

/// Receiver-report figures for one source (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceptionReport {
    /// The reported source.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed, clamped).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (low 32 bits).
    pub extended_highest_seq: u32,
    /// Interarrival jitter in RTP clock ticks.
    pub jitter: u32,
}

/// Statistics of one latched source.
#[derive(Debug, Clone)]
struct SourceStats {
    ssrc: u32,
    base_seq: u64,
    max_ext_seq: u64,
    /// Sequence number after a big jump (§A.1 bad_seq): a packet with it
    /// confirms the restart.
    bad_seq: Option<u16>,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Previous relative transit time, in ticks (§A.8).
    transit: Option<u32>,
    /// Jitter estimate scaled by 16 (§A.8 integer form).
    jitter_q4: u32,
    last_arrival: Instant,
}

impl SourceStats {
    fn new(ssrc: u32, seq: u16, now: Instant) -> Self {
        let ext = u64::from(seq) + (1 << 16); // one cycle of headroom below
        SourceStats {
            ssrc,
            base_seq: ext,
            max_ext_seq: ext,
            bad_seq: None,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter_q4: 0,
            last_arrival: now,
        }
    }

    /// §A.1 update_seq: the extended sequence number, or `None` to drop.
    fn update_seq(&mut self, seq: u16) -> Option<(u64, bool)> {
        let max_seq = self.max_ext_seq as u16;
        let forward = seq.wrapping_sub(max_seq);
        if forward < MAX_DROPOUT {
            // In order, with a permissible gap.
            let mut ext = (self.max_ext_seq & !0xffff) | u64::from(seq);
            if seq < max_seq {
                ext += 1 << 16; // wrapped: a new cycle
            }
            self.max_ext_seq = ext;
            self.bad_seq = None;
            Some((ext, false))
        } else if max_seq.wrapping_sub(seq) <= MAX_MISORDER {
            // Duplicate or reordered: place it in the right cycle.
            let back = u64::from(max_seq.wrapping_sub(seq));
            self.bad_seq = None;
            Some((self.max_ext_seq.saturating_sub(back), false))
        } else if self.bad_seq == Some(seq) {
            // Two sequential packets after a jump: the sender restarted.
            let ext = u64::from(seq) + (1 << 16);
            self.base_seq = ext;
            self.max_ext_seq = ext;
            self.bad_seq = None;
            self.received = 0;
            self.expected_prior = 0;
            self.received_prior = 0;
            self.transit = None;
            Some((ext, true))
        } else {
            self.bad_seq = Some(seq.wrapping_add(1));
            None
        }
    }

    /// §A.8 interarrival jitter, with arrival measured on `clock_rate`.
    fn update_jitter(&mut self, arrival_ticks: u32, rtp_ts: u32) {
        let transit = arrival_ticks.wrapping_sub(rtp_ts);
        if let Some(prev) = self.transit {
            let d = (transit.wrapping_sub(prev) as i32).unsigned_abs();
            // J += (|D| - J) / 16, kept scaled by 16.
            let j = self.jitter_q4;
            self.jitter_q4 = j.saturating_add(d).saturating_sub((j + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    fn report(&mut self) -> ReceptionReport {
        let expected = self.max_ext_seq.saturating_sub(self.base_seq) + 1;
        let lost = expected as i64 - self.received as i64;
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        ReceptionReport {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: lost.clamp(-0x80_0000, 0x7f_ffff) as i32,
            extended_highest_seq: self.max_ext_seq.wrapping_sub(1 << 16) as u32,
            jitter: self.jitter_q4 >> 4,
        }
    }
}

/// Which source we listen to.
#[derive(Debug, Clone)]
enum Source {
    Unlatched,
    Latched {
        stats: SourceStats,
        /// Another SSRC and how many packets in a row it has sent.
        candidate: Option<(u32, u32)>,
    },
}

/// The receiving half of an RTP session.
#[derive(Debug, Clone)]
pub struct RtpReceiver {
    clock_rate: u32,
    epoch: Instant,
    source: Source,
}

impl RtpReceiver {
    /// A receiver for a payload format clocked at `clock_rate` Hz (used for
    /// jitter in ticks); `now` is the reference for arrival times.
    pub fn new(clock_rate: u32, now: Instant) -> Self {
        RtpReceiver {
            clock_rate,
            epoch: now,
            source: Source::Unlatched,
        }
    }

    /// The latched SSRC, if any.
    pub fn ssrc(&self) -> Option<u32> {
        match &self.source {
            Source::Unlatched => None,
            Source::Latched { stats, .. } => Some(stats.ssrc),
        }
    }

    /// When the latched source last sent an accepted packet.
    pub fn last_arrival(&self) -> Option<Instant> {
        match &self.source {
            Source::Unlatched => None,
            Source::Latched { stats, .. } => Some(stats.last_arrival),
        }
    }

    /// Parses and accounts one datagram that arrived at `now`.
    ///
    /// Errors (peer; the packet is dropped): [`MediaError::MalformedRtp`],
    /// [`MediaError::ForeignSsrc`], [`MediaError::SequenceJump`].
    pub fn receive<'a>(
        &mut self,
        now: Instant,
        datagram: &'a [u8],
    ) -> Result<Received<'a>, MediaError> {
        self.receive_packet(now, rtp::parse(datagram)?)
    }

    /// [`RtpReceiver::receive`] for a packet already parsed.
    ///
    /// Errors: [`MediaError::ForeignSsrc`], [`MediaError::SequenceJump`].
    pub fn receive_packet<'a>(
        &mut self,
        now: Instant,
        packet: RtpIn<'a>,
    ) -> Result<Received<'a>, MediaError> {
        let arrival = duration_to_ticks(now.saturating_duration_since(self.epoch), self.clock_rate);
        let fresh = self.latch(packet.ssrc, packet.seq, now)?;
        let Source::Latched { stats, .. } = &mut self.source else {
            return Err(MediaError::ForeignSsrc(packet.ssrc));
        };
        let (ext_seq, restarted) = if fresh {
            (stats.max_ext_seq, true)
        } else {
            stats
                .update_seq(packet.seq)
                .ok_or(MediaError::SequenceJump(packet.seq))?
        };
        stats.received += 1;
        stats.last_arrival = now;
        stats.update_jitter(arrival, packet.ts.0);
        Ok(Received {
            packet,
            ext_seq,
            resync: fresh || restarted,
        })
    }

    /// Applies the latching rule; `Ok(true)` when `ssrc` just became the source.
    fn latch(&mut self, ssrc: u32, seq: u16, now: Instant) -> Result<bool, MediaError> {
        match &mut self.source {
            Source::Unlatched => {}
            Source::Latched { stats, candidate } => {
                if stats.ssrc == ssrc {
                    *candidate = None;
                    return Ok(false);
                }
                let count = match candidate {
                    Some((c, n)) if *c == ssrc => *n + 1,
                    _ => 1,
                };
                *candidate = Some((ssrc, count));
                if count < RELATCH_PACKETS {
                    return Err(MediaError::ForeignSsrc(ssrc));
                }
            }
        }
        self.source = Source::Latched {
            stats: SourceStats::new(ssrc, seq, now),
            candidate: None,
        };
        Ok(true)
    }

    /// The report block for the latched source, resetting the interval
    /// counters (call once per RTCP report). `None` before any packet.
    pub fn report(&mut self) -> Option<ReceptionReport> {
        match &mut self.source {
            Source::Unlatched => None,
            Source::Latched { stats, .. } => Some(stats.report()),
        }
    }

    /// Interarrival jitter of the latched source as a duration.
    pub fn jitter(&self) -> Duration {
        match &self.source {
            Source::Unlatched => Duration::ZERO,
            Source::Latched { stats, .. } => {
                super::timestamp::ticks_to_duration(stats.jitter_q4 >> 4, self.clock_rate)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::timestamp::RtpTimestamp;
    use proptest::prelude::*;

    fn pkt(ssrc: u32, seq: u16, ts: u32) -> Vec<u8> {
        rtp_types::RtpPacketBuilder::<&[u8], &[u8]>::new()
            .payload_type(0)
            .sequence_number(seq)
            .timestamp(ts)
            .ssrc(ssrc)
            .payload(&[0u8; 160][..])
            .write_vec()
            .unwrap()
    }

    /// Receives and returns (ext_seq, resync).
    fn rx(r: &mut RtpReceiver, now: Instant, data: Vec<u8>) -> Result<(u64, bool), MediaError> {
        r.receive(now, &data).map(|g| (g.ext_seq, g.resync))
    }

    fn ms(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn latches_first_source_and_counts_loss() {
        let t0 = Instant::now();
        let mut r = RtpReceiver::new(8000, t0);
        // seq 65530..65545 across the wrap, with 65533 and 2 lost.
        let mut accepted = Vec::new();
        for i in 0u16..16 {
            let seq = 65530u16.wrapping_add(i);
            if seq == 65533 || seq == 2 {
                continue;
            }
            let got = rx(
                &mut r,
                ms(t0, 20 * u64::from(i)),
                pkt(7, seq, 160 * u32::from(i)),
            )
            .unwrap();
            accepted.push(got.0);
            assert_eq!(got.1, i == 0);
        }
        assert!(accepted.windows(2).all(|w| w[1] > w[0]), "{accepted:?}");
        assert_eq!(r.ssrc(), Some(7));
        let report = r.report().unwrap();
        assert_eq!(report.ssrc, 7);
        assert_eq!(report.cumulative_lost, 2);
        assert_eq!(report.fraction_lost, (2 * 256 / 16) as u8);
        assert_eq!(report.extended_highest_seq, (1 << 16) | 9);
        assert_eq!(report.jitter, 0, "perfectly paced");
        // Next interval: nothing new, nothing lost.
        assert_eq!(r.report().unwrap().fraction_lost, 0);
    }

    #[test]
    fn foreign_ssrc_refused_then_relatched() {
        let t0 = Instant::now();
        let mut r = RtpReceiver::new(8000, t0);
        rx(&mut r, t0, pkt(1, 10, 0)).unwrap();
        for i in 0..RELATCH_PACKETS - 1 {
            let res = rx(&mut r, t0, pkt(2, 500 + i as u16, 0));
            assert_eq!(res.unwrap_err(), MediaError::ForeignSsrc(2));
        }
        // A packet from the old source interrupts the run.
        rx(&mut r, t0, pkt(1, 11, 160)).unwrap();
        assert!(rx(&mut r, t0, pkt(2, 600, 0)).is_err());
        for i in 1..RELATCH_PACKETS - 1 {
            assert!(rx(&mut r, t0, pkt(2, 600 + i as u16, 0)).is_err());
        }
        let got = rx(&mut r, t0, pkt(2, 700, 0)).unwrap();
        assert!(got.1);
        assert_eq!(r.ssrc(), Some(2));
        assert_eq!(
            rx(&mut r, t0, pkt(1, 12, 320)).unwrap_err(),
            MediaError::ForeignSsrc(1)
        );
    }

    #[test]
    fn sequence_jump_needs_confirmation() {
        let t0 = Instant::now();
        let mut r = RtpReceiver::new(8000, t0);
        rx(&mut r, t0, pkt(1, 100, 0)).unwrap();
        assert_eq!(
            rx(&mut r, t0, pkt(1, 30000, 0)).unwrap_err(),
            MediaError::SequenceJump(30000)
        );
        let got = rx(&mut r, t0, pkt(1, 30001, 0)).unwrap();
        assert!(got.1);
        let next = rx(&mut r, t0, pkt(1, 30002, 160)).unwrap();
        assert_eq!(next.0, got.0 + 1);
        assert!(!next.1);
    }

    #[test]
    fn reordered_packets_keep_their_place() {
        let t0 = Instant::now();
        let mut r = RtpReceiver::new(8000, t0);
        let a = rx(&mut r, t0, pkt(1, 0, 0)).unwrap().0;
        let c = rx(&mut r, t0, pkt(1, 2, 320)).unwrap().0;
        let b = rx(&mut r, t0, pkt(1, 1, 160)).unwrap().0;
        let z = rx(&mut r, t0, pkt(1, 65535, 0)).unwrap().0;
        assert_eq!((b - a, c - a), (1, 2));
        assert_eq!(a - z, 1, "65535 is the packet before 0");
    }

    #[test]
    fn jitter_follows_rfc3550_a8() {
        let t0 = Instant::now();
        let mut r = RtpReceiver::new(8000, t0);
        // Every other packet arrives 10 ms (80 ticks) late.
        for i in 0u32..200 {
            let late = if i % 2 == 1 { 10 } else { 0 };
            r.receive(
                ms(t0, u64::from(20 * i + late)),
                &pkt(1, i as u16, RtpTimestamp(0).advance(160 * i).0),
            )
            .unwrap();
        }
        // |D| is always 80 ticks, so J converges to 80.
        let j = r.report().unwrap().jitter;
        assert!((75..=80).contains(&j), "jitter {j}");
        assert!(r.jitter() >= Duration::from_millis(9));
    }

    proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(data in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..20)) {
            let t0 = Instant::now();
            let mut r = RtpReceiver::new(8000, t0);
            for d in &data {
                let _ = r.receive(t0, d);
            }
            let _ = r.report();
        }
    }
}
