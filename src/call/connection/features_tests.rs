//! The call features in the connection core, on the scripted driver of
//! `core_tests.rs`: hold/unhold and media changes, our transfer, a far
//! end's REFER and the transferred leg's NOTIFYs, early media, the
//! delayed offer. Each table row: an input, then the effects in order.

use super::*;
use crate::media::codec::{Direction, Negotiated};

/// A negotiated media description with `direction` and remote RTP `port`.
fn negotiated(r: &Rig, direction: Direction, port: u16) -> Negotiated {
    let offer = r.offer.clone().expect("an offer");
    let mut far = far_media();
    far.port = port;
    let mut n = sdp::answer(&offer, &[Codec::Pcmu], &far).expect("answer").1;
    n.direction = direction;
    n
}

fn media_changed(r: &mut Rig, direction: Direction, by_remote: bool) -> Vec<String> {
    let negotiated = negotiated(r, direction, 50000);
    r.sip(SipEvent::MediaChanged {
        negotiated,
        by_remote,
    })
}

fn st(code: u16, reason: &str) -> SipStatus {
    SipStatus::new(code, reason)
}

#[test]
fn hold_reports_only_when_the_hold_state_flips() {
    let mut r = rig_in(Start::Connected);
    assert_eq!(r.invoke("hold", vec![]), ["leg:hold", "result"]);
    let rows: &[(Direction, bool, &[&str])] = &[
        (
            Direction::SendOnly,
            false,
            &["update:SendOnly", "info:Sono.Call.Hold", "held:true:local"],
        ),
        (Direction::SendOnly, false, &["update:SendOnly"]),
        (
            Direction::SendRecv,
            false,
            &["update:SendRecv", "info:Sono.Call.Hold", "held:false:local"],
        ),
        (
            Direction::RecvOnly,
            true,
            &["update:RecvOnly", "info:Sono.Call.Hold", "held:true:remote"],
        ),
        (Direction::Inactive, true, &["update:Inactive"]),
        (
            Direction::SendRecv,
            true,
            &[
                "update:SendRecv",
                "info:Sono.Call.Hold",
                "held:false:remote",
            ],
        ),
        // Each side on its own: the far end holds, then the client holds
        // too (our offer `inactive`), the far end resumes (we answer
        // `sendonly`), the client resumes.
        (
            Direction::RecvOnly,
            true,
            &["update:RecvOnly", "info:Sono.Call.Hold", "held:true:remote"],
        ),
        (
            Direction::Inactive,
            false,
            &["update:Inactive", "info:Sono.Call.Hold", "held:true:local"],
        ),
        (
            Direction::SendOnly,
            true,
            &[
                "update:SendOnly",
                "info:Sono.Call.Hold",
                "held:false:remote",
            ],
        ),
        (
            Direction::SendRecv,
            false,
            &["update:SendRecv", "info:Sono.Call.Hold", "held:false:local"],
        ),
        // A codec change from the far end while nobody holds: no event.
        (Direction::SendRecv, true, &["update:SendRecv"]),
    ];
    for (direction, by_remote, want) in rows {
        assert_eq!(
            media_changed(&mut r, *direction, *by_remote),
            *want,
            "{direction:?} by_remote={by_remote}"
        );
    }
}

#[test]
fn hold_event_fields_and_hold_failed() {
    let mut r = rig_in(Start::Connected);
    let negotiated = negotiated(&r, Direction::RecvOnly, 50000);
    let call_id = r.call_id();
    r.core.handle(
        r.now,
        Input::Sip {
            call_id: call_id.clone(),
            event: SipEvent::MediaChanged {
                negotiated,
                by_remote: true,
            },
        },
    );
    let mut infos = Vec::new();
    while let Some(e) = r.core.poll_effect() {
        if let Effect::Status(v) = e {
            infos.push(v);
        }
    }
    let hold = &infos[0];
    assert_eq!(hold.get("held").and_then(Value::as_bool), Some(true));
    assert_eq!(hold.get("by").and_then(Value::as_str), Some("remote"));
    assert_eq!(
        hold.get("call_id").and_then(Value::as_str),
        Some(call_id.as_str())
    );
    let failed = SipEvent::HoldFailed {
        held: true,
        status: st(488, "Not Acceptable Here"),
    };
    assert_eq!(r.sip(failed), ["info:Sono.Call.HoldFailed"]);
    let stale = Input::Sip {
        call_id: CallId::new("other"),
        event: SipEvent::HoldFailed {
            held: false,
            status: st(491, "Request Pending"),
        },
    };
    assert!(r.feed(stale).is_empty(), "another call's refusal");
}

