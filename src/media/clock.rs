//! The bridge's two media clocks, both counted in samples so that
//! per-message rounding never accumulates (256 Nellymoser samples at
//! 44.1 kHz are 5.805 ms: a run's end is `start + samples x 1000 / rate`,
//! never a sum of rounded durations).
//!
//! - [`RtmpInClock`]: the client's timestamps against the audio it sent;
//!   a gap (mute, DTX) of more than [`RTMP_GAP_MS`] is reported so the RTP
//!   timeline can skip it (RFC 3551 §4.1: a new talkspurt).
//! - [`RtmpOutClock`]: RTMP timestamps for the audio we send, mapped from
//!   the RTP timeline of played packets, following sample counts within a
//!   run of continuous audio, never decreasing.

use super::timestamp::{ticks_to_ms, RtpTimestamp};

/// A gap in the client's timestamps above this (ms) is skipped on RTP.
pub const RTMP_GAP_MS: i32 = 60;
/// Client timestamps this far (ms) behind its audio restart the clock
/// (a new publish).
const RTMP_RESTART_MS: i32 = 1000;
/// Longest gap carried onto the RTP timeline, in ms.
const MAX_GAP_MS: i32 = 60_000;
/// A mapped RTP time this far (ms) behind the output restarts the map.
const OUT_RESYNC_BEHIND_MS: i32 = 1000;
/// A mapped RTP time this far (ms) ahead of the output restarts the map.
const OUT_RESYNC_AHEAD_MS: i32 = 60_000;

/// Audio counted from a start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    start_ms: u32,
    /// Samples since `start_ms`.
    samples: u64,
    /// Sample rate, in Hz (> 0).
    rate: u32,
}

impl Run {
    fn new(start_ms: u32, rate: u32) -> Self {
        Run {
            start_ms,
            samples: 0,
            rate: rate.max(1),
        }
    }

    /// The ms right after the counted audio (wrapping like RTMP time).
    fn end_ms(&self) -> u32 {
        let ms = self.samples.saturating_mul(1000) / u64::from(self.rate);
        self.start_ms.wrapping_add(ms as u32)
    }

    /// This run at `rate`: itself, or a new run from its end.
    fn at_rate(self, rate: u32) -> Self {
        if self.rate == rate.max(1) {
            self
        } else {
            Run::new(self.end_ms(), rate)
        }
    }
}

