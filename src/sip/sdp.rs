//! SDP offer/answer for one audio stream (RFC 3264 on RFC 4566 / RFC 8866).
//!
//! Parsing and printing go through `sdp-types`; the offer/answer rules for
//! audio are ours:
//!
//! - [`build_offer`] turns the configured codec list (`[media] codecs`,
//!   names parsed by `Codec`'s `FromStr`) into an offer with one
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
//! - SRTP with SDES (RFC 4568, `[media] srtp`, [`SrtpPolicy`]): offers
//!   made with [`build_offer_with`] are `RTP/SAVP` with an `a=crypto`
//!   line per suite (fresh keys from `OsRng`); [`answer_with`] takes an
//!   `RTP/SAVP` offer's first usable crypto line (§7.1.3) and
//!   [`parse_answer`] checks that the answer picked one of ours. The keys
//!   land in [`Negotiated::srtp`]. See [`crypto`].
//!
//! Every input here comes from the network: nothing panics, and the SDP
//! body is bounded by [`MAX_SDP_LEN`].

use std::net::{IpAddr, SocketAddr};

pub use crate::media::codec::{Codec, Direction, Negotiated, UnknownCodec};
pub use crypto::{CryptoAttr, SrtpParams, SrtpPolicy};

#[path = "sdp/crypto.rs"]
pub mod crypto;

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
    /// Peer: an SRTP stream without a usable `a=crypto` line (RFC 4568
    /// §7.1.3: answer 488), or an answer whose line matches none of ours.
    #[error("no acceptable SRTP crypto (a=crypto)")]
    NoCrypto,
    /// Peer: plain RTP where `[media] srtp = "require"`.
    #[error("plain RTP refused: SRTP is required")]
    SrtpRequired,
}

impl From<UnknownCodec> for SdpError {
    fn from(e: UnknownCodec) -> Self {
        SdpError::UnknownCodec(e.0)
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
    /// Our `a=crypto` lines (empty: plain `RTP/AVP`).
    pub crypto: Vec<CryptoAttr>,
    /// The policy the offer was made under (a plain answer to an SRTP
    /// offer is accepted unless it is [`SrtpPolicy::Require`]).
    pub srtp: SrtpPolicy,
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

/// Builds an offer with one `m=audio` line for `codecs` (preference order;
/// duplicates dropped) at `local`.
///
/// Errors: [`SdpError::NoAudioCodec`] if `codecs` has no audio codec.
pub fn build_offer(codecs: &[Codec], local: &LocalMedia) -> Result<SdpOffer, SdpError> {
    build_offer_with(codecs, local, Direction::SendRecv, SrtpPolicy::Off, None)
}

/// Builds an offer like [`build_offer`] with direction `direction` and,
/// unless `srtp` is [`SrtpPolicy::Off`], `RTP/SAVP` with our `a=crypto`
/// lines (fresh keys from `OsRng`; `keep`, the line in force, first: a
/// re-offer that keeps the keys, RFC 4568 §7.1.4).
///
/// Errors: [`SdpError::NoAudioCodec`] if `codecs` has no audio codec.
pub fn build_offer_with(
    codecs: &[Codec],
    local: &LocalMedia,
    direction: Direction,
    srtp: SrtpPolicy,
    keep: Option<CryptoAttr>,
) -> Result<SdpOffer, SdpError> {
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
    let crypto = match srtp {
        SrtpPolicy::Off => Vec::new(),
        SrtpPolicy::Offer | SrtpPolicy::Require => {
            crypto::offer_lines(&mut rand::rngs::OsRng, keep)
        }
    };
    let media = audio_media(local.port, &formats, direction, true, &crypto);
    let session = session_for(local, media);
    Ok(SdpOffer {
        session,
        formats,
        crypto,
        srtp,
    })
}

/// Builds an offer like [`build_offer`] with direction `direction`: a
/// re-offer that holds (`SendOnly`) or resumes (`SendRecv`) the call
/// (RFC 3264 §8.4, RFC 6337 §5.3).
///
/// Errors: [`SdpError::NoAudioCodec`] if `codecs` has no audio codec.
pub fn build_offer_directed(
    codecs: &[Codec],
    local: &LocalMedia,
    direction: Direction,
) -> Result<SdpOffer, SdpError> {
    build_offer_with(codecs, local, direction, SrtpPolicy::Off, None)
}

/// Reads back our own description (an offer or answer we built): its
/// `o=` session id and version and the `c=` address and `m=audio` port,
/// so a call leg can re-offer from the same place (RFC 3264 §8: same
/// origin, version incremented on change).
///
/// Errors: [`SdpError::Malformed`], [`SdpError::TooLarge`],
/// [`SdpError::NoAudio`], [`SdpError::MissingConnection`],
/// [`SdpError::BadAddress`].
pub fn local_media_of(body: &[u8]) -> Result<LocalMedia, SdpError> {
    let session = parse_session(body)?;
    let media = session
        .medias
        .iter()
        .find(|m| is_audio(m))
        .ok_or(SdpError::NoAudio)?;
    let (rtp, _) = remote_addresses(&session, media)?;
    Ok(LocalMedia {
        addr: rtp.ip(),
        port: rtp.port(),
        session_id: session.origin.sess_id.trim().parse().unwrap_or(0),
        session_version: session.origin.sess_version,
    })
}

/// The SRTP keys an offer/answer exchange put in force, read back from
/// our description and the far end's (either may be the offer): the far
/// end's first `a=crypto` line whose tag and suite one of ours carries
/// (RFC 4568 §7.1.3). `None` for plain RTP or bodies that do not parse.
pub fn keys_in_force(ours: &[u8], theirs: &[u8]) -> Option<SrtpParams> {
    let lines = |body: &[u8]| -> Option<Vec<CryptoAttr>> {
        let session = parse_session(body).ok()?;
        let media = session
            .medias
            .iter()
            .find(|m| is_audio(m) && m.port != 0 && is_savp(m))?;
        Some(crypto::crypto_lines(crypto_values(media)))
    };
    let (ours, theirs) = (lines(ours)?, lines(theirs)?);
    theirs.iter().find_map(|t| {
        ours.iter()
            .find(|o| o.tag == t.tag && o.key.suite() == t.key.suite())
            .map(|o| SrtpParams {
                local: o.key,
                remote: t.key,
            })
    })
}

/// The direction the first `m=audio` of `body` declares, from the
/// describer's view (RFC 3264 §5.1); `None` if it does not parse.
pub fn declared_direction(body: &[u8]) -> Option<Direction> {
    let session = parse_session(body).ok()?;
    let media = session.medias.iter().find(|m| is_audio(m))?;
    Some(direction(&session, media))
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
    let srtp = answered_srtp(offer, media)?;
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
        srtp,
    })
}

