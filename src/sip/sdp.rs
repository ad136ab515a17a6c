//! SDP offer/answer for one audio stream (RFC 3264 on RFC 4566 / RFC 8866).
//!
//! Parsing and printing go through `sdp-types`; the offer/answer rules for
//! audio are ours:
//!
//! - [`build_offer`] turns the configured codec list (`[media] codecs`,
//!   names parsed by [`Codec::from_str`]) into an offer with one
//!   `m=audio` line, `a=rtpmap` for every format, `a=fmtp:<te> 0-15`,
//!   `a=ptime:20` and `a=sendrecv`.
//! - [`parse_answer`] reads the far end's answer to that offer and returns
//!   the [`Negotiated`] media: the first format of the answer's `m=audio`
//!   that we offered (matched by encoding name and clock rate, static
//!   payload types 0 and 8 also without `a=rtpmap`), the telephone-event
//!   payload type, the RTP/RTCP addresses, direction and ptime.
//! - [`answer`] answers an incoming offer (incoming calls): our preferred
//!   codec that the offer carries, echoing the offerer's payload type
//!   numbers (RFC 3264 §6.1); no common codec is [`SdpError::NoCommonCodec`]
//!   (the caller answers 488).
//!
//! Every input here comes from the network: nothing panics, and the SDP
//! body is bounded by [`MAX_SDP_LEN`].

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use sdp_types::{Attribute, Connection, Media, MediaType, Origin, Session, TransportProto};

/// Largest SDP body we parse, in bytes. Real audio offers are under 2 KiB.
pub const MAX_SDP_LEN: usize = 16 * 1024;

/// Packetisation time we send and advertise, in ms (`a=ptime`).
pub const DEFAULT_PTIME_MS: u32 = 20;

/// Bounds applied to a peer's `a=ptime`, in ms.
const PTIME_RANGE_MS: std::ops::RangeInclusive<u32> = 10..=200;

/// Most payload formats considered on one `m=` line (more are ignored).
const MAX_FORMATS: usize = 64;

/// Errors of SDP offer/answer.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SdpError {
    /// Peer: the body is not valid SDP (the parser's message).
    #[error("malformed SDP: {0}")]
    Malformed(String),
    /// Peer: the body is larger than [`MAX_SDP_LEN`].
    #[error("SDP body too large: {0} bytes")]
    TooLarge(usize),
    /// Peer: no usable `m=audio` line with an RTP/AVP(F) profile.
    #[error("no RTP audio stream in SDP")]
    NoAudio,
    /// Peer: the audio stream was rejected (port 0 in the answer).
    #[error("audio stream rejected (port 0)")]
    Rejected,
    /// Peer: no codec in common (answer to an offer: reply 488).
    #[error("no common audio codec")]
    NoCommonCodec,
    /// Peer: neither the media nor the session has a `c=` line.
    #[error("no connection address (c=) for the audio stream")]
    MissingConnection,
    /// Peer: a `c=` or `a=rtcp` address is not an IP address.
    #[error("invalid connection address: {0}")]
    BadAddress(String),
    /// Local misuse: a codec name in the configuration is unknown.
    #[error("unknown codec name: {0:?}")]
    UnknownCodec(String),
    /// Local misuse: the codec list has no audio codec (only
    /// telephone-event, or empty).
    #[error("codec list has no audio codec")]
    NoAudioCodec,
}

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

    /// The `a=rtpmap` value for this codec at payload type `pt`.
    fn rtpmap(self, pt: u8) -> sdp_types::RtpMap {
        // RFC 7587 §7: opus is always written with 2 channels.
        let mut map = sdp_types::RtpMap::new(pt, self.encoding_name(), self.clock_rate());
        if self == Codec::Opus {
            map.set_encoding_params(2);
        }
        map
    }
}

impl fmt::Display for Codec {
    /// Prints `name/rate`, the form accepted by [`Codec::from_str`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.encoding_name(), self.clock_rate())
    }
}

impl FromStr for Codec {
    type Err = SdpError;

