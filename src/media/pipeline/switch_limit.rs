//! Rate limit on the RTMP client's codec switches.
//!
//! Every switch of the published codec (the FLV format nibble, RFC-less:
//! FLV spec 10.1, E.4.2.1) builds a new decoder, resampler and encoder. A
//! client alternating codecs on every message would make the bridge
//! rebuild them hundreds of times a second. [`SwitchLimit`] admits at most
//! [`MAX_SWITCHES`] switches in any [`SWITCH_WINDOW`]; frames of a codec
//! that would switch beyond that are dropped and counted
//! ([`SwitchLimit::dropped`]) while the current codec goes on.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::rtmp_codec::{RtmpCodec, RtmpPayload};

/// Most codec switches in one [`SWITCH_WINDOW`].
pub const MAX_SWITCHES: usize = 4;
/// The window [`MAX_SWITCHES`] applies to: 1 s.
pub const SWITCH_WINDOW: Duration = Duration::from_secs(1);

/// Sliding-window limit on codec switches of one publisher.
#[derive(Debug, Default)]
pub struct SwitchLimit {
    /// Times of the admitted switches inside the window, oldest first.
    switches: VecDeque<Instant>,
    dropped: u64,
}

impl SwitchLimit {
    /// Whether the FLV audio `body` (header byte + payload) arriving at
    /// `now` may go on to the bridge while `current` is the publisher's
    /// codec. Bodies that do not switch (same codec, unreadable, empty,
    /// Speex header packets) always may: the bridge judges those.
    pub fn admit(&mut self, now: Instant, current: Option<RtmpCodec>, body: &[u8]) -> bool {
        let Some(current) = current else {
            return true;
        };
        let Ok(RtmpPayload::Audio { codec, .. }) = RtmpPayload::classify(body) else {
            return true;
        };
        if codec == current {
            return true;
        }
        while self
            .switches
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= SWITCH_WINDOW)
        {
            self.switches.pop_front();
        }
        if self.switches.len() >= MAX_SWITCHES {
            self.dropped = self.dropped.saturating_add(1);
            return false;
        }
        self.switches.push_back(now);
        true
    }

    /// Frames dropped because they would have switched too often.
    // Not yet in `BridgeStats` (media/ is another change's); tests read it.
    #[allow(dead_code)]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::parse_audio;

    const SPEEX: &[u8] = &[0xB2, 1, 2, 3];
    const PCMU: &[u8] = &[0x82, 1, 2, 3];

    #[test]
    fn at_most_four_switches_per_second() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut l = SwitchLimit::default();
        assert!(l.admit(ms(0), None, PCMU), "first codec is no switch");
        let speex = RtmpCodec::from_header(parse_audio(SPEEX).unwrap().0).unwrap();
        let pcmu = RtmpCodec::from_header(parse_audio(PCMU).unwrap().0).unwrap();
        let mut cur = pcmu;
        let mut admitted = 0;
        for i in 0..100 {
            let (body, next) = if cur == pcmu {
                (SPEEX, speex)
            } else {
                (PCMU, pcmu)
            };
            if l.admit(ms(i), Some(cur), body) {
                admitted += 1;
                cur = next;
            }
            assert!(l.admit(ms(i), Some(cur), if cur == pcmu { PCMU } else { SPEEX }));
        }
        assert_eq!(admitted, 4);
        assert_eq!(l.dropped(), 96);
        let body = if cur == pcmu { SPEEX } else { PCMU };
        assert!(l.admit(ms(1000), Some(cur), body), "window slid");
    }
}
