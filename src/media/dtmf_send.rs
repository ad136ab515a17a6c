//! Sending DTMF as RFC 4733 telephone-events (sans-IO).
//!
//! [`DtmfSender`] queues digits and, polled with `now`, yields the
//! telephone-event packets to send (RFC 4733 §2.5.1): one event is a run
//! of packets every [`PACKET_INTERVAL_MS`] that all carry the event's start
//! timestamp; the first has the marker bit (§2.5.1.2); the duration field
//! grows by one interval per packet (§2.5.1.2); the packet that reports the
//! whole duration has the E bit and is sent [`END_PACKETS`] times
//! (§2.5.1.4). Digits follow each other after a [`GAP_MS`] pause.
//!
//! Packet `k` (0-based) of an event of `D` ms goes out at `start + 20k` ms
//! and reports `min(20(k+1), D)` ms, the time it covers (like an audio
//! packet covers its 20 ms): 100 ms gives 160, 320, 480, 640, then 800
//! with E three times, at 0, 20, …, 120 ms (in 8 kHz ticks).
//!
//! The caller builds the RTP packets (same SSRC and sequence space as the
//! audio, RFC 4733 §2.1) and keeps the audio timeline after the event: see
//! [`DtmfPacket::end_ts`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::dtmf::{event_of, TelephoneEvent};
use super::timestamp::{duration_to_ticks, ms_to_ticks, RtpTimestamp};
use super::MediaError;

/// Most digits waiting to start (the one playing is not counted).
pub const MAX_QUEUED_DIGITS: usize = 32;
/// Event duration callers use when the client gives none, in ms.
pub const DEFAULT_DURATION_MS: u32 = 160;
/// Shortest event sent, in ms (shorter requests are lengthened).
pub const MIN_DURATION_MS: u32 = 40;
/// Longest event sent, in ms (longer requests are shortened).
pub const MAX_DURATION_MS: u32 = 2000;
/// Pause between the end of one event and the start of the next, in ms.
pub const GAP_MS: u32 = 60;
/// Interval between the packets of an event, in ms (our audio ptime).
pub const PACKET_INTERVAL_MS: u32 = 20;
/// Volume field, in -dBm0 (RFC 4733 §2.3.2; 10 is a common DTMF level).
pub const VOLUME: u8 = 10;
/// How many packets carry the E bit (RFC 4733 §2.5.1.4: sent three times).
pub const END_PACKETS: u32 = 3;
/// Beyond this since the previous event, its timeline no longer bounds
/// the next event's timestamp (keeps [`RtpTimestamp::delta`] meaningful).
const ANCHOR_LIMIT: Duration = Duration::from_secs(60);

/// One telephone-event packet to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// RTP timestamp: the event's start, the same for all its packets.
    pub ts: RtpTimestamp,
    /// RTP marker bit: set on the first packet of an event only.
    pub marker: bool,
    /// The 4-byte payload (RFC 4733 §2.3).
    pub event: TelephoneEvent,
    /// The final retransmission of the end packet: the event is over and
    /// audio may resume.
    pub last: bool,
}

impl DtmfPacket {
    /// The RTP timestamp where the event ends (`ts` + duration ticks): the
    /// audio timeline must not restart before it.
    pub fn end_ts(&self) -> RtpTimestamp {
        self.ts.advance(u32::from(self.event.duration))
    }
}

/// A digit waiting or playing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Digit {
    /// Event code (RFC 4733 §3.2).
    event: u8,
    /// Duration in ms, within `MIN_DURATION_MS..=MAX_DURATION_MS`.
    duration_ms: u32,
}

impl Digit {
    /// Packets reporting progress, the last one with the E bit.
    fn updates(self) -> u32 {
        self.duration_ms.div_ceil(PACKET_INTERVAL_MS).max(1)
    }

    /// All packets of the event, counting the end retransmissions.
    fn packets(self) -> u32 {
        self.updates() + END_PACKETS - 1
    }
}