    /// Parses a configuration codec name, case-insensitively: `name/rate`
    /// (`"speex/16000"`, `"PCMU/8000"`, `"telephone-event/8000"`) or a bare
    /// name, which means the usual rate (`"PCMU"`, `"PCMA"`,
    /// `"telephone-event"`, `"G722"`, `"opus"` = opus/48000/2, and
    /// `"speex"` = speex/16000, the Flash rate). Opus may carry its channel
    /// count: `"opus/48000/2"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || SdpError::UnknownCodec(s.to_string());
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

/// Parses a configuration codec list (`[media] codecs`) into codecs, in
/// order, dropping duplicates. Errors on an unknown name or a list without
/// an audio codec.
pub fn parse_codec_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<Codec>, SdpError> {
    let mut codecs: Vec<Codec> = Vec::with_capacity(names.len().min(Codec::ALL.len()));
    for name in names {
        let codec = name.as_ref().parse::<Codec>()?;
        if !codecs.contains(&codec) {
            codecs.push(codec);
        }
    }
    if !codecs.iter().any(|c| c.is_audio()) {
        return Err(SdpError::NoAudioCodec);
    }
    Ok(codecs)
}

/// Media direction (RFC 3264 §5.1, `a=sendrecv` etc.), from our side's view
/// when in [`Negotiated`].
pub type Direction = sdp_types::Direction;

/// Our side of the session: where we receive RTP and the `o=` line fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Address put in `o=` and `c=` (the RTP socket's advertised address).
    pub addr: IpAddr,
    /// Our RTP port; RTCP is on `port + 1` (RFC 3550 §11).
    pub port: u16,
    /// `o=` sess-id (RFC 4566 §5.2): random per call, kept for re-offers.
    pub session_id: u64,
    /// `o=` sess-version: incremented by the caller on every changed offer.
    pub session_version: u64,
}

/// One payload format offered: codec and the payload type we gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadFormat {
    /// The codec.
    pub codec: Codec,
    /// RTP payload type number (0..=127).
    pub pt: u8,
}

/// An offer we built: the SDP and the formats it carries (kept to match
/// the answer against).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpOffer {
    /// The session description.
    pub session: Session,
    /// The formats of our `m=audio` line, in preference order.
    pub formats: Vec<PayloadFormat>,
}

impl SdpOffer {
    /// The SDP body (CRLF line ends), for a SIP message with
    /// `Content-Type: application/sdp`.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.session.to_string().into_bytes()
    }
}

/// An answer we built to an incoming offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpAnswer {
    /// The session description.
    pub session: Session,
}

impl SdpAnswer {
    /// The SDP body (CRLF line ends).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.session.to_string().into_bytes()
    }
}

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

/// Builds an offer with one `m=audio` line for `codecs` (preference order;
/// duplicates dropped) at `local`.
///
/// Errors: [`SdpError::NoAudioCodec`] if `codecs` has no audio codec.
pub fn build_offer(codecs: &[Codec], local: &LocalMedia) -> Result<SdpOffer, SdpError> {
    let mut formats: Vec<PayloadFormat> = Vec::with_capacity(codecs.len());
    for &codec in codecs {
        if !formats.iter().any(|f| f.codec == codec) {
            formats.push(PayloadFormat {
                codec,
                pt: codec.default_pt(),
            });
        }
    }
    if !formats.iter().any(|f| f.codec.is_audio()) {
        return Err(SdpError::NoAudioCodec);
    }
    let media = audio_media(local.port, &formats, Direction::SendRecv, true);
    let session = session_for(local, media);
    Ok(SdpOffer { session, formats })
}

