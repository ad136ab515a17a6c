//! Codec and negotiated-media types shared by `sip::sdp` (which produces
//! them from offer/answer, RFC 3264) and the media bridge (which consumes
//! them). They live here, in `media`, so that media never imports `sip`:
//! the layering rule of ARCHITECTURE.md, checked by `tests/layering.rs`.
//!
//! - [`Codec`]: an RTP payload format we can negotiate (RFC 3551, RFC 5574,
//!   RFC 4733, RFC 7587), with its names, clock and static payload type.
//! - [`Direction`]: RFC 3264 §5.1 media direction.
//! - [`Negotiated`]: the outcome of offer/answer for the audio stream.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// A codec name that is not one we know (`[media] codecs` spelling, e.g.
/// `"G729"`); carries the name as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown codec name: {0:?}")]
pub struct UnknownCodec(pub String);

/// An RTP payload format we can negotiate (RFC 3551 names, RFC 5574 Speex,
/// RFC 4733 telephone-event, RFC 7587 Opus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// Speex wideband, `speex/16000` (RFC 5574), dynamic PT (default 97).
    Speex16k,
    /// Speex narrowband, `speex/8000` (RFC 5574), dynamic PT (default 98).
    Speex8k,
    /// G.711 µ-law, `PCMU/8000`, static PT 0 (RFC 3551 §4.5.14).
    Pcmu,
    /// G.711 A-law, `PCMA/8000`, static PT 8 (RFC 3551 §4.5.14).
    Pcma,
    /// G.722 at 64 kbit/s, `G722/8000`, static PT 9: 16 kHz audio on an
    /// 8000 Hz RTP clock (RFC 3551 §4.5.2).
    G722,
    /// Opus, `opus/48000/2`, dynamic PT (default 111); RTP clock 48000 Hz
    /// whatever the audio bandwidth; we send mono with in-band FEC
    /// (RFC 7587 §4.1, §7).
    Opus,
    /// DTMF events, `telephone-event/8000` (RFC 4733), dynamic PT (default 101).
    TelephoneEvent,
}

impl Codec {
    /// All codecs, in the order tried when matching names.
    pub const ALL: [Codec; 7] = [
        Codec::Speex16k,
        Codec::Speex8k,
        Codec::Pcmu,
        Codec::Pcma,
        Codec::G722,
        Codec::Opus,
        Codec::TelephoneEvent,
    ];

    /// The encoding name as written in `a=rtpmap` (RFC 4855 registry spelling).
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Speex16k | Codec::Speex8k => "speex",
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
            Codec::Opus => "opus",
            Codec::TelephoneEvent => "telephone-event",
        }
    }

    /// RTP clock rate in Hz.
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Speex16k => 16_000,
            Codec::Opus => 48_000,
            Codec::Speex8k | Codec::Pcmu | Codec::Pcma | Codec::G722 | Codec::TelephoneEvent => {
                8_000
            }
        }
    }

    /// Sample rate of the audio the codec carries, in Hz: the clock rate,
    /// except G.722 (16000 on an 8000 Hz clock, RFC 3551 §4.5.2) and Opus
    /// (we encode and decode at 48000).
    pub fn audio_rate(self) -> u32 {
        match self {
            Codec::G722 => 16_000,
            other => other.clock_rate(),
        }
    }

    /// The static payload type of RFC 3551 Table 4, if any.
    pub fn static_pt(self) -> Option<u8> {
        match self {
            Codec::Pcmu => Some(0),
            Codec::Pcma => Some(8),
            Codec::G722 => Some(9),
            _ => None,
        }
    }

    /// The payload type we put in offers: the static one, or our default
    /// dynamic number (speex/16000 97, speex/8000 98, telephone-event 101,
    /// opus 111).
    pub fn default_pt(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
            Codec::G722 => 9,
            Codec::Opus => 111,
            Codec::Speex16k => 97,
            Codec::Speex8k => 98,
            Codec::TelephoneEvent => 101,
        }
    }

    /// Whether this format carries audio (telephone-event does not).
    pub fn is_audio(self) -> bool {
        !matches!(self, Codec::TelephoneEvent)
    }

    /// The codec for an `a=rtpmap` encoding name and clock rate (name
    /// compared case-insensitively, RFC 4855 §3).
    pub fn from_rtpmap(name: &str, clock_rate: u32) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| c.encoding_name().eq_ignore_ascii_case(name) && c.clock_rate() == clock_rate)
    }

    /// The codec of a static payload type used without `a=rtpmap`.
    pub fn from_static_pt(pt: u8) -> Option<Codec> {
        Codec::ALL.into_iter().find(|c| c.static_pt() == Some(pt))
    }
}