/// Where an event started, on both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Anchor {
    start: Instant,
    ts: RtpTimestamp,
}

/// What the sender is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing sent yet.
    Idle,
    /// The next queued digit may start at `at` (after the inter-digit gap).
    Waiting { at: Instant, prev: Option<Anchor> },
    /// Sending `digit`; `next` is the index of its next packet.
    Playing {
        digit: Digit,
        anchor: Anchor,
        next: u32,
    },
}

/// Queues DTMF digits and schedules their telephone-event packets.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    clock_rate: u32,
    queue: VecDeque<Digit>,
    state: State,
}

impl DtmfSender {
    /// A sender for a telephone-event clock of `clock_rate` Hz (8000 for
    /// `telephone-event/8000`).
    pub fn new(clock_rate: u32) -> Self {
        DtmfSender {
            clock_rate,
            queue: VecDeque::new(),
            state: State::Idle,
        }
    }

    /// Queues `digits` (`0-9 * # A-D`, case-insensitive), each lasting
    /// `duration_ms` clamped to [`MIN_DURATION_MS`]`..=`[`MAX_DURATION_MS`].
    /// All or nothing: on error nothing is queued.
    ///
    /// Errors (local misuse or a bad client request):
    /// [`MediaError::InvalidDtmf`] for the first character that is not a
    /// DTMF digit; [`MediaError::DtmfQueueFull`] if more than
    /// [`MAX_QUEUED_DIGITS`] would wait.
    pub fn queue(
        &mut self,
        now: Instant,
        digits: &str,
        duration_ms: u32,
    ) -> Result<(), MediaError> {
        let duration_ms = duration_ms.clamp(MIN_DURATION_MS, MAX_DURATION_MS);
        let free = MAX_QUEUED_DIGITS.saturating_sub(self.queue.len());
        let mut parsed = Vec::with_capacity(free.min(digits.len()));
        for c in digits.chars() {
            let event = event_of(c).ok_or(MediaError::InvalidDtmf(c))?;
            if parsed.len() >= free {
                return Err(MediaError::DtmfQueueFull);
            }
            parsed.push(Digit { event, duration_ms });
        }
        self.queue.extend(parsed);
        if self.state == State::Idle && !self.queue.is_empty() {
            self.state = State::Waiting {
                at: now,
                prev: None,
            };
        }
        Ok(())
    }

    /// Whether an event is being sent (audio toward the peer is held back
    /// until the last end packet).
    pub fn is_playing(&self) -> bool {
        matches!(self.state, State::Playing { .. })
    }

    /// Digits waiting to start.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// When the next packet is due, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Idle => None,
            State::Waiting { at, .. } => (!self.queue.is_empty()).then_some(at),
            State::Playing {
                digit: _,
                anchor,
                next,
            } => Some(anchor.start + interval(next)),
        }
    }

    /// The next packet due at `now`, if any; call until `None`.
    ///
    /// `audio_ts` is the timestamp the next audio packet would carry: a new
    /// event starts there, or later if the previous event's timeline (its
    /// start plus the wall time since) is further on.
    pub fn poll(&mut self, now: Instant, audio_ts: RtpTimestamp) -> Option<DtmfPacket> {
        if let State::Waiting { at, prev } = self.state {
            if now < at {
                return None;
            }
            let digit = self.queue.pop_front()?;
            self.state = State::Playing {
                digit,
                anchor: Anchor {
                    start: now,
                    ts: self.start_ts(now, audio_ts, prev),
                },
                next: 0,
            };
        }
        let State::Playing {
            digit,
            anchor,
            next,
        } = self.state
        else {
            return None;
        };
        if now < anchor.start + interval(next) {
            return None;
        }
        let packet = self.packet(digit, anchor, next);
        self.state = if packet.last {
            State::Waiting {
                at: anchor.start + Duration::from_millis(u64::from(digit.duration_ms + GAP_MS)),
                prev: Some(anchor),
            }
        } else {
            State::Playing {
                digit,
                anchor,
                next: next + 1,
            }
        };
        Some(packet)
    }

    /// The start timestamp of an event beginning at `now`.
    fn start_ts(&self, now: Instant, audio_ts: RtpTimestamp, prev: Option<Anchor>) -> RtpTimestamp {
        let floor = prev.and_then(|p| {
            let since = now.saturating_duration_since(p.start);
            (since < ANCHOR_LIMIT).then(|| p.ts.advance(duration_to_ticks(since, self.clock_rate)))
        });
        match floor {
            Some(floor) if floor.is_after(audio_ts) => floor,
            _ => audio_ts,
        }
    }

    /// Packet `k` of `digit`.
    fn packet(&self, digit: Digit, anchor: Anchor, k: u32) -> DtmfPacket {
        let covered_ms = (k + 1)
            .saturating_mul(PACKET_INTERVAL_MS)
            .min(digit.duration_ms);
        let ticks = ms_to_ticks(covered_ms, self.clock_rate);
        DtmfPacket {
            ts: anchor.ts,
            marker: k == 0,
            event: TelephoneEvent {
                event: digit.event,
                end: k + 1 >= digit.updates(),
                volume: VOLUME,
                duration: u16::try_from(ticks).unwrap_or(u16::MAX),
            },
            last: k + 1 >= digit.packets(),
        }
    }
}

