//! Per-call measurement, fed events and `now` (sans-IO, testable on a
//! virtual clock): media sent and received, gaps, delay variation, tone
//! burst round trips.
//!
//! - **Frames**: media time in 20 ms units; expected = media time published,
//!   received = media time decoded from the play stream.
//! - **Gaps**: inter-arrival times of returned audio messages over 60 ms.
//! - **Delay variation**: for message i, `(arrival_i - arrival_0) -
//!   (ts_i - ts_0)` in ms (the relative transit time of RFC 3550 section
//!   6.4.1, against the gateway's RTMP timestamps), less its minimum over the
//!   call, so 0 is the fastest message; a buffer that keeps latency steady
//!   gives small values.
//! - **Round trip**: wall time from publishing the frame where a tone burst
//!   starts (plus the burst's offset in it) to receiving the message in
//!   which the detector finds its onset; each burst is matched at most once,
//!   and only within one burst period.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rtmp2sip::rtmp::RtmpTimestamp;

use crate::codec::{carries_media, Sink};
use crate::stats::Histogram;
use crate::tone::{ToneDetector, PERIOD_MS};

/// Gap threshold, ms.
pub const GAP_MS: f64 = 60.0;
/// Most gap instants kept per call ([`CallMeter::gap_at`]).
pub const MAX_GAPS_KEPT: usize = 256;
/// Range of the delay-variation histogram, ms.
pub const JITTER_RANGE_MS: usize = 5000;
/// Offset added so negative relative transits fit the histogram, ms.
const JITTER_OFFSET_MS: f64 = 1000.0;
/// Range of the round-trip histogram, ms.
pub const RTT_RANGE_MS: usize = 2000;

/// Measurements of one call's media.
pub struct CallMeter {
    sink: Sink,
    detector: Option<(u32, ToneDetector)>,
    /// Media time published, µs.
    pub sent_us: u64,
    /// Media time decoded from returned audio, µs.
    pub received_us: u64,
    /// Returned audio messages.
    pub messages: u64,
    /// Returned messages that did not decode.
    pub undecodable: u64,
    /// Inter-arrival gaps over [`GAP_MS`].
    pub gaps: u64,
    /// When each gap ended (the late message's arrival), the first
    /// [`MAX_GAPS_KEPT`]: whether calls' gaps coincide (a stall of the
    /// gateway or the generator) or not ([`crate::report`]).
    pub gap_at: Vec<Instant>,
    /// Relative transit, ms, offset by 1000 (see module docs).
    pub jitter: Histogram,
    /// Burst round trips, ms.
    pub rtt: Histogram,
    first: Option<(Instant, RtmpTimestamp)>,
    last_arrival: Option<Instant>,
    /// Send instants of bursts not matched yet.
    bursts: VecDeque<Instant>,
}

impl Default for CallMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl CallMeter {
    /// An empty meter.
    pub fn new() -> Self {
        Self {
            sink: Sink::default(),
            detector: None,
            sent_us: 0,
            received_us: 0,
            messages: 0,
            undecodable: 0,
            gaps: 0,
            gap_at: Vec::new(),
            jitter: Histogram::new(JITTER_RANGE_MS),
            rtt: Histogram::new(RTT_RANGE_MS),
            first: None,
            last_arrival: None,
            bursts: VecDeque::new(),
        }
    }

    /// A frame of `frame_us` µs was published at `now`; a burst starts
    /// `burst_at_us` µs into it, if at all.
    pub fn on_sent(&mut self, now: Instant, frame_us: u64, burst_at_us: Option<u64>) {
        self.sent_us += frame_us;
        if let Some(off) = burst_at_us {
            self.bursts.push_back(now + Duration::from_micros(off));
            // Bounded: only bursts still inside one period can match.
            while self.bursts.len() > 4 {
                self.bursts.pop_front();
            }
        }
    }

    /// A returned audio message arrived at `now`. A message without
    /// media (an E-RTMP SequenceStart, [`carries_media`]) is counted and
    /// decoded but is no arrival: the gap before the first frame and the
    /// delay variation's reference are the frames' own.
    pub fn on_audio(&mut self, now: Instant, ts: RtmpTimestamp, body: &[u8]) {
        self.messages += 1;
        if !carries_media(body) {
            if self.sink.decode(body).is_none() {
                self.undecodable += 1;
            }
            return;
        }
        if let Some(last) = self.last_arrival {
            if ms(now.saturating_duration_since(last)) > GAP_MS {
                self.gaps += 1;
                if self.gap_at.len() < MAX_GAPS_KEPT {
                    self.gap_at.push(now);
                }
            }
        }
        self.last_arrival = Some(now);
        let (t0, ts0) = *self.first.get_or_insert((now, ts));
        let transit = ms(now.saturating_duration_since(t0)) - f64::from(ts.signed_delta(ts0));
        self.jitter.add(transit + JITTER_OFFSET_MS);

        let Some(rate) = self.sink.decode(body) else {
            self.undecodable += 1;
            return;
        };
        self.received_us += self.sink.pcm.len() as u64 * 1_000_000 / u64::from(rate.max(1));
        if self.detector.as_ref().map(|d| d.0) != Some(rate) {
            self.detector = Some((rate, ToneDetector::new(rate)));
        }
        let onsets = self
            .detector
            .as_mut()
            .map_or(0, |(_, d)| d.push(&self.sink.pcm));
        if onsets > 0 {
            self.match_burst(now);
        }
    }

