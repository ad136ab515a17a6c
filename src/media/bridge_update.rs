//! Renegotiated media on a running bridge (RFC 3264 §8): a re-INVITE or
//! UPDATE, hold and resume, the 200 after a 183's early media.
//!
//! [`Bridge::update`] compares the new [`Negotiated`] with the running one
//! and changes only what differs ([`MediaChange`]):
//!
//! - **direction** (RFC 3264 §5.1, §8.4): while our side does not send
//!   (`recvonly`, `inactive`, or the RFC 2543 `c=0.0.0.0` idiom) no RTP
//!   goes out and published audio is dropped (counted in
//!   [`crate::media::BridgeStats::rtmp_held`]); RTCP continues. While it does not
//!   receive, nothing received is played (counted in
//!   [`crate::media::BridgeStats::rtp_held`]). In any held state the RTP inactivity
//!   timeout is suspended: a far end on hold often stops sending. Sending
//!   resumes with the same SSRC and continuing sequence numbers, the
//!   timestamp advanced by the wall time held (RFC 3550 §5.1) and the
//!   marker bit on the first packet (RFC 3551 §4.1).
//! - **remote address**: RTP/RTCP go to the new address and the latch
//!   re-arms for it under `[media] latching` (RFC 7362 §3.2: the new SDP
//!   is the new signalled source). A `c=0.0.0.0` hold keeps the old latch.
//! - **codec or payload types**: both transcode halves are rebuilt for the
//!   new pair (passthrough or transcode, as the matrix allows); SSRC and
//!   sequence numbers continue toward SIP, RTMP output timestamps continue
//!   toward the players; DTMF payload types follow.
//! - **RTP clock rate** (e.g. PCMU 8000 -> opus 48000; G.722 is 8000 like
//!   PCMU): a new SSRC with a fresh random sequence number and timestamp
//!   (RFC 7160 §4.1, RFC 3550 §5.1), and an RTCP BYE for the old SSRC
//!   (RFC 3550 §6.6, §8.2) to the old RTCP address; RTCP goes on for the
//!   new SSRC with the same CNAME. Digits still queued for RFC 4733 are
//!   dropped (their clock is gone). A codec with the same clock keeps the
//!   SSRC and continues its sequence numbers and timestamps.
//!
//! - **SRTP keys** (RFC 4568 §7.1.4): the same keys keep the contexts
//!   (rollover counters, replay windows); a new key (ours or the far
//!   end's) starts that direction's contexts afresh, the other direction
//!   keeps its own; SRTP turned on or off builds or drops them.
//!
//! A codec that cannot start leaves everything as it was (an error).

use std::time::Instant;

use super::{Bridge, Inactivity, Publisher, FRAME_MS};
use crate::media::clock::RtmpInClock;
use crate::media::codec::{Codec, Direction, Negotiated};
use crate::media::dtmf::DtmfReceiver;
use crate::media::dtmf_send::DtmfSender;
use crate::media::jitter::{JitterBuffer, JitterConfig};
use crate::media::latch::Latch;
use crate::media::pipeline::{ToRtmp, ToSip};
use crate::media::receiver::RtpReceiver;
use crate::media::rtp::RtpSender;
use crate::media::srtp::SrtpSession;
use crate::media::timestamp::ms_to_ticks;
use crate::media::MediaError;

/// What a [`Bridge::update`] changed; all false for an identical update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MediaChange {
    /// The direction (hold or resume, RFC 3264 §8.4).
    pub direction: bool,
    /// The remote RTP/RTCP address or rtcp-mux.
    pub remote: bool,
    /// The audio codec (the transcode pipeline was rebuilt).
    pub codec: bool,
    /// Payload types or ptime, codec unchanged.
    pub payload_types: bool,
    /// The SRTP keys (RFC 4568 §7.1.4: new keys, or SRTP on or off): the
    /// contexts were rebuilt; the same keys keep them.
    pub keys: bool,
}

