//! The media layer's error type.

use rtmp2sip_codecs::CodecError;

/// Errors of the media layer (RTP, RTCP, jitter buffer, bridge).
///
/// Peer misbehaviour (bad packets from the far end or the RTMP client) is
/// reported per packet and never ends the call by itself; local misuse is a
/// bug or a bad configuration. Timeouts are not errors here: the bridge
/// reports them as [`crate::media::MediaEvent::RtpTimeout`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaError {
    /// Peer: the datagram is not an RTP version 2 packet (RFC 3550 §5.1).
    #[error("malformed RTP packet: {0}")]
    MalformedRtp(String),
    /// Peer: the datagram is not a valid RTCP compound packet (RFC 3550 §6.1).
    #[error("malformed RTCP packet: {0}")]
    MalformedRtcp(String),
    /// Peer: an RTP packet from a source other than the latched one
    /// (RFC 3550 §8.2); dropped.
    #[error("RTP packet from unlatched SSRC {0:#010x}")]
    ForeignSsrc(u32),
    /// Peer or attacker: an RTP or RTCP datagram from an address the
    /// latching rule (`[media] latching`, [`crate::media::latch`]) does not
    /// accept; dropped before parsing.
    #[error("RTP/RTCP from foreign source {0}")]
    ForeignSource(std::net::SocketAddr),
    /// Peer: a sequence number jump outside RFC 3550 §A.1's window;
    /// dropped unless the next packet confirms the new sequence.
    #[error("RTP sequence number jump to {0}")]
    SequenceJump(u16),
    /// Peer: an SRTP or SRTCP packet failed authentication, was replayed
    /// or too short (RFC 3711 §3.3, §3.3.2); dropped before parsing.
    #[error("SRTP packet failed authentication or replay check")]
    SrtpAuth,
    /// Peer: an RTP payload type that was not negotiated.
    #[error("unexpected RTP payload type {0}")]
    UnexpectedPayloadType(u8),
    /// Peer: the RTMP client sent audio in a format we do not bridge
    /// (FLV SoundFormat nibble).
    #[error("unsupported RTMP audio format {0}")]
    UnsupportedRtmpFormat(u8),
    /// Peer: the RTMP client sent a bridged format at a rate we do not
    /// bridge (Nellymoser at "5.5 kHz": FLV format 6 with rate bits 0).
    #[error("unsupported rate {rate_hz} Hz for RTMP audio format {format}")]
    UnsupportedRtmpRate {
        /// The FLV SoundFormat nibble.
        format: u8,
        /// The rate the SoundRate bits name, in Hz.
        rate_hz: u32,
    },
    /// Peer: an Enhanced RTMP audio message the bridge does not take (a
    /// FourCC other than Opus, a bad OpusHead, a truncated header).
    #[error("E-RTMP audio: {0}")]
    ExAudio(crate::flv::FlvError),
    /// Peer: an FLV audio body or a telephone-event payload is malformed.
    #[error("malformed audio payload: {0}")]
    MalformedAudio(&'static str),
    /// Peer or local: a codec rejected a payload or a frame.
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    /// Local misuse: the configuration cannot work (e.g. a codec we cannot
    /// bridge).
    #[error("invalid media configuration: {0}")]
    Config(&'static str),
    /// Local misuse: a packet could not be written (payload too large).
    #[error("cannot build packet: {0}")]
    Build(String),
    /// Local misuse (a bad `sendDTMF` request): not a DTMF digit
    /// (`0-9`, `*`, `#`, `A-D`; RFC 4733 §3.2). Nothing was queued.
    #[error("invalid DTMF digit {0:?}")]
    InvalidDtmf(char),
    /// Local misuse: more DTMF digits than the send queue holds
    /// (`dtmf_send::MAX_QUEUED_DIGITS`). Nothing was queued.
    #[error("too many DTMF digits queued")]
    DtmfQueueFull,
    /// Local: the SIP side cannot carry RFC 4733 events (no telephone-event
    /// payload type negotiated, or its clock differs from the audio clock);
    /// the caller should send the digits with SIP INFO instead.
    #[error("no telephone-event negotiated for this call")]
    NoTelephoneEvent,
}
