//! Transfer (both directions) and early media in the call state machine,
//! on a virtual clock.

use super::test_support::*;
use super::*;

fn transfers(out: &[Output]) -> Vec<(&'static str, Option<u16>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Transfer(t) => Some((t.status.as_str(), t.sip_code)),
            _ => None,
        })
        .collect()
}

/// A connected outgoing call; returns its Call-ID.
fn connected(c: &mut Controller, now: Instant) -> String {
    let id = dial_bob(c, now);
    c.handle_sip(now, &id, SipEvent::Answered { sdp: vec![] });
    drain(c);
    id
}

fn progress(code: u16, done: bool) -> SipEvent {
    SipEvent::TransferProgress {
        status: SipStatus::new(code, "x"),
        done,
    }
}

#[test]
fn transfer_checks_the_uri_like_dial() {
    let t0 = Instant::now();
    // (state: connected?, uri, expected _error code or None for success)
    let cases: &[(bool, Option<&str>, Option<&str>)] = &[
        (true, Some("sip:carol@127.0.0.1:5070"), None),
        (true, None, Some("Sono.Call.NoUri")),
        (true, Some(""), Some("Sono.Call.NoUri")),
        (true, Some("tel:+1555"), Some("Sono.Call.NoUri")),
        (
            true,
            Some("sip:carol@evil.example"),
            Some("Sono.Call.Forbidden"),
        ),
        (false, Some("sip:carol@127.0.0.1"), Some("Sono.Call.Failed")),
    ];
    for (is_connected, uri, want) in cases {
        let mut c = controller();
        if *is_connected {
            connected(&mut c, t0);
        }
        c.handle_transfer(t0, 9.0, *uri);
        let out = drain(&mut c);
        let got = out.iter().find_map(|o| match o {
            Output::Error { code, .. } => Some(*code),
            _ => None,
        });
        assert_eq!(got, *want, "{uri:?}: {out:?}");
        let referred = out.iter().any(|o| matches!(o, Output::Refer { .. }));
        assert_eq!(referred, want.is_none(), "{uri:?}");
    }
}

#[test]
fn transfer_success_reports_progress_then_ends_with_bye() {
    let t0 = Instant::now();
    let mut c = controller();
    let id = connected(&mut c, t0);
    c.handle_transfer(t0, 9.0, Some("sip:carol@127.0.0.1:5070"));
    let out = drain(&mut c);
    assert!(matches!(out[0], Output::Result { txn } if txn == 9.0));
    match &out[1] {
        Output::Refer { call_id, target } => {
            assert_eq!(call_id, &id);
            assert_eq!(target.canonical(), "sip:carol@127.0.0.1:5070");
        }
        o => panic!("{o:?}"),
    }
    // One transfer at a time.
    c.handle_transfer(t0, 10.0, Some("sip:dave@127.0.0.1"));
    assert!(matches!(
        drain(&mut c)[..],
        [Output::Error {
            code: "Sono.Call.Failed",
            ..
        }]
    ));
    c.handle_sip(t0, &id, progress(202, false));
    c.handle_sip(t0, &id, progress(100, false));
    assert_eq!(
        transfers(&drain(&mut c)),
        vec![("accepted", Some(202)), ("trying", Some(100))]
    );
    c.handle_sip(t0, &id, progress(200, true));
    let out = drain(&mut c);
    assert_eq!(transfers(&out), vec![("succeeded", Some(200))]);
    assert!(out.iter().any(|o| matches!(o, Output::Hangup { .. })));
    assert_eq!(statuses(&out), vec![(3, None)]);
    c.handle_sip(t0, &id, SipEvent::Ended { by_remote: false });
    let out = drain(&mut c);
    assert_eq!(statuses(&out), vec![(0, Some(200))]);
    let reason = out.iter().find_map(|o| match o {
        Output::Status(s) => s.reason.clone(),
        _ => None,
    });
    assert_eq!(reason.as_deref(), Some("Transferred"));
}