/// Parses the far end's answer to `offer` (RFC 3264 §5, §6).
///
/// Picks the first format of the answer's first `m=audio` that we offered;
/// matching is by encoding name and clock rate (`a=rtpmap`), or by static
/// payload type when the answer has no rtpmap for it.
///
/// Errors (all peer misbehaviour): [`SdpError::Malformed`],
/// [`SdpError::TooLarge`], [`SdpError::NoAudio`], [`SdpError::Rejected`]
/// (port 0), [`SdpError::NoCommonCodec`], [`SdpError::MissingConnection`],
/// [`SdpError::BadAddress`].
pub fn parse_answer(offer: &SdpOffer, answer: &[u8]) -> Result<Negotiated, SdpError> {
    let session = parse_session(answer)?;
    let media = session
        .medias
        .iter()
        .find(|m| is_audio(m))
        .ok_or(SdpError::NoAudio)?;
    if media.port == 0 {
        return Err(SdpError::Rejected);
    }
    if !is_rtp_avp(media) {
        return Err(SdpError::NoAudio);
    }
    let remote = media_formats(media);
    let offered = |codec: Codec| offer.formats.iter().find(|f| f.codec == codec);
    let (ours, theirs) = remote
        .iter()
        .filter(|f| f.codec.is_audio())
        .find_map(|f| offered(f.codec).map(|o| (*o, *f)))
        .ok_or(SdpError::NoCommonCodec)?;
    let dtmf = remote
        .iter()
        .find(|f| f.codec == Codec::TelephoneEvent)
        .zip(offered(Codec::TelephoneEvent));
    let (remote_rtp, remote_rtcp) = remote_addresses(&session, media)?;
    Ok(Negotiated {
        codec: ours.codec,
        pt: theirs.pt,
        recv_pt: ours.pt,
        dtmf_pt: dtmf.map(|(theirs, _)| theirs.pt),
        recv_dtmf_pt: dtmf.map(|(_, ours)| ours.pt),
        ptime_ms: ptime(&session, media),
        direction: direction(&session, media).reverse(),
        remote_rtp,
        remote_rtcp,
        // We always offer it (RFC 5761 §5.1.1).
        rtcp_mux: has_rtcp_mux(media),
    })
}

/// Answers an incoming offer (RFC 3264 §6): chooses the first codec of
/// `our_codecs` (our preference order) that the offer's first usable
/// `m=audio` carries, plus telephone-event if both sides have it, echoing
/// the offerer's payload type numbers. Other `m=` lines are refused with
/// port 0, in the offer's order.
///
/// Errors: as [`parse_answer`]; [`SdpError::NoCommonCodec`] means "answer 488".
pub fn answer(
    offer: &[u8],
    our_codecs: &[Codec],
    local: &LocalMedia,
) -> Result<(SdpAnswer, Negotiated), SdpError> {
    let OfferChoice {
        session,
        index,
        chosen,
        dtmf,
    } = choose(offer, our_codecs)?;
    let media = session.medias.get(index).ok_or(SdpError::NoAudio)?;
    let (remote_rtp, remote_rtcp) = remote_addresses(&session, media)?;
    let their_direction = direction(&session, media);
    let our_direction = their_direction.reverse();
    // RFC 5761 §5.1.1: echo rtcp-mux only when offered.
    let mux = has_rtcp_mux(media);

    let mut formats = vec![chosen];
    formats.extend(dtmf);
    let medias = session
        .medias
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if i == index {
                audio_media(local.port, &formats, our_direction, mux)
            } else {
                refused_media(m)
            }
        })
        .collect::<Vec<_>>();
    let mut answer = session_for(local, audio_media(local.port, &formats, our_direction, mux));
    answer.medias = medias;
    let negotiated = Negotiated {
        codec: chosen.codec,
        pt: chosen.pt,
        recv_pt: chosen.pt,
        dtmf_pt: dtmf.map(|f| f.pt),
        recv_dtmf_pt: dtmf.map(|f| f.pt),
        ptime_ms: ptime(&session, media),
        direction: our_direction,
        remote_rtp,
        remote_rtcp,
        rtcp_mux: mux,
    };
    Ok((SdpAnswer { session: answer }, negotiated))
}

