//! The bridge's configuration, its outputs and its counters.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rtmp2sip_codecs::SpeexMode;

use crate::media::codec::Negotiated;

use super::jitter::JitterStats;
use super::latch::LatchMode;
use super::pipeline::{EncoderSettings, RtmpCodec, RtmpOut, SpeexComplexity};

/// Per-call media settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeConfig {
    /// The SDP outcome: codec, payload types, remote addresses, direction.
    pub sip_codec: Negotiated,
    /// `[media] jitter_ms`: initial jitter buffer delay (see
    /// [`super::JitterConfig::from_jitter_ms`]).
    pub jitter_ms: u32,
    /// Speex encoder quality 0..=10 (Speex WB toward RTMP, speex/16000 and
    /// speex/8000 toward SIP).
    pub speex_quality: u8,
    /// Speex encoder complexity 1..=10 by the bandwidth of the audio
    /// encoded (`[media] speex_complexity`, `speex_complexity_narrowband`):
    /// toward the client the far end's codec chooses
    /// ([`SpeexComplexity::toward_rtmp`], again after a re-INVITE changes
    /// it); toward SIP always [`SpeexComplexity::wideband`].
    pub speex_complexity: SpeexComplexity,
    /// The Speex mode toward the client for audio from a narrowband far
    /// end (`[media] speex_mode_narrowband`,
    /// [`EncoderSettings::speex_mode_narrowband`]).
    pub speex_mode_narrowband: SpeexMode,
    /// Quality 0..=10 of those narrowband frames (`[media]
    /// speex_quality_narrowband`).
    pub speex_quality_narrowband: u8,
    /// Opus encoder complexity 0..=10 (`[media] opus_complexity`).
    pub opus_complexity: u8,
    /// What the client receives: Speex, or the codec it publishes.
    pub rtmp_out: RtmpOut,
    /// Most audio queued toward RTMP, in ms; older audio is dropped beyond.
    pub rtmp_out_max_ms: u32,
    /// `[media] rtp_timeout`: silence from the peer that raises
    /// [`MediaEvent::RtpTimeout`] (default 60 s).
    pub rtp_timeout: Duration,
    /// NTP timestamp (RFC 3550 §4) at the `now` given to
    /// [`super::Bridge::new`], e.g.
    /// `rtcp::ntp_from_system_time(SystemTime::now())`.
    pub ntp_at_start: u64,
    /// `[media] latching`: which source addresses media is taken from
    /// (see [`super::latch`]).
    pub latching: LatchMode,
}

impl BridgeConfig {
    /// The encoder settings of this configuration.
    pub fn encoder_settings(&self) -> EncoderSettings {
        EncoderSettings {
            speex_quality: self.speex_quality,
            speex_complexity: self.speex_complexity,
            opus_complexity: self.opus_complexity,
            speex_mode_narrowband: self.speex_mode_narrowband,
            speex_quality_narrowband: self.speex_quality_narrowband,
        }
    }
}

/// Which socket a datagram goes out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransmitKind {
    /// The RTP socket.
    Rtp,
    /// The RTCP socket (RTP port + 1). With rtcp-mux (RFC 5761) RTCP goes
    /// out of the RTP socket and is marked [`TransmitKind::Rtp`].
    Rtcp,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub dest: SocketAddr,
    /// Socket to send from.
    pub kind: TransmitKind,
    /// The datagram.
    pub payload: Vec<u8>,
}

/// An audio message for the RTMP client (message type 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpAudio {
    /// RTMP timestamp in ms since the bridge started.
    pub timestamp_ms: u32,
    /// FLV audio body: header byte (`0xB2` Speex, `0x52`/`0x42`/`0x6x`
    /// Nellymoser, `0x72`/`0x82` G.711) then the codec payload.
    pub body: Bytes,
}

/// Things the call controller should know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// No RTP from the peer for `rtp_timeout` (raised once per silence).
    RtpTimeout,
    /// RTP is now sent to this address: the first valid packet from a
    /// source `[media] latching` accepts (once per SDP).
    RemoteLatched(SocketAddr),
    /// A DTMF digit from the peer (RFC 4733): `end` false at its start, true at its end.
    Dtmf {
        /// `0-9`, `*`, `#`, `A-D`.
        digit: char,
        /// Whether the digit ended.
        end: bool,
    },
    /// The peer sent an RTCP BYE.
    RemoteBye,
    /// The client started publishing audio in `to`, or switched to it
    /// from `from` (the bridge rebuilt its decoder, and with
    /// [`RtmpOut::Match`] its output encoder).
    RtmpCodecChanged {
        /// The previous codec, `None` for the first audio.
        from: Option<RtmpCodec>,
        /// The codec the client now publishes.
        to: RtmpCodec,
    },
}

/// Counters for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BridgeStats {
    /// RTP packets sent.
    pub rtp_sent: u64,
    /// RTP packets accepted from the peer.
    pub rtp_received: u64,
    /// RTP datagrams refused (malformed, foreign SSRC, bad payload type)
    /// and payloads the codec refused.
    pub rtp_invalid: u64,
    /// RTP datagrams dropped unparsed: from a source `[media] latching`
    /// does not accept ([`super::MediaError::ForeignSource`]).
    pub rtp_foreign: u64,
    /// RTCP datagrams dropped unparsed for the same reason.
    pub rtcp_foreign: u64,
    /// SRTP/SRTCP packets dropped: authentication failed, replayed, or
    /// too short (RFC 3711 §3.3); never latched.
    pub srtp_auth_failures: u64,
    /// RTMP audio messages taken from the client.
    pub rtmp_in: u64,
    /// RTMP audio messages refused (format, corrupt payload).
    pub rtmp_invalid: u64,
    /// RTMP audio messages dropped because the client switched codec more
    /// than 4 times in a second (`pipeline::switch_limit`).
    pub rtmp_switch_dropped: u64,
    /// Gaps in the client's timestamps carried onto RTP as a new talkspurt.
    pub rtmp_in_gaps: u64,
    /// RTMP audio messages dropped because our side does not send (on
    /// hold: `recvonly`, `inactive`, `c=0.0.0.0`; RFC 3264 §8.4).
    pub rtmp_held: u64,
    /// RTP packets from the peer not played because our side does not
    /// receive (`sendonly`, `inactive`).
    pub rtp_held: u64,
    /// RTMP audio messages produced.
    pub rtmp_out: u64,
    /// RTMP audio messages dropped because the output queue was full.
    pub rtmp_out_dropped: u64,
    /// Jitter buffer counters.
    pub jitter: JitterStats,
    /// Latest RTCP round trip.
    pub rtt: Option<Duration>,
    /// Interarrival jitter of the peer's RTP (RFC 3550 section 6.4.1,
    /// A.8), as sent in our RTCP reports.
    pub jitter_rx: Duration,
}