/// Signed `a - b` on the wrapping ms timeline.
fn ms_delta(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// The client's timestamps against the audio it sent.
#[derive(Debug, Clone, Default)]
pub struct RtmpInClock {
    run: Option<Run>,
    gaps: u64,
}

impl RtmpInClock {
    /// A message stamped `timestamp_ms` holding audio at `rate` Hz is
    /// about to be sent: returns the gap to skip on the RTP timeline, in
    /// ms (at most 60 s), when the client skipped more than
    /// [`RTMP_GAP_MS`] since the end of its previous audio.
    pub fn arrive(&mut self, timestamp_ms: u32, rate: u32) -> Option<u32> {
        let Some(run) = self.run else {
            self.run = Some(Run::new(timestamp_ms, rate));
            return None;
        };
        let run = run.at_rate(rate);
        let gap = ms_delta(timestamp_ms, run.end_ms());
        if !(-RTMP_RESTART_MS..=RTMP_GAP_MS).contains(&gap) {
            self.run = Some(Run::new(timestamp_ms, rate));
            if gap > 0 {
                self.gaps += 1;
                return Some(gap.min(MAX_GAP_MS) as u32);
            }
            return None;
        }
        self.run = Some(run);
        None
    }

    /// The message held `samples` at the rate given to [`Self::arrive`].
    pub fn advance(&mut self, samples: usize) {
        if let Some(run) = &mut self.run {
            run.samples = run.samples.saturating_add(samples as u64);
        }
    }

    /// Gaps reported so far.
    pub fn gaps(&self) -> u64 {
        self.gaps
    }
}

/// RTMP timestamps for the audio sent to the client.
#[derive(Debug, Clone)]
pub struct RtmpOutClock {
    clock_rate: u32,
    /// RTP timestamp `.0` plays at ms `.1`.
    map: Option<(RtpTimestamp, u32)>,
    run: Option<Run>,
}

impl RtmpOutClock {
    /// A clock for an RTP stream at `clock_rate` Hz.
    pub fn new(clock_rate: u32) -> Self {
        RtmpOutClock {
            clock_rate,
            map: None,
            run: None,
        }
    }

    /// A new RTP timeline at `clock_rate` Hz (a new source or codec after
    /// a renegotiation): the next [`Self::rtp_ms`] maps to the end of the
    /// audio already stamped, so output timestamps continue.
    pub fn rebase(&mut self, clock_rate: u32) {
        self.clock_rate = clock_rate;
        self.map = None;
    }

    /// The output ms of RTP timestamp `ts`. The first call maps `ts` to
    /// `now_ms`; a new RTP timeline (a timestamp before the map's, or one
    /// mapping over 1 s behind or 60 s ahead of the output) is mapped to
    /// where the output is.
    pub fn rtp_ms(&mut self, ts: RtpTimestamp, now_ms: u32) -> u32 {
        let next = self.run.map(|r| r.end_ms());
        if let Some((anchor_ts, anchor_ms)) = self.map {
            let delta = ts.delta(anchor_ts);
            let ms = anchor_ms
                .wrapping_add(ticks_to_ms(u64::from(delta.unsigned_abs()), self.clock_rate) as u32);
            let ahead = next.map_or(0, |next| ms_delta(ms, next));
            if delta >= 0 && (-OUT_RESYNC_BEHIND_MS..=OUT_RESYNC_AHEAD_MS).contains(&ahead) {
                return ms;
            }
        }
        let at = next.unwrap_or(now_ms);
        self.map = Some((ts, at));
        at
    }

    /// The timestamp of a message of `samples` at `rate` Hz whose audio
    /// starts at about `hint_ms` (from [`Self::rtp_ms`]): the end of the
    /// current run, unless the hint is more than `slack_ms` past it (a gap
    /// in the RTP stream), which starts a new run at the hint.
    pub fn stamp(&mut self, hint_ms: u32, samples: usize, rate: u32, slack_ms: u32) -> u32 {
        let mut run = match self.run {
            Some(run) => {
                let run = run.at_rate(rate);
                if ms_delta(hint_ms, run.end_ms()) > slack_ms as i32 {
                    Run::new(hint_ms, rate)
                } else {
                    run
                }
            }
            None => Run::new(hint_ms, rate),
        };
        let ms = run.end_ms();
        run.samples = run.samples.saturating_add(samples as u64);
        self.run = Some(run);
        ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_clock_counts_samples_not_rounded_ms() {
        let mut c = RtmpInClock::default();
        let mut samples = 0u64;
        // 1 h of 44.1 kHz Nellymoser, one block per message, stamped as a
        // client would: ms rounded down from its own sample count.
        for _ in 0..(3600 * 44_100 / 256) {
            let ts = (samples * 1000 / 44_100) as u32;
            assert_eq!(c.arrive(ts, 44_100), None);
            c.advance(256);
            samples += 256;
        }
        assert_eq!(c.gaps(), 0);
    }

    #[test]
    fn in_clock_reports_gaps_and_restarts() {
        let mut c = RtmpInClock::default();
        assert_eq!(c.arrive(1000, 16_000), None);
        c.advance(640);
        assert_eq!(c.arrive(1040, 16_000), None);
        c.advance(320);
        assert_eq!(c.arrive(1120, 16_000), None, "60 ms is no gap");
        c.advance(320);
        // The 60 ms tolerated before counts too: the RTP timeline catches
        // up with the client's.
        assert_eq!(c.arrive(1300, 16_000), Some(220));
        c.advance(320);
        assert_eq!(c.arrive(10, 16_000), None, "restart");
        c.advance(320);
        assert_eq!(c.arrive(30, 8000), None, "rate change continues");
        c.advance(160);
        assert_eq!(c.arrive(200_000, 8000), Some(60_000));
        assert_eq!(c.gaps(), 2);
    }

    #[test]
    fn out_clock_follows_samples_within_a_run() {
        let mut c = RtmpOutClock::new(8000);
        let hint = c.rtp_ms(RtpTimestamp(5000), 100);
        assert_eq!(hint, 100);
        let mut last = 0;
        // 1 h of 5-block 44.1 kHz messages from a steady 8 kHz RTP stream.
        let mut ts = RtpTimestamp(5000);
        let mut sent = 0u64;
        let mut stamped = 0u64;
        for _ in 0..180_000 {
            let hint = c.rtp_ms(ts, 0);
            sent += 882;
            while stamped + 1280 <= sent {
                last = c.stamp(hint, 1280, 44_100, 60);
                stamped += 1280;
            }
            ts = ts.advance(160);
        }
        // The first message is complete with the second packet (120 ms).
        let expected = 120 + (stamped - 1280) * 1000 / 44_100;
        assert_eq!(u64::from(last), expected);
        assert!((3_599_900..=3_600_100).contains(&last), "{last}");
    }

    #[test]
    fn out_clock_jumps_over_gaps_and_never_goes_back() {
        let mut c = RtmpOutClock::new(16_000);
        let h = c.rtp_ms(RtpTimestamp(0), 50);
        assert_eq!(c.stamp(h, 320, 16_000, 0), 50);
        let h = c.rtp_ms(RtpTimestamp(320), 0);
        assert_eq!(c.stamp(h, 320, 16_000, 0), 70);
        // 1 s of silence from the peer.
        let h = c.rtp_ms(RtpTimestamp(16_640), 0);
        assert_eq!(c.stamp(h, 320, 16_000, 0), 1090);
        // A new timeline (timestamp went back): continue from the output.
        let h = c.rtp_ms(RtpTimestamp(3), 0);
        assert_eq!(h, 1110);
        assert_eq!(c.stamp(h, 320, 16_000, 0), 1110);
        // A late hint never moves the output back.
        assert_eq!(c.stamp(900, 320, 16_000, 60), 1130);
    }
}
