//! REFER/NOTIFY logic on a virtual clock: table-driven.

use super::*;

#[test]
fn sipfrag_status_lines() {
    let cases: &[(&[u8], Result<(u16, &str), ReferError>)] = &[
        (b"SIP/2.0 100 Trying\r\n", Ok((100, "Trying"))),
        (b"SIP/2.0 200 OK", Ok((200, "OK"))),
        (b"\r\nSIP/2.0 180 Ringing\r\n", Ok((180, "Ringing"))),
        (
            b"SIP/2.0 503 Service Unavailable\r\nRetry-After: 5\r\n\r\n",
            Ok((503, "Service Unavailable")),
        ),
        (b"SIP/2.0 486", Ok((486, ""))),
        (b"", Err(ReferError::NoStatusLine)),
        (b"INVITE sip:a@b SIP/2.0\r\n", Err(ReferError::NoStatusLine)),
        (b"SIP/2.0 99 Low\r\n", Err(ReferError::BadCode)),
        (b"SIP/2.0 700 High\r\n", Err(ReferError::BadCode)),
        (b"SIP/2.0 2000 Long\r\n", Err(ReferError::BadCode)),
        (b"SIP/2.0 abc X\r\n", Err(ReferError::BadCode)),
        (b"\xff\xfe", Err(ReferError::NoStatusLine)),
    ];
    for (body, want) in cases {
        let got = parse_sipfrag(body).map(|s| {
            let (c, r) = s.into_parts();
            (c, r)
        });
        let want = want.clone().map(|(c, r)| (c, r.to_string()));
        assert_eq!(got, want, "{:?}", String::from_utf8_lossy(body));
    }
}

#[test]
fn sipfrag_body_round_trips_and_drops_control_characters() {
    let b = sipfrag_body(&SipStatus::new(486, "Busy\r\nX-Evil: 1"));
    assert_eq!(b, b"SIP/2.0 486 Busy\r\n");
    let s = parse_sipfrag(&sipfrag_body(&SipStatus::new(200, "OK"))).unwrap();
    assert_eq!(s, SipStatus::new(200, "OK"));
}

#[test]
fn subscription_states() {
    let cases = [
        ("active;expires=60", Some(SubscriptionState::Active)),
        ("Pending", Some(SubscriptionState::Pending)),
        (
            "terminated;reason=noresource",
            Some(SubscriptionState::Terminated),
        ),
        (" TERMINATED ", Some(SubscriptionState::Terminated)),
        ("bogus", None),
        ("", None),
    ];
    for (v, want) in cases {
        assert_eq!(SubscriptionState::parse(v), want, "{v:?}");
    }
}

#[test]
fn refer_to_targets() {
    let cases: &[(&str, Result<&str, ReferError>)] = &[
        ("<sip:carol@127.0.0.1:5070>", Ok("sip:carol@127.0.0.1:5070")),
        ("sip:carol@example.com", Ok("sip:carol@example.com")),
        (
            "\"Carol\" <sip:carol@example.com;transport=tcp>;x=1",
            Ok("sip:carol@example.com;transport=tcp"),
        ),
        ("sip:carol@example.com;x=1", Ok("sip:carol@example.com")),
        // Headers are kept for DialUri::parse to refuse.
        (
            "<sip:carol@example.com?Replaces=abc%3Bto-tag%3D1>",
            Ok("sip:carol@example.com?Replaces=abc%3Bto-tag%3D1"),
        ),
        ("", Err(ReferError::NoReferTo)),
        ("   ", Err(ReferError::NoReferTo)),
        ("<tel:+15551234>", Err(ReferError::BadReferTo)),
        ("<sips:carol@example.com>", Err(ReferError::BadReferTo)),
        ("https://example.com/", Err(ReferError::BadReferTo)),
        ("<sip:carol@example.com", Err(ReferError::BadReferTo)),
    ];
    for (v, want) in cases {
        let want = want.clone().map(str::to_string);
        assert_eq!(refer_to_target(v), want, "{v:?}");
    }
    assert_eq!(refer_to_target(&"x".repeat(5000)), Err(ReferError::TooLong));
}

