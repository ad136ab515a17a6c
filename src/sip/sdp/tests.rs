use super::*;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn local() -> LocalMedia {
    LocalMedia {
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        port: 40000,
        session_id: 3_141_592_653,
        session_version: 1,
    }
}

fn default_offer() -> SdpOffer {
    let codecs =
        parse_codec_list(&["speex/16000", "PCMU", "PCMA", "telephone-event/8000"]).unwrap();
    build_offer(&codecs, &local()).unwrap()
}

fn crlf(s: &str) -> Vec<u8> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\r\n"))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn codec_names_parse_case_insensitively() {
    assert_eq!("speex/16000".parse::<Codec>(), Ok(Codec::Speex16k));
    assert_eq!("SPEEX/8000".parse::<Codec>(), Ok(Codec::Speex8k));
    assert_eq!("speex".parse::<Codec>(), Ok(Codec::Speex16k));
    assert_eq!("pcmu".parse::<Codec>(), Ok(Codec::Pcmu));
    assert_eq!("PCMA/8000".parse::<Codec>(), Ok(Codec::Pcma));
    assert_eq!(
        "Telephone-Event/8000".parse::<Codec>(),
        Ok(Codec::TelephoneEvent)
    );
    assert_eq!("G729".parse::<Codec>(), Err(UnknownCodec("G729".into())));
    assert!("PCMU/16000".parse::<Codec>().is_err());
    assert!("speex/abc".parse::<Codec>().is_err());
    assert_eq!(
        parse_codec_list(&["telephone-event"]),
        Err(SdpError::NoAudioCodec)
    );
    assert_eq!(
        parse_codec_list(&["PCMU", "pcmu", "PCMA"]).unwrap(),
        vec![Codec::Pcmu, Codec::Pcma]
    );
}

#[test]
fn offer_has_the_expected_lines() {
    let offer = default_offer();
    let text = String::from_utf8(offer.to_bytes()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "v=0");
    assert_eq!(
        lines[1], "o=rtmp2sip 3141592653 1 IN IP4 192.0.2.10",
        "{text}"
    );
    for expected in [
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=audio 40000 RTP/AVP 97 0 8 101",
        "a=rtpmap:97 speex/16000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=ptime:20",
        "a=sendrecv",
        "a=rtcp-mux",
    ] {
        assert!(lines.contains(&expected), "missing {expected:?} in\n{text}");
    }
    assert_eq!(offer.formats.len(), 4);
    assert_eq!(
        build_offer(&[Codec::TelephoneEvent], &local()),
        Err(SdpError::NoAudioCodec)
    );
}

/// A sipp UAS scenario answering with speex, PCMU and telephone-event.
const SIPP_ANSWER: &str = "
    v=0
    o=user1 53655765 2353687637 IN IP4 127.0.0.1
    s=-
    c=IN IP4 127.0.0.1
    t=0 0
    m=audio 6000 RTP/AVP 97 0 101
    a=rtpmap:97 speex/16000
    a=rtpmap:0 PCMU/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
";

#[test]
fn sipp_answer_picks_speex_and_dtmf() {
    let n = parse_answer(&default_offer(), &crlf(SIPP_ANSWER)).unwrap();
    assert_eq!(n.codec, Codec::Speex16k);
    assert_eq!((n.pt, n.recv_pt), (97, 97));
    assert_eq!((n.dtmf_pt, n.recv_dtmf_pt), (Some(101), Some(101)));
    assert_eq!(n.remote_rtp, "127.0.0.1:6000".parse().unwrap());
    assert_eq!(n.remote_rtcp, "127.0.0.1:6001".parse().unwrap());
    assert_eq!(n.direction, Direction::SendRecv);
    assert_eq!(n.ptime_ms, 20);
    assert_eq!(n.clock_rate(), 16_000);
    assert!(!n.is_hold());
    assert!(!n.rtcp_mux, "the answer has no a=rtcp-mux");
}