/// Checks, without building an answer, that [`answer`] would accept
/// `offer`: a usable audio stream with a codec of `our_codecs` and a
/// remote address. Returns the codec an answer would choose.
///
/// Errors: as [`answer`]; [`SdpError::NoCommonCodec`] means "488".
pub fn acceptable_offer(offer: &[u8], our_codecs: &[Codec]) -> Result<Codec, SdpError> {
    let choice = choose(offer, our_codecs)?;
    let media = choice
        .session
        .medias
        .get(choice.index)
        .ok_or(SdpError::NoAudio)?;
    remote_addresses(&choice.session, media)?;
    Ok(choice.chosen.codec)
}

/// An offer and what we pick from it.
struct OfferChoice {
    session: Session,
    /// Index of the first usable `m=audio` line.
    index: usize,
    /// Our first codec (in our order) that the offer carries.
    chosen: PayloadFormat,
    /// The offer's telephone-event, when we also offer it.
    dtmf: Option<PayloadFormat>,
}

fn choose(offer: &[u8], our_codecs: &[Codec]) -> Result<OfferChoice, SdpError> {
    let session = parse_session(offer)?;
    let index = session
        .medias
        .iter()
        .position(|m| is_audio(m) && m.port != 0 && is_rtp_avp(m))
        .ok_or(SdpError::NoAudio)?;
    let media = session.medias.get(index).ok_or(SdpError::NoAudio)?;
    let offered = media_formats(media);
    let chosen = our_codecs
        .iter()
        .filter(|c| c.is_audio())
        .find_map(|c| offered.iter().find(|f| f.codec == *c))
        .copied()
        .ok_or(SdpError::NoCommonCodec)?;
    let dtmf = offered
        .iter()
        .find(|f| f.codec == Codec::TelephoneEvent)
        .filter(|_| our_codecs.contains(&Codec::TelephoneEvent))
        .copied();
    Ok(OfferChoice {
        session,
        index,
        chosen,
        dtmf,
    })
}

/// Parses a body with the size bound.
fn parse_session(body: &[u8]) -> Result<Session, SdpError> {
    if body.len() > MAX_SDP_LEN {
        return Err(SdpError::TooLarge(body.len()));
    }
    Session::parse(body).map_err(|e| SdpError::Malformed(e.to_string()))
}

/// `v= o= s= c= t=` around one media description.
fn session_for(local: &LocalMedia, media: Media) -> Session {
    let mut origin = Origin::with_ip_addr(local.session_id, local.session_version, local.addr);
    origin.set_username("rtmp2sip");
    let mut session = Session::new(origin, "rtmp2sip");
    session.set_connection(Connection::from_ip_addr(local.addr));
    session.add_time(sdp_types::Time::new(0, 0));
    session.add_media(media);
    session
}