impl MediaChange {
    /// What differs between `old` and `new`.
    pub fn between(old: &Negotiated, new: &Negotiated) -> Self {
        MediaChange {
            direction: sends(old) != sends(new)
                || old.direction.has_recv() != new.direction.has_recv()
                || held(old) != held(new),
            remote: old.remote_rtp != new.remote_rtp
                || old.remote_rtcp != new.remote_rtcp
                || old.rtcp_mux != new.rtcp_mux,
            codec: old.codec != new.codec,
            payload_types: (
                old.pt,
                old.recv_pt,
                old.dtmf_pt,
                old.recv_dtmf_pt,
                old.ptime_ms,
            ) != (
                new.pt,
                new.recv_pt,
                new.dtmf_pt,
                new.recv_dtmf_pt,
                new.ptime_ms,
            ),
            keys: old.srtp != new.srtp,
        }
    }

    /// True when nothing changed.
    pub fn is_none(&self) -> bool {
        *self == MediaChange::default()
    }
}

/// Whether RTP goes out: a sending direction and a specified address
/// (`c=0.0.0.0` is the RFC 2543 hold idiom, RFC 3264 §8.4).
pub(super) fn sends(n: &Negotiated) -> bool {
    n.direction.has_send() && !n.remote_rtp.ip().is_unspecified() && n.remote_rtp.port() != 0
}

/// Whether the call is on hold either way (any direction but sendrecv, or
/// `c=0.0.0.0`): the RTP inactivity timeout is suspended.
pub(super) fn held(n: &Negotiated) -> bool {
    n.direction != Direction::SendRecv || n.is_hold()
}

impl Bridge {
    /// Adopts renegotiated media at `now` (see the module docs); an update
    /// equal to the running one changes nothing and returns an empty
    /// [`MediaChange`].
    ///
    /// Errors (nothing changed): [`MediaError::Config`] when the new codec
    /// is telephone-event, [`MediaError::Codec`] when a codec of the new
    /// pair fails to start.
    pub fn update(&mut self, now: Instant, n: Negotiated) -> Result<MediaChange, MediaError> {
        let old = self.cfg.sip_codec;
        let change = MediaChange::between(&old, &n);
        if old == n {
            return Ok(MediaChange::default());
        }
        let srtp = if change.keys {
            Some(n.srtp.map(SrtpSession::new).transpose()?)
        } else {
            None
        };
        if change.codec {
            self.rebuild_codec(&n)?;
        }
        if n.clock_rate() != old.clock_rate() {
            // Before the latch, rtcp-mux and keys follow `n`: the BYE goes
            // where the old stream went, under the old key.
            self.new_ssrc(now);
        }
        if let Some(srtp) = srtp {
            self.srtp = match (srtp, self.srtp.take()) {
                (Some(mut new), Some(old)) => {
                    new.inherit(old);
                    Some(new)
                }
                (new, _) => new,
            };
        }
        self.cfg.sip_codec = n;
        if change.remote {
            self.rearm_latch(&n);
        }
        if change.codec || change.remote {
            self.reset_reception(now);
        }
        self.follow_direction(now, &old, &n);
        self.watch_inactivity(now, &old, &n, change.codec || change.remote);
        Ok(change)
    }

    /// Builds both halves for the new SIP codec, then swaps them in; the
    /// RTP timeline continues (a new talkspurt), the RTMP output codec is
    /// kept.
    fn rebuild_codec(&mut self, n: &Negotiated) -> Result<(), MediaError> {
        if !n.codec.is_audio() {
            return Err(MediaError::Config("telephone-event is not an audio codec"));
        }
        let settings = self.cfg.encoder_settings();
        let out = self.to_rtmp.out_codec();
        let to_rtmp = ToRtmp::new(n.codec, out, self.factory, settings)?;
        let publisher = match &self.publisher {
            Publisher::Silent => Publisher::Silent,
            Publisher::Publishing(half) => {
                let half = ToSip::new(half.rtmp_codec(), n.codec, self.factory, settings)?;
                Publisher::Publishing(Box::new(half))
            }
        };
        self.to_rtmp = to_rtmp;
        self.publisher = publisher;
        self.sender.skip(0);
        // A DTMF end in the old clock's ticks means nothing on the new one.
        self.resume_ts = None;
        Ok(())
    }