/// RFC 5761 §5.1.1: an answer with `a=rtcp-mux` muxes; an answer to an
/// offer echoes it only when the offer carried it.
#[test]
fn rtcp_mux_is_negotiated_both_ways() {
    let muxed = format!("{SIPP_ANSWER}    a=rtcp-mux\n");
    let n = parse_answer(&default_offer(), &crlf(&muxed)).unwrap();
    assert!(n.rtcp_mux);
    let ours = [Codec::Pcmu];
    let (plain, n) = answer(&crlf(LINPHONE_OFFER), &ours, &local()).unwrap();
    assert!(!n.rtcp_mux);
    let plain = String::from_utf8(plain.to_bytes()).unwrap();
    assert!(!plain.contains("rtcp-mux"), "{plain}");
    let offer = LINPHONE_OFFER.replace(
        "a=rtpmap:101 telephone-event/8000\n    m=video",
        "a=rtpmap:101 telephone-event/8000\n    a=rtcp-mux\n    m=video",
    );
    let (muxed, n) = answer(&crlf(&offer), &ours, &local()).unwrap();
    assert!(n.rtcp_mux);
    let muxed = String::from_utf8(muxed.to_bytes()).unwrap();
    assert_eq!(muxed.matches("a=rtcp-mux\r\n").count(), 1, "{muxed}");
}

/// A Polycom-style answer: PCMU only, session-level direction, no speex.
const POLYCOM_ANSWER: &str = "
    v=0
    o=- 1700000000 1700000001 IN IP4 192.168.1.50
    s=Polycom IP Phone
    c=IN IP4 192.168.1.50
    t=0 0
    a=sendrecv
    m=audio 2222 RTP/AVP 0 101
    a=rtpmap:0 PCMU/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
    a=ptime:30
";

#[test]
fn polycom_answer_picks_pcmu_and_ptime() {
    let n = parse_answer(&default_offer(), &crlf(POLYCOM_ANSWER)).unwrap();
    assert_eq!(n.codec, Codec::Pcmu);
    assert_eq!(n.pt, 0);
    assert_eq!(n.dtmf_pt, Some(101));
    assert_eq!(n.ptime_ms, 30);
    assert_eq!(n.remote_rtp, "192.168.1.50:2222".parse().unwrap());
}

/// An Asterisk-style answer: c= at media level only, several codecs, a
/// renumbered speex (110) and telephone-event (96), a=rtcp (RFC 3605).
const ASTERISK_ANSWER: &str = "
    v=0
    o=- 1423 1425 IN IP4 203.0.113.5
    s=Asterisk
    t=0 0
    m=audio 18462 RTP/AVP 8 0 110 96
    c=IN IP4 203.0.113.5
    a=rtpmap:8 PCMA/8000
    a=rtpmap:0 PCMU/8000
    a=rtpmap:110 speex/16000
    a=rtpmap:96 telephone-event/8000
    a=fmtp:96 0-16
    a=rtcp:18500
    a=ptime:20
    a=maxptime:150
    a=sendrecv
";

#[test]
fn asterisk_answer_uses_answer_order_and_media_level_c() {
    let n = parse_answer(&default_offer(), &crlf(ASTERISK_ANSWER)).unwrap();
    assert_eq!(n.codec, Codec::Pcma, "first format of the answer wins");
    assert_eq!((n.pt, n.recv_pt), (8, 8));
    assert_eq!((n.dtmf_pt, n.recv_dtmf_pt), (Some(96), Some(101)));
    assert_eq!(n.remote_rtp, "203.0.113.5:18462".parse().unwrap());
    assert_eq!(n.remote_rtcp, "203.0.113.5:18500".parse().unwrap());
}

#[test]
fn speex_matched_by_name_not_number() {
    // 97 means iLBC here; speex is at 110.
    let sdp = "
        v=0
        o=- 1 1 IN IP4 10.1.1.1
        s=-
        c=IN IP4 10.1.1.1
        t=0 0
        m=audio 5004 RTP/AVP 97 110
        a=rtpmap:97 iLBC/8000
        a=rtpmap:110 SPEEX/16000
    ";
    let n = parse_answer(&default_offer(), &crlf(sdp)).unwrap();
    assert_eq!(n.codec, Codec::Speex16k);
    assert_eq!((n.pt, n.recv_pt), (110, 97));
    assert_eq!(n.dtmf_pt, None);
}

