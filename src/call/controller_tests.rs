//! Scenario tests of the call state machine on a virtual clock.

use super::test_support::*;
use super::*;

fn dial(c: &mut Controller, now: Instant, uri: &str) -> String {
    c.handle_dial(now, 2.0, Some(uri), true);
    let out = drain(c);
    assert_eq!(statuses(&out), vec![(1, None)], "{out:?}");
    invite_id(&out).expect("an Invite output")
}

#[test]
fn full_call_answer_and_local_hangup() {
    let t0 = Instant::now();
    let mut c = controller();
    let id = dial(&mut c, t0, "sip:bob@127.0.0.1:5090");
    assert_eq!(id.len(), 32);
    c.handle_sip(
        t0,
        &id,
        SipEvent::Progress {
            status: SipStatus::new(180, "Ringing"),
            sdp: None,
        },
    );
    assert_eq!(statuses(&drain(&mut c)), vec![(1, Some(180))]);
    c.handle_sip(t0, &id, SipEvent::Answered { sdp: vec![] });
    let out = drain(&mut c);
    assert_eq!(statuses(&out), vec![(2, Some(200)), (4, None)]);
    let (publish, play) = out
        .iter()
        .find_map(|o| match o {
            Output::Status(s) if s.status == StatusCode::ConnectStreams => {
                Some((s.publish.clone().unwrap(), s.play.clone().unwrap()))
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(publish.len(), 32, "128 random bits in hex");
    assert_ne!(publish, play);
    assert!(out.contains(&Output::ConnectStreams {
        call_id: id.clone(),
        publish,
        play
    }));
    c.handle_hangup(t0, 3.0);
    let out = drain(&mut c);
    assert_eq!(out[0], Output::Result { txn: 3.0 });
    assert_eq!(statuses(&out), vec![(3, None)]);
    assert!(out.contains(&Output::Hangup {
        call_id: id.clone()
    }));
    c.handle_sip(t0, &id, SipEvent::Ended { by_remote: false });
    let out = drain(&mut c);
    assert_eq!(statuses(&out), vec![(0, Some(200))]);
    assert!(out.contains(&Output::Release { call_id: id }));
    assert!(!c.has_call());
}

#[test]
fn dial_errors() {
    let t0 = Instant::now();
    let mut c = controller();
    let code = |c: &mut Controller| match drain(c).first() {
        Some(Output::Error { code, .. }) => *code,
        other => panic!("expected _error, got {other:?}"),
    };
    c.handle_dial(t0, 1.0, None, true);
    assert_eq!(code(&mut c), "Sono.Call.NoUri");
    c.handle_dial(t0, 1.0, Some(""), true);
    assert_eq!(code(&mut c), "Sono.Call.NoUri");
    c.handle_dial(t0, 1.0, Some("sip:bob@10.0.0.1"), true);
    assert_eq!(code(&mut c), "Sono.Call.Forbidden");
    c.handle_dial(t0, 1.0, Some("sip:bob@127.0.0.1"), false);
    assert_eq!(code(&mut c), "Sono.Call.Failed");
    dial(&mut c, t0, "sip:bob@127.0.0.1");
    c.handle_dial(t0, 1.0, Some("sip:bob@127.0.0.1"), true);
    assert_eq!(code(&mut c), "Sono.Call.Existing");
}

fn error_of(c: &mut Controller) -> (&'static str, String) {
    match drain(c).first() {
        Some(Output::Error {
            code, description, ..
        }) => (*code, description.clone()),
        other => panic!("expected _error, got {other:?}"),
    }
}

#[test]
fn client_policy_narrows_the_gateway_policy() {
    let t0 = Instant::now();
    let mut c = controller();
    c.narrow_dial_policy(
        DialPolicy::parse(&["sip:alice@*".into(), "sip:*@10.0.0.1".into()]).unwrap(),
    );
    // Allowed by the gateway, not by the token.
    c.handle_dial(t0, 1.0, Some("sip:bob@127.0.0.1"), true);
    let (code, why) = error_of(&mut c);
    assert_eq!(code, "Sono.Call.Forbidden");
    assert!(why.contains("`dial` claim"), "{why}");
    // Allowed by the token, not by the gateway: the gateway's reason.
    c.handle_dial(t0, 1.0, Some("sip:bob@10.0.0.1"), true);
    let (code, why) = error_of(&mut c);
    assert_eq!(code, "Sono.Call.Forbidden");
    assert!(why.contains("gateway's dial policy"), "{why}");
    // Allowed by both.
    dial(&mut c, t0, "sip:alice@127.0.0.1");
}

#[test]
fn empty_client_policy_forbids_every_dial() {
    let mut c = controller();
    c.narrow_dial_policy(DialPolicy::default());
    c.handle_dial(Instant::now(), 1.0, Some("sip:echo@127.0.0.1"), true);
    assert_eq!(error_of(&mut c).0, "Sono.Call.Forbidden");
}

#[test]
fn subject_capacity_refuses_with_its_reason() {
    let mut c = controller();
    c.handle_dial(
        Instant::now(),
        1.0,
        Some("sip:bob@127.0.0.1"),
        Capacity::SubjectFull { max: 2 },
    );
    let (code, why) = error_of(&mut c);
    assert_eq!(code, "Sono.Call.Failed");
    assert!(
        why.contains("at most 2") && why.contains("max_calls"),
        "{why}"
    );
    assert!(!c.has_call());
}

#[test]
fn busy_reports_sip_code_and_returns_to_idle() {
    let t0 = Instant::now();
    let mut c = controller();
    let id = dial(&mut c, t0, "sip:bob@127.0.0.1");
    c.handle_sip(t0, &id, SipEvent::Failed(SipStatus::new(486, "Busy Here")));
    let out = drain(&mut c);
    assert_eq!(statuses(&out), vec![(0, Some(486))]);
    assert!(!c.has_call());
    // A new call is possible afterwards.
    dial(&mut c, t0, "sip:bob@127.0.0.1");
}

#[test]
fn hangup_while_ringing_cancels_then_487() {
    let t0 = Instant::now();
    let mut c = controller();
    let id = dial(&mut c, t0, "sip:bob@127.0.0.1");
    c.handle_sip(
        t0,
        &id,
        SipEvent::Progress {
            status: SipStatus::new(180, "Ringing"),
            sdp: None,
        },
    );
    drain(&mut c);
    c.handle_hangup(t0, 4.0);
    let out = drain(&mut c);
    assert_eq!(statuses(&out), vec![(3, None)]);
    c.handle_sip(
        t0,
        &id,
        SipEvent::Failed(SipStatus::new(487, "Request Terminated")),
    );
    assert_eq!(statuses(&drain(&mut c)), vec![(0, Some(487))]);
}

#[test]
fn remote_bye_gives_3_then_0() {
    let t0 = Instant::now();
    let mut c = controller();
    let id = dial(&mut c, t0, "sip:bob@127.0.0.1");
    c.handle_sip(t0, &id, SipEvent::Answered { sdp: vec![] });
    drain(&mut c);
    c.handle_sip(t0, &id, SipEvent::Ended { by_remote: true });
    assert_eq!(statuses(&drain(&mut c)), vec![(3, None), (0, Some(200))]);
}

#[test]
fn rtp_timeout_reports_408_after_bye() {
    let t0 = Instant::now();
    let mut c = controller();
    let id = dial(&mut c, t0, "sip:bob@127.0.0.1");
    c.handle_sip(t0, &id, SipEvent::Answered { sdp: vec![] });
    drain(&mut c);
    c.handle_media_failure(t0, &id, 408, "RTP timeout");
    let out = drain(&mut c);
    assert!(out.contains(&Output::Hangup {
        call_id: id.clone()
    }));
    c.handle_sip(t0, &id, SipEvent::Ended { by_remote: false });
    let out = drain(&mut c);
    let last = out
        .iter()
        .rev()
        .find_map(|o| match o {
            Output::Status(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(last.status, StatusCode::NotConnected);
    assert_eq!(last.sip_code, Some(408));
    assert_eq!(last.reason.as_deref(), Some("RTP timeout"));
}

#[test]
fn ending_guard_times_out_on_virtual_clock() {
    let t0 = Instant::now();
    let mut c = controller();
    let _id = dial(&mut c, t0, "sip:bob@127.0.0.1");
    c.handle_disconnect(t0);
    drain(&mut c);
    let deadline = c.poll_timeout().expect("guard timer");
    assert_eq!(deadline, t0 + ENDING_GUARD);
    c.handle_timeout(t0 + Duration::from_secs(1));
    assert!(c.has_call());
    c.handle_timeout(deadline);
    assert!(!c.has_call());
    assert_eq!(statuses(&drain(&mut c)), vec![(0, Some(408))]);
}

#[test]
fn stale_events_are_ignored() {
    let t0 = Instant::now();
    let mut c = controller();
    let _id = dial(&mut c, t0, "sip:bob@127.0.0.1");
    c.handle_sip(t0, "other", SipEvent::Answered { sdp: vec![] });
    assert!(drain(&mut c).is_empty());
}

#[test]
fn echo_destination_starts_echo_not_invite() {
    let t0 = Instant::now();
    let mut c = controller();
    c.handle_dial(t0, 2.0, Some("sip:echo@gateway"), true);
    let out = drain(&mut c);
    assert!(out.iter().any(|o| matches!(o, Output::StartEcho { .. })));
    assert!(!out.iter().any(|o| matches!(o, Output::Invite { .. })));
}

fn caller(id: &str) -> IncomingCallInfo {
    IncomingCallInfo {
        call_id: id.into(),
        uri: "sip:alice@192.0.2.9".into(),
        display_name: Some("Alice".into()),
        to: "sip:u1@gw".into(),
    }
}

fn ring(c: &mut Controller, now: Instant, id: &str) {
    assert_eq!(
        c.handle_incoming(now, caller(id), true),
        IncomingDecision::Ringing
    );
    let out = drain(c);
    assert_eq!(out, vec![Output::Incoming(caller(id))]);
}

#[test]
fn incoming_accept_then_ack_connects() {
    let t0 = Instant::now();
    let mut c = controller();
    ring(&mut c, t0, "in1");
    c.handle_accept(t0, 5.0);
    let out = drain(&mut c);
    assert_eq!(out[0], Output::Result { txn: 5.0 });
    assert_eq!(
        out[1],
        Output::Accept {
            call_id: "in1".into()
        }
    );
    assert_eq!(statuses(&out), vec![(1, None)]);
    c.handle_sip(t0, "in1", SipEvent::Answered { sdp: vec![] });
    let out = drain(&mut c);
    assert_eq!(statuses(&out), vec![(2, Some(200)), (4, None)]);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::ConnectStreams { .. })));
    // The caller hangs up.
    c.handle_sip(t0, "in1", SipEvent::Ended { by_remote: true });
    assert_eq!(statuses(&drain(&mut c)), vec![(3, None), (0, Some(200))]);
    assert!(!c.has_call());
}

#[test]
fn incoming_reject_uses_the_code_or_603() {
    let t0 = Instant::now();
    let mut c = controller();
    ring(&mut c, t0, "in2");
    c.handle_reject(t0, 6.0, None);
    let out = drain(&mut c);
    assert!(out.contains(&Output::Reject {
        call_id: "in2".into(),
        code: 603
    }));
    assert_eq!(statuses(&out), vec![(0, Some(603))]);
    ring(&mut c, t0, "in3");
    c.handle_reject(t0, 7.0, Some(486));
    assert!(drain(&mut c).contains(&Output::Reject {
        call_id: "in3".into(),
        code: 486
    }));
    // A code outside 4xx-6xx is refused and the call keeps ringing.
    ring(&mut c, t0, "in4");
    c.handle_reject(t0, 8.0, Some(200));
    assert!(matches!(drain(&mut c)[0], Output::Error { txn, .. } if txn == 8.0));
    assert!(c.has_call());
}

#[test]
fn ring_timeout_answers_480() {
    let t0 = Instant::now();
    let mut c = controller();
    ring(&mut c, t0, "in5");
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    c.handle_timeout(t0 + Duration::from_secs(59));
    assert!(drain(&mut c).is_empty());
    c.handle_timeout(t0 + Duration::from_secs(60));
    let out = drain(&mut c);
    assert!(out.contains(&Output::Reject {
        call_id: "in5".into(),
        code: 480
    }));
    assert_eq!(statuses(&out), vec![(0, Some(480))]);
    assert!(!c.has_call());
}

#[test]
fn caller_cancel_ends_the_ringing_call() {
    let t0 = Instant::now();
    let mut c = controller();
    ring(&mut c, t0, "in6");
    c.handle_sip(
        t0,
        "in6",
        SipEvent::Failed(SipStatus::new(487, "Request Terminated")),
    );
    let out = drain(&mut c);
    assert_eq!(statuses(&out), vec![(0, Some(487))]);
    assert!(out.iter().any(|o| matches!(o, Output::Release { .. })));
    assert!(!c.has_call());
}

#[test]
fn busy_and_hangup_while_ringing() {
    let t0 = Instant::now();
    let mut c = controller();
    ring(&mut c, t0, "in7");
    assert_eq!(
        c.handle_incoming(t0, caller("in8"), true),
        IncomingDecision::Busy
    );
    c.handle_hangup(t0, 9.0);
    let out = drain(&mut c);
    assert!(out.contains(&Output::Reject {
        call_id: "in7".into(),
        code: 486
    }));
    assert!(!c.has_call());
    assert_eq!(
        c.handle_incoming(t0, caller("in9"), false),
        IncomingDecision::NoCapacity
    );
    // accept with nothing ringing is an error.
    c.handle_accept(t0, 10.0);
    assert!(matches!(drain(&mut c)[0], Output::Error { .. }));
}
