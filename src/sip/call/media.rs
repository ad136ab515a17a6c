//! Our side of a confirmed call's SDP (RFC 3264 §8): re-offers for hold
//! and resume, answers to the far end's re-offers, from the same origin
//! and address with `o=` version incremented each time.

use crate::sip::sdp::{
    self, Codec, CryptoAttr, Direction, LocalMedia, Negotiated, SdpError, SdpOffer, SrtpParams,
    SrtpPolicy,
};

/// The SDP state a call leg keeps to answer and make re-offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegMedia {
    local: LocalMedia,
    codecs: Vec<Codec>,
    /// `[media] srtp`: re-offers and answers follow it.
    srtp: SrtpPolicy,
    /// The SRTP keys in force once a re-negotiation set them (kept by
    /// later ones, RFC 4568 §7.1.4); `None` before (the first one
    /// chooses fresh keys) and for plain RTP.
    keys: Option<SrtpParams>,
    /// We hold the far end (our last offer was `a=sendonly` or `a=inactive`).
    held: bool,
    /// The direction in force from our side: the last answer we gave or
    /// got (`RecvOnly` / `Inactive`: the far end does not take our media).
    current: Direction,
    /// The last SDP we sent (re-sent unchanged in session refreshes).
    last: Vec<u8>,
}

impl LegMedia {
    /// From the SDP we sent first (our offer, or our answer on an incoming
    /// call) and `[media] codecs`.
    ///
    /// Errors: the SDP does not parse (see [`sdp::local_media_of`]).
    pub fn new(ours: &[u8], codecs: Vec<Codec>, srtp: SrtpPolicy) -> Result<Self, SdpError> {
        Ok(Self {
            local: sdp::local_media_of(ours)?,
            codecs,
            srtp,
            keys: None,
            held: false,
            current: Direction::SendRecv,
            last: ours.to_vec(),
        })
    }

    /// Reads the SRTP keys in force from our first SDP and the far end's
    /// (its offer or answer), so re-negotiations keep them (RFC 4568
    /// §7.1.4); plain RTP leaves none.
    pub fn with_keys(mut self, theirs: &[u8]) -> Self {
        self.keys = sdp::keys_in_force(&self.last, theirs);
        self
    }

    /// Whether we hold the far end.
    pub fn held(&self) -> bool {
        self.held
    }

    /// The last SDP we sent.
    pub fn last(&self) -> &[u8] {
        &self.last
    }

    fn bump(&mut self) -> LocalMedia {
        self.local.session_version = self.local.session_version.saturating_add(1);
        self.local.clone()
    }

    /// Answers the far end's re-offer (RFC 3264 §6.1, §8): codec by
    /// [`sdp::answer`], direction mirrored (sendonly -> recvonly, inactive
    /// -> inactive), and kept sendonly / inactive while we hold. Returns
    /// the answer body and the media it puts in force.
    ///
    /// Errors: the offer is unacceptable (the caller answers 488).
    pub fn answer(&mut self, offer: &[u8]) -> Result<(Vec<u8>, Negotiated), SdpError> {
        // Check before bumping: a refused offer leaves the version as is.
        sdp::acceptable_offer_with(offer, &self.codecs, self.srtp)?;
        let local = self.bump();
        let (mut answer, mut negotiated) =
            sdp::answer_with(offer, &self.codecs, &local, self.srtp, self.keys)?;
        if self.held {
            let dir = restrict_to_send(negotiated.direction);
            negotiated.direction = dir;
            for m in answer.session.medias.iter_mut().filter(|m| m.port != 0) {
                m.attributes
                    .retain(|a| a.attribute.parse::<Direction>().is_err());
                m.attributes.push(dir.into());
            }
        }
        let body = answer.to_bytes();
        self.last = body.clone();
        self.current = negotiated.direction;
        self.keys = negotiated.srtp;
        Ok((body, negotiated))
    }