#[test]
fn hold_queue_full_is_a_failed_invoke() {
    let mut r = rig_in(Start::Connected);
    r.core.handle(
        r.now,
        Input::Session(SessionEvent::Invoke(Invoke {
            name: "hold".into(),
            txn: 9.0,
            object: Value::Null,
            args: vec![],
        })),
    );
    assert!(matches!(r.core.poll_effect(), Some(Effect::SipLeg { .. })));
    let got = r.feed(Input::LegCommandDone {
        txn: 9.0,
        result: Err("too many call commands queued".into()),
    });
    assert_eq!(got, ["error:Sono.Call.Failed"]);
}

#[test]
fn our_transfer_reports_progress_and_hangs_up_on_success() {
    let mut r = rig_in(Start::Connected);
    assert_eq!(
        r.invoke("transfer", vec![s("sip:carol@127.0.0.1")]),
        ["result", "refer:sip:carol@127.0.0.1"]
    );
    assert_eq!(
        r.invoke("transfer", vec![s("sip:carol@127.0.0.1")]),
        ["error:Sono.Call.Failed"],
        "one transfer at a time"
    );
    let rows: &[(u16, bool, &[&str])] = &[
        (202, false, &["info:Sono.Call.Transfer"]),
        (100, false, &["info:Sono.Call.Transfer"]),
        (
            200,
            true,
            &["info:Sono.Call.Transfer", "status3", "sip-hangup"],
        ),
    ];
    for (code, done, want) in rows {
        let ev = SipEvent::TransferProgress {
            status: st(*code, "x"),
            done: *done,
        };
        assert_eq!(r.sip(ev), *want, "{code}");
    }
}

#[test]
fn a_refer_that_cannot_be_sent_fails_the_transfer() {
    let mut r = rig_in(Start::Connected);
    r.invoke("transfer", vec![s("sip:carol@127.0.0.1")]);
    let call_id = r.call_id();
    let got = r.feed(Input::ReferSent {
        call_id,
        sent: false,
    });
    assert_eq!(got, ["info:Sono.Call.Transfer"]);
    assert_eq!(r.core.phase(), CallPhase::Connected, "the call goes on");
    assert_eq!(
        r.invoke("transfer", vec![s("sip:carol@127.0.0.1")]),
        ["result", "refer:sip:carol@127.0.0.1"],
        "a new transfer may start"
    );
}

#[test]
fn a_far_end_refer_is_checked_like_a_dial() {
    let rows: &[(&str, &[&str])] = &[
        ("sip:carol@10.9.9.9", &["refused:dial:policy", "decide:403"]),
        ("sip:carol@127.0.0.1?Replaces=x", &["decide:400"]),
        ("tel:+15551234", &["decide:400"]),
    ];
    for (target, want) in rows {
        let mut r = rig_in(Start::Connected);
        let ev = SipEvent::Referred {
            target: (*target).into(),
            replaces: None,
        };
        assert_eq!(r.sip(ev), *want, "{target}");
        assert_eq!(r.core.phase(), CallPhase::Connected, "{target}");
    }
    // Not the connected call: 481.
    let mut r = rig_in(Start::Dialing);
    let ev = SipEvent::Referred {
        target: "sip:carol@127.0.0.1".into(),
        replaces: None,
    };
    assert_eq!(r.sip(ev), ["decide:481"]);
}

#[test]
fn a_far_end_refer_counts_against_the_dial_rate() {
    let mut r = rig_in(Start::Connected); // one dial of 3
    for _ in 0..2 {
        r.advance(SECOND);
        let id = r.call_id();
        let ev = Input::Sip {
            call_id: id,
            event: SipEvent::Referred {
                target: "sip:carol@10.9.9.9".into(),
                replaces: None,
            },
        };
        r.feed(ev);
    }
    let ev = SipEvent::Referred {
        target: "sip:carol@127.0.0.1".into(),
        replaces: None,
    };
    assert_eq!(r.sip(ev), ["refused:dial:rate", "decide:503"]);
}

#[test]
fn a_far_end_refer_moves_the_call_and_notifies_the_old_leg() {
    let mut r = rig_in(Start::Connected);
    let old = r.call_id();
    let ev = SipEvent::Referred {
        target: "sip:carol@127.0.0.1".into(),
        replaces: None,
    };
    assert_eq!(
        r.sip(ev),
        [
            "decide:202",
            "info:Sono.Call.Transfer",
            "transfer-leg",
            "status0/200",
            "status1",
            "ports",
            "invite"
        ]
    );
    let new = r.call_id();
    assert_ne!(new, old);
    let old_ev = |event| Input::Sip {
        call_id: old.clone(),
        event,
    };
    let rows: Vec<(Input, Vec<&str>)> = vec![
        (
            old_ev(SipEvent::MediaChanged {
                negotiated: negotiated(&r, Direction::SendRecv, 50000),
                by_remote: true,
            }),
            vec![],
        ),
        (
            Input::Sip {
                call_id: new.clone(),
                event: SipEvent::Progress {
                    status: st(180, "Ringing"),
                    sdp: None,
                },
            },
            vec!["notify:180:false", "status1/180"],
        ),
    ];
    for (input, want) in rows {
        assert_eq!(r.feed(input), want);
    }
    assert_eq!(
        r.answered(),
        [
            "notify:200:true",
            "media",
            "status2/200",
            "streams",
            "status4"
        ]
    );
    assert_eq!(
        r.feed(old_ev(SipEvent::Ended { by_remote: false })),
        ["drop-leg"]
    );
    assert_eq!(
        r.feed(old_ev(SipEvent::Ended { by_remote: false })),
        Vec::<String>::new(),
        "a stale event once the leg is gone"
    );
    assert_eq!(r.core.phase(), CallPhase::Connected);
}