/// Our `m=audio` line with rtpmap, fmtp, ptime and direction attributes,
/// and `a=rtcp-mux` when `mux` (RFC 5761 §5.1.1).
fn audio_media(port: u16, formats: &[PayloadFormat], direction: Direction, mux: bool) -> Media {
    let fmt = formats
        .iter()
        .map(|f| f.pt.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let mut media = Media::new(MediaType::Audio, port, TransportProto::RtpAvp, fmt);
    for f in formats {
        media.add_attribute(f.codec.rtpmap(f.pt));
    }
    for f in formats {
        match f.codec {
            // RFC 4733 §2.4.1: the DTMF events 0-15.
            Codec::TelephoneEvent => {
                media.add_attribute(Attribute::with_value("fmtp", format!("{} 0-15", f.pt)))
            }
            // RFC 7587 §6.1: we decode FEC and send mono.
            Codec::Opus => media.add_attribute(Attribute::with_value(
                "fmtp",
                format!("{} useinbandfec=1; stereo=0; sprop-stereo=0", f.pt),
            )),
            _ => {}
        }
    }
    media.add_attribute(Attribute::with_value("ptime", DEFAULT_PTIME_MS));
    media.add_attribute(direction);
    if mux {
        media.add_attribute(Attribute::new("rtcp-mux"));
    }
    media
}

/// Whether a media description carries `a=rtcp-mux` (RFC 5761 §5.1.1).
fn has_rtcp_mux(media: &Media) -> bool {
    media
        .attributes
        .iter()
        .any(|a| a.attribute.eq_ignore_ascii_case("rtcp-mux"))
}

/// A refused copy of an offered `m=` line (RFC 3264 §6: port 0).
fn refused_media(offered: &Media) -> Media {
    Media {
        media: offered.media.clone(),
        port: 0,
        num_ports: None,
        proto: offered.proto.clone(),
        fmt: offered.fmt.clone(),
        media_title: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
    }
}

fn is_audio(media: &Media) -> bool {
    media.media.eq_ignore_ascii_case("audio")
}

/// Plain RTP profiles only: we have no SRTP.
fn is_rtp_avp(media: &Media) -> bool {
    matches!(
        media.parse_transport_proto(),
        TransportProto::RtpAvp | TransportProto::RtpAvpf
    )
}

/// The formats of an `m=` line we know, in the line's order: rtpmap
/// entries matched by name/rate, static types by number.
fn media_formats(media: &Media) -> Vec<PayloadFormat> {
    let rtpmaps: Vec<sdp_types::RtpMap> = media
        .attributes_typed::<sdp_types::RtpMap>()
        .filter_map(Result::ok)
        .take(MAX_FORMATS)
        .collect();
    media
        .fmt
        .split_ascii_whitespace()
        .take(MAX_FORMATS)
        .filter_map(|pt| pt.parse::<u8>().ok().filter(|pt| *pt <= 127))
        .filter_map(|pt| {
            let codec = match rtpmaps.iter().find(|r| r.payload_type == pt) {
                Some(map) => Codec::from_rtpmap(&map.encoding_name, map.clock_rate),
                None => Codec::from_static_pt(pt),
            }?;
            Some(PayloadFormat { codec, pt })
        })
        .collect()
}

/// RTP and RTCP destination of a media description.
fn remote_addresses(
    session: &Session,
    media: &Media,
) -> Result<(SocketAddr, SocketAddr), SdpError> {
    let connection = media
        .connections
        .first()
        .or(session.connection.as_ref())
        .ok_or(SdpError::MissingConnection)?;
    let ip = connection
        .try_address()
        .map_err(|_| SdpError::BadAddress(connection.connection_address.clone()))?
        .ip;
    let rtp = SocketAddr::new(ip, media.port);
    let rtcp = match media.get_first_attribute_typed::<sdp_types::Rtcp>() {
        Some(Ok(rtcp)) => {
            let rtcp_ip = match rtcp.try_address() {
                Some(Ok(address)) => address.ip,
                Some(Err(_)) => {
                    return Err(SdpError::BadAddress(
                        rtcp.connection_address.unwrap_or_default(),
                    ))
                }
                None => ip,
            };
            SocketAddr::new(rtcp_ip, rtcp.port)
        }
        _ => SocketAddr::new(ip, media.port.saturating_add(1)),
    };
    Ok((rtp, rtcp))
}

/// `a=ptime` at media level, else session level, else 20; clamped.
fn ptime(session: &Session, media: &Media) -> u32 {
    media
        .get_first_attribute_value("ptime")
        .or_else(|| session.get_first_attribute_value("ptime"))
        .flatten()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .map(|ms| ms.clamp(*PTIME_RANGE_MS.start(), *PTIME_RANGE_MS.end()))
        .unwrap_or(DEFAULT_PTIME_MS)
}

/// The direction a description declares (media level, else session level,
/// else sendrecv; RFC 3264 §5.1), from the describer's view.
fn direction(session: &Session, media: &Media) -> Direction {
    let find = |attributes: &[Attribute]| {
        attributes
            .iter()
            .find_map(|a| a.attribute.parse::<Direction>().ok())
    };
    find(&media.attributes)
        .or_else(|| find(&session.attributes))
        .unwrap_or(Direction::SendRecv)
}

#[cfg(test)]
#[path = "sdp/tests.rs"]
mod tests;