/// `k` packet intervals.
fn interval(k: u32) -> Duration {
    Duration::from_millis(u64::from(k) * u64::from(PACKET_INTERVAL_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls every ms from 0 to `until_ms`, returning (ms, packet).
    fn run(
        s: &mut DtmfSender,
        t0: Instant,
        until_ms: u64,
        audio_ts: u32,
    ) -> Vec<(u64, DtmfPacket)> {
        let mut out = Vec::new();
        for ms in 0..until_ms {
            let now = t0 + Duration::from_millis(ms);
            while let Some(p) = s.poll(now, RtpTimestamp(audio_ts)) {
                out.push((ms, p));
            }
        }
        out
    }

    #[test]
    fn one_event_follows_rfc4733_timing() {
        let t0 = Instant::now();
        let mut s = DtmfSender::new(8000);
        s.queue(t0, "5", 100).unwrap();
        assert_eq!(s.poll_timeout(), Some(t0));
        let got = run(&mut s, t0, 400, 1000);
        let times: Vec<u64> = got.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, [0, 20, 40, 60, 80, 100, 120]);
        let bytes: Vec<[u8; 4]> = got.iter().map(|(_, p)| p.event.to_bytes()).collect();
        // Event 5, volume 10, E bit 0x80, durations 160..800 ticks.
        assert_eq!(
            bytes,
            [
                [5, 0x0a, 0x00, 0xa0],
                [5, 0x0a, 0x01, 0x40],
                [5, 0x0a, 0x01, 0xe0],
                [5, 0x0a, 0x02, 0x80],
                [5, 0x8a, 0x03, 0x20],
                [5, 0x8a, 0x03, 0x20],
                [5, 0x8a, 0x03, 0x20],
            ]
        );
        assert!(got.iter().all(|(_, p)| p.ts == RtpTimestamp(1000)));
        let markers: Vec<bool> = got.iter().map(|(_, p)| p.marker).collect();
        assert_eq!(markers, [true, false, false, false, false, false, false]);
        let last: Vec<bool> = got.iter().map(|(_, p)| p.last).collect();
        assert_eq!(last, [false, false, false, false, false, false, true]);
        assert_eq!(got[6].1.end_ts(), RtpTimestamp(1800));
        assert!(!s.is_playing());
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn durations_are_clamped_and_odd_lengths_end_exactly() {
        let t0 = Instant::now();
        let mut s = DtmfSender::new(8000);
        s.queue(t0, "1", 5).unwrap();
        let d: Vec<(u16, bool)> = run(&mut s, t0, 200, 0)
            .iter()
            .map(|(_, p)| (p.event.duration, p.event.end))
            .collect();
        assert_eq!(d, [(160, false), (320, true), (320, true), (320, true)]);

        let mut s = DtmfSender::new(8000);
        s.queue(t0, "2", 50).unwrap();
        let d: Vec<u16> = run(&mut s, t0, 200, 0)
            .iter()
            .map(|(_, p)| p.event.duration)
            .collect();
        assert_eq!(d, [160, 320, 400, 400, 400]);

        let mut s = DtmfSender::new(8000);
        s.queue(t0, "3", 60_000).unwrap();
        let got = run(&mut s, t0, 3000, 0);
        assert_eq!(got.len(), 100 + 2);
        assert_eq!(got.last().unwrap().1.event.duration, 16_000, "2 s at 8 kHz");
    }

    #[test]
    fn digits_are_separated_by_the_gap_on_one_timeline() {
        let t0 = Instant::now();
        let mut s = DtmfSender::new(8000);
        s.queue(t0, "*d", 40).unwrap();
        // The audio timeline does not move (no audio): the second event
        // starts 100 ms (800 ticks) after the first anyway.
        let got = run(&mut s, t0, 400, 500);
        let starts: Vec<(u64, u8, u32)> = got
            .iter()
            .filter(|(_, p)| p.marker)
            .map(|(t, p)| (*t, p.event.event, p.ts.0))
            .collect();
        assert_eq!(starts, [(0, 10, 500), (100, 15, 1300)]);
        assert_eq!(got.len(), 8);
    }

    #[test]
    fn a_later_audio_timeline_wins() {
        let t0 = Instant::now();
        let mut s = DtmfSender::new(8000);
        s.queue(t0, "12", 40).unwrap();
        let first = run(&mut s, t0, 99, 0);
        assert_eq!(first.len(), 4);
        let now = t0 + Duration::from_millis(100);
        let p = s.poll(now, RtpTimestamp(5000)).unwrap();
        assert_eq!(
            (p.event.event, p.ts, p.marker),
            (2, RtpTimestamp(5000), true)
        );
    }

    #[test]
    fn rejects_bad_digits_and_overfull_queues_atomically() {
        let t0 = Instant::now();
        let mut s = DtmfSender::new(8000);
        assert_eq!(s.queue(t0, "12x3", 100), Err(MediaError::InvalidDtmf('x')));
        assert_eq!(s.queue(t0, "E", 100), Err(MediaError::InvalidDtmf('E')));
        assert_eq!(s.queued(), 0);
        assert_eq!(s.poll_timeout(), None);
        let many = "0123456789*#ABCDabcd0123456789*#A";
        assert_eq!(many.len(), 33);
        assert_eq!(s.queue(t0, many, 100), Err(MediaError::DtmfQueueFull));
        assert_eq!(s.queued(), 0);
        s.queue(t0, &many[..32], 100).unwrap();
        assert_eq!(s.queued(), 32);
        assert_eq!(s.queue(t0, "1", 100), Err(MediaError::DtmfQueueFull));
        assert!(s.poll(t0, RtpTimestamp(0)).is_some());
        assert_eq!(s.queued(), 31, "the playing digit left the queue");
        s.queue(t0, "1", 100).unwrap();
        s.queue(t0, "", 100).unwrap();
        assert_eq!(s.queued(), 32);
    }

    #[test]
    fn late_polls_catch_up_without_skipping_packets() {
        let t0 = Instant::now();
        let mut s = DtmfSender::new(8000);
        s.queue(t0, "9", 100).unwrap();
        let late = t0 + Duration::from_secs(1);
        let got: Vec<DtmfPacket> = std::iter::from_fn(|| s.poll(late, RtpTimestamp(0))).collect();
        assert_eq!(got.len(), 1, "the event starts when first polled");
        let got: Vec<DtmfPacket> =
            std::iter::from_fn(|| s.poll(late + Duration::from_secs(1), RtpTimestamp(0))).collect();
        assert_eq!(got.len(), 6);
        assert!(got.last().unwrap().last);
    }
}
