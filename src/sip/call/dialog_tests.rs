//! Dialog-level gaps on a virtual clock: remote target refresh (RFC 3261
//! §12.2), a missing ACK for our 2xx (§13.3.1.4, §14.2) and UPDATE in the
//! early dialog (RFC 3311 §5.2), as phase x input tables.

use std::time::{Duration, Instant};

use super::tests::{
    action_name, actions, cfg, confirmed_outgoing, event_name, events, our_sdp, request, resp,
    their_sdp,
};
use super::*;
use crate::sip::event::{SipEvent, SipStatus};

fn targets(acts: &[Action]) -> Vec<String> {
    acts.iter()
        .filter_map(|a| match a {
            Action::RemoteTarget { uri } => Some(uri.clone()),
            _ => None,
        })
        .collect()
}

fn reply_codes(acts: &[Action]) -> Vec<u16> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Reply { code, .. } => Some(*code),
            _ => None,
        })
        .collect()
}

/// An incoming leg answered and ACKed at `t0`.
fn confirmed_incoming(t0: Instant) -> CallLeg {
    let mut leg = CallLeg::incoming(t0, cfg(), &[], their_sdp(4000, "sendrecv", 0), 3);
    leg.handle(t0, Input::Command(Command::Answer(our_sdp())));
    leg.handle(t0, Input::Acked { sdp: Vec::new() });
    actions(&mut leg);
    events(&mut leg);
    assert!(matches!(leg.phase(), Phase::Confirmed(_)));
    leg
}

#[test]
fn target_refresh_by_request_table() {
    // (method, Contact, body) -> (reply code, new remote target)
    let offer = || their_sdp(4002, "sendrecv", 0);
    let cases: Vec<(Method, Option<&str>, Vec<u8>, u16, Vec<&str>)> = vec![
        (
            Method::Invite,
            Some("<sip:bob@10.0.0.9:5070>"),
            offer(),
            200,
            vec!["sip:bob@10.0.0.9:5070"],
        ),
        (
            Method::Update,
            Some("\"B\" <sip:moved@h;transport=tcp>;x=1"),
            offer(),
            200,
            vec!["sip:moved@h;transport=tcp"],
        ),
        // A session refresh without an offer refreshes the target too.
        (
            Method::Update,
            Some("sip:b@h2"),
            Vec::new(),
            200,
            vec!["sip:b@h2"],
        ),
        // No Contact: the target stays.
        (Method::Invite, None, offer(), 200, vec![]),
        // Not a SIP URI: 400, nothing changes, the call goes on.
        (
            Method::Invite,
            Some("<tel:+15551234>"),
            offer(),
            400,
            vec![],
        ),
        (Method::Update, Some("<http://x>"), offer(), 400, vec![]),
        (
            Method::Update,
            Some("<sip:unclosed"),
            Vec::new(),
            400,
            vec![],
        ),
        // Refused offer: 488, the target stays (only a 2xx refreshes it).
        (
            Method::Invite,
            Some("<sip:b@h3>"),
            b"v=0\r\n".to_vec(),
            488,
            vec![],
        ),
    ];
    for (role, make) in [
        (
            "outgoing",
            confirmed_outgoing as fn(Instant, &[(&str, &str)]) -> CallLeg,
        ),
        ("incoming", |t, _: &[(&str, &str)]| confirmed_incoming(t)),
    ] {
        for (method, contact, body, code, want) in &cases {
            let t0 = Instant::now();
            let mut leg = make(t0, &[]);
            let hdrs: Vec<(&str, &str)> = contact.iter().map(|c| ("Contact", *c)).collect();
            leg.handle(t0, request(9, method.clone(), &hdrs, body.clone()));
            let acts = actions(&mut leg);
            let what = format!("{role} {method:?} {contact:?}");
            assert_eq!(reply_codes(&acts), vec![*code], "{what}");
            assert_eq!(targets(&acts), *want, "{what}");
            assert!(matches!(leg.phase(), Phase::Confirmed(_)), "{what}");
            // The target action comes before the 200 leaves.
            if !want.is_empty() {
                assert!(matches!(acts[0], Action::RemoteTarget { .. }), "{what}");
            }
        }
    }
}

#[test]
fn a_2xx_to_our_reinvite_refreshes_the_target() {
    let t0 = Instant::now();
    let mut leg = confirmed_outgoing(t0, &[]);
    leg.handle(t0, Input::Command(Command::Hold(true)));
    assert!(matches!(&actions(&mut leg)[..], [Action::Reinvite { .. }]));
    leg.handle(
        t0,
        Input::ReinviteFinal(resp(
            200,
            &[("Contact", "<sip:new@192.0.2.50:5099>")],
            their_sdp(4000, "recvonly", 0),
        )),
    );
    assert_eq!(
        targets(&actions(&mut leg)),
        vec!["sip:new@192.0.2.50:5099".to_string()]
    );
    // A refusal does not, nor does an unusable Contact on a 2xx.
    leg.handle(t0, Input::Command(Command::Hold(false)));
    actions(&mut leg);
    leg.handle(
        t0,
        Input::ReinviteFinal(resp(488, &[("Contact", "<sip:other@h>")], Vec::new())),
    );
    assert!(targets(&actions(&mut leg)).is_empty());
    leg.handle(t0, Input::Command(Command::Hold(false)));
    actions(&mut leg);
    leg.handle(
        t0,
        Input::ReinviteFinal(resp(
            200,
            &[("Contact", "<tel:+1555>")],
            their_sdp(4000, "sendrecv", 0),
        )),
    );
    assert!(targets(&actions(&mut leg)).is_empty());
}

