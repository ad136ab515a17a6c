//! An adaptive, bounded jitter buffer for one RTP source.
//!
//! Packets go in with `(seq, timestamp, payload, arrival)`; [`JitterBuffer::poll`]
//! hands them out on a playout clock, or a [`Playout::Lost`] marker when a
//! packet's turn came and it was missing (the caller conceals), or nothing.
//!
//! **Playout clock.** A packet plays at `anchor.at + (ts - anchor.ts) / clock_rate`.
//! The anchor is set from the first packet (its arrival plus the target
//! delay) and again at a resync: [`JitterBuffer::reset`] (new SSRC or
//! sequence restart), a marker bit arriving on an empty buffer (a new
//! talkspurt, RFC 3551 §4.1), or a timestamp jump larger than
//! [`RESYNC_JUMP`].
//!
//! **Adaptation.** Interarrival jitter `J` is estimated as in RFC 3550 §A.8;
//! the target delay is `clamp(3·J, min, max)`. A late packet (its turn has
//! passed) is dropped and pushes the playout clock back by its lateness (up
//! to `max` of buffered audio). Once per second, if every packet of the last
//! second waited longer than target + half a frame, the clock moves forward
//! by up to one frame (this also absorbs sender clock drift).
//!
//! **Loss.** Every missing packet is handed out as [`Playout::Lost`] at
//! its turn, however long the run, so the output keeps the timeline (the
//! caller conceals the first few and plays silence after: see
//! `pipeline::to_rtmp`). A run is bounded by the timestamps: once the
//! expected timestamp reaches the next held packet's, the rest of the
//! sequence gap (telephone-events sharing the sequence space, a sender's
//! jump) is skipped and that packet plays at its own time; so is a run
//! over [`MAX_LOST_RUN`] packets.
//!
//! **Delay.** Each frame's wait from arrival to playout is counted in
//! [`JitterStats::delay`] (a [`DelayHistogram`]).
//!
//! **Bounds.** At most `capacity` packets are held; on overflow the oldest is
//! dropped. Duplicates are dropped. Sequence numbers (16-bit) and timestamps
//! (32-bit) are extended internally, so both may wrap.
//!
//! **Config.** `[media] jitter_ms` is the initial target delay (default 60);
//! the adaptive range is `min = 20 ms` to `max = clamp(4 × jitter_ms, 200 ms,
//! 1000 ms)`: see [`JitterConfig::from_jitter_ms`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::delay_hist::DelayHistogram;
use super::timestamp::{ticks_to_duration, RtpTimestamp};

/// A timestamp jump (either way) that is treated as a new timeline.
pub const RESYNC_JUMP: Duration = Duration::from_secs(2);
/// A run of missing packets longer than this is skipped, not reported
/// packet by packet: 3 s of 20 ms packets, past any burst worth keeping on
/// the timeline; it bounds the [`Playout::Lost`] markers a far end can
/// cause with a few packets (a sequence jump with tiny timestamp steps).
pub const MAX_LOST_RUN: u64 = 150;
/// How often the delay may shrink.
const SHRINK_PERIOD: Duration = Duration::from_secs(1);

/// Jitter buffer parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Nominal frame length in ticks (used for loss until packets show
    /// their spacing), e.g. 160 for 20 ms at 8 kHz.
    pub frame_ticks: u32,
    /// Delay for the first packet of a timeline.
    pub initial_delay: Duration,
    /// Lower bound of the adaptive delay.
    pub min_delay: Duration,
    /// Upper bound of the adaptive delay and of buffered audio.
    pub max_delay: Duration,
    /// Most packets held.
    pub capacity: usize,
}

impl JitterConfig {
    /// The configuration for `[media] jitter_ms` (see the module docs).
    pub fn from_jitter_ms(jitter_ms: u32, clock_rate: u32, frame_ticks: u32) -> Self {
        let min_delay = Duration::from_millis(20);
        let max_delay = Duration::from_millis(u64::from(jitter_ms) * 4)
            .clamp(Duration::from_millis(200), Duration::from_millis(1000));
        let frame = ticks_to_duration(frame_ticks, clock_rate).max(Duration::from_millis(1));
        let capacity = (2 * max_delay.as_millis() / frame.as_millis().max(1)) as usize + 16;
        JitterConfig {
            clock_rate,
            frame_ticks,
            initial_delay: Duration::from_millis(u64::from(jitter_ms)).clamp(min_delay, max_delay),
            min_delay,
            max_delay,
            capacity: capacity.min(512),
        }
    }
}