#[test]
fn static_payload_type_without_rtpmap() {
    let sdp = "
        v=0
        o=- 1 1 IN IP4 10.1.1.1
        s=-
        c=IN IP4 10.1.1.1
        t=0 0
        m=audio 5004 RTP/AVP 8
    ";
    let n = parse_answer(&default_offer(), &crlf(sdp)).unwrap();
    assert_eq!((n.codec, n.pt), (Codec::Pcma, 8));
}

/// A Linphone-style IPv6 answer with an a=rtcp address and media-level c=.
const LINPHONE_V6_ANSWER: &str = "
    v=0
    o=bob 2890 2891 IN IP6 2001:db8::7
    s=Talk
    t=0 0
    a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
    m=audio 7078 RTP/AVP 97 101
    c=IN IP6 2001:db8::7
    a=rtpmap:97 speex/16000
    a=fmtp:97 vbr=on
    a=rtpmap:101 telephone-event/8000
    a=rtcp:7079 IN IP6 2001:db8::8
    a=rtcp-fb:* trr-int 1000
";

#[test]
fn ipv6_answer_with_rtcp_address() {
    let n = parse_answer(&default_offer(), &crlf(LINPHONE_V6_ANSWER)).unwrap();
    let ip7 = IpAddr::V6("2001:db8::7".parse::<Ipv6Addr>().unwrap());
    let ip8 = IpAddr::V6("2001:db8::8".parse::<Ipv6Addr>().unwrap());
    assert_eq!(n.codec, Codec::Speex16k);
    assert_eq!(n.remote_rtp, SocketAddr::new(ip7, 7078));
    assert_eq!(n.remote_rtcp, SocketAddr::new(ip8, 7079));
}

#[test]
fn answer_errors() {
    let offer = default_offer();
    let rejected = "
        v=0
        o=- 1 1 IN IP4 10.1.1.1
        s=-
        c=IN IP4 10.1.1.1
        t=0 0
        m=audio 0 RTP/AVP 0
    ";
    assert_eq!(
        parse_answer(&offer, &crlf(rejected)),
        Err(SdpError::Rejected)
    );
    let no_c = "
        v=0
        o=- 1 1 IN IP4 10.1.1.1
        s=-
        t=0 0
        m=audio 4000 RTP/AVP 0
    ";
    assert_eq!(
        parse_answer(&offer, &crlf(no_c)),
        Err(SdpError::MissingConnection)
    );
    let g729 = "
        v=0
        o=- 1 1 IN IP4 10.1.1.1
        s=-
        c=IN IP4 10.1.1.1
        t=0 0
        m=audio 4000 RTP/AVP 18 101
        a=rtpmap:18 G729/8000
        a=rtpmap:101 telephone-event/8000
    ";
    assert_eq!(
        parse_answer(&offer, &crlf(g729)),
        Err(SdpError::NoCommonCodec)
    );
    let video_only = "
        v=0
        o=- 1 1 IN IP4 10.1.1.1
        s=-
        c=IN IP4 10.1.1.1
        t=0 0
        m=video 4000 RTP/AVP 96
    ";
    assert_eq!(
        parse_answer(&offer, &crlf(video_only)),
        Err(SdpError::NoAudio)
    );
    let bad_c = "
        v=0
        o=- 1 1 IN IP4 10.1.1.1
        s=-
        c=IN IP4 pbx.example.com
        t=0 0
        m=audio 4000 RTP/AVP 0
    ";
    assert!(matches!(
        parse_answer(&offer, &crlf(bad_c)),
        Err(SdpError::BadAddress(_))
    ));
    assert!(matches!(
        parse_answer(&offer, b"hello"),
        Err(SdpError::Malformed(_))
    ));
    let huge = vec![b'a'; MAX_SDP_LEN + 1];
    assert_eq!(
        parse_answer(&offer, &huge),
        Err(SdpError::TooLarge(MAX_SDP_LEN + 1))
    );
}

#[test]
fn hold_answer_reverses_direction() {
    let sdp = "
        v=0
        o=- 1 2 IN IP4 10.1.1.1
        s=-
        c=IN IP4 0.0.0.0
        t=0 0
        m=audio 4000 RTP/AVP 0
        a=sendonly
    ";
    let n = parse_answer(&default_offer(), &crlf(sdp)).unwrap();
    assert_eq!(n.direction, Direction::RecvOnly);
    assert!(n.is_hold());
}