#[test]
fn no_ack_for_our_2xx_to_a_reinvite_ends_the_call() {
    // (re-INVITE body, what the driver reports) -> (actions, events)
    let cases: Vec<(Vec<u8>, bool, Vec<&str>, Vec<&str>)> = vec![
        // No ACK within 64 x T1: BYE, status 0 with 408 No ACK.
        (
            their_sdp(4002, "sendrecv", 0),
            false,
            vec!["Bye", "Done"],
            vec!["Failed(408)"],
        ),
        // Offerless re-INVITE (our offer in the 2xx), no ACK: the same.
        (Vec::new(), false, vec!["Bye", "Done"], vec!["Failed(408)"]),
        // The ACK came: nothing ends.
        (their_sdp(4002, "sendrecv", 0), true, vec![], vec![]),
    ];
    for (role, incoming) in [("outgoing", false), ("incoming", true)] {
        for (body, acked, want_actions, want_events) in &cases {
            let t0 = Instant::now();
            let mut leg = if incoming {
                confirmed_incoming(t0)
            } else {
                confirmed_outgoing(t0, &[])
            };
            leg.handle(t0, request(4, Method::Invite, &[], body.clone()));
            assert_eq!(reply_codes(&actions(&mut leg)), vec![200]);
            events(&mut leg);
            let t1 = t0 + Duration::from_secs(34);
            let input = if *acked {
                Input::RequestAcked {
                    id: RequestId(4),
                    sdp: Vec::new(),
                }
            } else {
                Input::RequestUnacked { id: RequestId(4) }
            };
            leg.handle(t1, input);
            let what = format!("{role} body={} acked={acked}", !body.is_empty());
            let got: Vec<String> = actions(&mut leg).iter().map(action_name).collect();
            assert_eq!(got, *want_actions, "{what}");
            let got: Vec<String> = events(&mut leg).iter().map(event_name).collect();
            assert_eq!(got, *want_events, "{what}");
            assert_eq!(leg.is_ended(), !acked, "{what}");
        }
    }
}

#[test]
fn no_ack_reason_is_408_no_ack() {
    let t0 = Instant::now();
    let mut leg = confirmed_incoming(t0);
    leg.handle(t0, request(4, Method::Invite, &[], Vec::new()));
    actions(&mut leg);
    leg.handle(t0, Input::RequestUnacked { id: RequestId(4) });
    assert_eq!(
        events(&mut leg),
        vec![SipEvent::Failed(SipStatus::new(408, "No ACK"))]
    );
}

#[test]
fn initial_invite_ack_timeout_by_phase_table() {
    // rsipstack ends an unacknowledged 200 OK itself (BYE) and reports it
    // as `AckTimeout`: the leg reports 408 No ACK without a second BYE.
    let t0 = Instant::now();
    let mut leg = CallLeg::incoming(t0, cfg(), &[], their_sdp(4000, "sendrecv", 0), 1);
    leg.handle(t0, Input::Command(Command::Answer(our_sdp())));
    actions(&mut leg);
    leg.handle(t0 + Duration::from_secs(32), Input::AckTimeout);
    assert_eq!(actions(&mut leg), vec![Action::Done]);
    assert_eq!(
        events(&mut leg),
        vec![SipEvent::Failed(SipStatus::new(408, "No ACK"))]
    );
    // In other phases it means nothing.
    let mut ringing = CallLeg::incoming(t0, cfg(), &[], Vec::new(), 1);
    actions(&mut ringing);
    ringing.handle(t0, Input::AckTimeout);
    assert!(actions(&mut ringing).is_empty());
    let mut up = confirmed_incoming(t0);
    up.handle(t0, Input::AckTimeout);
    assert!(actions(&mut up).is_empty() && !up.is_ended());
}

