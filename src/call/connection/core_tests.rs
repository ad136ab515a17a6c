//! Connection core tests on a virtual clock: every RTMP API command in
//! every call state (a table), timers, routing. A scripted driver answers
//! the query effects the way `runtime::connection` does when everything
//! succeeds.

use std::time::{Duration, Instant};

use super::*;
use crate::call::connection::input::MediaInput;
use crate::call::connection::MediaAddr;
use crate::call::policy::DialPolicy;
use crate::call::{CallStatus, ControllerConfig};
use crate::media::codec::Codec;
use crate::rtmp::session::Invoke;
use crate::sip::event::{SipEvent, SipStatus};
use crate::sip::sdp;

const SECOND: Duration = Duration::from_secs(1);

fn config() -> ConnectionConfig {
    ConnectionConfig {
        controller: ControllerConfig {
            policy: DialPolicy::parse(&["sip:echo@*".into(), "sip:*@127.0.0.1".into()])
                .expect("policy"),
            echo_user: "echo".into(),
            ring_timeout: 60 * SECOND,
        },
        connect_timeout: 10 * SECOND,
        idle_timeout: 120 * SECOND,
        max_dials_per_minute: 3,
        close_grace: 5 * SECOND,
        codecs: vec![Codec::Pcmu],
        srtp: Default::default(),
    }
}

/// The far end's media description.
fn far_media() -> sdp::LocalMedia {
    sdp::LocalMedia {
        addr: "127.0.0.1".parse().expect("ip"),
        port: 50000,
        session_id: 9,
        session_version: 1,
    }
}

/// An INVITE's SDP offer from the far end (PCMU).
fn far_offer() -> Vec<u8> {
    sdp::build_offer(&[Codec::Pcmu], &far_media())
        .expect("offer")
        .to_bytes()
}

fn incoming(call_id: &str) -> Input {
    Input::Incoming {
        info: IncomingCallInfo {
            call_id: call_id.into(),
            uri: "sip:alice@127.0.0.1".into(),
            display_name: None,
            to: "sip:u1@gw".into(),
        },
        offer: far_offer(),
    }
}

/// A core and its virtual clock.
struct Rig {
    core: ConnectionCore,
    now: Instant,
    /// The last SDP offer the core sent in an INVITE.
    offer: Option<Vec<u8>>,
}

impl Rig {
    fn new() -> Self {
        let now = Instant::now();
        let mut rig = Self {
            core: ConnectionCore::new(now, config(), 7),
            now,
            offer: None,
        };
        rig.feed(Input::Session(SessionEvent::Connected {
            app: "phone".into(),
            args: Vec::new(),
            grant: Default::default(),
            caps: Default::default(),
        }));
        rig
    }

    /// Feeds `input`, then drains the effects as short names, answering
    /// queries as a driver that succeeds would.
    fn feed(&mut self, input: Input) -> Vec<String> {
        self.core.handle(self.now, input);
        self.drain()
    }

    fn drain(&mut self) -> Vec<String> {
        let mut names = Vec::new();
        while let Some(e) = self.core.poll_effect() {
            names.push(short(&e));
            let answer = match e {
                Effect::ReserveCall => Some(Input::Reserved(Capacity::Available)),
                Effect::SubscribeOwn(stream_id) => Some(Input::OwnSubscribed {
                    stream_id,
                    result: Ok(()),
                }),
                Effect::AllocatePorts { call_id, .. } => Some(Input::PortsAllocated {
                    call_id,
                    result: Ok(MediaAddr {
                        addr: "127.0.0.1".parse().expect("ip"),
                        port: 40000,
                    }),
                }),
                Effect::Invite { offer, .. } => {
                    self.offer = Some(offer);
                    None
                }
                // A delayed offer's 200 carries our offer.
                Effect::AnswerIncoming { answer, .. } => {
                    self.offer = Some(answer);
                    None
                }
                Effect::StartMedia { call_id, .. } => Some(Input::MediaStarted {
                    call_id,
                    result: Ok(()),
                }),
                Effect::SipLeg { txn, .. } => Some(Input::LegCommandDone {
                    txn,
                    result: Ok(()),
                }),
                Effect::Register { txn, .. } => Some(Input::Registered {
                    txn,
                    result: Ok("sip:u1@gw".into()),
                }),
                Effect::Unregister { txn } => Some(Input::Unregistered { txn }),
                Effect::ProbeStreams => Some(Input::StreamsLive(false)),
                _ => None,
            };
            if let Some(a) = answer {
                self.core.handle(self.now, a);
            }
        }
        names
    }