    /// A new offer: `a=sendrecv`, or while we hold `a=sendonly`, and
    /// `a=inactive` when the far end holds us too (the stream is `recvonly`
    /// or `inactive` from our side: RFC 3264 §8.4, RFC 6337 §5.3). `held`
    /// becomes our hold state once [`LegMedia::offer_answered`] sees it
    /// accepted.
    ///
    /// Errors: no audio codec configured.
    pub fn offer(&mut self, held: bool) -> Result<SdpOffer, SdpError> {
        let dir = match (held, self.current) {
            (false, _) => Direction::SendRecv,
            (true, Direction::RecvOnly | Direction::Inactive) => Direction::Inactive,
            (true, _) => Direction::SendOnly,
        };
        let local = self.bump();
        // Our line in force first, same tag and key (RFC 4568 §7.1.4).
        let keep = self.keys.map(|k| CryptoAttr {
            tag: 1,
            key: k.local,
        });
        sdp::build_offer_with(&self.codecs, &local, dir, self.srtp, keep)
    }

    /// The far end answered `offer` (made with `held`) with `answer`.
    ///
    /// Errors: the answer does not parse or fits no offered codec.
    pub fn offer_answered(
        &mut self,
        offer: &SdpOffer,
        held: bool,
        answer: &[u8],
    ) -> Result<Negotiated, SdpError> {
        let negotiated = sdp::parse_answer(offer, answer)?;
        self.held = held;
        self.current = negotiated.direction;
        self.keys = negotiated.srtp;
        self.last = offer.to_bytes();
        Ok(negotiated)
    }
}