/// A Linphone-style offer: opus, speex at three rates, G.711, DTMF, and a
/// video stream.
const LINPHONE_OFFER: &str = "
    v=0
    o=alice 1234 678 IN IP4 192.168.0.20
    s=Talk
    c=IN IP4 192.168.0.20
    t=0 0
    m=audio 7078 RTP/AVP 96 97 98 99 0 8 101
    a=rtpmap:96 opus/48000/2
    a=fmtp:96 useinbandfec=1
    a=rtpmap:97 speex/16000
    a=fmtp:97 vbr=on
    a=rtpmap:98 speex/8000
    a=rtpmap:99 speex/32000
    a=rtpmap:101 telephone-event/8000
    m=video 9078 RTP/AVP 100
    a=rtpmap:100 VP8/90000
";

#[test]
fn answer_to_linphone_offer() {
    let ours = [Codec::Pcmu, Codec::Speex16k, Codec::TelephoneEvent];
    let (answer_sdp, n) = answer(&crlf(LINPHONE_OFFER), &ours, &local()).unwrap();
    assert_eq!((n.codec, n.pt, n.recv_pt), (Codec::Pcmu, 0, 0));
    assert_eq!(n.dtmf_pt, Some(101));
    assert_eq!(n.remote_rtp, "192.168.0.20:7078".parse().unwrap());
    let text = String::from_utf8(answer_sdp.to_bytes()).unwrap();
    assert!(text.contains("m=audio 40000 RTP/AVP 0 101\r\n"), "{text}");
    assert!(text.contains("m=video 0 RTP/AVP 100\r\n"), "{text}");
    assert!(text.contains("a=fmtp:101 0-15\r\n"), "{text}");
    let audio_at = text.find("m=audio").unwrap();
    assert!(audio_at < text.find("m=video").unwrap(), "order kept");

    let speex_first = [Codec::Speex16k, Codec::Pcmu];
    let (_, n) = answer(&crlf(LINPHONE_OFFER), &speex_first, &local()).unwrap();
    assert_eq!((n.codec, n.pt), (Codec::Speex16k, 97));
    assert_eq!(n.dtmf_pt, None, "we did not list telephone-event");
}

#[test]
fn answer_rejects_when_nothing_fits() {
    assert_eq!(
        answer(&crlf(LINPHONE_OFFER), &[Codec::Pcma], &local()).map(|_| ()),
        Ok(()),
        "PCMA by static number without rtpmap"
    );
    let g729_only = "
        v=0
        o=- 1 1 IN IP4 10.1.1.1
        s=-
        c=IN IP4 10.1.1.1
        t=0 0
        m=audio 4000 RTP/AVP 18
    ";
    assert_eq!(
        answer(&crlf(g729_only), &[Codec::Pcmu], &local()).map(|_| ()),
        Err(SdpError::NoCommonCodec)
    );
    let srtp_only = "
        v=0
        o=- 1 1 IN IP4 10.1.1.1
        s=-
        c=IN IP4 10.1.1.1
        t=0 0
        m=audio 4000 RTP/SAVP 0
    ";
    assert_eq!(
        answer(&crlf(srtp_only), &[Codec::Pcmu], &local()).map(|_| ()),
        Err(SdpError::NoAudio)
    );
}

#[test]
fn answer_to_sendonly_offer_is_recvonly() {
    let offer = "
        v=0
        o=- 1 1 IN IP4 10.1.1.1
        s=-
        c=IN IP4 10.1.1.1
        t=0 0
        m=audio 4000 RTP/AVP 0
        a=sendonly
    ";
    let (sdp, n) = answer(&crlf(offer), &[Codec::Pcmu], &local()).unwrap();
    assert_eq!(n.direction, Direction::RecvOnly);
    assert!(String::from_utf8(sdp.to_bytes())
        .unwrap()
        .contains("a=recvonly\r\n"));
}

fn codec_strategy() -> impl Strategy<Value = Codec> {
    proptest::sample::select(Codec::ALL.to_vec())
}