impl fmt::Display for Codec {
    /// Prints `name/rate`, the form accepted by [`Codec::from_str`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.encoding_name(), self.clock_rate())
    }
}

impl FromStr for Codec {
    type Err = UnknownCodec;

    /// Parses a configuration codec name, case-insensitively: `name/rate`
    /// (`"speex/16000"`, `"PCMU/8000"`, `"telephone-event/8000"`) or a bare
    /// name, which means the usual rate (`"PCMU"`, `"PCMA"`,
    /// `"telephone-event"`, `"G722"`, `"opus"` = opus/48000/2, and
    /// `"speex"` = speex/16000, the Flash rate). Opus may carry its channel
    /// count: `"opus/48000/2"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownCodec(s.to_string());
        let mut parts = s.trim().splitn(3, '/');
        let name = parts.next().unwrap_or_default();
        let rate = match parts.next() {
            Some(rate) => Some(rate.parse::<u32>().map_err(|_| unknown())?),
            None => None,
        };
        if let Some(channels) = parts.next() {
            if !(name.eq_ignore_ascii_case("opus") && channels == "2") {
                return Err(unknown());
            }
        }
        let rate = match rate {
            Some(rate) => rate,
            None if name.eq_ignore_ascii_case("speex") => 16_000,
            None if name.eq_ignore_ascii_case("opus") => 48_000,
            None => 8_000,
        };
        Codec::from_rtpmap(name, rate).ok_or_else(unknown)
    }
}

/// Media direction (RFC 3264 §5.1, `a=sendrecv` etc.), from our side's view
/// when in [`Negotiated`].
pub type Direction = sdp_types::Direction;

/// The outcome of offer/answer for the audio stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The audio codec both sides use.
    pub codec: Codec,
    /// Payload type we send the codec with (the number the far end declared).
    pub pt: u8,
    /// Payload type we declared for the codec (what we expect to receive;
    /// usually equal to `pt`).
    pub recv_pt: u8,
    /// Payload type for sending RFC 4733 telephone-events, if the far end
    /// supports them.
    pub dtmf_pt: Option<u8>,
    /// Payload type we declared for telephone-event, if any.
    pub recv_dtmf_pt: Option<u8>,
    /// The far end's packetisation time, in ms (default 20, clamped 10..=200).
    pub ptime_ms: u32,
    /// Direction from our side: `SendOnly` means we send and do not receive.
    pub direction: Direction,
    /// Where to send RTP (`c=` address, `m=` port).
    pub remote_rtp: SocketAddr,
    /// Where to send RTCP (`a=rtcp` (RFC 3605) or RTP port + 1).
    pub remote_rtcp: SocketAddr,
    /// RTP and RTCP share one port each way (RFC 5761 §5.1.1: both
    /// offer and answer carry `a=rtcp-mux`); RTCP then goes to
    /// `remote_rtp` and arrives on our RTP port.
    pub rtcp_mux: bool,
    /// SDES keys when the stream is SRTP (`RTP/SAVP` with an accepted
    /// `a=crypto`, RFC 4568); `None` for plain RTP.
    pub srtp: Option<super::srtp::SrtpParams>,
}

impl Negotiated {
    /// RTP clock rate of the audio codec, in Hz.
    pub fn clock_rate(&self) -> u32 {
        self.codec.clock_rate()
    }

    /// True when the remote address is unspecified (`c=0.0.0.0`, the
    /// RFC 2543 hold idiom): send nothing until RTP latches an address.
    pub fn is_hold(&self) -> bool {
        self.remote_rtp.ip().is_unspecified() || self.direction == Direction::Inactive
    }
}
