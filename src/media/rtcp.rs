//! RTCP for one audio session (RFC 3550 §6): compound sender/receiver
//! reports with SDES CNAME, BYE on close, and round-trip time from the
//! peer's report blocks (LSR/DLSR, §6.4.1). Packets are built and parsed
//! with `rtcp-types`.
//!
//! Interval (§6.3, simplified for one sender and one receiver): a 5 s base,
//! halved for the first report, multiplied by a uniform random factor in
//! [0.5, 1.5] and divided by e - 3/2 (§6.3.1 compensation).
//!
//! NTP time (§4) comes from an anchor given at construction: the NTP
//! timestamp at the construction `Instant` (see [`ntp_from_system_time`]),
//! advanced on the monotonic clock; no clock is read here.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use rtcp_types::prelude::*;
use rtcp_types::{
    Bye, Compound, Packet, ReceiverReport, ReportBlock, Sdes, SdesChunk, SdesItem, SenderReport,
};

use super::receiver::ReceptionReport;
use super::timestamp::RtpTimestamp;
use super::MediaError;

/// Deterministic base report interval (RFC 3550 §6.2 recommends 5 s).
pub const REPORT_INTERVAL: Duration = Duration::from_secs(5);
/// Largest RTCP datagram we parse, in bytes.
pub const MAX_RTCP_LEN: usize = 1500;
/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// §6.3.1: e - 3/2.
const COMPENSATION: f64 = 1.218_28;

/// A 64-bit NTP timestamp (32.32 fixed point seconds since 1900) for a
/// wall-clock time; times before 1970 give 0.
pub fn ntp_from_system_time(t: SystemTime) -> u64 {
    let since_unix = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    ntp_add(NTP_UNIX_OFFSET << 32, since_unix)
}

/// `ntp` advanced by `d`, wrapping.
fn ntp_add(ntp: u64, d: Duration) -> u64 {
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    ntp.wrapping_add(d.as_secs() << 32).wrapping_add(frac)
}

/// The middle 32 bits of an NTP timestamp (16.16 seconds; LSR, §6.4.1).
fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// A duration in 1/65536 s units (DLSR), saturating.
fn to_q16(d: Duration) -> u32 {
    let units = d.as_nanos() * 65_536 / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// What we tell the peer about our sending (SR sender info, §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    /// The RTP timestamp that corresponds to "now" on our media clock.
    pub rtp_timestamp: RtpTimestamp,
    /// Packets sent so far.
    pub packet_count: u32,
    /// Payload octets sent so far.
    pub octet_count: u32,
}

/// What the peer told us about our stream (a report block for our SSRC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerReport {
    /// Fraction of our packets lost, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets of ours lost (24-bit field, sign-extended).
    pub cumulative_lost: i32,
    /// Interarrival jitter of our stream, in RTP ticks.
    pub jitter: u32,
}

/// What one incoming compound packet carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtcpReceived {
    /// SSRC of the first SR/RR sender in the packet.
    pub sender_ssrc: Option<u32>,
    /// Round trip computed from a report block for us (A - LSR - DLSR).
    pub rtt: Option<Duration>,
    /// The peer's report about our stream.
    pub report: Option<PeerReport>,
    /// The packet carried a BYE.
    pub bye: bool,
}

/// The last SR received: its NTP middle bits and when it arrived.
#[derive(Debug, Clone, Copy)]
struct LastSr {
    lsr: u32,
    at: Instant,
}

/// Whether the session still reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active { next_report: Instant },
    Closed,
}

/// RTCP state for one session.
#[derive(Debug, Clone)]
pub struct RtcpSession {
    ssrc: u32,
    cname: String,
    rng: StdRng,
    epoch: Instant,
    ntp_at_epoch: u64,
    last_sr: Option<LastSr>,
    rtt: Option<Duration>,
    state: State,
}