/// The SRTP keys an answer puts in force: `RTP/SAVP` only to our SRTP
/// offer, with a line we offered; a plain answer to an SRTP offer only
/// under [`SrtpPolicy::Offer`].
fn answered_srtp(offer: &SdpOffer, media: &Media) -> Result<Option<SrtpParams>, SdpError> {
    if is_savp(media) {
        if offer.crypto.is_empty() {
            return Err(SdpError::NoAudio);
        }
        let theirs = crypto::crypto_lines(crypto_values(media));
        return crypto::answered_params(&offer.crypto, &theirs)
            .map(Some)
            .ok_or(SdpError::NoCrypto);
    }
    if !is_rtp_avp(media) {
        return Err(SdpError::NoAudio);
    }
    if offer.srtp == SrtpPolicy::Require {
        return Err(SdpError::SrtpRequired);
    }
    Ok(None)
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
    answer_with(offer, our_codecs, local, SrtpPolicy::Off, None)
}

/// [`answer`] under an SRTP policy: an `RTP/SAVP` offer (refused when
/// `srtp` is [`SrtpPolicy::Off`]) is answered with its first usable
/// `a=crypto` line and our key for it (RFC 4568 §7.1.3): `keep`'s key
/// when the line carries the remote key in force (a re-offer, §7.1.4),
/// else a fresh one from `OsRng`.
///
/// Errors: as [`answer`]; [`SdpError::NoCrypto`] and
/// [`SdpError::SrtpRequired`] also mean "488".
pub fn answer_with(
    offer: &[u8],
    our_codecs: &[Codec],
    local: &LocalMedia,
    srtp: SrtpPolicy,
    keep: Option<SrtpParams>,
) -> Result<(SdpAnswer, Negotiated), SdpError> {
    let OfferChoice {
        session,
        index,
        chosen,
        dtmf,
    } = choose(offer, our_codecs, srtp)?;
    let media = session.medias.get(index).ok_or(SdpError::NoAudio)?;
    let (remote_rtp, remote_rtcp) = remote_addresses(&session, media)?;
    let their_direction = direction(&session, media);
    let our_direction = their_direction.reverse();
    // RFC 5761 §5.1.1: echo rtcp-mux only when offered.
    let mux = has_rtcp_mux(media);
    let (crypto, keys) = match offered_crypto(media, keep)? {
        Some((line, keys)) => (vec![line], Some(keys)),
        None => (Vec::new(), None),
    };

    let mut formats = vec![chosen];
    formats.extend(dtmf);
    let medias = session
        .medias
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if i == index {
                audio_media(local.port, &formats, our_direction, mux, &crypto)
            } else {
                refused_media(m)
            }
        })
        .collect::<Vec<_>>();
    let mut answer = session_for(
        local,
        audio_media(local.port, &formats, our_direction, mux, &crypto),
    );
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
        srtp: keys,
    };
    Ok((SdpAnswer { session: answer }, negotiated))
}

