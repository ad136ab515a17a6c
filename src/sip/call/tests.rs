//! CallLeg on a virtual clock: phases x inputs, re-offers, hold, glare,
//! session timers.

use std::time::{Duration, Instant};

use super::types::header;
use super::*;
use crate::sip::event::{SipEvent, SipStatus};
use crate::sip::sdp::{self, Codec, Direction, LocalMedia};

pub(super) fn cfg() -> LegConfig {
    LegConfig {
        codecs: vec![Codec::Pcmu, Codec::Pcma, Codec::TelephoneEvent],
        srtp: Default::default(),
        session_expires_s: 1800,
        invite_timeout: Duration::from_secs(120),
        replaces: None,
    }
}

pub(super) fn our_sdp() -> Vec<u8> {
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

pub(super) fn their_sdp(port: u16, dir: &str, pt: u8) -> Vec<u8> {
    let map = if pt == 8 { "PCMA/8000" } else { "PCMU/8000" };
    format!(
        "v=0\r\no=- 7 2 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {pt}\r\na=rtpmap:{pt} {map}\r\na={dir}\r\n"
    )
    .into_bytes()
}

pub(super) fn h(pairs: &[(&str, &str)]) -> Vec<Header> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

pub(super) fn resp(code: u16, headers: &[(&str, &str)], body: Vec<u8>) -> FinalResponse {
    FinalResponse {
        status: SipStatus::new(code, "x"),
        headers: h(headers),
        body,
    }
}

pub(super) fn actions(leg: &mut CallLeg) -> Vec<Action> {
    std::iter::from_fn(|| leg.poll_action()).collect()
}

pub(super) fn events(leg: &mut CallLeg) -> Vec<SipEvent> {
    std::iter::from_fn(|| leg.poll_event()).collect()
}

pub(super) fn request(id: u64, method: Method, headers: &[(&str, &str)], body: Vec<u8>) -> Input {
    Input::Request(InDialogRequest {
        id: RequestId(id),
        method,
        headers: h(headers),
        body,
    })
}

/// An outgoing leg answered 200 with `headers` at `t0`.
pub(super) fn confirmed_outgoing(t0: Instant, headers: &[(&str, &str)]) -> CallLeg {
    let mut leg = CallLeg::outgoing(t0, cfg(), our_sdp(), 7);
    let first = actions(&mut leg);
    assert!(matches!(&first[..], [Action::Invite { .. }]));
    leg.handle(
        t0,
        Input::InviteFinal(resp(200, headers, their_sdp(4000, "sendrecv", 0))),
    );
    assert!(matches!(leg.phase(), Phase::Confirmed(_)));
    assert!(matches!(&events(&mut leg)[..], [SipEvent::Answered { .. }]));
    leg
}

#[test]
fn outgoing_invite_carries_session_timer_headers() {
    let t0 = Instant::now();
    let mut leg = CallLeg::outgoing(t0, cfg(), our_sdp(), 1);
    let Some(Action::Invite { headers, body }) = leg.poll_action() else {
        panic!("no INVITE")
    };
    assert_eq!(header(&headers, "Supported"), Some("timer"));
    assert_eq!(header(&headers, "Session-Expires"), Some("1800"));
    assert_eq!(body, our_sdp());
}

#[test]
fn outgoing_phase_by_input_table() {
    let t0 = Instant::now();
    let fail = |code| resp(code, &[], Vec::new());
    // (input, expected phase kind, expected actions, expected events)
    type Check = fn(&Phase) -> bool;
    let cases: Vec<(Vec<Input>, Check, Vec<&str>, Vec<&str>)> = vec![
        (
            vec![Input::Provisional {
                status: SipStatus::new(180, "Ringing"),
                sdp: None,
            }],
            |p| matches!(p, Phase::Early { .. }),
            vec![],
            vec!["Progress"],
        ),
        (
            vec![Input::Provisional {
                status: SipStatus::new(100, "Trying"),
                sdp: None,
            }],
            |p| matches!(p, Phase::Early { .. }),
            vec![],
            vec![],
        ),
        (
            vec![Input::InviteFinal(fail(486))],
            |p| *p == Phase::Ended,
            vec!["Done"],
            vec!["Failed(486)"],
        ),
        (
            vec![Input::Command(Command::Hangup)],
            |p| matches!(p, Phase::Cancelling { .. }),
            vec!["Cancel"],
            vec![],
        ),
        (
            vec![
                Input::Command(Command::Hangup),
                Input::InviteFinal(fail(487)),
            ],
            |p| *p == Phase::Ended,
            vec!["Cancel", "Done"],
            vec!["Failed(487)"],
        ),
        (
            vec![Input::Shutdown],
            |p| *p == Phase::Ended,
            vec!["Cancel", "Done"],
            vec!["Failed(503)"],
        ),
        (
            vec![Input::InviteFinal(fail(422))],
            |p| matches!(p, Phase::Inviting { .. }),
            vec!["Invite"],
            vec![],
        ),
        (
            vec![Input::InviteFinal(fail(422)), Input::InviteFinal(fail(422))],
            |p| *p == Phase::Ended,
            vec!["Invite", "Done"],
            vec!["Failed(422)"],
        ),
        (
            vec![Input::Command(Command::Hold(true))],
            |p| matches!(p, Phase::Inviting { .. }),
            vec![],
            vec!["HoldFailed"],
        ),
    ];
    for (inputs, phase, want_actions, want_events) in cases {
        let mut leg = CallLeg::outgoing(t0, cfg(), our_sdp(), 1);
        actions(&mut leg);
        for i in inputs.clone() {
            leg.handle(t0, i);
        }
        assert!(phase(leg.phase()), "{inputs:?}: {:?}", leg.phase());
        let got: Vec<String> = actions(&mut leg).iter().map(action_name).collect();
        assert_eq!(got, want_actions, "{inputs:?}");
        let got: Vec<String> = events(&mut leg).iter().map(event_name).collect();
        assert_eq!(got, want_events, "{inputs:?}");
    }
}

pub(super) fn action_name(a: &Action) -> String {
    let s = format!("{a:?}");
    s.split([' ', '(', '{'])
        .next()
        .unwrap_or_default()
        .to_string()
}

pub(super) fn event_name(e: &SipEvent) -> String {
    match e {
        SipEvent::Failed(s) => format!("Failed({})", s.code()),
        SipEvent::Ended { by_remote } => format!("Ended({by_remote})"),
        other => action_name_ev(other),
    }
}

fn action_name_ev(e: &SipEvent) -> String {
    let s = format!("{e:?}");
    s.split([' ', '(', '{'])
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn outgoing_422_retries_once_with_the_larger_min_se() {
    let t0 = Instant::now();
    let mut leg = CallLeg::outgoing(
        t0,
        LegConfig {
            session_expires_s: 90,
            ..cfg()
        },
        our_sdp(),
        1,
    );
    actions(&mut leg);
    leg.handle(
        t0,
        Input::InviteFinal(resp(422, &[("Min-SE", "600")], Vec::new())),
    );
    let Some(Action::Invite { headers, .. }) = leg.poll_action() else {
        panic!()
    };
    assert_eq!(header(&headers, "Session-Expires"), Some("600"));
    assert_eq!(header(&headers, "Min-SE"), Some("600"));
}

#[test]
fn invite_timeout_cancels_then_reports_408() {
    let t0 = Instant::now();
    let mut leg = CallLeg::outgoing(t0, cfg(), our_sdp(), 1);
    actions(&mut leg);
    assert_eq!(leg.poll_timeout(), Some(t0 + Duration::from_secs(120)));
    leg.handle_timeout(t0 + Duration::from_secs(119));
    assert!(actions(&mut leg).is_empty());
    leg.handle_timeout(t0 + Duration::from_secs(120));
    assert_eq!(actions(&mut leg), vec![Action::Cancel]);
    // No final response: give up after the CANCEL wait.
    let t1 = t0 + Duration::from_secs(125);
    assert_eq!(leg.poll_timeout(), Some(t1));
    leg.handle_timeout(t1);
    assert_eq!(actions(&mut leg), vec![Action::Done]);
    assert_eq!(
        events(&mut leg),
        vec![SipEvent::Failed(SipStatus::new(408, "Request Timeout"))]
    );
}

#[test]
fn incoming_phase_by_input_table() {
    let t0 = Instant::now();
    let offer = their_sdp(4000, "sendrecv", 0);
    type Check = fn(&Phase) -> bool;
    let cases: Vec<(Vec<Input>, Check, Vec<&str>, Vec<&str>)> = vec![
        (vec![], |p| *p == Phase::Ringing, vec!["Ringing"], vec![]),
        (
            vec![Input::Command(Command::Answer(our_sdp()))],
            |p| matches!(p, Phase::AwaitingAck { .. }),
            vec!["Ringing", "Accept"],
            vec![],
        ),
        (
            vec![
                Input::Command(Command::Answer(our_sdp())),
                Input::Acked { sdp: Vec::new() },
            ],
            |p| matches!(p, Phase::Confirmed(_)),
            vec!["Ringing", "Accept"],
            vec!["Answered"],
        ),
        (
            vec![Input::Command(Command::Reject(603))],
            |p| *p == Phase::Ended,
            vec!["Ringing", "Reject", "Done"],
            vec![],
        ),
        (
            vec![Input::Command(Command::Hangup)],
            |p| *p == Phase::Ended,
            vec!["Ringing", "Reject", "Done"],
            vec![],
        ),
        (
            vec![Input::Cancelled],
            |p| *p == Phase::Ended,
            vec!["Ringing", "Done"],
            vec!["Failed(487)"],
        ),
        (
            vec![Input::Shutdown],
            |p| *p == Phase::Ended,
            vec!["Ringing", "Reject", "Done"],
            vec!["Failed(503)"],
        ),
        (
            vec![
                Input::Command(Command::Answer(our_sdp())),
                Input::Acked { sdp: Vec::new() },
                Input::RemoteBye,
            ],
            |p| *p == Phase::Ended,
            vec!["Ringing", "Accept", "Done"],
            vec!["Answered", "Ended(true)"],
        ),
        (
            vec![
                Input::Command(Command::Answer(our_sdp())),
                Input::Acked { sdp: Vec::new() },
                Input::Command(Command::Hangup),
            ],
            |p| *p == Phase::Ended,
            vec!["Ringing", "Accept", "Bye", "Done"],
            vec!["Answered", "Ended(false)"],
        ),
    ];
    for (inputs, phase, want_actions, want_events) in cases {
        let mut leg = CallLeg::incoming(t0, cfg(), &[], offer.clone(), 1);
        for i in inputs.clone() {
            leg.handle(t0, i);
        }
        assert!(phase(leg.phase()), "{inputs:?}: {:?}", leg.phase());
        let got: Vec<String> = actions(&mut leg).iter().map(action_name).collect();
        assert_eq!(got, want_actions, "{inputs:?}");
        let got: Vec<String> = events(&mut leg).iter().map(event_name).collect();
        assert_eq!(got, want_events, "{inputs:?}");
    }
}

#[test]
fn incoming_no_ack_byes_after_32_s() {
    let t0 = Instant::now();
    let mut leg = CallLeg::incoming(t0, cfg(), &[], Vec::new(), 1);
    leg.handle(t0, Input::Command(Command::Answer(our_sdp())));
    actions(&mut leg);
    // rsipstack's Timer L (64 x T1) goes first; the leg's own deadline
    // is a backstop 2 s later.
    leg.handle_timeout(t0 + Duration::from_secs(32));
    assert!(actions(&mut leg).is_empty());
    leg.handle_timeout(t0 + Duration::from_secs(34));
    assert_eq!(actions(&mut leg), vec![Action::Bye, Action::Done]);
    assert_eq!(
        events(&mut leg),
        vec![SipEvent::Failed(SipStatus::new(408, "No ACK"))]
    );
}

#[test]
fn delayed_offer_answer_comes_from_the_ack() {
    let t0 = Instant::now();
    let mut leg = CallLeg::incoming(t0, cfg(), &[], Vec::new(), 1);
    leg.handle(t0, Input::Command(Command::Answer(our_sdp())));
    let answer = their_sdp(4000, "sendrecv", 0);
    leg.handle(
        t0,
        Input::Acked {
            sdp: answer.clone(),
        },
    );
    assert_eq!(events(&mut leg), vec![SipEvent::Answered { sdp: answer }]);
}

#[test]
fn incoming_session_timer_422_and_accept_headers() {
    let t0 = Instant::now();
    let mut leg = CallLeg::incoming(t0, cfg(), &h(&[("Session-Expires", "30")]), Vec::new(), 1);
    assert!(leg.is_ended());
    assert_eq!(
        actions(&mut leg),
        vec![
            Action::Reject {
                code: 422,
                headers: h(&[("Min-SE", "90")])
            },
            Action::Done
        ]
    );
    let mut leg = CallLeg::incoming(
        t0,
        cfg(),
        &h(&[("Supported", "timer"), ("Session-Expires", "120")]),
        Vec::new(),
        1,
    );
    leg.handle(t0, Input::Command(Command::Answer(our_sdp())));
    let acts = actions(&mut leg);
    let Some(Action::Accept { headers, .. }) = acts.get(1) else {
        panic!("{acts:?}")
    };
    assert_eq!(
        header(headers, "Session-Expires"),
        Some("120;refresher=uac")
    );
    assert_eq!(header(headers, "Require"), Some("timer"));
    // Confirmed at t1: the caller refreshes; no refresh -> BYE at 120 - 32.
    let t1 = t0 + Duration::from_secs(1);
    leg.handle(t1, Input::Acked { sdp: Vec::new() });
    events(&mut leg);
    assert_eq!(leg.poll_timeout(), Some(t1 + Duration::from_secs(88)));
    leg.handle_timeout(t1 + Duration::from_secs(88));
    assert_eq!(actions(&mut leg), vec![Action::Bye, Action::Done]);
    assert_eq!(
        events(&mut leg),
        vec![SipEvent::Failed(SipStatus::new(
            408,
            "Session expired (no refresh)"
        ))]
    );
}

#[test]
fn remote_reoffers_are_answered_with_mirrored_direction() {
    let t0 = Instant::now();
    // (method, their direction, our direction, port)
    let cases = [
        (Method::Invite, "sendonly", Direction::RecvOnly, 4000),
        (Method::Invite, "inactive", Direction::Inactive, 4000),
        (Method::Update, "sendrecv", Direction::SendRecv, 4002),
    ];
    for (method, theirs, ours, port) in cases {
        let mut leg = confirmed_outgoing(t0, &[]);
        leg.handle(
            t0,
            request(1, method.clone(), &[], their_sdp(port, theirs, 0)),
        );
        let acts = actions(&mut leg);
        let [Action::Reply { id, code, body, .. }] = &acts[..] else {
            panic!("{acts:?}")
        };
        assert_eq!((*id, *code), (RequestId(1), 200));
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(text.contains("o=rtmp2sip 42 2 IN IP4 192.0.2.1"), "{text}");
        assert!(text.contains("m=audio 20000 "), "{text}");
        let evs = events(&mut leg);
        let [SipEvent::MediaChanged {
            negotiated,
            by_remote: true,
        }] = &evs[..]
        else {
            panic!("{evs:?}")
        };
        assert_eq!(negotiated.direction, ours, "{theirs}");
        assert_eq!(negotiated.remote_rtp.port(), port);
    }
}

#[test]
fn unacceptable_reoffer_gets_488_and_the_call_continues() {
    let t0 = Instant::now();
    let mut leg = confirmed_outgoing(t0, &[]);
    let g729 = b"v=0\r\no=- 7 3 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n".to_vec();
    leg.handle(t0, request(1, Method::Invite, &[], g729));
    let acts = actions(&mut leg);
    assert!(
        matches!(&acts[..], [Action::Reply { code: 488, .. }]),
        "{acts:?}"
    );
    assert!(events(&mut leg).is_empty());
    assert!(matches!(leg.phase(), Phase::Confirmed(_)));
    // Next offer still answered, with the version bumped once only.
    leg.handle(
        t0,
        request(2, Method::Invite, &[], their_sdp(4000, "sendrecv", 8)),
    );
    let acts = actions(&mut leg);
    let [Action::Reply {
        code: 200, body, ..
    }] = &acts[..]
    else {
        panic!("{acts:?}")
    };
    assert!(String::from_utf8_lossy(body).contains("o=rtmp2sip 42 2 "));
}

#[test]
fn offerless_reinvite_gets_our_offer_and_the_ack_answer() {
    let t0 = Instant::now();
    let mut leg = confirmed_outgoing(t0, &[]);
    leg.handle(t0, request(5, Method::Invite, &[], Vec::new()));
    let acts = actions(&mut leg);
    let [Action::Reply {
        code: 200, body, ..
    }] = &acts[..]
    else {
        panic!("{acts:?}")
    };
    assert!(String::from_utf8_lossy(body).contains("a=sendrecv"));
    assert!(events(&mut leg).is_empty());
    leg.handle(
        t0,
        Input::RequestAcked {
            id: RequestId(5),
            sdp: their_sdp(4010, "sendrecv", 0),
        },
    );
    let evs = events(&mut leg);
    assert!(
        matches!(&evs[..], [SipEvent::MediaChanged { negotiated, by_remote: true }] if negotiated.remote_rtp.port() == 4010),
        "{evs:?}"
    );
}

#[test]
fn options_and_other_requests() {
    let t0 = Instant::now();
    let mut leg = confirmed_outgoing(t0, &[]);
    leg.handle(t0, request(1, Method::Options, &[], Vec::new()));
    leg.handle(t0, request(2, Method::Message, &[], Vec::new()));
    leg.handle(t0, request(3, Method::Info, &[], Vec::new()));
    let codes: Vec<u16> = actions(&mut leg)
        .iter()
        .filter_map(|a| match a {
            Action::Reply { code, .. } => Some(*code),
            _ => None,
        })
        .collect();
    assert_eq!(codes, vec![200, 501, 200]);
}

#[test]
fn hold_resume_and_refusal() {
    let t0 = Instant::now();
    let mut leg = confirmed_outgoing(t0, &[]);
    leg.handle(t0, Input::Command(Command::Hold(true)));
    let acts = actions(&mut leg);
    let [Action::Reinvite { body, .. }] = &acts[..] else {
        panic!("{acts:?}")
    };
    assert!(String::from_utf8_lossy(body).contains("a=sendonly"));
    leg.handle(
        t0,
        Input::ReinviteFinal(resp(200, &[], their_sdp(4000, "recvonly", 0))),
    );
    let evs = events(&mut leg);
    assert!(
        matches!(&evs[..], [SipEvent::MediaChanged { negotiated, by_remote: false }] if negotiated.direction == Direction::SendOnly),
        "{evs:?}"
    );
    leg.handle(t0, Input::Command(Command::Hold(false)));
    let acts = actions(&mut leg);
    let [Action::Reinvite { body, .. }] = &acts[..] else {
        panic!("{acts:?}")
    };
    assert!(String::from_utf8_lossy(body).contains("a=sendrecv"));
    leg.handle(t0, Input::ReinviteFinal(resp(488, &[], Vec::new())));
    assert_eq!(
        events(&mut leg),
        vec![SipEvent::HoldFailed {
            held: false,
            status: SipStatus::new(488, "x")
        }]
    );
}

#[test]
fn glare_491_both_ways() {
    let t0 = Instant::now();
    let mut leg = confirmed_outgoing(t0, &[]);
    leg.handle(t0, Input::Command(Command::Hold(true)));
    actions(&mut leg);
    // Their re-INVITE while ours is pending: 491 (RFC 3261 §14.2).
    leg.handle(
        t0,
        request(1, Method::Invite, &[], their_sdp(4000, "sendrecv", 0)),
    );
    assert!(matches!(
        &actions(&mut leg)[..],
        [Action::Reply { code: 491, .. }]
    ));
    // Our re-INVITE got 491: retried after 2.1..=4 s (we own the Call-ID).
    leg.handle(t0, Input::ReinviteFinal(resp(491, &[], Vec::new())));
    assert!(events(&mut leg).is_empty());
    let at = leg.poll_timeout().unwrap();
    let wait = at - t0;
    assert!(
        wait >= Duration::from_millis(2100) && wait <= Duration::from_secs(4),
        "{wait:?}"
    );
    assert_eq!(wait.as_millis() % 10, 0);
    leg.handle_timeout(at);
    assert!(matches!(&actions(&mut leg)[..], [Action::Reinvite { .. }]));
}

#[test]
fn hold_while_busy_is_queued() {
    let t0 = Instant::now();
    let mut leg = confirmed_outgoing(t0, &[]);
    leg.handle(t0, Input::Command(Command::Hold(true)));
    leg.handle(t0, Input::Command(Command::Hold(false)));
    assert_eq!(actions(&mut leg).len(), 1);
    leg.handle(
        t0,
        Input::ReinviteFinal(resp(200, &[], their_sdp(4000, "recvonly", 0))),
    );
    let acts = actions(&mut leg);
    let [Action::Reinvite { body, .. }] = &acts[..] else {
        panic!("{acts:?}")
    };
    assert!(String::from_utf8_lossy(body).contains("a=sendrecv"));
}

#[test]
fn we_refresh_at_half_the_interval() {
    let t0 = Instant::now();
    let mut leg = confirmed_outgoing(t0, &[("Session-Expires", "90;refresher=uac")]);
    assert_eq!(leg.poll_timeout(), Some(t0 + Duration::from_secs(45)));
    leg.handle_timeout(t0 + Duration::from_secs(44));
    assert!(actions(&mut leg).is_empty());
    let t1 = t0 + Duration::from_secs(45);
    leg.handle_timeout(t1);
    let acts = actions(&mut leg);
    let [Action::Reinvite { headers, body }] = &acts[..] else {
        panic!("{acts:?}")
    };
    assert_eq!(header(headers, "Session-Expires"), Some("90;refresher=uac"));
    assert_eq!(body, &our_sdp(), "a refresh re-sends our last SDP");
    let t2 = t1 + Duration::from_millis(200);
    leg.handle(
        t2,
        Input::ReinviteFinal(resp(
            200,
            &[("Session-Expires", "90;refresher=uac")],
            their_sdp(4000, "sendrecv", 0),
        )),
    );
    assert!(events(&mut leg).is_empty(), "a refresh is no media change");
    assert_eq!(leg.poll_timeout(), Some(t2 + Duration::from_secs(45)));
}

#[test]
fn their_refresh_postpones_our_bye() {
    let t0 = Instant::now();
    let mut leg = confirmed_outgoing(t0, &[("Session-Expires", "90;refresher=uas")]);
    assert_eq!(leg.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    let t1 = t0 + Duration::from_secs(45);
    leg.handle(
        t1,
        request(
            1,
            Method::Update,
            &[
                ("Supported", "timer"),
                ("Session-Expires", "90;refresher=uac"),
            ],
            Vec::new(),
        ),
    );
    let acts = actions(&mut leg);
    let [Action::Reply {
        code: 200, headers, ..
    }] = &acts[..]
    else {
        panic!("{acts:?}")
    };
    assert_eq!(header(headers, "Session-Expires"), Some("90;refresher=uac"));
    assert_eq!(leg.poll_timeout(), Some(t1 + Duration::from_secs(60)));
    leg.handle_timeout(t1 + Duration::from_secs(60));
    assert_eq!(actions(&mut leg), vec![Action::Bye, Action::Done]);
}

#[test]
fn a_missing_ack_answer_releases_the_pending_offer() {
    let t0 = Instant::now();
    let mut leg = confirmed_outgoing(t0, &[]);
    leg.handle(t0, request(5, Method::Invite, &[], Vec::new()));
    actions(&mut leg);
    // Another re-INVITE before the ACK: 500 with Retry-After.
    leg.handle(
        t0,
        request(6, Method::Invite, &[], their_sdp(4000, "sendrecv", 0)),
    );
    assert!(matches!(
        &actions(&mut leg)[..],
        [Action::Reply { code: 500, .. }]
    ));
    // An ACK without a body (no usable answer) releases the pending offer
    // (no ACK at all is `Input::RequestUnacked`: see dialog_tests.rs).
    leg.handle(
        t0,
        Input::RequestAcked {
            id: RequestId(5),
            sdp: Vec::new(),
        },
    );
    assert!(events(&mut leg).is_empty());
    leg.handle(
        t0,
        request(7, Method::Invite, &[], their_sdp(4000, "sendrecv", 0)),
    );
    assert!(matches!(
        &actions(&mut leg)[..],
        [Action::Reply { code: 200, .. }]
    ));
}