proptest! {
    #[test]
    fn codec_display_round_trips(codec in codec_strategy()) {
        prop_assert_eq!(codec.to_string().parse::<Codec>(), Ok(codec));
        prop_assert_eq!(codec.to_string().to_uppercase().parse::<Codec>(), Ok(codec));
    }

    /// Our own offer, answered by our own answerer, negotiates the first
    /// audio codec both lists share, and the offerer reads the same result.
    #[test]
    fn offer_answer_round_trip(
        ours in proptest::collection::vec(codec_strategy(), 1..6),
        theirs in proptest::collection::vec(codec_strategy(), 1..6),
    ) {
        let Ok(offer) = build_offer(&ours, &local()) else {
            prop_assert!(!ours.iter().any(|c| c.is_audio()));
            return Ok(());
        };
        let peer = LocalMedia { addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)), port: 5000, session_id: 9, session_version: 9 };
        let expected = theirs.iter().copied().filter(|c| c.is_audio()).find(|c| ours.contains(c));
        match answer(&offer.to_bytes(), &theirs, &peer) {
            Ok((answer_sdp, at_peer)) => {
                prop_assert_eq!(Some(at_peer.codec), expected);
                let at_us = parse_answer(&offer, &answer_sdp.to_bytes()).unwrap();
                prop_assert_eq!(at_us.codec, at_peer.codec);
                prop_assert_eq!(at_us.pt, at_peer.recv_pt);
                prop_assert_eq!(at_us.remote_rtp, SocketAddr::new(peer.addr, 5000));
                prop_assert_eq!(at_peer.remote_rtp, SocketAddr::new(local().addr, 40000));
                let both_dtmf = ours.contains(&Codec::TelephoneEvent) && theirs.contains(&Codec::TelephoneEvent);
                prop_assert_eq!(at_us.dtmf_pt.is_some(), both_dtmf);
            }
            Err(e) => {
                prop_assert_eq!(e, SdpError::NoCommonCodec);
                prop_assert_eq!(expected, None);
            }
        }
    }

    #[test]
    fn arbitrary_answers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_answer(&default_offer(), &body);
        let _ = answer(&body, &[Codec::Pcmu], &local());
    }

    #[test]
    fn mutated_answers_never_panic(cut in 0usize..400, byte in any::<u8>(), at in 0usize..400) {
        let mut body = crlf(ASTERISK_ANSWER);
        if let Some(b) = body.get_mut(at) { *b = byte; }
        body.truncate(cut.max(1));
        let _ = parse_answer(&default_offer(), &body);
    }
}

// ---- SRTP with SDES (RFC 4568) ------------------------------------

fn pcmu_offer(proto: &str, crypto: &str) -> Vec<u8> {
    crlf(&format!(
        "v=0
         o=- 1 1 IN IP4 198.51.100.7
         s=-
         c=IN IP4 198.51.100.7
         t=0 0
         m=audio 5004 {proto} 0 101
         a=rtpmap:0 PCMU/8000
         a=rtpmap:101 telephone-event/8000
         {crypto}"
    ))
}

const THEIR_KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

fn codecs() -> Vec<Codec> {
    vec![Codec::Pcmu, Codec::TelephoneEvent]
}

#[test]
fn srtp_offer_is_savp_with_crypto_lines_and_plain_offer_is_not() {
    let offer = build_offer_with(
        &codecs(),
        &local(),
        Direction::SendRecv,
        SrtpPolicy::Offer,
        None,
    )
    .unwrap();
    let text = String::from_utf8(offer.to_bytes()).unwrap();
    assert!(text.contains("m=audio 40000 RTP/SAVP 0 101\r\n"), "{text}");
    assert!(
        text.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{text}"
    );
    assert!(
        text.contains("a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:"),
        "{text}"
    );
    assert_eq!(offer.crypto.len(), 2);
    let plain = build_offer_with(
        &codecs(),
        &local(),
        Direction::SendRecv,
        SrtpPolicy::Off,
        None,
    )
    .unwrap();
    let text = String::from_utf8(plain.to_bytes()).unwrap();
    assert!(
        text.contains("RTP/AVP") && !text.contains("crypto"),
        "{text}"
    );
}