    fn invoke(&mut self, name: &str, args: Vec<Value>) -> Vec<String> {
        self.feed(Input::Session(SessionEvent::Invoke(Invoke {
            name: name.into(),
            txn: 5.0,
            object: Value::Null,
            args,
        })))
    }

    fn call_id(&self) -> CallId {
        self.core.call().map(|(id, _)| id.clone()).expect("a call")
    }

    fn sip(&mut self, event: SipEvent) -> Vec<String> {
        let call_id = self.call_id();
        self.feed(Input::Sip { call_id, event })
    }

    /// The far end's SDP answer to the last offer.
    fn answer(&self) -> Vec<u8> {
        let offer = self.offer.clone().expect("an offer");
        sdp::answer(&offer, &[Codec::Pcmu], &far_media())
            .expect("answer")
            .0
            .to_bytes()
    }

    /// The far end answers with 200 and its SDP.
    fn answered(&mut self) -> Vec<String> {
        let sdp = self.answer();
        self.sip(SipEvent::Answered { sdp })
    }

    fn advance(&mut self, by: Duration) -> Vec<String> {
        self.now += by;
        self.core.handle_timeout(self.now);
        self.drain()
    }
}

/// A short name for an effect, for tables.
fn short(e: &Effect) -> String {
    match e {
        Effect::ReplyResult { value, .. } => match value.get("code").and_then(Value::as_str) {
            Some(code) => format!("result:{code}"),
            None => "result".into(),
        },
        Effect::ReplyError { code, .. } => format!("error:{code}"),
        Effect::Status(v) => format!(
            "info:{}",
            v.get("code").and_then(Value::as_str).unwrap_or("?")
        ),
        Effect::CallStatus(CallStatus {
            status, sip_code, ..
        }) => match sip_code {
            Some(c) => format!("status{}/{c}", *status as u8),
            None => format!("status{}", *status as u8),
        },
        Effect::AcceptPublish(_) => "publish".into(),
        Effect::RejectPublish { .. } => "publish-refused".into(),
        Effect::AcceptPlay(_) => "play".into(),
        Effect::RejectPlay { .. } => "play-refused".into(),
        Effect::EndPlay(_) => "end-play".into(),
        Effect::NotifyUnpublished(_) => "unpublished".into(),
        Effect::Audio { target, .. } => format!("audio:{target:?}"),
        Effect::StreamClosed(_) => "stream-closed".into(),
        Effect::SubscribeOwn(_) => "subscribe-own".into(),
        Effect::ProbeStreams => "probe".into(),
        Effect::ReserveCall => "reserve".into(),
        Effect::BindCall { direction, .. } => format!("bind:{direction:?}"),
        Effect::DropReservation => "drop".into(),
        Effect::Invite { .. } => "invite".into(),
        Effect::StartEcho(_) => "echo".into(),
        Effect::StartMedia { .. } => "media".into(),
        Effect::AnswerIncoming { .. } => "200".into(),
        Effect::AllocatePorts { .. } => "ports".into(),
        Effect::RefuseIncoming { code, .. } => format!("refuse:{code}"),
        Effect::SipHangup(_) => "sip-hangup".into(),
        Effect::SendDtmf { .. } => "dtmf".into(),
        Effect::SipInfoDtmf { .. } => "info-dtmf".into(),
        Effect::SipLeg { command, .. } => match command {
            LegCommand::Hold => "leg:hold".into(),
            LegCommand::Unhold => "leg:unhold".into(),
        },
        Effect::UpdateMedia { negotiated, .. } => {
            format!("update:{:?}", negotiated.direction)
        }
        Effect::Refer { target, .. } => format!("refer:{}", target.canonical()),
        Effect::DecideRefer { code, .. } => format!("decide:{code}"),
        Effect::TransferLeg { .. } => "transfer-leg".into(),
        Effect::NotifyRefer { status, done, .. } => format!("notify:{}:{done}", status.code()),
        Effect::DropTransferredLeg(_) => "drop-leg".into(),
        Effect::ConnectStreams { .. } => "streams".into(),
        Effect::HoldChanged {
            held, by_remote, ..
        } => format!(
            "held:{held}:{}",
            if *by_remote { "remote" } else { "local" }
        ),
        Effect::ReleaseCall(_) => "release".into(),
        Effect::Register { .. } => "register".into(),
        Effect::Unregister { .. } => "unregister".into(),
        Effect::Refused { what, reason } => format!("refused:{what}:{reason}"),
        Effect::Closing(reason) => format!("closing:{reason:?}"),
        Effect::Close => "close".into(),
    }
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

/// The call states of the table, and how to reach each from a fresh,
/// connected core.
#[derive(Debug, Clone, Copy)]
enum Start {
    Idle,
    Dialing,
    Early,
    Connected,
    Ending,
    Ringing,
    Answering,
}

fn rig_in(state: Start) -> Rig {
    let mut r = Rig::new();
    let dial = |r: &mut Rig| r.invoke("dial", vec![s("sip:bob@127.0.0.1")]);
    let ring = |r: &mut Rig| r.feed(incoming("in-1"));
    match state {
        Start::Idle => {}
        Start::Dialing => {
            dial(&mut r);
        }
        Start::Early => {
            dial(&mut r);
            r.sip(SipEvent::Progress {
                status: SipStatus::new(180, "Ringing"),
                sdp: None,
            });
        }
        Start::Connected | Start::Ending => {
            dial(&mut r);
            r.answered();
            if matches!(state, Start::Ending) {
                r.invoke("hangup", vec![]);
            }
        }
        Start::Ringing => {
            ring(&mut r);
        }
        Start::Answering => {
            ring(&mut r);
            r.invoke("accept", vec![]);
        }
    }
    let want = match state {
        Start::Idle => CallPhase::Idle,
        Start::Dialing => CallPhase::Dialing,
        Start::Early => CallPhase::Early,
        Start::Connected => CallPhase::Connected,
        Start::Ending => CallPhase::Ending,
        Start::Ringing => CallPhase::Ringing,
        Start::Answering => CallPhase::Answering,
    };
    assert_eq!(r.core.phase(), want, "{state:?}");
    r
}

fn commands() -> Vec<(&'static str, Vec<Value>)> {
    vec![
        ("dial", vec![s("sip:carol@127.0.0.1")]),
        ("hangup", vec![]),
        ("accept", vec![]),
        ("reject", vec![Value::Number(486.0)]),
        ("sendDTMF", vec![s("1")]),
        ("register", vec![]),
        ("unregister", vec![]),
        ("hold", vec![]),
        ("unhold", vec![]),
        ("transfer", vec![s("sip:carol@127.0.0.1")]),
    ]
}

/// Every RTMP API command in every call state: the effects, in order,
/// with a driver that succeeds at everything it is asked.
#[test]
fn every_command_in_every_state() {
    use Start::*;
    const NO_CALL: &[&str] = &["error:Sono.Call.Failed"];
    const NO_HOLD: &[&str] = &["error:Sono.Call.NoCall"];
    const REGISTER: &[&str] = &["register", "result:Sono.Registration.Result"];
    const UNREGISTER: &[&str] = &["unregister", "result"];
    const EXISTING: &[&str] = &["reserve", "drop", "error:Sono.Call.Existing"];
    const BYE: &[&str] = &["result", "status3", "sip-hangup"];
    let table: &[(Start, &str, &[&str])] = &[
        (
            Idle,
            "dial",
            &["reserve", "bind:Outbound", "status1", "ports", "invite"],
        ),
        (Idle, "hangup", &["result"]),
        (Idle, "accept", NO_CALL),
        (Idle, "reject", NO_CALL),
        (Idle, "sendDTMF", NO_CALL),
        (Idle, "register", REGISTER),
        (Idle, "unregister", UNREGISTER),
        (Idle, "hold", NO_HOLD),
        (Idle, "unhold", NO_HOLD),
        (Idle, "transfer", NO_CALL),
        (Dialing, "dial", EXISTING),
        (Dialing, "hangup", BYE),
        (Dialing, "accept", NO_CALL),
        (Dialing, "reject", NO_CALL),
        (Dialing, "sendDTMF", NO_CALL),
        (Dialing, "register", REGISTER),
        (Dialing, "unregister", UNREGISTER),
        (Dialing, "hold", NO_HOLD),
        (Dialing, "unhold", NO_HOLD),
        (Dialing, "transfer", NO_CALL),
        (Early, "dial", EXISTING),
        (Early, "hangup", BYE),
        (Early, "accept", NO_CALL),
        (Early, "reject", NO_CALL),
        (Early, "sendDTMF", NO_CALL),
        (Early, "register", REGISTER),
        (Early, "unregister", UNREGISTER),
        (Early, "hold", NO_HOLD),
        (Early, "unhold", NO_HOLD),
        (Early, "transfer", NO_CALL),
        (Connected, "dial", EXISTING),
        (Connected, "hangup", BYE),
        (Connected, "accept", NO_CALL),
        (Connected, "reject", NO_CALL),
        (Connected, "sendDTMF", &["dtmf", "result"]),
        (Connected, "register", REGISTER),
        (Connected, "unregister", UNREGISTER),
        (Connected, "hold", &["leg:hold", "result"]),
        (Connected, "unhold", &["leg:unhold", "result"]),
        (
            Connected,
            "transfer",
            &["result", "refer:sip:carol@127.0.0.1"],
        ),
        (Ending, "dial", EXISTING),
        (Ending, "hangup", &["result"]),
        (Ending, "accept", NO_CALL),
        (Ending, "reject", NO_CALL),
        (Ending, "sendDTMF", NO_CALL),
        (Ending, "register", REGISTER),
        (Ending, "unregister", UNREGISTER),
        (Ending, "hold", NO_HOLD),
        (Ending, "unhold", NO_HOLD),
        (Ending, "transfer", NO_CALL),
        (Ringing, "dial", EXISTING),
        (
            Ringing,
            "hangup",
            &["result", "refuse:486", "release", "status0/486"],
        ),
        (
            Ringing,
            "accept",
            &["result", "ports", "status1", "media", "200"],
        ),
        (
            Ringing,
            "reject",
            &["result", "refuse:486", "release", "status0/486"],
        ),
        (Ringing, "sendDTMF", NO_CALL),
        (Ringing, "register", REGISTER),
        (Ringing, "unregister", UNREGISTER),
        (Ringing, "hold", NO_HOLD),
        (Ringing, "unhold", NO_HOLD),
        (Ringing, "transfer", NO_CALL),
        (Answering, "dial", EXISTING),
        (Answering, "hangup", BYE),
        (Answering, "accept", NO_CALL),
        (Answering, "reject", NO_CALL),
        (Answering, "sendDTMF", &["dtmf", "result"]),
        (Answering, "register", REGISTER),
        (Answering, "unregister", UNREGISTER),
        (Answering, "hold", &["leg:hold", "result"]),
        (Answering, "unhold", &["leg:unhold", "result"]),
        (Answering, "transfer", NO_CALL),
    ];
    let commands = commands();
    assert_eq!(
        table.len(),
        7 * commands.len(),
        "every state x every command"
    );
    for (state, name, want) in table {
        let args = commands
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a.clone())
            .unwrap_or_default();
        let mut r = rig_in(*state);
        assert_eq!(r.invoke(name, args), *want, "{name} in {state:?}");
    }
}