#[test]
fn early_update_by_phase_table() {
    // (leg, UPDATE body) -> reply code and MediaChanged
    let offer = || their_sdp(4010, "sendrecv", 8);
    let t0 = Instant::now();
    type Make = fn(Instant) -> CallLeg;
    fn outgoing_inviting(t: Instant) -> CallLeg {
        let mut l = CallLeg::outgoing(t, cfg(), our_sdp(), 1);
        actions(&mut l);
        l
    }
    let outgoing_180: Make = |t| {
        let mut l = outgoing_inviting(t);
        l.handle(
            t,
            Input::Provisional {
                status: SipStatus::new(180, "Ringing"),
                sdp: None,
            },
        );
        events(&mut l);
        l
    };
    let outgoing_183_sdp: Make = |t| {
        let mut l = outgoing_inviting(t);
        l.handle(
            t,
            Input::Provisional {
                status: SipStatus::new(183, "Session Progress"),
                sdp: Some(their_sdp(4000, "sendrecv", 0)),
            },
        );
        events(&mut l);
        l
    };
    let incoming_ringing: Make = |t| {
        let mut l = CallLeg::incoming(t, cfg(), &[], their_sdp(4000, "sendrecv", 0), 1);
        actions(&mut l);
        l
    };
    let incoming_delayed: Make = |t| {
        let mut l = CallLeg::incoming(t, cfg(), &[], Vec::new(), 1);
        actions(&mut l);
        l
    };
    let cases: Vec<(&str, Make, bool, u16, bool)> = vec![
        // Our offer answered in the 183: the callee's UPDATE is answered.
        ("183+sdp offer", outgoing_183_sdp, true, 200, true),
        ("183+sdp no body", outgoing_183_sdp, false, 200, false),
        // Our INVITE's offer still unanswered: glare-like, 491.
        ("180 offer", outgoing_180, true, 491, false),
        (
            "inviting offer",
            outgoing_inviting as Make,
            true,
            491,
            false,
        ),
        ("180 no body", outgoing_180, false, 200, false),
        // Incoming: the INVITE's offer is unanswered until our 200.
        ("ringing offer", incoming_ringing, true, 500, false),
        ("delayed offer", incoming_delayed, true, 500, false),
        ("ringing no body", incoming_ringing, false, 200, false),
    ];
    for (name, make, with_offer, code, changed) in cases {
        let mut leg = make(t0);
        let body = if with_offer { offer() } else { Vec::new() };
        leg.handle(t0, request(2, Method::Update, &[], body));
        let acts = actions(&mut leg);
        assert_eq!(reply_codes(&acts), vec![code], "{name}");
        if code == 500 {
            let Some(Action::Reply { headers, .. }) = acts.first() else {
                panic!("{name}")
            };
            assert_eq!(types::header(headers, "Retry-After"), Some("1"), "{name}");
        }
        let evs = events(&mut leg);
        assert_eq!(
            evs.iter().any(|e| matches!(
                e,
                SipEvent::MediaChanged {
                    by_remote: true,
                    ..
                }
            )),
            changed,
            "{name}"
        );
        assert!(!leg.is_ended(), "{name}");
    }
}

#[test]
fn early_update_answer_uses_pcma_and_carries_into_the_call() {
    let t0 = Instant::now();
    let mut leg = CallLeg::outgoing(t0, cfg(), our_sdp(), 1);
    actions(&mut leg);
    leg.handle(
        t0,
        Input::Provisional {
            status: SipStatus::new(183, "Session Progress"),
            sdp: Some(their_sdp(4000, "sendrecv", 0)),
        },
    );
    events(&mut leg);
    leg.handle(
        t0,
        request(
            2,
            Method::Update,
            &[("Contact", "<sip:callee@10.1.1.1>")],
            their_sdp(4010, "sendrecv", 8),
        ),
    );
    let acts = actions(&mut leg);
    assert_eq!(targets(&acts), vec!["sip:callee@10.1.1.1".to_string()]);
    let Some(Action::Reply {
        code: 200, body, ..
    }) = acts.last()
    else {
        panic!("no 200: {acts:?}")
    };
    let answer = String::from_utf8_lossy(body).to_string();
    assert!(answer.contains("PCMA/8000"), "{answer}");
    assert!(
        answer.contains("o=rtmp2sip 42 2 "),
        "o= version + 1: {answer}"
    );
    // The 200 to the INVITE: the next re-offer continues the versions.
    leg.handle(
        t0,
        Input::InviteFinal(resp(200, &[], their_sdp(4010, "sendrecv", 8))),
    );
    events(&mut leg);
    leg.handle(t0, Input::Command(Command::Hold(true)));
    let Some(Action::Reinvite { body, .. }) = actions(&mut leg).into_iter().next() else {
        panic!("no re-INVITE")
    };
    let offer = String::from_utf8_lossy(&body).to_string();
    assert!(offer.contains("o=rtmp2sip 42 3 "), "{offer}");
}

#[test]
fn reinvite_before_the_dialog_is_confirmed_gets_500_retry_after() {
    // RFC 3261 §14.2: a second INVITE before the final response to the
    // first: 500 with Retry-After (not 491, which is for glare).
    let t0 = Instant::now();
    let mut leg = CallLeg::incoming(t0, cfg(), &[], their_sdp(4000, "sendrecv", 0), 1);
    actions(&mut leg);
    leg.handle(
        t0,
        request(2, Method::Invite, &[], their_sdp(4000, "sendrecv", 0)),
    );
    let acts = actions(&mut leg);
    assert_eq!(reply_codes(&acts), vec![500]);
}