#[test]
fn savp_offer_answered_by_policy() {
    let crypto = format!(
        "a=crypto:7 F8_128_HMAC_SHA1_80 inline:{THEIR_KEY}\na=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:{THEIR_KEY}|2^31\na=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY}"
    );
    let savp = pcmu_offer("RTP/SAVP", &crypto);
    // off: refused as before (488).
    assert_eq!(
        answer_with(&savp, &codecs(), &local(), SrtpPolicy::Off, None).map(|_| ()),
        Err(SdpError::NoAudio)
    );
    for policy in [SrtpPolicy::Offer, SrtpPolicy::Require] {
        assert!(acceptable_offer_with(&savp, &codecs(), policy).is_ok());
        let (answer, n) = answer_with(&savp, &codecs(), &local(), policy, None).unwrap();
        let text = String::from_utf8(answer.to_bytes()).unwrap();
        assert!(text.contains("m=audio 40000 RTP/SAVP 0 101"), "{text}");
        // The first usable line (tag 3, after the unknown F8 suite), our own key.
        assert!(
            text.contains("a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:"),
            "{text}"
        );
        assert!(!text.contains(THEIR_KEY), "{text}");
        let keys = n.srtp.unwrap();
        assert_eq!(keys.suite(), crypto::SrtpSuite::AesCm128HmacSha1_32);
        assert_ne!(keys.local, keys.remote);
    }
    // No usable line: 488.
    let bad = pcmu_offer(
        "RTP/SAVP",
        &format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY} KDR=1"),
    );
    assert_eq!(
        acceptable_offer_with(&bad, &codecs(), SrtpPolicy::Offer),
        Err(SdpError::NoCrypto)
    );
    assert_eq!(
        answer_with(&bad, &codecs(), &local(), SrtpPolicy::Offer, None).map(|_| ()),
        Err(SdpError::NoCrypto)
    );
    // Plain offers: answered plain under "offer", refused under "require".
    let avp = pcmu_offer("RTP/AVP", "");
    let (answer, n) = answer_with(&avp, &codecs(), &local(), SrtpPolicy::Offer, None).unwrap();
    assert!(n.srtp.is_none());
    assert!(!String::from_utf8(answer.to_bytes())
        .unwrap()
        .contains("SAVP"));
    assert_eq!(
        acceptable_offer_with(&avp, &codecs(), SrtpPolicy::Require),
        Err(SdpError::SrtpRequired)
    );
}

#[test]
fn answers_to_our_srtp_offer_are_checked() {
    let answer_to = |policy: SrtpPolicy, proto: &str, crypto: &dyn Fn(&SdpOffer) -> String| {
        let offer =
            build_offer_with(&codecs(), &local(), Direction::SendRecv, policy, None).unwrap();
        let body = pcmu_offer(proto, &crypto(&offer));
        (offer.clone(), parse_answer(&offer, &body))
    };
    // Their line picks our tag 2 with its suite: keys in force.
    let (offer, got) = answer_to(SrtpPolicy::Require, "RTP/SAVP", &|_| {
        format!("a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{THEIR_KEY}")
    });
    let keys = got.unwrap().srtp.unwrap();
    assert_eq!(keys.local, offer.crypto[1].key);
    // A tag we did not offer, or no line: refused.
    let (_, got) = answer_to(SrtpPolicy::Offer, "RTP/SAVP", &|_| {
        format!("a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY}")
    });
    assert_eq!(got, Err(SdpError::NoCrypto));
    let (_, got) = answer_to(SrtpPolicy::Offer, "RTP/SAVP", &|_| String::new());
    assert_eq!(got, Err(SdpError::NoCrypto));
    // A plain answer: plain RTP under "offer", refused under "require".
    let (_, got) = answer_to(SrtpPolicy::Offer, "RTP/AVP", &|_| String::new());
    assert_eq!(got.unwrap().srtp, None);
    let (_, got) = answer_to(SrtpPolicy::Require, "RTP/AVP", &|_| String::new());
    assert_eq!(got, Err(SdpError::SrtpRequired));
    // SAVP answering our plain offer is not ours.
    let (_, got) = answer_to(SrtpPolicy::Off, "RTP/SAVP", &|_| {
        format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY}")
    });
    assert_eq!(got, Err(SdpError::NoAudio));
}