/// Compares only codes and `done` (reasons are the peer's).
fn codes(p: Option<TransferProgress>) -> Option<(u16, bool)> {
    p.map(|p| (p.status.code(), p.done))
}

#[test]
fn transferor_reports_the_refer_answer_and_notifies() {
    let t0 = Instant::now();
    // (REFER answer, NOTIFYs (sipfrag, Subscription-State), expected reports)
    type Case = (
        Option<u16>,
        Vec<(&'static [u8], Option<&'static str>)>,
        Vec<Option<(u16, bool)>>,
    );
    let cases: Vec<Case> = vec![
        // The usual success: 202, 100 Trying, 200 OK terminated.
        (
            Some(202),
            vec![
                (b"SIP/2.0 100 Trying", Some("active;expires=60")),
                (b"SIP/2.0 200 OK", Some("terminated;reason=noresource")),
            ],
            vec![Some((202, false)), Some((100, false)), Some((200, true))],
        ),
        // The target is busy.
        (
            Some(202),
            vec![(b"SIP/2.0 486 Busy Here", Some("terminated"))],
            vec![Some((202, false)), Some((486, true))],
        ),
        // REFER refused: done at once; later NOTIFYs change nothing.
        (
            Some(403),
            vec![(b"SIP/2.0 200 OK", Some("terminated"))],
            vec![Some((403, true)), None],
        ),
        // REFER timed out.
        (None, vec![], vec![Some((408, true))]),
        // Terminated without a final status: 487.
        (
            Some(202),
            vec![(b"SIP/2.0 180 Ringing", Some("terminated;reason=timeout"))],
            vec![Some((202, false)), Some((487, true))],
        ),
        // A final status in an active subscription still ends it.
        (
            Some(202),
            vec![(b"SIP/2.0 200 OK", Some("active"))],
            vec![Some((202, false)), Some((200, true))],
        ),
    ];
    for (answer, notifies, want) in cases {
        let mut t = Transferor::new(t0);
        let mut got = vec![codes(t.on_response(answer.map(|c| SipStatus::new(c, ""))))];
        for (body, state) in &notifies {
            got.push(codes(t.on_notify(body, *state).unwrap()));
        }
        assert_eq!(got, want, "answer {answer:?}, notifies {notifies:?}");
        assert!(t.is_done());
        assert_eq!(t.poll_timeout(), None);
    }
}

#[test]
fn transferor_notify_before_the_202_and_bad_bodies() {
    let t0 = Instant::now();
    let mut t = Transferor::new(t0);
    assert_eq!(
        codes(t.on_notify(b"SIP/2.0 100 Trying", Some("active")).unwrap()),
        Some((100, false))
    );
    // The 202 arriving late is no longer news.
    assert_eq!(t.on_response(Some(SipStatus::new(202, "Accepted"))), None);
    assert_eq!(
        t.on_notify(b"garbage", Some("active")),
        Err(ReferError::NoStatusLine)
    );
    assert!(!t.is_done());
}

#[test]
fn transferor_times_out_on_the_virtual_clock() {
    let t0 = Instant::now();
    let mut t = Transferor::new(t0);
    assert_eq!(
        codes(t.on_response(Some(SipStatus::new(202, "Accepted")))),
        Some((202, false))
    );
    assert_eq!(t.poll_timeout(), Some(t0 + TRANSFER_TIMEOUT));
    assert_eq!(
        t.handle_timeout(t0 + TRANSFER_TIMEOUT - Duration::from_millis(1)),
        None
    );
    assert_eq!(
        codes(t.handle_timeout(t0 + TRANSFER_TIMEOUT)),
        Some((408, true))
    );
    assert_eq!(t.handle_timeout(t0 + TRANSFER_TIMEOUT * 2), None);
}

