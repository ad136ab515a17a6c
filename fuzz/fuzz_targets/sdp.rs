//! SDP bodies from the network: answers to our offer, and offers we answer.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use rtmp2sip::sip::sdp::{answer, build_offer, parse_answer, Codec, LocalMedia};

fuzz_target!(|data: &[u8]| {
    let local = LocalMedia {
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        port: 40000,
        session_id: 1,
        session_version: 1,
    };
    let codecs = [Codec::Speex16k, Codec::Pcmu, Codec::Pcma, Codec::TelephoneEvent];
    if let Ok(offer) = build_offer(&codecs, &local) {
        let _ = parse_answer(&offer, data);
    }
    if let Ok((sdp, _)) = answer(data, &codecs, &local) {
        let _ = sdp.to_bytes();
    }
});
