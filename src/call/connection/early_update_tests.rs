//! A far end's UPDATE in the early dialog (RFC 3311 §5.1), as the
//! connection core sees it: `MediaChanged { by_remote: true }` while the
//! early media runs moves that media, and the 200's SDP is then compared
//! with the updated one (not the 18x's). Each row: the 200's SDP (RTP
//! port, or none), then the effects in order.

use super::*;

/// The far end's answer to the rig's offer on RTP `port`.
fn far_answer(r: &Rig, port: u16) -> (Vec<u8>, crate::media::codec::Negotiated) {
    let offer = r.offer.clone().expect("an offer");
    let mut far = far_media();
    far.port = port;
    let (answer, negotiated) = sdp::answer(&offer, &[Codec::Pcmu], &far).expect("answer");
    (answer.to_bytes(), negotiated)
}

#[test]
fn early_update_moves_the_early_media_and_the_200_is_compared_with_it() {
    // (the 200's SDP port) -> effects of the 200
    let rows: &[(Option<u16>, &[&str])] = &[
        // The 200 without SDP keeps the updated media.
        (None, &["status2/200", "status4"]),
        // The 200 names the 18x's port again: the media follows it (it
        // is compared with the updated media, not the 18x's).
        (Some(50000), &["update:SendRecv", "status2/200", "status4"]),
    ];
    for (port, want) in rows {
        let mut r = rig_in(Start::Dialing);
        let (early, _) = far_answer(&r, 50000);
        let got = r.sip(SipEvent::Progress {
            status: SipStatus::new(183, "Session Progress"),
            sdp: Some(early),
        });
        assert_eq!(got, ["media", "streams", "status1/183"]);
        // The leg answered the callee's UPDATE (new RTP port).
        let (_, moved) = far_answer(&r, 50004);
        let got = r.sip(SipEvent::MediaChanged {
            negotiated: moved,
            by_remote: true,
        });
        assert_eq!(got, ["update:SendRecv"], "{port:?}");
        assert_eq!(r.core.phase(), CallPhase::Early);
        let sdp = port.map(|p| far_answer(&r, p).0).unwrap_or_default();
        assert_eq!(r.sip(SipEvent::Answered { sdp }), *want, "{port:?}");
    }
}
