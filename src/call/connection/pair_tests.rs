//! Pair test, in process and on a virtual clock: client bytes ->
//! `rtmp::Session` -> [`ConnectionCore`] -> a scripted SIP far end (SDP
//! offer/answer with `sip::sdp`) -> `media::Bridge` -> RTP, and the far
//! end's RTP back to the client's play stream. The test's driver does what
//! `runtime::connection` does, with no sockets and no tasks.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::amf::{self, Value};
use crate::call::connection::info::status_info;
use crate::call::connection::{ConnectionConfig, ConnectionCore, Effect, Input, MediaAddr};
use crate::call::policy::DialPolicy;
use crate::call::{Capacity, ControllerConfig};
use crate::media::codec::Codec;
use crate::media::test_support::{self, decode_rtmp, decode_sip, tone_snr, Peer, SentRtp};
use crate::media::{Bridge, BridgeConfig, LatchMode, RtmpAudio, RtmpCodec, RtmpOut, TransmitKind};
use crate::rtmp::chunk::{ChunkLimits, ChunkReader, ChunkWriter};
use crate::rtmp::message::{type_id, Message};
use crate::rtmp::session::{Session, SessionConfig, SessionEvent};
use crate::rtmp::RtmpTimestamp;
use crate::sip::event::{CallId, SipEvent, SipStatus};
use crate::sip::sdp;

const FAR: &str = "127.0.0.1:50000";

/// The RTMP client: our chunk writer and reader.
struct Client {
    writer: ChunkWriter,
    reader: ChunkReader,
    inbox: BytesMut,
    /// onStatus info objects received on stream 0, in order.
    statuses: Vec<Value>,
    /// Audio received, per stream.
    audio: Vec<(u32, RtmpAudio)>,
    /// `_result`s and `_error`s: (name, txn, info).
    replies: Vec<(String, f64, Value)>,
}

impl Client {
    fn msg(&mut self, type_id: u8, stream_id: u32, ts: u32, payload: Vec<u8>) -> Vec<u8> {
        let msg = Message {
            csid: if type_id == type_id::AUDIO { 4 } else { 3 },
            timestamp: RtmpTimestamp(ts),
            type_id,
            stream_id,
            payload: payload.into(),
        };
        let mut out = BytesMut::new();
        self.writer.write(&msg, &mut out).expect("write");
        out.to_vec()
    }

    fn invoke(&mut self, stream_id: u32, values: &[Value]) -> Vec<u8> {
        let payload = amf::encode_amf0_all(values);
        self.msg(type_id::COMMAND_AMF0, stream_id, 0, payload)
    }