    /// A new sending stream for a new RTP clock rate (RFC 7160 §4.1): a
    /// new random SSRC (not the old one nor the far end's), sequence
    /// number and timestamp (RFC 3550 §5.1); the old SSRC's last report
    /// and BYE go out (RFC 3550 §6.6, §8.2).
    fn new_ssrc(&mut self, now: Instant) {
        let old = self.sender.ssrc();
        let theirs = self.receiver.ssrc();
        let mut sender = RtpSender::new(&mut self.rng);
        // A clash is 2^-31 likely; a few draws make it vanish.
        for _ in 0..4 {
            if sender.ssrc() != old && Some(sender.ssrc()) != theirs {
                break;
            }
            sender = RtpSender::new(&mut self.rng);
        }
        let info = self.sender_info();
        let reception = self.receiver.report();
        if let Some(bye) = self.rtcp.change_ssrc(now, info, reception, sender.ssrc()) {
            self.send_rtcp(bye);
        }
        self.sender = sender;
        self.dtmf_tx = DtmfSender::new(Codec::TelephoneEvent.clock_rate());
    }

    /// Points the latch at the new SDP addresses, unless they are the
    /// `c=0.0.0.0` hold idiom or what it already signals.
    fn rearm_latch(&mut self, n: &Negotiated) {
        if n.remote_rtp.ip().is_unspecified() {
            return;
        }
        if !self.latch.signals(n.remote_rtp, n.remote_rtcp, n.rtcp_mux) {
            self.latch = Latch::new(self.cfg.latching, n.remote_rtp, n.remote_rtcp, n.rtcp_mux);
        }
    }

    /// Forgets the far end's stream: a new SSRC, sequence and timestamp
    /// base (and perhaps clock) are taken from the next packet; RTMP
    /// output continues from where it is.
    fn reset_reception(&mut self, now: Instant) {
        let clock = self.cfg.sip_codec.clock_rate();
        self.receiver = RtpReceiver::new(clock, now);
        self.jitter = JitterBuffer::new(JitterConfig::from_jitter_ms(
            self.cfg.jitter_ms,
            clock,
            ms_to_ticks(FRAME_MS, clock),
        ));
        self.dtmf = DtmfReceiver::default();
        self.out_clock.rebase(clock);
    }

    /// Hold and resume of each direction.
    fn follow_direction(&mut self, now: Instant, old: &Negotiated, n: &Negotiated) {
        match (sends(old), sends(n)) {
            (true, false) => self.send_paused_at = Some(now),
            (false, true) => self.resume_sending(now),
            _ => {}
        }
        match (old.direction.has_recv(), n.direction.has_recv()) {
            (true, false) => self.jitter.reset(),
            // The far end's stream went on while ignored: take it afresh.
            (false, true) => self.reset_reception(now),
            _ => {}
        }
    }

    /// The RTP inactivity watch: suspended while held; a fresh
    /// `rtp_timeout` on resume or for a new source (`fresh`).
    fn watch_inactivity(&mut self, now: Instant, old: &Negotiated, n: &Negotiated, fresh: bool) {
        if held(n) {
            self.inactivity = Inactivity::Suspended;
        } else if held(old) || fresh {
            self.inactivity = Inactivity::Watching {
                deadline: now + self.cfg.rtp_timeout,
            };
        }
    }

    /// Sending again: the RTP timestamp jumps by the wall time held (RFC
    /// 3550 §5.1) and the next packet carries the marker bit; the client's
    /// timestamps start a new run (its gap is that same hold).
    fn resume_sending(&mut self, now: Instant) {
        let held_for = self
            .send_paused_at
            .take()
            .map_or(0, |at| now.saturating_duration_since(at).as_millis());
        let clock = u128::from(self.cfg.sip_codec.clock_rate());
        // Mod 2^32: the timestamp wraps (RFC 3550 §5.1).
        let ticks = (held_for.saturating_mul(clock) / 1000) as u32;
        self.sender.skip(ticks);
        self.in_clock = RtmpInClock::default();
    }
}
