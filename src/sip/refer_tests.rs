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
            ReferIn::Ask { target } => Ok(target),
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