    fn read(&mut self, bytes: &[u8]) {
        self.inbox.extend_from_slice(bytes);
        while let Some(m) = self.reader.read(&mut self.inbox).expect("read") {
            match m.type_id {
                type_id::AUDIO => self.audio.push((
                    m.stream_id,
                    RtmpAudio {
                        timestamp_ms: m.timestamp.0,
                        body: m.payload,
                    },
                )),
                type_id::COMMAND_AMF0 => {
                    let v = amf::decode_amf0_all(&m.payload).expect("amf");
                    let name = v.first().and_then(Value::as_str).unwrap_or_default();
                    let txn = v.get(1).and_then(Value::as_f64).unwrap_or_default();
                    let info = v.get(3).cloned().unwrap_or(Value::Null);
                    match name {
                        "onStatus" if m.stream_id == 0 => self.statuses.push(info),
                        "_result" | "_error" => self.replies.push((name.into(), txn, info)),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }

    fn status_codes(&self) -> Vec<(f64, Option<f64>)> {
        self.statuses
            .iter()
            .filter(|v| v.get_str("code") == Some("Sono.Call.Status"))
            .filter_map(|v| Some((v.get_f64("status_code")?, v.get_f64("sip_code"))))
            .collect()
    }
}

/// The scripted SIP far end.
#[derive(Default)]
struct FarEnd {
    invites: Vec<(CallId, Vec<u8>)>,
    hangups: Vec<CallId>,
    rtp: Vec<SentRtp>,
}

/// Session + core + far end + bridge, and the driver between them.
struct Pair {
    now: Instant,
    session: Session,
    core: ConnectionCore,
    client: Client,
    far: FarEnd,
    bridge: Option<Bridge>,
    players: Vec<u32>,
}

impl Pair {
    fn new() -> Self {
        let now = Instant::now();
        let session = Session::new(SessionConfig {
            app: None,
            chunk_size: 4096,
            window_ack_size: 2_500_000,
            limits: ChunkLimits::DEFAULT,
            limits_before_connect: ChunkLimits::DEFAULT,
            budget: None,
            max_streams: 8,
            amf_limits: amf::Limits::default(),
        });
        let core = ConnectionCore::new(
            now,
            ConnectionConfig {
                controller: ControllerConfig {
                    policy: DialPolicy::parse(&["sip:*@127.0.0.1".into()]).expect("policy"),
                    echo_user: "echo".into(),
                    ring_timeout: Duration::from_secs(60),
                },
                connect_timeout: Duration::from_secs(10),
                idle_timeout: Duration::from_secs(120),
                max_dials_per_minute: 10,
                close_grace: Duration::from_secs(5),
                codecs: vec![Codec::Pcmu],
                srtp: Default::default(),
            },
            3,
        );
        Self {
            now,
            session,
            core,
            client: Client {
                writer: ChunkWriter::new(),
                reader: ChunkReader::new(ChunkLimits::DEFAULT),
                inbox: BytesMut::new(),
                statuses: Vec::new(),
                audio: Vec::new(),
                replies: Vec::new(),
            },
            far: FarEnd::default(),
            bridge: None,
            players: Vec::new(),
        }
    }

    /// Client bytes into the session, its events into the core.
    fn send(&mut self, bytes: &[u8]) {
        self.core.handle(self.now, Input::ClientActivity);
        self.session.handle_input(bytes).expect("session");
        while let Some(ev) = self.session.poll_event() {
            let input = match ev {
                SessionEvent::Publish { stream_id, .. } => Input::Publish {
                    stream_id,
                    named: None,
                },
                SessionEvent::Play { stream_id, .. } => Input::Play {
                    stream_id,
                    named: None,
                },
                other => Input::Session(other),
            };
            self.feed(input);
        }
        self.flush();
    }

    fn feed(&mut self, input: Input) {
        self.core.handle(self.now, input);
        self.drive();
    }

    fn flush(&mut self) {
        while let Some(b) = self.session.take_output() {
            self.client.read(&b);
        }
    }

    /// Carries out the core's effects, as `runtime::connection` does.
    fn drive(&mut self) {
        while let Some(effect) = self.core.poll_effect() {
            let answer = match effect {
                Effect::ReplyResult { txn, value } => {
                    self.session.reply_result(txn, value);
                    None
                }
                Effect::ReplyError {
                    txn,
                    code,
                    description,
                    ..
                } => {
                    self.session.reply_error(txn, code, &description);
                    None
                }
                Effect::Status(info) => {
                    self.session.send_connection_status(info);
                    None
                }
                Effect::CallStatus(st) => {
                    self.session.send_connection_status(status_info(&st));
                    None
                }
                Effect::AcceptPublish(id) => {
                    self.session.accept_publish(id);
                    None
                }
                Effect::AcceptPlay(id) => {
                    self.session.accept_play(id);
                    None
                }
                Effect::ReserveCall => Some(Input::Reserved(Capacity::Available)),
                Effect::SubscribeOwn(stream_id) => {
                    self.players.push(stream_id);
                    Some(Input::OwnSubscribed {
                        stream_id,
                        result: Ok(()),
                    })
                }
                Effect::AllocatePorts { call_id, toward } => {
                    assert_eq!(toward, Some("127.0.0.1:5060".parse().expect("addr")));
                    Some(Input::PortsAllocated {
                        call_id,
                        result: Ok(MediaAddr {
                            addr: "127.0.0.1".parse().expect("ip"),
                            port: 40000,
                        }),
                    })
                }
                Effect::Invite {
                    call_id,
                    target,
                    offer,
                } => {
                    assert_eq!(target.canonical(), "sip:bob@127.0.0.1");
                    self.far.invites.push((call_id, offer));
                    None
                }
                Effect::StartMedia {
                    call_id,
                    negotiated,
                } => {
                    let mut cfg: BridgeConfig = test_support::config(Codec::Pcmu, RtmpOut::Speex);
                    cfg.sip_codec = negotiated;
                    cfg.latching = LatchMode::Ip;
                    self.bridge = Some(test_support::bridge(cfg, self.now));
                    Some(Input::MediaStarted {
                        call_id,
                        result: Ok(()),
                    })
                }
                Effect::Audio {
                    timestamp_ms, body, ..
                } => {
                    if let Some(b) = self.bridge.as_mut() {
                        b.handle_rtmp_audio(self.now, RtmpTimestamp(timestamp_ms), &body)
                            .expect("published audio");
                    }
                    self.pump();
                    None
                }
                Effect::SipHangup(call_id) => {
                    self.far.hangups.push(call_id);
                    None
                }
                Effect::ReleaseCall(_) => {
                    self.bridge = None;
                    None
                }
                Effect::NotifyUnpublished(id) => {
                    self.session.notify_unpublished(id);
                    None
                }
                _ => None,
            };
            if let Some(a) = answer {
                self.core.handle(self.now, a);
            }
        }
        self.flush();
    }

    /// Moves the bridge's output: RTP to the far end, audio to players.
    fn pump(&mut self) {
        let Some(b) = self.bridge.as_mut() else {
            return;
        };
        while let Some(t) = b.poll_transmit() {
            if t.kind != TransmitKind::Rtp {
                continue;
            }
            let p = crate::media::rtp::parse(&t.payload).expect("rtp");
            assert_eq!(t.dest, FAR.parse::<SocketAddr>().expect("addr"));
            self.far.rtp.push(SentRtp {
                ssrc: p.ssrc,
                pt: p.pt,
                seq: p.seq,
                ts: p.ts.0,
                marker: p.marker,
                payload: p.payload.to_vec(),
            });
        }
        while let Some(a) = b.poll_rtmp_audio() {
            for &stream_id in &self.players {
                self.session
                    .send_audio(stream_id, a.timestamp_ms, a.body.clone());
            }
        }
    }

    /// Advances the virtual clock, running the bridge's and the core's timers.
    fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        while let Some(t) = self
            .bridge
            .as_ref()
            .and_then(Bridge::poll_timeout)
            .filter(|&t| t <= until)
        {
            self.now = t.max(self.now);
            if let Some(b) = self.bridge.as_mut() {
                b.handle_timeout(self.now);
            }
            self.pump();
        }
        self.now = until;
        self.core.handle_timeout(self.now);
        self.drive();
    }
}

#[test]
fn a_call_from_client_bytes_to_rtp_and_back() {
    let mut p = Pair::new();
    let connect = vec![
        "connect".into(),
        1.0.into(),
        Value::object_builder()
            .set("app", "phone")
            .set("tcUrl", "rtmp://127.0.0.1/phone")
            .build(),
    ];
    let b = p.client.invoke(0, &connect);
    p.send(&b);
    let mut b = p
        .client
        .invoke(0, &["createStream".into(), 2.0.into(), Value::Null]);
    b.extend(
        p.client
            .invoke(0, &["createStream".into(), 3.0.into(), Value::Null]),
    );
    b.extend(p.client.invoke(
        0,
        &[
            "dial".into(),
            4.0.into(),
            Value::Null,
            "sip:bob@127.0.0.1".into(),
        ],
    ));
    p.send(&b);
    assert_eq!(p.client.status_codes(), [(1.0, None)]);

    // The far end rings, then answers the offer.
    let (call_id, offer) = p.far.invites.first().cloned().expect("an INVITE");
    p.feed(Input::Sip {
        call_id: call_id.clone(),
        event: SipEvent::Progress {
            status: SipStatus::new(180, "Ringing"),
            sdp: None,
        },
    });
    let far = sdp::LocalMedia {
        addr: "127.0.0.1".parse().expect("ip"),
        port: 50000,
        session_id: 9,
        session_version: 1,
    };
    let (answer, _) = sdp::answer(&offer, &[Codec::Pcmu], &far).expect("answer");
    p.feed(Input::Sip {
        call_id: call_id.clone(),
        event: SipEvent::Answered {
            sdp: answer.to_bytes(),
        },
    });
    assert_eq!(
        p.client.status_codes(),
        [
            (1.0, None),
            (1.0, Some(180.0)),
            (2.0, Some(200.0)),
            (4.0, None)
        ]
    );

    // The client publishes on stream 1 and plays on stream 2 ("dummy"
    // binds to the own call).
    let b = p.client.invoke(
        1,
        &[
            "publish".into(),
            0.0.into(),
            Value::Null,
            "dummy".into(),
            "live".into(),
        ],
    );
    p.send(&b);
    let b = p
        .client
        .invoke(2, &["play".into(), 0.0.into(), Value::Null, "dummy".into()]);
    p.send(&b);
    assert_eq!(p.players, [2]);

    // One second of a 1 kHz tone, Speex as Flash sends it, reaches the far
    // end as PCMU.
    let mut mic = test_support::Client::new(RtmpCodec::Speex);
    let start = p.now;
    for (ts, body) in mic.tone_messages(1.0) {
        let due = start + Duration::from_millis(u64::from(ts));
        if due > p.now {
            p.advance(due - p.now);
        }
        let b = p.client.msg(type_id::AUDIO, 1, ts, body);
        p.send(&b);
    }
    assert!(p.far.rtp.len() >= 45, "{} RTP packets", p.far.rtp.len());
    let pcm = decode_sip(Codec::Pcmu, &p.far.rtp);
    let snr = tone_snr(&pcm, 8000, 1000.0, 800);
    eprintln!("pair: SNR RTMP Speex -> SIP PCMU {snr:.1} dB");
    assert!(snr > 15.0, "tone at the far end: SNR {snr:.1} dB");

    // One second of the far end's tone reaches the client's play stream.
    let mut peer = Peer::new(Codec::Pcmu);
    let from: SocketAddr = FAR.parse().expect("addr");
    for _ in 0..50 {
        let pkt = peer.next_packet();
        if let Some(b) = p.bridge.as_mut() {
            b.handle_rtp(p.now, from, &pkt).expect("rtp in");
        }
        p.pump();
        p.advance(Duration::from_millis(20));
    }
    p.advance(Duration::from_millis(200));
    p.flush();
    let played: Vec<RtmpAudio> = p
        .client
        .audio
        .iter()
        .filter(|(s, _)| *s == 2)
        .map(|(_, a)| a.clone())
        .collect();
    assert!(played.len() >= 15, "{} audio messages played", played.len());
    let pcm = decode_rtmp(RtmpCodec::Speex, &played);
    let snr = tone_snr(&pcm, 16000, 1000.0, 3200);
    eprintln!("pair: SNR SIP PCMU -> RTMP Speex {snr:.1} dB");
    assert!(snr > 15.0, "tone at the client: SNR {snr:.1} dB");

    // hangup(): BYE at the far end, which confirms; status 3 then 0.
    let b = p
        .client
        .invoke(0, &["hangup".into(), 5.0.into(), Value::Null]);
    p.send(&b);
    assert_eq!(p.far.hangups, [call_id.clone()]);
    p.feed(Input::Sip {
        call_id,
        event: SipEvent::Ended { by_remote: false },
    });
    let codes = p.client.status_codes();
    assert_eq!(codes[4..], [(3.0, None), (0.0, Some(200.0))]);
    assert!(p.bridge.is_none(), "media released");
    assert!(p
        .client
        .replies
        .iter()
        .any(|(n, txn, _)| n == "_result" && *txn == 5.0));
}