impl RtcpSession {
    /// A session for our `ssrc`, with the NTP time `ntp_now` at `now` and a
    /// random CNAME (RFC 7022 style: 16 hex digits).
    pub fn new(ssrc: u32, now: Instant, ntp_now: u64, rng: &mut impl RngCore) -> Self {
        let mut rng = StdRng::from_seed({
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            seed
        });
        let cname = format!("{:016x}@rtmp2sip", rng.next_u64());
        let first = interval(&mut rng, REPORT_INTERVAL / 2);
        RtcpSession {
            ssrc,
            cname,
            rng,
            epoch: now,
            ntp_at_epoch: ntp_now,
            last_sr: None,
            rtt: None,
            state: State::Active {
                next_report: now + first,
            },
        }
    }

    /// Our CNAME (SDES item 1).
    pub fn cname(&self) -> &str {
        &self.cname
    }

    /// Latest round-trip time measured, if any.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// When the next report is due (`None` once closed).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Active { next_report } => Some(next_report),
            State::Closed => None,
        }
    }

    /// NTP timestamp at `now`.
    pub fn ntp_at(&self, now: Instant) -> u64 {
        ntp_add(self.ntp_at_epoch, now.saturating_duration_since(self.epoch))
    }

    /// If a report is due at `now`, builds it (SR if `sender` is given,
    /// else RR; plus SDES CNAME) and schedules the next one.
    pub fn poll_report(
        &mut self,
        now: Instant,
        sender: Option<SenderInfo>,
        reception: Option<ReceptionReport>,
    ) -> Option<Vec<u8>> {
        match self.state {
            State::Active { next_report } if now >= next_report => {
                let next = now + interval(&mut self.rng, REPORT_INTERVAL);
                self.state = State::Active { next_report: next };
                self.compound(now, sender, reception, false).ok()
            }
            _ => None,
        }
    }

    /// The final report with a BYE (§6.6); the session stops reporting.
    /// `None` if already closed.
    pub fn close(
        &mut self,
        now: Instant,
        sender: Option<SenderInfo>,
        reception: Option<ReceptionReport>,
    ) -> Option<Vec<u8>> {
        if self.state == State::Closed {
            return None;
        }
        self.state = State::Closed;
        self.compound(now, sender, reception, true).ok()
    }

    /// Our SSRC changes to `new_ssrc` (a new RTP clock rate, RFC 7160
    /// §4.1): returns the old SSRC's last report with a BYE (RFC 3550
    /// §6.6, §8.2) and goes on reporting, on the same schedule and with
    /// the same CNAME (one participant, RFC 3550 §6.5.1), for the new
    /// one. `sender` is the old stream's sender info. `None` (and no
    /// change) once closed.
    pub fn change_ssrc(
        &mut self,
        now: Instant,
        sender: Option<SenderInfo>,
        reception: Option<ReceptionReport>,
        new_ssrc: u32,
    ) -> Option<Vec<u8>> {
        if self.state == State::Closed {
            return None;
        }
        let bye = self.compound(now, sender, reception, true).ok();
        self.ssrc = new_ssrc;
        bye
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Builds SR/RR + SDES (+ BYE).
    fn compound(
        &self,
        now: Instant,
        sender: Option<SenderInfo>,
        reception: Option<ReceptionReport>,
        bye: bool,
    ) -> Result<Vec<u8>, MediaError> {
        let block = reception.map(|r| self.report_block(now, r));
        let mut builder = Compound::builder();
        builder = match sender {
            Some(info) => {
                let mut sr = SenderReport::builder(self.ssrc)
                    .ntp_timestamp(self.ntp_at(now))
                    .rtp_timestamp(info.rtp_timestamp.0)
                    .packet_count(info.packet_count)
                    .octet_count(info.octet_count);
                if let Some(b) = block {
                    sr = sr.add_report_block(b);
                }
                builder.add_packet(sr)
            }
            None => {
                let mut rr = ReceiverReport::builder(self.ssrc);
                if let Some(b) = block {
                    rr = rr.add_report_block(b);
                }
                builder.add_packet(rr)
            }
        };
        let chunk =
            SdesChunk::builder(self.ssrc).add_item(SdesItem::builder(SdesItem::CNAME, &self.cname));
        builder = builder.add_packet(Sdes::builder().add_chunk(chunk));
        if bye {
            builder = builder.add_packet(Bye::builder().add_source(self.ssrc));
        }
        let size = builder
            .calculate_size()
            .map_err(|e| MediaError::Build(e.to_string()))?;
        let mut buf = vec![0u8; size];
        builder
            .write_into(&mut buf)
            .map_err(|e| MediaError::Build(e.to_string()))?;
        Ok(buf)
    }

    /// A report block for the remote source (§6.4.1).
    fn report_block(&self, now: Instant, r: ReceptionReport) -> rtcp_types::ReportBlockBuilder {
        let (lsr, dlsr) = match self.last_sr {
            Some(sr) => (sr.lsr, to_q16(now.saturating_duration_since(sr.at))),
            None => (0, 0),
        };
        ReportBlock::builder(r.ssrc)
            .fraction_lost(r.fraction_lost)
            .cumulative_lost((r.cumulative_lost as u32) & 0x00ff_ffff)
            .extended_sequence_number(r.extended_highest_seq)
            .interarrival_jitter(r.jitter)
            .last_sender_report_timestamp(lsr)
            .delay_since_last_sender_report_timestamp(dlsr)
    }

    /// Parses an incoming compound packet at `now`: remembers the peer's SR
    /// for our LSR/DLSR and computes RTT from a block about us.
    ///
    /// Errors: [`MediaError::MalformedRtcp`] (peer).
    pub fn handle(&mut self, now: Instant, datagram: &[u8]) -> Result<RtcpReceived, MediaError> {
        if datagram.len() > MAX_RTCP_LEN {
            return Err(MediaError::MalformedRtcp(format!(
                "{} bytes",
                datagram.len()
            )));
        }
        let compound =
            Compound::parse(datagram).map_err(|e| MediaError::MalformedRtcp(e.to_string()))?;
        let mut out = RtcpReceived::default();
        for packet in compound {
            match packet.map_err(|e| MediaError::MalformedRtcp(e.to_string()))? {
                Packet::Sr(sr) => {
                    out.sender_ssrc = out.sender_ssrc.or(Some(sr.ssrc()));
                    self.last_sr = Some(LastSr {
                        lsr: ntp_middle(sr.ntp_timestamp()),
                        at: now,
                    });
                    for block in sr.report_blocks() {
                        self.take_block(now, &block, &mut out);
                    }
                }
                Packet::Rr(rr) => {
                    out.sender_ssrc = out.sender_ssrc.or(Some(rr.ssrc()));
                    for block in rr.report_blocks() {
                        self.take_block(now, &block, &mut out);
                    }
                }
                Packet::Bye(_) => out.bye = true,
                _ => {}
            }
        }
        Ok(out)
    }

    /// Reads a report block if it is about us.
    fn take_block(&mut self, now: Instant, block: &ReportBlock<'_>, out: &mut RtcpReceived) {
        if block.ssrc() != self.ssrc {
            return;
        }
        let lost24 = block.cumulative_lost() & 0x00ff_ffff;
        out.report = Some(PeerReport {
            fraction_lost: block.fraction_lost(),
            cumulative_lost: ((lost24 << 8) as i32) >> 8,
            jitter: block.interarrival_jitter(),
        });
        let lsr = block.last_sender_report_timestamp();
        if lsr == 0 {
            return; // no SR of ours reached them yet
        }
        let a = ntp_middle(self.ntp_at(now));
        let rtt = a
            .wrapping_sub(lsr)
            .wrapping_sub(block.delay_since_last_sender_report_timestamp());
        if rtt < 1 << 31 {
            let rtt = Duration::from_nanos(u64::from(rtt) * 1_000_000_000 / 65_536);
            self.rtt = Some(rtt);
            out.rtt = Some(rtt);
        }
    }
}