#[test]
fn transferee_refer_checks() {
    let t0 = Instant::now();
    let cases: &[(Option<&str>, Result<&str, u16>)] = &[
        (
            Some("<sip:carol@127.0.0.1:5070>"),
            Ok("sip:carol@127.0.0.1:5070"),
        ),
        (None, Err(400)),
        (Some(""), Err(400)),
        (Some("<tel:+15551234>"), Err(400)),
        (Some("<mailto:a@b>"), Err(400)),
    ];
    for (refer_to, want) in cases {
        let mut t = Transferee::default();
        let got = match t.on_refer(t0, *refer_to) {
            ReferIn::Ask { target, .. } => Ok(target),
            ReferIn::Refuse(s) => Err(s.code()),
        };
        assert_eq!(got, want.map(str::to_string), "{refer_to:?}");
        assert_eq!(t.is_deciding(), want.is_ok());
    }
}

#[test]
fn transferee_accepts_notifies_and_allows_one_transfer_at_a_time() {
    let t0 = Instant::now();
    let mut t = Transferee::default();
    assert!(matches!(
        t.on_refer(t0, Some("<sip:carol@127.0.0.1>")),
        ReferIn::Ask { .. }
    ));
    // A second REFER while the first is undecided: 491.
    assert_eq!(
        t.on_refer(t0, Some("<sip:dave@127.0.0.1>")),
        ReferIn::Refuse(SipStatus::new(491, "Request Pending"))
    );
    let (answer, notify) = t.decide(202).unwrap();
    assert_eq!(answer.code(), 202);
    let notify = notify.unwrap();
    assert_eq!(notify.body, b"SIP/2.0 100 Trying\r\n");
    assert_eq!(notify.subscription_state, "active;expires=120");
    // Still one at a time while notifying.
    assert!(matches!(
        t.on_refer(t0, Some("<sip:dave@127.0.0.1>")),
        ReferIn::Refuse(_)
    ));
    let ringing = t.progress(&SipStatus::new(180, "Ringing"), false).unwrap();
    assert_eq!(ringing.subscription_state, "active;expires=120");
    let last = t.progress(&SipStatus::new(200, "OK"), true).unwrap();
    assert_eq!(last.body, b"SIP/2.0 200 OK\r\n");
    assert_eq!(last.subscription_state, "terminated;reason=noresource");
    assert_eq!(t.progress(&SipStatus::new(200, "OK"), true), None);
    // Finished: a new REFER is considered again.
    assert!(matches!(
        t.on_refer(t0, Some("<sip:dave@127.0.0.1>")),
        ReferIn::Ask { .. }
    ));
}

#[test]
fn transferee_refusals_and_decision_timeout() {
    let t0 = Instant::now();
    for (code, want) in [(403, 403), (400, 400), (480, 480), (100, 500), (999, 500)] {
        let mut t = Transferee::default();
        t.on_refer(t0, Some("sip:carol@127.0.0.1"));
        let (answer, notify) = t.decide(code).unwrap();
        assert_eq!((answer.code(), notify), (want, None), "{code}");
        assert!(!t.is_deciding());
        assert_eq!(t.decide(202), None);
    }
    let mut t = Transferee::default();
    t.on_refer(t0, Some("sip:carol@127.0.0.1"));
    assert_eq!(t.poll_timeout(), Some(t0 + DECISION_TIMEOUT));
    assert_eq!(t.handle_timeout(t0), None);
    assert_eq!(
        t.handle_timeout(t0 + DECISION_TIMEOUT).map(|s| s.code()),
        Some(500)
    );
    assert_eq!(t.poll_timeout(), None);
    assert_eq!(t.decide(202), None);
}

// ---- the transfer inside a CallLeg (what the driver is asked to do) ----

mod leg {
    use std::time::{Duration, Instant};

    use super::super::super::types::{Command, FinalResponse, InDialogRequest, Input, Method};
    use super::super::super::{Action, CallLeg, LegConfig, Phase, RequestId};
    use super::super::{TransferCommand, DECISION_TIMEOUT, TRANSFER_TIMEOUT};
    use crate::sip::event::{SipEvent, SipStatus};
    use crate::sip::sdp::Codec;