#[test]
fn bad_arguments_and_unknown_methods_are_refused_in_any_state() {
    for st in [Start::Idle, Start::Connected, Start::Ringing] {
        let mut r = rig_in(st);
        assert_eq!(r.invoke("dial", vec![]), ["error:Sono.Call.NoUri"]);
        assert_eq!(
            r.invoke("sendDTMF", vec![s("X")]),
            ["error:Sono.Call.Failed"]
        );
        assert_eq!(
            r.invoke("reject", vec![Value::Number(200.0)]),
            ["error:Sono.Call.Failed"]
        );
        assert_eq!(
            r.invoke("register", vec![s("alice")]),
            ["error:Sono.Registration.Failed"]
        );
        assert_eq!(
            r.invoke("transfer", vec![s("tel:1")]),
            ["error:Sono.Call.NoUri"]
        );
        assert_eq!(
            r.invoke("frobnicate", vec![]),
            ["error:NetConnection.Call.Failed"]
        );
    }
}

#[test]
fn transfer_outside_the_dial_policy_is_forbidden() {
    let mut r = rig_in(Start::Connected);
    assert_eq!(
        r.invoke("transfer", vec![s("sip:carol@10.9.9.9")]),
        ["refused:dial:policy", "error:Sono.Call.Forbidden"]
    );
}