    /// Pairs an onset seen at `now` with the latest burst sent before it.
    fn match_burst(&mut self, now: Instant) {
        let period = Duration::from_millis(PERIOD_MS);
        while let Some(&sent) = self.bursts.front() {
            let next_before = self.bursts.get(1).is_some_and(|&n| n <= now);
            if sent > now {
                return;
            }
            self.bursts.pop_front();
            if next_before {
                continue;
            }
            let rt = now.saturating_duration_since(sent);
            if rt < period {
                self.rtt.add(ms(rt));
            }
            return;
        }
    }

    /// The smallest jitter bin, to normalise the call's delay variation.
    pub fn jitter_min_bin(&self) -> usize {
        self.jitter.min().unwrap_or(0)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, Source};

    /// An echo with a fixed delay and a jittery arrival pattern, on a virtual clock.
    #[test]
    fn echo_with_fixed_delay_measures_round_trip_frames_and_jitter() {
        let t0 = Instant::now();
        let mut src = Source::new(Codec::Pcmu).expect("src");
        let mut m = CallMeter::new();
        let delay = Duration::from_millis(45);
        let mut returned = Vec::new();
        for i in 0..150u32 {
            let now = t0 + Duration::from_millis(20 * u64::from(i));
            let f = src.next_frame().expect("frame");
            m.on_sent(now, 20_000, f.burst_at_us);
            // every 10th message arrives 15 ms late
            let extra = if i % 10 == 5 { 15 } else { 0 };
            returned.push((now + delay + Duration::from_millis(extra), 20 * i, f.body));
        }
        returned.sort_by_key(|r| r.0);
        for (at, ts, body) in &returned {
            m.on_audio(*at, RtmpTimestamp::from_millis(*ts), body);
        }
        assert_eq!(m.sent_us, 3_000_000);
        assert_eq!(m.received_us, 3_000_000);
        assert_eq!(m.gaps, 0);
        assert_eq!(m.rtt.count(), 3);
        let rt = m.rtt.percentile(50.0).expect("rt");
        assert!((45.0..=65.0).contains(&rt), "round trip {rt}");
        let mut all = Histogram::new(JITTER_RANGE_MS);
        all.merge_shifted(&m.jitter, m.jitter_min_bin());
        assert_eq!(all.percentile(50.0), Some(0.0));
        assert_eq!(all.percentile(99.0), Some(15.0));
    }

    #[test]
    fn gaps_and_undecodable_messages_are_counted() {
        let t0 = Instant::now();
        let mut m = CallMeter::new();
        let body = [0x82u8; 161];
        m.on_audio(t0, RtmpTimestamp::from_millis(0), &body);
        m.on_audio(
            t0 + Duration::from_millis(100),
            RtmpTimestamp::from_millis(20),
            &body,
        );
        m.on_audio(
            t0 + Duration::from_millis(110),
            RtmpTimestamp::from_millis(40),
            &[0x22, 1],
        );
        assert_eq!(m.gaps, 1);
        assert_eq!(m.gap_at, [t0 + Duration::from_millis(100)]);
        assert_eq!(m.undecodable, 1);
        assert_eq!(m.messages, 3);
        assert_eq!(m.received_us, 40_000);
        assert_eq!(m.rtt.count(), 0);
    }

    #[test]
    fn a_sequence_start_is_no_arrival() {
        // The gateway sends the OpusHead when the player subscribes and
        // its first frame after the jitter buffer's start (~60-80 ms):
        // that wait is no gap in the audio.
        let mut src = crate::codec::Source::new(crate::codec::Codec::Opus).expect("encoder");
        let head = src.preamble().expect("OpusHead");
        assert!(!carries_media(&head));
        let t0 = Instant::now();
        let mut m = CallMeter::new();
        m.on_audio(t0, RtmpTimestamp::from_millis(0), &head);
        for i in 0..5u32 {
            let f = src.next_frame().expect("frame");
            assert!(carries_media(&f.body));
            let at = t0 + Duration::from_millis(90 + 20 * u64::from(i));
            m.on_audio(at, RtmpTimestamp::from_millis(20 * i), &f.body);
        }
        assert_eq!(m.gaps, 0, "{:?}", m.gap_at);
        assert_eq!(m.messages, 6);
        assert_eq!(m.undecodable, 0);
        assert_eq!(m.received_us, 100_000);
        // Transit is measured from the first frame: no 90 ms offset.
        let mut all = Histogram::new(JITTER_RANGE_MS);
        all.merge_shifted(&m.jitter, m.jitter_min_bin());
        assert_eq!(all.percentile(99.0), Some(0.0));
    }
}
