//! Rate limit on the RTMP client's codec switches.
//!
//! Every switch of the published codec (the FLV format nibble, RFC-less:
//! FLV spec 10.1, E.4.2.1) builds a new decoder, resampler and encoder. A
//! client alternating codecs on every message would make the bridge
//! rebuild them hundreds of times a second. [`SwitchLimit`] admits at most
//! [`MAX_SWITCHES`] switches in any [`SWITCH_WINDOW`]; frames of a codec
//! that would switch beyond that are dropped (the bridge counts them in
//! `BridgeStats::rtmp_switch_dropped`) while the current codec goes on.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::rtmp_codec::RtmpCodec;

/// Most codec switches in one [`SWITCH_WINDOW`].
pub const MAX_SWITCHES: usize = 4;
/// The window [`MAX_SWITCHES`] applies to: 1 s.
pub const SWITCH_WINDOW: Duration = Duration::from_secs(1);

/// Sliding-window limit on codec switches of one publisher.
#[derive(Debug, Default)]
pub struct SwitchLimit {
    /// Times of the admitted switches inside the window, oldest first.
    switches: VecDeque<Instant>,
}

impl SwitchLimit {
    /// Whether audio in `codec` arriving at `now` may go on to the bridge
    /// while `current` is the publisher's codec. Audio that does not
    /// switch (same codec, or the first codec) always may.
    pub fn admit(&mut self, now: Instant, current: Option<RtmpCodec>, codec: RtmpCodec) -> bool {
        if current.is_none_or(|c| c == codec) {
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
            return false;
        }
        self.switches.push_back(now);
        true
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
        let speex = RtmpCodec::from_header(parse_audio(SPEEX).unwrap().0).unwrap();
        let pcmu = RtmpCodec::from_header(parse_audio(PCMU).unwrap().0).unwrap();
        assert!(l.admit(ms(0), None, pcmu), "first codec is no switch");
        let other = |c| if c == pcmu { speex } else { pcmu };
        let mut cur = pcmu;
        let (mut admitted, mut dropped) = (0, 0);
        for i in 0..100 {
            if l.admit(ms(i), Some(cur), other(cur)) {
                admitted += 1;
                cur = other(cur);
            } else {
                dropped += 1;
            }
            assert!(l.admit(ms(i), Some(cur), cur));
        }
        assert_eq!(admitted, 4);
        assert_eq!(dropped, 96);
        assert!(l.admit(ms(1000), Some(cur), other(cur)), "window slid");
    }
}