#[test]
fn outgoing_call_lifecycle() {
    let mut r = rig_in(Start::Dialing);
    assert_eq!(r.core.call().map(|c| c.1), Some(Resources::Offered));
    assert_eq!(
        r.sip(SipEvent::Progress {
            status: SipStatus::new(183, "Session Progress"),
            sdp: None
        }),
        ["status1/183"]
    );
    assert_eq!(r.answered(), ["media", "status2/200", "streams", "status4"]);
    assert_eq!(r.core.call().map(|c| c.1), Some(Resources::Media));
    assert_eq!(
        r.sip(SipEvent::Ended { by_remote: true }),
        ["status3", "release", "status0/200"]
    );
    assert_eq!(r.core.phase(), CallPhase::Idle);
    assert!(r.core.call().is_none());
}

#[test]
fn an_unusable_answer_ends_the_call_with_488() {
    // No codec in common (the far end answers with G.722 only).
    let mut r = rig_in(Start::Dialing);
    let got = r.sip(SipEvent::Answered {
        sdp: b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 50000 RTP/AVP 9\r\n".to_vec(),
    });
    assert_eq!(got, ["sip-hangup", "release", "status0/488"]);
    // Or the media task cannot start.
    let mut r = rig_in(Start::Dialing);
    let call_id = r.call_id();
    let sdp = r.answer();
    r.core.handle(
        r.now,
        Input::Sip {
            call_id: call_id.clone(),
            event: SipEvent::Answered { sdp },
        },
    );
    assert!(matches!(
        r.core.poll_effect(),
        Some(Effect::StartMedia { .. })
    ));
    let got = r.feed(Input::MediaStarted {
        call_id,
        result: Err("no bridge".into()),
    });
    assert_eq!(got, ["sip-hangup", "release", "status0/488"]);
}