/// What [`JitterBuffer::poll`] hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// The next packet, in order, on time.
    Frame {
        /// Its RTP timestamp.
        ts: RtpTimestamp,
        /// Its payload.
        payload: Vec<u8>,
        /// Its marker bit.
        marker: bool,
    },
    /// A packet that should have played now is missing: conceal `ticks`.
    Lost {
        /// The timestamp it would have had.
        ts: RtpTimestamp,
        /// Its estimated length in ticks.
        ticks: u32,
    },
}

/// Counters (monotonic) and the playout delay histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JitterStats {
    /// Packets accepted into the buffer.
    pub received: u64,
    /// Frames handed out.
    pub played: u64,
    /// Packets declared lost (concealed or skipped).
    pub lost: u64,
    /// Packets dropped for arriving after their turn.
    pub late: u64,
    /// Duplicate packets dropped.
    pub duplicates: u64,
    /// Packets dropped because the buffer was full.
    pub overflow: u64,
    /// Resynchronisations of the playout clock.
    pub resyncs: u64,
    /// Each played frame's wait from arrival to playout (the delay the
    /// buffer adds; `rtmp2sip_jitter_delay_seconds`).
    pub delay: DelayHistogram,
}

/// A buffered packet.
#[derive(Debug, Clone)]
struct Slot {
    ts: RtpTimestamp,
    /// When it arrived (for [`JitterStats::delay`]).
    arrival: Instant,
    payload: Vec<u8>,
    marker: bool,
}

/// The playout clock and position.
#[derive(Debug, Clone, Copy)]
struct Timeline {
    /// `ts` plays at `at`.
    anchor_at: Instant,
    anchor_ts: RtpTimestamp,
    /// Extended sequence number that plays next.
    next_seq: u64,
    /// Timestamp expected for `next_seq`.
    next_ts: RtpTimestamp,
    /// Ticks per packet as last observed.
    packet_ticks: u32,
}

impl Timeline {
    fn play_time(&self, ts: RtpTimestamp, clock_rate: u32) -> Instant {
        let delta = ts.delta(self.anchor_ts);
        let offset = ticks_to_duration(delta.unsigned_abs(), clock_rate);
        if delta >= 0 {
            self.anchor_at + offset
        } else {
            self.anchor_at.checked_sub(offset).unwrap_or(self.anchor_at)
        }
    }
}

/// State of the buffer.
#[derive(Debug, Clone)]
enum State {
    /// No packet yet (or just reset).
    Waiting,
    /// Playing a timeline.
    Playing(Timeline),
}

/// Jitter estimator (RFC 3550 §A.8 on arrival vs media time).
#[derive(Debug, Clone, Copy, Default)]
struct JitterEstimate {
    last_transit: Option<i64>,
    /// Mean deviation, in µs.
    jitter_us: f64,
}

impl JitterEstimate {
    fn update(&mut self, transit_us: i64) {
        if let Some(last) = self.last_transit {
            let d = (transit_us - last).unsigned_abs() as f64;
            self.jitter_us += (d - self.jitter_us) / 16.0;
        }
        self.last_transit = Some(transit_us);
    }
}