    fn confirmed(t0: Instant) -> CallLeg {
        let cfg = LegConfig {
            codecs: vec![Codec::Pcmu],
            srtp: Default::default(),
            session_expires_s: 1800,
            invite_timeout: Duration::from_secs(120),
            replaces: None,
        };
        let mut leg = CallLeg::outgoing(t0, cfg, Vec::new(), 7);
        while leg.poll_action().is_some() {}
        leg.handle(
            t0,
            Input::InviteFinal(FinalResponse {
                status: SipStatus::new(200, "OK"),
                headers: Vec::new(),
                body: Vec::new(),
            }),
        );
        assert!(matches!(leg.phase(), Phase::Confirmed(_)));
        while leg.poll_event().is_some() {}
        leg
    }

    fn drain(leg: &mut CallLeg) -> (Vec<Action>, Vec<SipEvent>) {
        (
            std::iter::from_fn(|| leg.poll_action()).collect(),
            std::iter::from_fn(|| leg.poll_event()).collect(),
        )
    }

    fn req(id: u64, method: Method, headers: &[(&str, &str)], body: &[u8]) -> Input {
        Input::Request(InDialogRequest {
            id: RequestId(id),
            method,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
        })
    }

    fn replies(actions: &[Action]) -> Vec<(u64, u16)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Reply { id, code, .. } => Some((id.0, *code)),
                _ => None,
            })
            .collect()
    }

    fn progress(events: &[SipEvent]) -> Vec<(u16, bool)> {
        events
            .iter()
            .filter_map(|e| match e {
                SipEvent::TransferProgress { status, done } => Some((status.code(), *done)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn our_refer_then_notifies_answered_200() {
        let t0 = Instant::now();
        let mut leg = confirmed(t0);
        leg.handle(
            t0,
            Input::Command(Command::Transfer(TransferCommand::Refer(
                "sip:carol@127.0.0.1".into(),
            ))),
        );
        let (acts, _) = drain(&mut leg);
        assert_eq!(
            acts,
            vec![Action::Refer {
                target: "sip:carol@127.0.0.1".into()
            }]
        );
        leg.handle(t0, Input::ReferFinal(Some(SipStatus::new(202, "Accepted"))));
        let notify = |id, frag: &[u8], state| {
            req(
                id,
                Method::Notify,
                &[("Event", "refer;id=1"), ("Subscription-State", state)],
                frag,
            )
        };
        leg.handle(
            t0,
            notify(1, b"SIP/2.0 100 Trying\r\n", "active;expires=60"),
        );
        leg.handle(t0, notify(2, b"garbage", "active"));
        leg.handle(t0, notify(3, b"SIP/2.0 200 OK\r\n", "terminated"));
        let (acts, evs) = drain(&mut leg);
        assert_eq!(replies(&acts), vec![(1, 200), (2, 400), (3, 200)]);
        assert_eq!(
            progress(&evs),
            vec![(202, false), (100, false), (200, true)]
        );
        // A NOTIFY of another package: 489; the call is still up.
        leg.handle(
            t0,
            req(
                4,
                Method::Notify,
                &[("Event", "dialog"), ("Subscription-State", "active")],
                b"",
            ),
        );
        assert_eq!(replies(&drain(&mut leg).0), vec![(4, 489)]);
        assert!(matches!(leg.phase(), Phase::Confirmed(_)));
    }

    #[test]
    fn notify_without_our_refer_is_481_and_refer_times_out() {
        let t0 = Instant::now();
        let mut leg = confirmed(t0);
        leg.handle(
            t0,
            req(1, Method::Notify, &[("Event", "refer")], b"SIP/2.0 200 OK"),
        );
        assert_eq!(replies(&drain(&mut leg).0), vec![(1, 481)]);
        leg.handle(
            t0,
            Input::Command(Command::Transfer(TransferCommand::Refer(
                "sip:carol@127.0.0.1".into(),
            ))),
        );
        drain(&mut leg);
        // A second transfer while one is open is refused at once.
        leg.handle(
            t0,
            Input::Command(Command::Transfer(TransferCommand::Refer(
                "sip:dave@127.0.0.1".into(),
            ))),
        );
        let (acts, evs) = drain(&mut leg);
        assert!(acts.is_empty());
        assert_eq!(progress(&evs), vec![(491, true)]);
        leg.handle(t0, Input::ReferFinal(Some(SipStatus::new(202, "Accepted"))));
        drain(&mut leg);
        assert!(leg
            .poll_timeout()
            .is_some_and(|t| t <= t0 + TRANSFER_TIMEOUT));
        leg.handle_timeout(t0 + TRANSFER_TIMEOUT);
        assert_eq!(progress(&drain(&mut leg).1), vec![(408, true)]);
    }

    #[test]
    fn far_end_refer_accepted_notifies_and_byes_after_the_final_notify() {
        let t0 = Instant::now();
        let mut leg = confirmed(t0);
        leg.handle(
            t0,
            req(
                1,
                Method::Refer,
                &[("Refer-To", "\"Carol\" <sip:carol@127.0.0.1:5070>")],
                b"",
            ),
        );
        let (acts, evs) = drain(&mut leg);
        assert!(
            acts.is_empty(),
            "the REFER waits for the connection: {acts:?}"
        );
        assert_eq!(
            evs,
            vec![SipEvent::Referred {
                target: "sip:carol@127.0.0.1:5070".into(),
                replaces: None,
            }]
        );
        // One at a time.
        leg.handle(
            t0,
            req(
                2,
                Method::Refer,
                &[("Refer-To", "<sip:dave@127.0.0.1>")],
                b"",
            ),
        );
        assert_eq!(replies(&drain(&mut leg).0), vec![(2, 491)]);
        leg.handle(
            t0,
            Input::Command(Command::Transfer(TransferCommand::Decide(202))),
        );
        let (acts, _) = drain(&mut leg);
        assert_eq!(replies(&acts), vec![(1, 202)]);
        assert!(
            matches!(&acts[1], Action::Notify { body, subscription_state }
            if body == b"SIP/2.0 100 Trying\r\n" && subscription_state.starts_with("active"))
        );
        leg.handle(
            t0,
            Input::Command(Command::Transfer(TransferCommand::Progress {
                status: SipStatus::new(200, "OK"),
                done: true,
            })),
        );
        let (acts, evs) = drain(&mut leg);
        assert!(
            matches!(&acts[0], Action::Notify { body, subscription_state }
            if body == b"SIP/2.0 200 OK\r\n" && subscription_state.starts_with("terminated"))
        );
        assert_eq!(acts[1], Action::Bye);
        assert_eq!(evs, vec![SipEvent::Ended { by_remote: false }]);
        assert!(leg.is_ended());
    }

    #[test]
    fn far_end_refer_refused_or_undecided() {
        let t0 = Instant::now();
        let mut leg = confirmed(t0);
        leg.handle(t0, req(1, Method::Refer, &[], b""));
        leg.handle(
            t0,
            req(2, Method::Refer, &[("Refer-To", "<tel:+1555>")], b""),
        );
        assert_eq!(replies(&drain(&mut leg).0), vec![(1, 400), (2, 400)]);
        leg.handle(
            t0,
            req(3, Method::Refer, &[("r", "<sip:carol@10.0.0.1>")], b""),
        );
        drain(&mut leg);
        leg.handle(
            t0,
            Input::Command(Command::Transfer(TransferCommand::Decide(403))),
        );
        let (acts, _) = drain(&mut leg);
        assert_eq!(acts.len(), 1, "no NOTIFY after a refusal: {acts:?}");
        assert_eq!(replies(&acts), vec![(3, 403)]);
        // A REFER nobody decides on: 500 after the decision timeout.
        leg.handle(
            t0,
            req(
                4,
                Method::Refer,
                &[("Refer-To", "<sip:carol@127.0.0.1>")],
                b"",
            ),
        );
        drain(&mut leg);
        leg.handle_timeout(t0 + DECISION_TIMEOUT);
        assert_eq!(replies(&drain(&mut leg).0), vec![(4, 500)]);
        assert!(matches!(leg.phase(), Phase::Confirmed(_)));
    }
}