#[test]
fn no_ports_ends_the_call_with_503() {
    let mut r2 = Rig::new();
    r2.core.handle(
        r2.now,
        Input::Session(SessionEvent::Invoke(Invoke {
            name: "dial".into(),
            txn: 1.0,
            object: Value::Null,
            args: vec![s("sip:bob@127.0.0.1")],
        })),
    );
    assert_eq!(r2.core.poll_effect(), Some(Effect::ReserveCall));
    r2.core.handle(r2.now, Input::Reserved(Capacity::Available));
    let mut call_id = None;
    while let Some(e) = r2.core.poll_effect() {
        if let Effect::AllocatePorts {
            call_id: id,
            toward,
        } = e
        {
            assert_eq!(toward, Some("127.0.0.1:5060".parse().expect("addr")));
            call_id = Some(id);
        }
    }
    let got = r2.feed(Input::PortsAllocated {
        call_id: call_id.expect("AllocatePorts"),
        result: Err(SipStatus::new(503, "Service Unavailable: no ports")),
    });
    assert_eq!(got, ["release", "status0/503"]);
}

#[test]
fn accept_answers_the_offer_after_the_media_starts() {
    let mut r = rig_in(Start::Ringing);
    let call_id = r.call_id();
    r.core.handle(
        r.now,
        Input::Session(SessionEvent::Invoke(Invoke {
            name: "accept".into(),
            txn: 1.0,
            object: Value::Null,
            args: vec![],
        })),
    );
    let mut seen = Vec::new();
    while let Some(e) = r.core.poll_effect() {
        seen.push(short(&e));
        if let Effect::AllocatePorts { .. } = e {
            r.core.handle(
                r.now,
                Input::PortsAllocated {
                    call_id: call_id.clone(),
                    result: Ok(MediaAddr {
                        addr: "192.0.2.7".parse().expect("ip"),
                        port: 41000,
                    }),
                },
            );
        }
        if let Effect::StartMedia { negotiated, .. } = &e {
            assert_eq!(negotiated.codec, Codec::Pcmu);
            assert_eq!(
                negotiated.remote_rtp,
                "127.0.0.1:50000".parse().expect("addr")
            );
            r.core.handle(
                r.now,
                Input::MediaStarted {
                    call_id: call_id.clone(),
                    result: Ok(()),
                },
            );
        }
        if let Effect::AnswerIncoming { answer, .. } = &e {
            let text = String::from_utf8_lossy(answer);
            assert!(text.contains("c=IN IP4 192.0.2.7"), "{text}");
            assert!(text.contains("m=audio 41000 RTP/AVP 0"), "{text}");
        }
    }
    assert_eq!(seen, ["result", "ports", "status1", "media", "200"]);
    assert_eq!(r.core.call().map(|c| c.1), Some(Resources::Media));
}

#[test]
fn an_offer_without_a_common_codec_is_refused_with_488_on_accept() {
    let mut r = Rig::new();
    let mut offer = sdp::build_offer(&[Codec::Pcma], &far_media()).expect("offer");
    offer.formats.retain(|f| f.codec == Codec::Pcma);
    r.feed(Input::Incoming {
        info: IncomingCallInfo {
            call_id: "in-9".into(),
            uri: "sip:a@b".into(),
            display_name: None,
            to: "sip:c@d".into(),
        },
        offer: offer.to_bytes(),
    });
    assert_eq!(r.core.phase(), CallPhase::Ringing);
    let got = r.invoke("accept", vec![]);
    assert_eq!(
        got,
        [
            "result",
            "ports",
            "status1",
            "refuse:488",
            "release",
            "status0/488"
        ]
    );
}