/// The adaptive jitter buffer.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    state: State,
    slots: BTreeMap<u64, Slot>,
    /// Highest extended sequence number seen (for extension).
    highest_seq: Option<u64>,
    estimate: JitterEstimate,
    /// Smallest wait (play time - arrival) seen this shrink period, in µs.
    min_slack_us: Option<i64>,
    next_shrink: Option<Instant>,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(cfg: JitterConfig) -> Self {
        JitterBuffer {
            cfg,
            state: State::Waiting,
            slots: BTreeMap::new(),
            highest_seq: None,
            estimate: JitterEstimate::default(),
            min_slack_us: None,
            next_shrink: None,
            stats: JitterStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no packet is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The current target delay: `clamp(3·J, min, max)`.
    pub fn target_delay(&self) -> Duration {
        let j = Duration::from_micros((3.0 * self.estimate.jitter_us) as u64);
        j.clamp(self.cfg.min_delay, self.cfg.max_delay)
    }

    /// Interarrival jitter estimate (RFC 3550 §A.8).
    pub fn jitter(&self) -> Duration {
        Duration::from_micros(self.estimate.jitter_us as u64)
    }

    /// Drops everything and waits for a new timeline (new source).
    pub fn reset(&mut self) {
        self.slots.clear();
        self.state = State::Waiting;
        self.highest_seq = None;
        self.estimate.last_transit = None;
        self.min_slack_us = None;
    }

    /// Extends a 16-bit sequence number to the one nearest the highest seen.
    fn extend_seq(&mut self, seq: u16) -> u64 {
        let ext = match self.highest_seq {
            None => (1 << 32) | u64::from(seq),
            Some(high) => {
                let delta = seq.wrapping_sub(high as u16) as i16;
                high.saturating_add_signed(i64::from(delta))
            }
        };
        self.highest_seq = Some(self.highest_seq.map_or(ext, |h| h.max(ext)));
        ext
    }

    /// Starts a timeline at this packet.
    fn anchor(&mut self, seq: u64, ts: RtpTimestamp, arrival: Instant, delay: Duration) {
        let packet_ticks = match self.state {
            State::Playing(t) => t.packet_ticks,
            State::Waiting => self.cfg.frame_ticks,
        };
        // Older packets would play before the new anchor: drop them.
        self.slots.retain(|&s, _| s >= seq);
        self.state = State::Playing(Timeline {
            anchor_at: arrival + delay,
            anchor_ts: ts,
            next_seq: seq,
            next_ts: ts,
            packet_ticks,
        });
        self.stats.resyncs += 1;
        self.min_slack_us = None;
        self.next_shrink = Some(arrival + SHRINK_PERIOD);
    }

    /// Offers a packet that arrived at `arrival`.
    pub fn push(
        &mut self,
        seq: u16,
        ts: RtpTimestamp,
        marker: bool,
        payload: &[u8],
        arrival: Instant,
    ) {
        let seq = self.extend_seq(seq);
        let timeline = match self.state {
            State::Waiting => {
                self.anchor(seq, ts, arrival, self.cfg.initial_delay);
                self.insert(seq, ts, marker, payload, arrival);
                return;
            }
            State::Playing(t) => t,
        };
        let play_at = timeline.play_time(ts, self.cfg.clock_rate);
        let slack_us = signed_us(play_at, arrival);
        self.estimate.update(-slack_us);
        let jump = slack_us.unsigned_abs() > RESYNC_JUMP.as_micros() as u64;
        let talkspurt = marker && self.slots.is_empty() && seq >= timeline.next_seq;
        if jump || talkspurt {
            self.anchor(seq, ts, arrival, self.target_delay());
            self.insert(seq, ts, marker, payload, arrival);
            return;
        }
        if seq < timeline.next_seq {
            self.late(arrival, play_at);
            return;
        }
        self.min_slack_us = Some(self.min_slack_us.map_or(slack_us, |m| m.min(slack_us)));
        self.insert(seq, ts, marker, payload, arrival);
    }

    fn insert(
        &mut self,
        seq: u64,
        ts: RtpTimestamp,
        marker: bool,
        payload: &[u8],
        arrival: Instant,
    ) {
        if self.slots.contains_key(&seq) {
            self.stats.duplicates += 1;
            return;
        }
        self.slots.insert(
            seq,
            Slot {
                ts,
                arrival,
                payload: payload.to_vec(),
                marker,
            },
        );
        self.stats.received += 1;
        while self.slots.len() > self.cfg.capacity {
            if let Some((dropped, _)) = self.slots.pop_first() {
                self.stats.overflow += 1;
                if let State::Playing(t) = &mut self.state {
                    t.next_seq = t.next_seq.max(dropped + 1);
                }
            }
        }
    }

    /// A packet whose turn has passed: drop it, and delay the playout clock
    /// by its lateness, keeping buffered audio under `max_delay`.
    fn late(&mut self, arrival: Instant, play_at: Instant) {
        self.stats.late += 1;
        let State::Playing(t) = &mut self.state else {
            return;
        };
        if play_at + RESYNC_JUMP < arrival {
            // A stray old duplicate, not a delay spike.
            return;
        }
        let lateness = arrival.saturating_duration_since(play_at);
        let newest_ts = self.slots.last_key_value().map_or(t.next_ts, |(_, s)| s.ts);
        let buffered = t
            .play_time(newest_ts, self.cfg.clock_rate)
            .saturating_duration_since(arrival);
        let room = self.cfg.max_delay.saturating_sub(buffered);
        t.anchor_at += lateness.min(room);
    }

    /// Once per period, moves the clock forward when every packet waited
    /// longer than needed.
    fn maybe_shrink(&mut self, now: Instant) {
        let Some(due) = self.next_shrink else { return };
        if now < due {
            return;
        }
        self.next_shrink = Some(now + SHRINK_PERIOD);
        let target_us = self.target_delay().as_micros() as i64;
        let State::Playing(t) = &mut self.state else {
            return;
        };
        let frame = ticks_to_duration(t.packet_ticks, self.cfg.clock_rate);
        if let Some(slack) = self.min_slack_us.take() {
            let excess = slack - target_us;
            if excess > frame.as_micros() as i64 / 2 {
                let step = Duration::from_micros(excess as u64).min(frame);
                t.anchor_at = t.anchor_at.checked_sub(step).unwrap_or(t.anchor_at);
            }
        }
    }

    /// The next frame or loss marker due at `now`, if any.
    pub fn poll(&mut self, now: Instant) -> Option<Playout> {
        self.maybe_shrink(now);
        let State::Playing(t) = &mut self.state else {
            return None;
        };
        // Invariant: nothing below next_seq is held; enforce it anyway.
        while self
            .slots
            .first_key_value()
            .is_some_and(|(&s, _)| s < t.next_seq)
        {
            self.slots.pop_first();
        }
        let (&seq, slot) = self.slots.first_key_value()?;
        if seq == t.next_seq {
            if now < t.play_time(slot.ts, self.cfg.clock_rate) {
                return None;
            }
            let slot = self.slots.pop_first()?.1;
            let spacing = self
                .slots
                .get(&(seq + 1))
                .map(|next| next.ts.delta(slot.ts))
                .filter(|d| *d > 0 && (*d as u32) <= 8 * self.cfg.frame_ticks);
            if let Some(d) = spacing {
                t.packet_ticks = d as u32;
            }
            t.next_seq = seq + 1;
            t.next_ts = slot.ts.advance(t.packet_ticks);
            self.stats.played += 1;
            self.stats
                .delay
                .record(now.saturating_duration_since(slot.arrival));
            return Some(Playout::Frame {
                ts: slot.ts,
                payload: slot.payload,
                marker: slot.marker,
            });
        }
        if slot.ts.delta(t.next_ts) <= 0 || seq.saturating_sub(t.next_seq) > MAX_LOST_RUN {
            // No room left before the held packet: the rest of the
            // sequence gap carried no audio time (telephone-events, a
            // sender's jump); or a run too long to report packet by
            // packet. Skip to it; it plays at its own time.
            self.stats.lost += seq.saturating_sub(t.next_seq);
            t.next_seq = seq;
            t.next_ts = slot.ts;
            // Now the head: play it if due (one level deep).
            return self.poll(now);
        }
        if now < t.play_time(t.next_ts, self.cfg.clock_rate) {
            return None;
        }
        let lost = Playout::Lost {
            ts: t.next_ts,
            ticks: t.packet_ticks,
        };
        self.stats.lost += 1;
        t.next_seq += 1;
        t.next_ts = t.next_ts.advance(t.packet_ticks);
        Some(lost)
    }

    /// The payload of the packet that plays next, if it is already held:
    /// right after [`Playout::Lost`], the packet after the lost one (an
    /// Opus decoder rebuilds the lost frame from its in-band FEC, RFC 6716
    /// §2.1.7).
    pub fn peek_next(&self) -> Option<&[u8]> {
        let State::Playing(t) = &self.state else {
            return None;
        };
        let (&seq, slot) = self.slots.first_key_value()?;
        (seq == t.next_seq).then_some(slot.payload.as_slice())
    }

    /// When [`JitterBuffer::poll`] next has something to hand out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let State::Playing(t) = &self.state else {
            return None;
        };
        let (&seq, slot) = self.slots.first_key_value()?;
        let ts = if seq == t.next_seq {
            slot.ts
        } else {
            t.next_ts
        };
        let due = t.play_time(ts, self.cfg.clock_rate);
        Some(self.next_shrink.map_or(due, |s| s.min(due)))
    }
}

/// `a - b` in µs, signed.
fn signed_us(a: Instant, b: Instant) -> i64 {
    match a.checked_duration_since(b) {
        Some(d) => d.as_micros() as i64,
        None => -(b.saturating_duration_since(a).as_micros() as i64),
    }
}

#[cfg(test)]
#[path = "jitter_tests.rs"]
mod tests;