/// Our direction when we hold: we may send, never receive.
fn restrict_to_send(d: Direction) -> Direction {
    match d {
        Direction::SendRecv | Direction::SendOnly => Direction::SendOnly,
        _ => Direction::Inactive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn our_sdp() -> Vec<u8> {
        let local = LocalMedia {
            addr: "192.0.2.1".parse().unwrap(),
            port: 20000,
            session_id: 42,
            session_version: 1,
        };
        sdp::build_offer(&[Codec::Pcmu, Codec::TelephoneEvent], &local)
            .unwrap()
            .to_bytes()
    }

    fn their_offer(port: u16, dir: &str, codec: &str) -> Vec<u8> {
        let (pt, map) = match codec {
            "PCMA" => (8, "PCMA/8000"),
            "G722" => (9, "G722/8000"),
            _ => (0, "PCMU/8000"),
        };
        format!(
            "v=0\r\no=- 7 2 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP {pt} 101\r\na=rtpmap:{pt} {map}\r\n\
             a=rtpmap:101 telephone-event/8000\r\na={dir}\r\n"
        )
        .into_bytes()
    }

    fn codecs() -> Vec<Codec> {
        vec![Codec::Pcmu, Codec::Pcma, Codec::TelephoneEvent]
    }

    #[test]
    fn answers_mirror_direction_and_bump_the_version() {
        let mut m = LegMedia::new(&our_sdp(), codecs(), SrtpPolicy::Off).unwrap();
        let cases = [
            ("sendonly", Direction::RecvOnly, "a=recvonly"),
            ("inactive", Direction::Inactive, "a=inactive"),
            ("sendrecv", Direction::SendRecv, "a=sendrecv"),
            ("recvonly", Direction::SendOnly, "a=sendonly"),
        ];
        for (i, (theirs, ours, line)) in cases.into_iter().enumerate() {
            let (body, n) = m.answer(&their_offer(4000, theirs, "PCMU")).unwrap();
            let text = String::from_utf8(body).unwrap();
            assert_eq!(n.direction, ours, "{theirs}");
            assert!(text.contains(line), "{text}");
            assert!(text.contains(&format!("o=rtmp2sip 42 {} IN IP4 192.0.2.1", i + 2)));
            assert!(text.contains("m=audio 20000 "), "{text}");
        }
    }

    #[test]
    fn new_port_and_codec_and_refusal() {
        let mut m = LegMedia::new(&our_sdp(), codecs(), SrtpPolicy::Off).unwrap();
        let (_, n) = m.answer(&their_offer(5002, "sendrecv", "PCMA")).unwrap();
        assert_eq!(n.codec, Codec::Pcma);
        assert_eq!(n.remote_rtp.port(), 5002);
        let before = m.clone();
        assert!(m.answer(&their_offer(5002, "sendrecv", "G722")).is_err());
        assert_eq!(m, before, "a refused offer changes nothing");
    }

    #[test]
    fn hold_offer_and_answers_while_held() {
        let mut m = LegMedia::new(&our_sdp(), codecs(), SrtpPolicy::Off).unwrap();
        let offer = m.offer(true).unwrap();
        let text = String::from_utf8(offer.to_bytes()).unwrap();
        assert!(text.contains("a=sendonly") && text.contains("o=rtmp2sip 42 2 "));
        let n = m
            .offer_answered(&offer, true, &their_offer(4000, "recvonly", "PCMU"))
            .unwrap();
        assert_eq!(n.direction, Direction::SendOnly);
        assert!(m.held());
        // A re-offer sendrecv from them while we hold: we stay sendonly.
        let (body, n) = m.answer(&their_offer(4000, "sendrecv", "PCMU")).unwrap();
        assert_eq!(n.direction, Direction::SendOnly);
        assert!(String::from_utf8(body).unwrap().contains("a=sendonly"));
        let offer = m.offer(false).unwrap();
        assert!(String::from_utf8(offer.to_bytes())
            .unwrap()
            .contains("a=sendrecv"));
    }

    #[test]
    fn hold_while_the_far_end_holds_offers_inactive() {
        let mut m = LegMedia::new(&our_sdp(), codecs(), SrtpPolicy::Off).unwrap();
        // They hold us (a=sendonly): we answer recvonly.
        let (_, n) = m.answer(&their_offer(4000, "sendonly", "PCMU")).unwrap();
        assert_eq!(n.direction, Direction::RecvOnly);
        // Our hold of a recvonly stream is a=inactive (RFC 3264 §8.4).
        let offer = m.offer(true).unwrap();
        let text = String::from_utf8(offer.to_bytes()).unwrap();
        assert!(
            text.contains("a=inactive") && !text.contains("a=sendonly"),
            "{text}"
        );
        let n = m
            .offer_answered(&offer, true, &their_offer(4000, "inactive", "PCMU"))
            .unwrap();
        assert_eq!(n.direction, Direction::Inactive);
        // They resume while we hold: we answer sendonly; a refresh offer
        // while held is then sendonly again.
        let (_, n) = m.answer(&their_offer(4000, "sendrecv", "PCMU")).unwrap();
        assert_eq!(n.direction, Direction::SendOnly);
        let text = String::from_utf8(m.offer(true).unwrap().to_bytes()).unwrap();
        assert!(text.contains("a=sendonly"), "{text}");
        // Resume is a=sendrecv whatever they do (they answer for themselves).
        let (_, _) = m.answer(&their_offer(4000, "sendonly", "PCMU")).unwrap();
        let text = String::from_utf8(m.offer(false).unwrap().to_bytes()).unwrap();
        assert!(text.contains("a=sendrecv"), "{text}");
    }

    #[test]
    fn srtp_re_offers_keep_the_keys_in_force() {
        let key = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
        let offer = |port: u16| {
            format!(
                "v=0\r\no=- 7 2 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
                 m=audio {port} RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
                 a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\na=sendrecv\r\n"
            )
            .into_bytes()
        };
        // An incoming call: our answer to their offer is our first SDP.
        let local = LocalMedia {
            addr: "192.0.2.1".parse().unwrap(),
            port: 20000,
            session_id: 42,
            session_version: 1,
        };
        let (ours, first) =
            sdp::answer_with(&offer(4000), &codecs(), &local, SrtpPolicy::Offer, None).unwrap();
        let mut m = LegMedia::new(&ours.to_bytes(), codecs(), SrtpPolicy::Offer)
            .unwrap()
            .with_keys(&offer(4000));
        assert_eq!(m.keys, first.srtp);
        // Their re-offer with the same key: our answer keeps ours too.
        let (_, n) = m.answer(&offer(4002)).unwrap();
        assert_eq!(n.srtp, first.srtp);
        // Our hold re-offer carries our key in force first.
        let hold = m.offer(true).unwrap();
        assert_eq!(hold.crypto[0].key, first.srtp.unwrap().local);
    }
}