#[test]
fn echo_calls_have_no_sip_leg() {
    let mut r = Rig::new();
    let got = r.invoke("dial", vec![s("sip:echo@gw")]);
    assert_eq!(got, ["reserve", "bind:Echo", "status1", "echo"]);
    assert_eq!(
        r.sip(SipEvent::Answered { sdp: Vec::new() }),
        ["status2/200", "streams", "status4"]
    );
    assert_eq!(r.invoke("hold", vec![]), ["error:Sono.Call.NoCall"]);
    assert_eq!(r.invoke("hangup", vec![]), BYE_ECHO);
    let call_id = r.call_id();
    let got = r.feed(Input::Media {
        call_id,
        event: MediaInput::Ended,
    });
    assert_eq!(got, ["release", "status0/200"]);
}

const BYE_ECHO: &[&str] = &["result", "status3", "sip-hangup"];

#[test]
fn capacity_refusals() {
    let mut r = Rig::new();
    r.core.handle(
        r.now,
        Input::Session(SessionEvent::Invoke(Invoke {
            name: "dial".into(),
            txn: 1.0,
            object: Value::Null,
            args: vec![s("sip:bob@127.0.0.1")],
        })),
    );
    assert_eq!(r.core.poll_effect(), Some(Effect::ReserveCall));
    let got = r.feed(Input::Reserved(Capacity::GatewayFull));
    assert_eq!(
        got,
        ["drop", "refused:dial:capacity", "error:Sono.Call.Failed"]
    );
    // An INVITE while the token's subject is full: 486, no ring.
    r.core.handle(r.now, incoming("x"));
    assert_eq!(r.core.poll_effect(), Some(Effect::ReserveCall));
    assert_eq!(
        r.feed(Input::Reserved(Capacity::SubjectFull { max: 1 })),
        ["drop", "refuse:486"]
    );
    r.core.handle(r.now, incoming("y"));
    assert_eq!(r.core.poll_effect(), Some(Effect::ReserveCall));
    assert_eq!(
        r.feed(Input::Reserved(Capacity::GatewayFull)),
        ["drop", "refuse:503"]
    );
}

#[test]
fn a_second_invite_is_busy() {
    let mut r = rig_in(Start::Connected);
    let got = r.feed(incoming("in-2"));
    assert_eq!(got, ["reserve", "drop", "refuse:486"]);
    assert_eq!(r.core.phase(), CallPhase::Connected);
}

#[test]
fn ringing_call_times_out_with_480() {
    let mut r = rig_in(Start::Ringing);
    assert_eq!(r.advance(59 * SECOND), Vec::<String>::new());
    assert_eq!(r.advance(SECOND), ["refuse:480", "release", "status0/480"]);
}

#[test]
fn dial_rate_on_a_virtual_clock() {
    let mut r = Rig::new();
    for _ in 0..3 {
        r.invoke("dial", vec![]);
    }
    assert_eq!(
        r.invoke("dial", vec![s("sip:bob@127.0.0.1")]),
        ["refused:dial:rate", "error:Sono.Call.Failed"]
    );
    r.now += 60 * SECOND;
    assert_eq!(r.invoke("dial", vec![]), ["error:Sono.Call.NoUri"]);
}

#[test]
fn connect_deadline_closes_a_silent_connection() {
    let now = Instant::now();
    let mut r = Rig {
        core: ConnectionCore::new(now, config(), 1),
        now,
        offer: None,
    };
    assert_eq!(r.core.poll_timeout(), Some(now + 10 * SECOND));
    assert_eq!(r.advance(9 * SECOND), Vec::<String>::new());
    assert_eq!(r.advance(SECOND), ["closing:ConnectTimeout", "close"]);
    assert!(r.core.is_closed());
    assert_eq!(r.core.poll_timeout(), None);
}

#[test]
fn idle_timeout_spares_live_calls() {
    let mut r = Rig::new();
    assert_eq!(r.advance(119 * SECOND), Vec::<String>::new());
    r.feed(Input::ClientActivity);
    assert_eq!(r.advance(119 * SECOND), Vec::<String>::new());
    assert_eq!(r.advance(SECOND), ["closing:Idle", "close"]);

    let mut r = rig_in(Start::Connected);
    assert_eq!(
        r.advance(120 * SECOND),
        Vec::<String>::new(),
        "a live call keeps it"
    );
    assert!(!r.core.is_closed());
    // A stream bound by name to another connection's call: the driver is
    // asked whether that call lives (the scripted one says no).
    let mut r = Rig::new();
    r.feed(Input::Publish {
        stream_id: 1,
        named: Some(Ok(CallId::new("other"))),
    });
    assert_eq!(r.advance(120 * SECOND), ["probe", "closing:Idle", "close"]);
}