/// A randomised interval around `base` (§6.3.1).
fn interval(rng: &mut StdRng, base: Duration) -> Duration {
    base.mul_f64(rng.gen_range(0.5..1.5) / COMPENSATION)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::mock::StepRng;

    const NTP0: u64 = 0xE000_0000_8000_0000;

    fn reception(ssrc: u32) -> ReceptionReport {
        ReceptionReport {
            ssrc,
            fraction_lost: 32,
            cumulative_lost: -3,
            extended_highest_seq: 0x0001_0009,
            jitter: 80,
        }
    }

    fn info() -> SenderInfo {
        SenderInfo {
            rtp_timestamp: RtpTimestamp(1234),
            packet_count: 50,
            octet_count: 8000,
        }
    }

    #[test]
    fn reports_are_scheduled_with_jitter() {
        let t0 = Instant::now();
        let mut s = RtcpSession::new(1, t0, NTP0, &mut StepRng::new(7, 11));
        let first = s.poll_timeout().unwrap() - t0;
        assert!(
            first >= Duration::from_millis(1000) && first <= Duration::from_millis(3100),
            "{first:?}"
        );
        assert!(s.poll_report(t0, None, None).is_none(), "not due yet");
        let due = s.poll_timeout().unwrap();
        assert!(s.poll_report(due, None, None).is_some());
        let next = s.poll_timeout().unwrap() - due;
        assert!(
            next >= Duration::from_millis(2000) && next <= Duration::from_millis(6200),
            "{next:?}"
        );
    }

    #[test]
    fn sr_with_block_and_cname_parses_back() {
        let t0 = Instant::now();
        let s = RtcpSession::new(0x1111, t0, NTP0, &mut StepRng::new(1, 1));
        let bytes = s
            .compound(
                t0 + Duration::from_secs(1),
                Some(info()),
                Some(reception(0x2222)),
                false,
            )
            .unwrap();
        let mut packets = Compound::parse(&bytes).unwrap();
        let Some(Ok(Packet::Sr(sr))) = packets.next() else {
            panic!("SR first")
        };
        assert_eq!(sr.ssrc(), 0x1111);
        assert_eq!(sr.ntp_timestamp(), NTP0 + (1 << 32));
        assert_eq!(
            (sr.rtp_timestamp(), sr.packet_count(), sr.octet_count()),
            (1234, 50, 8000)
        );
        let block = sr.report_blocks().next().unwrap();
        assert_eq!(block.ssrc(), 0x2222);
        assert_eq!(block.fraction_lost(), 32);
        assert_eq!(block.cumulative_lost(), 0x00ff_fffd, "-3 in 24 bits");
        assert_eq!(block.extended_sequence_number(), 0x0001_0009);
        assert_eq!(block.interarrival_jitter(), 80);
        let Some(Ok(Packet::Sdes(sdes))) = packets.next() else {
            panic!("SDES second")
        };
        let chunk = sdes.chunks().next().unwrap();
        let item = chunk.items().next().unwrap();
        assert_eq!(item.type_(), SdesItem::CNAME);
        assert_eq!(item.value(), s.cname().as_bytes());
        assert!(packets.next().is_none());
    }

    #[test]
    fn bye_closes() {
        let t0 = Instant::now();
        let mut s = RtcpSession::new(5, t0, NTP0, &mut StepRng::new(1, 1));
        let bytes = s.close(t0, None, None).unwrap();
        let kinds: Vec<_> = Compound::parse(&bytes)
            .unwrap()
            .map(|p| match p.unwrap() {
                Packet::Rr(_) => "RR",
                Packet::Sdes(_) => "SDES",
                Packet::Bye(_) => "BYE",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["RR", "SDES", "BYE"]);
        assert_eq!(s.poll_timeout(), None);
        assert!(s.close(t0, None, None).is_none());
        let mut peer = RtcpSession::new(6, t0, NTP0, &mut StepRng::new(2, 1));
        assert!(peer.handle(t0, &bytes).unwrap().bye);
    }

    #[test]
    fn an_ssrc_change_says_bye_for_the_old_one_and_reports_the_new() {
        let t0 = Instant::now();
        let mut s = RtcpSession::new(5, t0, NTP0, &mut StepRng::new(1, 1));
        let bytes = s.change_ssrc(t0, Some(info()), None, 9).unwrap();
        let packets: Vec<_> = Compound::parse(&bytes)
            .unwrap()
            .map(|p| match p.unwrap() {
                Packet::Sr(sr) => ("SR", sr.ssrc()),
                Packet::Sdes(sdes) => ("SDES", sdes.chunks().next().unwrap().ssrc()),
                Packet::Bye(bye) => ("BYE", bye.ssrcs().next().unwrap()),
                _ => ("other", 0),
            })
            .collect();
        assert_eq!(packets, [("SR", 5), ("SDES", 5), ("BYE", 5)]);
        assert_eq!(s.ssrc(), 9);
        let due = s.poll_timeout().expect("still reporting");
        let next = s.poll_report(due, None, None).unwrap();
        let Some(Ok(Packet::Rr(rr))) = Compound::parse(&next).unwrap().next() else {
            panic!("RR first")
        };
        assert_eq!(rr.ssrc(), 9);
        s.close(due, None, None);
        assert!(s.change_ssrc(due, None, None, 11).is_none());
        assert_eq!(s.ssrc(), 9);
    }

    /// Two sessions talking with a 100 ms one-way delay measure ~200 ms RTT.
    #[test]
    fn round_trip_from_lsr_dlsr() {
        let t0 = Instant::now();
        let one_way = Duration::from_millis(100);
        let mut us = RtcpSession::new(0xA, t0, NTP0, &mut StepRng::new(3, 1));
        // The peer's clock is unrelated to ours.
        let mut peer = RtcpSession::new(0xB, t0, 0x1234_5678_0000_0000, &mut StepRng::new(4, 1));
        let our_sr = us.compound(t0, Some(info()), None, false).unwrap();
        let got = peer.handle(t0 + one_way, &our_sr).unwrap();
        assert_eq!(got.sender_ssrc, Some(0xA));
        // The peer holds it 1.5 s, then reports about us.
        let t_rr = t0 + one_way + Duration::from_millis(1500);
        let rr = peer
            .compound(t_rr, None, Some(reception(0xA)), false)
            .unwrap();
        let got = us.handle(t_rr + one_way, &rr).unwrap();
        let rtt = got.rtt.unwrap();
        assert!(
            rtt.abs_diff(2 * one_way) < Duration::from_millis(1),
            "{rtt:?}"
        );
        assert_eq!(us.rtt(), Some(rtt));
        let report = got.report.unwrap();
        assert_eq!(
            (report.fraction_lost, report.cumulative_lost, report.jitter),
            (32, -3, 80)
        );
    }

    #[test]
    fn malformed_rtcp_is_an_error() {
        let t0 = Instant::now();
        let mut s = RtcpSession::new(1, t0, NTP0, &mut StepRng::new(1, 1));
        assert!(matches!(
            s.handle(t0, &[]),
            Err(MediaError::MalformedRtcp(_))
        ));
        assert!(matches!(
            s.handle(t0, &[0x80, 200, 0, 40]),
            Err(MediaError::MalformedRtcp(_))
        ));
        assert!(matches!(
            s.handle(t0, &[0u8; 2000]),
            Err(MediaError::MalformedRtcp(_))
        ));
    }

    #[test]
    fn ntp_conversion() {
        let t = UNIX_EPOCH + Duration::from_millis(1500);
        assert_eq!(
            ntp_from_system_time(t),
            ((NTP_UNIX_OFFSET + 1) << 32) | 0x8000_0000
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_rtcp_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let t0 = Instant::now();
            let mut s = RtcpSession::new(1, t0, NTP0, &mut StepRng::new(1, 1));
            let _ = s.handle(t0, &data);
        }
    }
}