#[test]
fn transfer_failure_keeps_the_call_and_allows_another() {
    let t0 = Instant::now();
    let mut c = controller();
    let id = connected(&mut c, t0);
    for (steps, want) in [
        (vec![progress(403, true)], vec![("failed", Some(403))]),
        (
            vec![progress(202, false), progress(486, true)],
            vec![("accepted", Some(202)), ("failed", Some(486))],
        ),
    ] {
        c.handle_transfer(t0, 9.0, Some("sip:carol@127.0.0.1"));
        drain(&mut c);
        for ev in steps {
            c.handle_sip(t0, &id, ev);
        }
        let out = drain(&mut c);
        assert_eq!(transfers(&out), want);
        assert!(statuses(&out).is_empty(), "the call stays up: {out:?}");
        assert_eq!(c.call_id(), Some(id.as_str()));
    }
    // Progress with no transfer open is ignored.
    c.handle_sip(t0, &id, progress(200, true));
    assert!(drain(&mut c).is_empty());
}

#[test]
fn far_end_refer_is_checked_like_a_dial() {
    let t0 = Instant::now();
    let cases: &[(&str, ReferDecision)] = &[
        ("sip:carol@127.0.0.1:5070", ReferDecision::Accept),
        ("sip:carol@evil.example", ReferDecision::Refuse(403)),
        ("sip:carol@127.0.0.1?Replaces=x", ReferDecision::Refuse(400)),
        ("sip:", ReferDecision::Refuse(400)),
    ];
    for (target, want) in cases {
        let mut c = controller();
        let id = connected(&mut c, t0);
        assert_eq!(c.handle_referred(t0, &id, target), *want, "{target}");
        let out = drain(&mut c);
        let invites = out
            .iter()
            .filter(|o| matches!(o, Output::Invite { .. }))
            .count();
        assert_eq!(
            invites,
            usize::from(*want == ReferDecision::Accept),
            "{target}"
        );
        if *want != ReferDecision::Accept {
            assert!(out.is_empty(), "{out:?}");
            assert_eq!(c.call_id(), Some(id.as_str()));
        }
    }
    // Not for an unknown call.
    let mut c = controller();
    connected(&mut c, t0);
    assert_eq!(
        c.handle_referred(t0, "other", "sip:carol@127.0.0.1"),
        ReferDecision::Refuse(481)
    );
}

#[test]
fn accepted_refer_ends_the_old_call_and_dials_the_target() {
    let t0 = Instant::now();
    let mut c = controller();
    let old = connected(&mut c, t0);
    assert_eq!(
        c.handle_referred(t0, &old, "sip:carol@127.0.0.1:5070"),
        ReferDecision::Accept
    );
    let out = drain(&mut c);
    let Output::Transfer(ev) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(ev.call_id, old);
    assert_eq!(ev.status, TransferStatus::Accepted);
    assert_eq!(ev.target.as_deref(), Some("sip:carol@127.0.0.1:5070"));
    let Output::TransferLeg {
        old_call_id,
        new_call_id,
    } = &out[1]
    else {
        panic!("{out:?}")
    };
    assert_eq!(old_call_id, &old);
    assert_ne!(new_call_id, &old);
    assert_eq!(statuses(&out), vec![(0, Some(200)), (1, None)]);
    assert!(matches!(&out[4], Output::Invite { call_id, target }
        if call_id == new_call_id && target.canonical() == "sip:carol@127.0.0.1:5070"));
    assert_eq!(c.call_id(), Some(new_call_id.as_str()));
    // The old call's late events are stale now.
    c.handle_sip(t0, &old, SipEvent::Ended { by_remote: true });
    assert!(drain(&mut c).is_empty());
    // The new call runs as usual.
    c.handle_sip(t0, new_call_id, SipEvent::Answered { sdp: vec![] });
    assert_eq!(statuses(&drain(&mut c)), vec![(2, Some(200)), (4, None)]);
}