#[test]
fn closing_waits_for_the_hangup_then_the_grace() {
    let mut r = rig_in(Start::Connected);
    assert_eq!(
        r.feed(Input::ClientClosed),
        ["closing:Client", "status3", "sip-hangup"]
    );
    assert!(!r.core.is_closed());
    assert_eq!(
        r.sip(SipEvent::Ended { by_remote: false }),
        ["release", "status0/200", "close"]
    );

    let mut r = rig_in(Start::Connected);
    r.feed(Input::Shutdown);
    assert_eq!(r.advance(5 * SECOND), ["close"], "BYE unanswered: grace");
}

#[test]
fn publish_and_play_routing() {
    let mut r = Rig::new();
    // No call, no such name: refused.
    assert_eq!(
        r.feed(Input::Publish {
            stream_id: 1,
            named: None
        }),
        ["publish-refused"]
    );
    assert_eq!(
        r.feed(Input::Play {
            stream_id: 2,
            named: None
        }),
        ["play-refused"]
    );
    // Another call's names.
    let other = CallId::new("other");
    assert_eq!(
        r.feed(Input::Publish {
            stream_id: 1,
            named: Some(Ok(other.clone()))
        }),
        ["publish"]
    );
    // The call already has a publisher: refused, and its audio goes nowhere.
    assert_eq!(
        r.feed(Input::Publish {
            stream_id: 4,
            named: Some(Err("this call already has a publisher".into()))
        }),
        ["publish-refused"]
    );
    assert!(r
        .feed(Input::Session(SessionEvent::Audio {
            stream_id: 4,
            timestamp_ms: 0,
            body: bytes::Bytes::from_static(&[0xB2, 0]),
        }))
        .is_empty());
    assert_eq!(
        r.feed(Input::Play {
            stream_id: 2,
            named: Some(Ok(other.clone()))
        }),
        ["play"]
    );
    assert_eq!(
        r.feed(Input::Play {
            stream_id: 3,
            named: Some(Err("full".into()))
        }),
        ["play-refused"]
    );
    let audio = |stream_id| {
        Input::Session(SessionEvent::Audio {
            stream_id,
            timestamp_ms: 20,
            body: bytes::Bytes::from_static(b"\xb2x"),
        })
    };
    assert_eq!(r.feed(audio(1)), ["audio:Named"]);
    assert_eq!(r.feed(audio(9)), Vec::<String>::new(), "not publishing");
    // The other call ends: its player is told once.
    assert_eq!(
        r.feed(Input::PlayEnded {
            stream_id: 2,
            call_id: other.clone()
        }),
        ["end-play"]
    );
    assert_eq!(
        r.feed(Input::PlayEnded {
            stream_id: 2,
            call_id: other
        }),
        Vec::<String>::new()
    );

    // With an own call, any name binds to it.
    let mut r = rig_in(Start::Dialing);
    assert_eq!(
        r.feed(Input::Publish {
            stream_id: 1,
            named: None
        }),
        ["publish"]
    );
    assert_eq!(
        r.feed(Input::Play {
            stream_id: 2,
            named: None
        }),
        ["subscribe-own", "play"]
    );
    assert_eq!(r.feed(audio(1)), ["audio:Own"]);
    assert_eq!(r.answered(), ["media", "status2/200", "streams", "status4"]);
    let got = r.sip(SipEvent::Ended { by_remote: true });
    assert_eq!(got, ["status3", "release", "unpublished", "status0/200"]);
    assert_eq!(
        r.feed(Input::Session(SessionEvent::StreamClosed { stream_id: 1 })),
        ["stream-closed"]
    );
    assert_eq!(r.feed(audio(1)), Vec::<String>::new());
}

#[test]
fn media_events() {
    let mut r = rig_in(Start::Connected);
    let call_id = r.call_id();
    assert_eq!(
        r.feed(Input::Media {
            call_id: call_id.clone(),
            event: MediaInput::Dtmf('5')
        }),
        ["info:Sono.Call.DTMF"]
    );
    assert_eq!(
        r.feed(Input::Media {
            call_id: call_id.clone(),
            event: MediaInput::DtmfFallback {
                digits: "12".into(),
                duration_ms: 160
            }
        }),
        ["info-dtmf"]
    );
    assert_eq!(
        r.feed(Input::Media {
            call_id: CallId::new("stale"),
            event: MediaInput::RtpTimeout
        }),
        Vec::<String>::new()
    );
    assert_eq!(
        r.feed(Input::Media {
            call_id,
            event: MediaInput::RtpTimeout
        }),
        ["status3", "sip-hangup"]
    );
    assert_eq!(
        r.sip(SipEvent::Ended { by_remote: false }),
        ["release", "status0/408"]
    );
}