#[test]
fn a_failed_transfer_target_is_the_final_notify() {
    let mut r = rig_in(Start::Connected);
    r.sip(SipEvent::Referred {
        target: "sip:carol@127.0.0.1".into(),
        replaces: None,
    });
    assert_eq!(
        r.sip(SipEvent::Failed(st(486, "Busy Here"))),
        ["notify:486:true", "release", "status0/486"]
    );
}

/// The far end's answer SDP on RTP `port`.
fn answer_on(r: &Rig, port: u16) -> Vec<u8> {
    let offer = r.offer.clone().expect("an offer");
    let mut far = far_media();
    far.port = port;
    sdp::answer(&offer, &[Codec::Pcmu], &far)
        .expect("answer")
        .0
        .to_bytes()
}

#[test]
fn early_media_starts_on_an_18x_with_sdp() {
    let mut r = rig_in(Start::Dialing);
    let early = answer_on(&r, 50000);
    let got = r.sip(SipEvent::Progress {
        status: st(183, "Session Progress"),
        sdp: Some(early.clone()),
    });
    assert_eq!(got, ["media", "streams", "status1/183"]);
    assert_eq!(r.core.phase(), CallPhase::Early);
    // A later 18x is a plain status 1 (early_media kept).
    let got = r.sip(SipEvent::Progress {
        status: st(180, "Ringing"),
        sdp: Some(early.clone()),
    });
    assert_eq!(got, ["status1/180"]);
    // The 200 repeats the SDP: no update, no second ConnectStreams.
    assert_eq!(
        r.sip(SipEvent::Answered { sdp: early }),
        ["status2/200", "status4"]
    );
}

#[test]
fn the_answer_moves_early_media_when_its_sdp_differs() {
    for (answer, want) in [
        (
            Some(50002),
            vec!["update:SendRecv", "status2/200", "status4"],
        ),
        (None, vec!["status2/200", "status4"]),
    ] {
        let mut r = rig_in(Start::Dialing);
        let early = answer_on(&r, 50000);
        r.sip(SipEvent::Progress {
            status: st(183, "Session Progress"),
            sdp: Some(early),
        });
        let sdp = answer.map(|p| answer_on(&r, p)).unwrap_or_default();
        assert_eq!(r.sip(SipEvent::Answered { sdp }), want, "{answer:?}");
    }
}

#[test]
fn an_unusable_18x_sdp_waits_for_the_answer() {
    let mut r = rig_in(Start::Dialing);
    let got = r.sip(SipEvent::Progress {
        status: st(183, "Session Progress"),
        sdp: Some(b"v=0\r\n".to_vec()),
    });
    assert_eq!(got, ["status1/183"]);
    assert_eq!(r.answered(), ["media", "status2/200", "streams", "status4"]);
}

#[test]
fn early_media_that_cannot_start_ends_the_call() {
    let mut r = rig_in(Start::Dialing);
    let early = answer_on(&r, 50000);
    let call_id = r.call_id();
    r.core.handle(
        r.now,
        Input::Sip {
            call_id: call_id.clone(),
            event: SipEvent::Progress {
                status: st(183, "Session Progress"),
                sdp: Some(early),
            },
        },
    );
    assert!(matches!(
        r.core.poll_effect(),
        Some(Effect::StartMedia { .. })
    ));
    let got = r.feed(Input::MediaStarted {
        call_id,
        result: Err("no codec".into()),
    });
    assert_eq!(got, ["sip-hangup", "release", "status0/488"]);
}

#[test]
fn delayed_offer_our_offer_in_the_200_the_answer_in_the_ack() {
    let mut r = Rig::new();
    let mut inv = incoming("in-2");
    if let Input::Incoming { offer, .. } = &mut inv {
        offer.clear();
    }
    assert_eq!(
        r.feed(inv),
        ["reserve", "bind:Inbound", "info:Sono.Call.Incoming"]
    );
    assert_eq!(
        r.invoke("accept", vec![]),
        ["result", "ports", "status1", "200"]
    );
    assert_eq!(r.core.phase(), CallPhase::Answering);
    assert_eq!(r.answered(), ["media", "status2/200", "streams", "status4"]);
    assert_eq!(r.core.phase(), CallPhase::Connected);
}