#[test]
fn early_media_connects_streams_before_the_answer() {
    let t0 = Instant::now();
    let mut c = controller();
    let id = dial_bob(&mut c, t0);
    c.handle_early_media(t0, &id, SipStatus::new(183, "Session Progress"));
    let out = drain(&mut c);
    let (publish, play) = match &out[..] {
        [Output::ConnectStreams { publish, play, .. }, Output::Status(s)] => {
            assert_eq!((s.status as u8, s.sip_code), (1, Some(183)));
            assert_eq!(s.early_media, Some(true));
            assert_eq!(s.publish.as_ref(), Some(publish));
            assert_eq!(s.play.as_ref(), Some(play));
            (publish.clone(), play.clone())
        }
        o => panic!("{o:?}"),
    };
    // A second 18x with SDP: just a status, still early media.
    c.handle_early_media(t0, &id, SipStatus::new(180, "Ringing"));
    let out = drain(&mut c);
    assert_eq!(statuses(&out), vec![(1, Some(180))]);
    assert!(matches!(&out[0], Output::Status(s) if s.early_media == Some(true)));
    // The answer: 2 and 4 with the same names, streams not connected twice.
    c.handle_sip(t0, &id, SipEvent::Answered { sdp: vec![] });
    let out = drain(&mut c);
    assert_eq!(statuses(&out), vec![(2, Some(200)), (4, None)]);
    assert!(!out
        .iter()
        .any(|o| matches!(o, Output::ConnectStreams { .. })));
    assert!(out.iter().any(|o| matches!(o, Output::Status(s)
        if s.publish.as_ref() == Some(&publish) && s.play.as_ref() == Some(&play))));
}

#[test]
fn early_media_then_failure_releases_the_call() {
    let t0 = Instant::now();
    let mut c = controller();
    let id = dial_bob(&mut c, t0);
    c.handle_early_media(t0, &id, SipStatus::new(183, "Session Progress"));
    drain(&mut c);
    c.handle_sip(t0, &id, SipEvent::Failed(SipStatus::new(486, "Busy Here")));
    let out = drain(&mut c);
    assert!(matches!(out[0], Output::Release { .. }));
    assert_eq!(statuses(&out), vec![(0, Some(486))]);
    // Early media for another call is ignored.
    c.handle_early_media(t0, "nope", SipStatus::new(183, "x"));
    assert!(drain(&mut c).is_empty());
}

#[test]
fn attended_refer_is_checked_like_a_dial_and_carries_replaces() {
    // (target, Replaces) -> decision, and the INVITE's Replaces.
    let t0 = Instant::now();
    let r = "a@h;to-tag=1;from-tag=2";
    let cases: &[(&str, Option<&str>, ReferDecision)] = &[
        ("sip:carol@127.0.0.1", Some(r), ReferDecision::Accept),
        ("sip:carol@127.0.0.1", None, ReferDecision::Accept),
        // Outside `[policy] dial_allow`: 403 with or without Replaces.
        (
            "sip:carol@evil.example",
            Some(r),
            ReferDecision::Refuse(403),
        ),
        ("tel:+1555", Some(r), ReferDecision::Refuse(400)),
    ];
    for (target, replaces, want) in cases {
        let mut c = controller();
        let id = connected(&mut c, t0);
        let got = c.handle_referred_replacing(t0, &id, target, replaces.map(str::to_string));
        assert_eq!(got, *want, "{target}");
        let out = drain(&mut c);
        let invite = out.iter().find_map(|o| match o {
            Output::Invite { target, .. } => Some(target.clone()),
            _ => None,
        });
        match want {
            ReferDecision::Accept => {
                let t = invite.expect("an INVITE");
                assert_eq!(t.replaces(), *replaces, "{target}");
                // Replaces never reaches the Request-URI or the policy form.
                assert_eq!(t.wire(), *target);
            }
            _ => assert!(invite.is_none(), "{target}"),
        }
    }
}