#[test]
fn registration_events_and_token_claims() {
    let mut r = Rig::new();
    assert_eq!(
        r.feed(Input::Registration {
            aor: "sip:alice@127.0.0.1".into(),
            event: crate::sip::registration::RegistrationEvent::Registered { expires: 60 },
        }),
        ["info:Sono.Registration.Status"]
    );
    r.core.handle(
        r.now,
        Input::Session(SessionEvent::Invoke(Invoke {
            name: "register".into(),
            txn: 1.0,
            object: Value::Null,
            args: vec![],
        })),
    );
    assert!(matches!(
        r.core.poll_effect(),
        Some(Effect::Register { .. })
    ));
    assert_eq!(
        r.feed(Input::Registered {
            txn: 1.0,
            result: Err("no".into())
        }),
        ["error:Sono.Registration.Failed"]
    );
}

#[cfg(test)]
#[path = "features_tests.rs"]
mod features;

#[test]
fn overload_refuses_dials_with_503_and_invites_with_503() {
    let mut r = Rig::new();
    r.core.handle(
        r.now,
        Input::Session(SessionEvent::Invoke(Invoke {
            name: "dial".into(),
            txn: 1.0,
            object: Value::Null,
            args: vec![s("sip:bob@127.0.0.1")],
        })),
    );
    assert_eq!(r.core.poll_effect(), Some(Effect::ReserveCall));
    r.core.handle(r.now, Input::Reserved(Capacity::Overloaded));
    let mut effects = Vec::new();
    while let Some(e) = r.core.poll_effect() {
        effects.push(e);
    }
    assert!(effects.contains(&Effect::DropReservation), "{effects:?}");
    assert!(effects.contains(&Effect::Refused {
        what: "dial",
        reason: "overload"
    }));
    let error = effects.iter().find_map(|e| match e {
        Effect::ReplyError {
            code,
            description,
            sip_code,
            ..
        } => Some((*code, description.clone(), *sip_code)),
        _ => None,
    });
    let (code, description, sip_code) = error.expect("an _error");
    assert_eq!(code, "Sono.Call.Failed");
    assert_eq!(sip_code, Some(503));
    assert!(description.starts_with("503 "), "{description}");
    // An INVITE that got past the SIP side's check: 503 too, no ring.
    r.core.handle(r.now, incoming("z"));
    assert_eq!(r.core.poll_effect(), Some(Effect::ReserveCall));
    assert_eq!(
        r.feed(Input::Reserved(Capacity::Overloaded)),
        ["drop", "refuse:503"]
    );
}

#[cfg(test)]
#[path = "early_update_tests.rs"]
mod early_update;

#[test]
fn the_operator_hangs_up_with_its_own_reason() {
    let mut r = rig_in(Start::Connected);
    let id = r.call_id();
    let other = Input::OperatorHangup {
        call_id: CallId::new("not-this-call"),
    };
    assert!(r.feed(other).is_empty(), "another call's id is ignored");
    assert_eq!(r.core.phase(), CallPhase::Connected);
    let out = r.feed(Input::OperatorHangup {
        call_id: id.clone(),
    });
    assert_eq!(out, ["status3", "sip-hangup"]);
    r.core.handle(
        r.now,
        Input::Sip {
            call_id: id,
            event: SipEvent::Ended { by_remote: false },
        },
    );
    let mut last = None;
    while let Some(e) = r.core.poll_effect() {
        if let Effect::CallStatus(st) = e {
            last = Some(st);
        }
    }
    let st = last.expect("a final status");
    assert_eq!(st.status, crate::call::StatusCode::NotConnected);
    assert_eq!(
        st.reason.as_deref(),
        Some(crate::call::controller::OPERATOR_HANGUP)
    );
    assert_eq!(r.core.phase(), CallPhase::Idle);
}

#[test]
fn the_operator_refuses_a_ringing_call() {
    let mut r = rig_in(Start::Ringing);
    let id = r.call_id();
    let out = r.feed(Input::OperatorHangup { call_id: id });
    assert!(out.iter().any(|e| e.starts_with("refuse")), "{out:?}");
    assert_eq!(r.core.phase(), CallPhase::Idle);
}
#[cfg(test)]
#[path = "drain_tests.rs"]
mod drain;
