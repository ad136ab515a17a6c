//! SDES `a=crypto` values (RFC 4568) from the network: parsed strictly,
//! printed back identically when they parse; whole SRTP offers and
//! answers through offer/answer with `[media] srtp = "offer"`.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use rtmp2sip::sip::sdp::crypto::CryptoAttr;
use rtmp2sip::sip::sdp::{
    answer_with, build_offer_with, parse_answer, Codec, Direction, LocalMedia, SrtpPolicy,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(attr) = CryptoAttr::parse(text) {
            let again = CryptoAttr::parse(&attr.to_value());
            assert_eq!(again, Ok(attr));
        }
    }
    let local = LocalMedia {
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        port: 40000,
        session_id: 1,
        session_version: 1,
    };
    let codecs = [Codec::Pcmu, Codec::TelephoneEvent];
    let policy = SrtpPolicy::Offer;
    if let Ok(offer) = build_offer_with(&codecs, &local, Direction::SendRecv, policy, None) {
        let _ = parse_answer(&offer, data);
    }
    if let Ok((sdp, _)) = answer_with(data, &codecs, &local, policy, None) {
        let _ = sdp.to_bytes();
    }
});