/// Our crypto line and the keys for an offered `m=` line (already checked
/// by [`choose`] against the policy): `None` for plain RTP.
fn offered_crypto(
    media: &Media,
    keep: Option<SrtpParams>,
) -> Result<Option<(CryptoAttr, SrtpParams)>, SdpError> {
    if !is_savp(media) {
        return Ok(None);
    }
    let theirs = crypto::crypto_lines(crypto_values(media));
    crypto::answer_line(&theirs, keep, &mut rand::rngs::OsRng)
        .map(Some)
        .ok_or(SdpError::NoCrypto)
}

/// Checks, without building an answer, that [`answer`] would accept
/// `offer`: a usable audio stream with a codec of `our_codecs` and a
/// remote address. Returns the codec an answer would choose.
///
/// Errors: as [`answer`]; [`SdpError::NoCommonCodec`] means "488".
pub fn acceptable_offer(offer: &[u8], our_codecs: &[Codec]) -> Result<Codec, SdpError> {
    acceptable_offer_with(offer, our_codecs, SrtpPolicy::Off)
}

/// [`acceptable_offer`] under an SRTP policy (see [`answer_with`]).
///
/// Errors: as [`answer_with`].
pub fn acceptable_offer_with(
    offer: &[u8],
    our_codecs: &[Codec],
    srtp: SrtpPolicy,
) -> Result<Codec, SdpError> {
    let choice = choose(offer, our_codecs, srtp)?;
    let media = choice
        .session
        .medias
        .get(choice.index)
        .ok_or(SdpError::NoAudio)?;
    remote_addresses(&choice.session, media)?;
    if is_savp(media) && crypto::crypto_lines(crypto_values(media)).is_empty() {
        return Err(SdpError::NoCrypto);
    }
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

fn choose(offer: &[u8], our_codecs: &[Codec], srtp: SrtpPolicy) -> Result<OfferChoice, SdpError> {
    let session = parse_session(offer)?;
    let usable = |m: &Media| match srtp {
        SrtpPolicy::Off => is_rtp_avp(m),
        SrtpPolicy::Offer | SrtpPolicy::Require => is_rtp_avp(m) || is_savp(m),
    };
    let index = session
        .medias
        .iter()
        .position(|m| is_audio(m) && m.port != 0 && usable(m))
        .ok_or(SdpError::NoAudio)?;
    if srtp == SrtpPolicy::Require {
        let savp = session.medias.get(index).is_some_and(is_savp);
        if !savp {
            return Err(SdpError::SrtpRequired);
        }
    }
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
/// The `a=rtpmap` value for `codec` at payload type `pt`.
fn rtpmap(codec: Codec, pt: u8) -> sdp_types::RtpMap {
    // RFC 7587 §7: opus is always written with 2 channels.
    let mut map = sdp_types::RtpMap::new(pt, codec.encoding_name(), codec.clock_rate());
    if codec == Codec::Opus {
        map.set_encoding_params(2);
    }
    map
}

fn audio_media(
    port: u16,
    formats: &[PayloadFormat],
    direction: Direction,
    mux: bool,
    crypto: &[CryptoAttr],
) -> Media {
    let fmt = formats
        .iter()
        .map(|f| f.pt.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let proto = if crypto.is_empty() {
        TransportProto::RtpAvp
    } else {
        TransportProto::RtpSavp
    };
    let mut media = Media::new(MediaType::Audio, port, proto, fmt);
    for f in formats {
        media.add_attribute(rtpmap(f.codec, f.pt));
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
    for line in crypto {
        media.add_attribute(Attribute::with_value("crypto", line.to_value()));
    }
    media
}

/// The values of a media description's `a=crypto` attributes.
fn crypto_values(media: &Media) -> impl Iterator<Item = &str> {
    media
        .attributes
        .iter()
        .filter(|a| a.attribute.eq_ignore_ascii_case("crypto"))
        .filter_map(|a| a.value.as_deref())
}

/// Secure RTP profiles (`RTP/SAVP`, `RTP/SAVPF`: RFC 3711 §12).
fn is_savp(media: &Media) -> bool {
    matches!(
        media.parse_transport_proto(),
        TransportProto::RtpSavp | TransportProto::RtpSavpf
    )
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

/// Plain RTP profiles.
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
