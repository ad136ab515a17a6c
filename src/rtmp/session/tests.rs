//! Session tests with a scripted client built from our chunk writer/reader.

use super::*;
use crate::amf::Value;

struct Client {
    writer: ChunkWriter,
    reader: ChunkReader,
    inbox: BytesMut,
}

impl Client {
    fn new() -> Self {
        Self {
            writer: ChunkWriter::new(),
            reader: ChunkReader::new(ChunkLimits::DEFAULT),
            inbox: BytesMut::new(),
        }
    }

    fn invoke(&mut self, stream_id: u32, values: &[Value]) -> Vec<u8> {
        let msg = Message {
            csid: 3,
            timestamp: RtmpTimestamp(0),
            type_id: type_id::COMMAND_AMF0,
            stream_id,
            payload: amf::encode_amf0_all(values).into(),
        };
        let mut out = BytesMut::new();
        self.writer.write(&msg, &mut out).unwrap();
        out.to_vec()
    }

    fn audio(&mut self, stream_id: u32, ts: u32, body: &[u8]) -> Vec<u8> {
        let msg = Message {
            csid: 4,
            timestamp: RtmpTimestamp(ts),
            type_id: type_id::AUDIO,
            stream_id,
            payload: Bytes::copy_from_slice(body),
        };
        let mut out = BytesMut::new();
        self.writer.write(&msg, &mut out).unwrap();
        out.to_vec()
    }

    /// Everything the server sent, as messages.
    fn receive(&mut self, s: &mut Session) -> Vec<Message> {
        if let Some(b) = s.take_output() {
            self.inbox.extend_from_slice(&b);
        }
        let mut v = Vec::new();
        while let Some(m) = self.reader.read(&mut self.inbox).unwrap() {
            v.push(m);
        }
        v
    }
}

fn commands(msgs: &[Message]) -> Vec<(u32, Vec<Value>)> {
    msgs.iter()
        .filter(|m| m.type_id == type_id::COMMAND_AMF0)
        .map(|m| (m.stream_id, amf::decode_amf0_all(&m.payload).unwrap()))
        .collect()
}

fn session(app: Option<&str>) -> Session {
    Session::new(SessionConfig {
        app: app.map(str::to_string),
        chunk_size: 4096,
        window_ack_size: 2_500_000,
        limits: ChunkLimits::DEFAULT,
        limits_before_connect: ChunkLimits {
            max_message_size: 8192,
            max_chunk_streams: 8,
        },
        budget: None,
        max_streams: MAX_STREAMS,
        amf_limits: amf::Limits::default(),
    })
}

fn connect_values(app: &str) -> Vec<Value> {
    vec![
        "connect".into(),
        1.0.into(),
        Value::object_builder()
            .set("app", app)
            .set("flashVer", "WIN 11,2,202,235")
            .set("tcUrl", format!("rtmp://127.0.0.1/{app}"))
            .set("objectEncoding", 3.0)
            .build(),
    ]
}

fn connected() -> (Session, Client) {
    let mut s = session(None);
    let mut c = Client::new();
    s.handle_input(&c.invoke(0, &connect_values("phone")))
        .unwrap();
    let msgs = c.receive(&mut s);
    let cmds = commands(&msgs);
    let (_, result) = cmds
        .iter()
        .find(|(_, v)| v[0].as_str() == Some("_result"))
        .unwrap();
    assert_eq!(result[1].as_f64(), Some(1.0));
    assert_eq!(
        result[3].get_str("code"),
        Some("NetConnection.Connect.Success")
    );
    assert_eq!(result[3].get_f64("objectEncoding"), Some(3.0));
    // Window ack size, peer bandwidth and chunk size came first.
    let controls: Vec<u8> = msgs
        .iter()
        .map(|m| m.type_id)
        .take_while(|t| *t != 20)
        .collect();
    assert!(controls.contains(&type_id::WINDOW_ACK_SIZE));
    assert!(controls.contains(&type_id::SET_PEER_BANDWIDTH));
    assert!(controls.contains(&type_id::SET_CHUNK_SIZE));
    assert!(matches!(
        s.poll_event(),
        Some(SessionEvent::Connected { .. })
    ));
    (s, c)
}

#[test]
fn connect_success_echoes_object_encoding() {
    connected();
}

#[test]
fn connect_to_wrong_app_is_rejected() {
    let mut s = session(Some("phone"));
    let mut c = Client::new();
    let err = s
        .handle_input(&c.invoke(0, &connect_values("other")))
        .unwrap_err();
    assert!(matches!(err, SessionError::Rejected(_)));
    let cmds = commands(&c.receive(&mut s));
    assert_eq!(cmds[0].1[0].as_str(), Some("_error"));
    assert_eq!(
        cmds[0].1[3].get_str("code"),
        Some("NetConnection.Connect.Rejected")
    );
}

#[test]
fn command_before_connect_ends_session() {
    let mut s = session(None);
    let mut c = Client::new();
    let bytes = c.invoke(
        0,
        &["dial".into(), 2.0.into(), Value::Null, "sip:x@y".into()],
    );
    assert!(matches!(
        s.handle_input(&bytes),
        Err(SessionError::NotConnected(_))
    ));
}

#[test]
fn ffmpeg_publish_sequence() {
    let (mut s, mut c) = connected();
    c.receive(&mut s);
    let mut input = Vec::new();
    input.extend(c.invoke(
        0,
        &[
            "releaseStream".into(),
            2.0.into(),
            Value::Null,
            "abc".into(),
        ],
    ));
    input.extend(c.invoke(
        0,
        &["FCPublish".into(), 3.0.into(), Value::Null, "abc".into()],
    ));
    input.extend(c.invoke(0, &["createStream".into(), 4.0.into(), Value::Null]));
    s.handle_input(&input).unwrap();
    let cmds = commands(&c.receive(&mut s));
    let names: Vec<_> = cmds
        .iter()
        .map(|(_, v)| v[0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["_result", "_result", "onFCPublish", "_result"]);
    let stream_id = cmds[3].1[3].as_f64().unwrap() as u32;
    assert_eq!(stream_id, 1);
    let publish = c.invoke(
        stream_id,
        &[
            "publish".into(),
            5.0.into(),
            Value::Null,
            "abc".into(),
            "live".into(),
        ],
    );
    s.handle_input(&publish).unwrap();
    assert_eq!(
        s.poll_event(),
        Some(SessionEvent::Publish {
            stream_id,
            name: "abc".into()
        })
    );
    s.accept_publish(stream_id);
    let cmds = commands(&c.receive(&mut s));
    // NetStream status goes to the stream it concerns.
    assert_eq!(cmds[0].0, stream_id);
    assert_eq!(
        cmds[0].1[3].get_str("code"),
        Some("NetStream.Publish.Start")
    );
    // Audio on the publishing stream is reported with its timestamp.
    s.handle_input(&c.audio(stream_id, 40, &[0xB6, 1, 2, 3]))
        .unwrap();
    match s.poll_event() {
        Some(SessionEvent::Audio {
            stream_id: id,
            timestamp_ms,
            body,
        }) => {
            assert_eq!((id, timestamp_ms), (stream_id, 40));
            assert_eq!(&body[..], &[0xB6, 1, 2, 3]);
        }
        other => panic!("{other:?}"),
    }
    // Audio on a stream that is not publishing is dropped.
    s.handle_input(&c.audio(9, 60, &[0xB2, 1])).unwrap();
    assert_eq!(s.poll_event(), None);
    let del = c.invoke(
        0,
        &[
            "deleteStream".into(),
            0.0.into(),
            Value::Null,
            (stream_id as f64).into(),
        ],
    );
    s.handle_input(&del).unwrap();
    assert_eq!(
        s.poll_event(),
        Some(SessionEvent::StreamClosed { stream_id })
    );
}

#[test]
fn play_then_audio_goes_to_the_play_stream() {
    let (mut s, mut c) = connected();
    c.receive(&mut s);
    s.handle_input(&c.invoke(0, &["createStream".into(), 2.0.into(), Value::Null]))
        .unwrap();
    c.receive(&mut s);
    s.handle_input(&c.invoke(1, &["play".into(), 0.0.into(), Value::Null, "far".into()]))
        .unwrap();
    assert_eq!(
        s.poll_event(),
        Some(SessionEvent::Play {
            stream_id: 1,
            name: "far".into()
        })
    );
    assert!(
        !s.send_audio(1, 0, Bytes::from_static(&[0xB2, 0])),
        "not yet accepted"
    );
    s.accept_play(1);
    let msgs = c.receive(&mut s);
    let codes: Vec<_> = commands(&msgs)
        .into_iter()
        .filter(|(id, _)| *id == 1)
        .filter_map(|(_, v)| v.get(3).and_then(|i| i.get_str("code")).map(str::to_string))
        .collect();
    assert_eq!(codes, ["NetStream.Play.Reset", "NetStream.Play.Start"]);
    assert!(s.send_audio(1, 20, Bytes::from_static(&[0xB2, 7, 7])));
    let msgs = c.receive(&mut s);
    let audio = msgs.iter().find(|m| m.type_id == type_id::AUDIO).unwrap();
    assert_eq!(audio.stream_id, 1);
    assert_eq!(audio.csid, CSID_AUDIO);
    assert_eq!(audio.timestamp.0, 20);
    assert_eq!(&audio.payload[..], &[0xB2, 7, 7]);
}

#[test]
fn app_invokes_reach_the_driver_and_errors_are_shaped() {
    let (mut s, mut c) = connected();
    c.receive(&mut s);
    s.handle_input(&c.invoke(
        0,
        &["dial".into(), 2.0.into(), Value::Null, "sip:bob@h".into()],
    ))
    .unwrap();
    match s.poll_event() {
        Some(SessionEvent::Invoke(inv)) => {
            assert_eq!(inv.name, "dial");
            assert_eq!(inv.txn, 2.0);
        }
        other => panic!("{other:?}"),
    }
    s.reply_error(2.0, "Sono.Call.NoUri", "no uri");
    let cmds = commands(&c.receive(&mut s));
    assert_eq!(cmds[0].1[0].as_str(), Some("_error"));
    assert_eq!(cmds[0].1[1].as_f64(), Some(2.0));
    assert!(cmds[0].1[2].is_null());
    assert_eq!(cmds[0].1[3].get_str("code"), Some("Sono.Call.NoUri"));
}

#[test]
fn ping_request_is_answered() {
    let (mut s, mut c) = connected();
    c.receive(&mut s);
    let mut out = BytesMut::new();
    c.writer
        .write_control(
            &ControlMessage::UserControl(UserControlEvent::PingRequest { timestamp: 1234 }),
            RtmpTimestamp(0),
            &mut out,
        )
        .unwrap();
    s.handle_input(&out).unwrap();
    let msgs = c.receive(&mut s);
    let pong = msgs.iter().find_map(|m| match m.control() {
        Ok(Some(ControlMessage::UserControl(UserControlEvent::PingResponse { timestamp }))) => {
            Some(timestamp)
        }
        _ => None,
    });
    assert_eq!(pong, Some(1234));
}

#[test]
fn garbage_after_connect_is_an_error_not_a_panic() {
    let (mut s, _c) = connected();
    // A type-3 chunk on a chunk stream with no header: a peer error.
    let r = s.handle_input(&[0xC9, 1, 2, 3]);
    assert!(r.is_err());
}

#[test]
fn before_connect_messages_and_chunk_streams_are_small() {
    // A 9000-byte message header before connect: refused at once.
    let mut s = session(None);
    let wire = [0x03, 0, 0, 0, 0, 0x23, 0x28, 20, 0, 0, 0, 0];
    assert!(matches!(
        s.handle_input(&wire),
        Err(SessionError::Transport(RtmpError::MessageTooLarge {
            length: 9000,
            limit: 8192
        }))
    ));
    // A ninth chunk stream before connect: refused.
    let mut s = session(None);
    let mut wire = Vec::new();
    for csid in 4..=12u8 {
        wire.extend_from_slice(&[csid, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0, 0xAF]);
    }
    assert!(matches!(
        s.handle_input(&wire),
        Err(SessionError::Transport(RtmpError::TooManyChunkStreams {
            limit: 8
        }))
    ));
    // After connect the configured limits apply.
    let (mut s, mut c) = connected();
    let big = vec![0u8; 9000];
    let mut vals = vec![Value::from("x"), Value::from(9.0), Value::Null];
    vals.push(Value::from(String::from_utf8(big).unwrap().as_str()));
    assert!(s.handle_input(&c.invoke(0, &vals)).is_ok());
}

#[test]
fn create_stream_is_bounded_by_config() {
    let mut s = Session::new(SessionConfig {
        max_streams: 2,
        ..session(None).cfg.clone()
    });
    let mut c = Client::new();
    s.handle_input(&c.invoke(0, &connect_values("phone")))
        .unwrap();
    c.receive(&mut s);
    for txn in 2..=4 {
        let create = [
            Value::from("createStream"),
            Value::from(txn as f64),
            Value::Null,
        ];
        s.handle_input(&c.invoke(0, &create)).unwrap();
    }
    let cmds = commands(&c.receive(&mut s));
    let names: Vec<&str> = cmds.iter().filter_map(|(_, v)| v[0].as_str()).collect();
    assert_eq!(names, ["_result", "_result", "_error"]);
}

#[test]
fn unreadable_commands_are_counted_not_all_logged() {
    let (mut s, _c) = connected();
    let mut wire = Vec::new();
    for _ in 0..50 {
        // A 2-byte command message: an AMF string marker cut short.
        wire.extend_from_slice(&[0x03, 0, 0, 0, 0, 0, 2, 20, 0, 0, 0, 0, 0x02, 0x00]);
    }
    s.handle_input(&wire).unwrap();
    assert_eq!(
        s.faults().suppressed(),
        vec![(FaultKind::UnreadableCommand, 45)]
    );
}

#[test]
fn not_connected_error_escapes_the_name() {
    let e = SessionError::NotConnected("a\nb".into()).to_string();
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn connect_reads_ertmp_audio_caps_and_answers_its_map() {
    let mut s = session(None);
    let mut c = Client::new();
    let mut values = connect_values("phone");
    values[2].set("fourCcList", Value::array(["Opus"]));
    s.handle_input(&c.invoke(0, &values)).unwrap();
    let msgs = c.receive(&mut s);
    let cmds = commands(&msgs);
    let (_, result) = cmds
        .iter()
        .find(|(_, v)| v[0].as_str() == Some("_result"))
        .unwrap();
    let map = result[2].get("audioFourCcInfoMap").unwrap();
    assert_eq!(map.get_f64("Opus"), Some(7.0));
    match s.poll_event() {
        Some(SessionEvent::Connected { caps, .. }) => {
            assert!(caps.plays_opus());
            assert!(caps.publishes_opus());
        }
        other => panic!("{other:?}"),
    }
    let (mut old, _) = connected();
    assert!(old.poll_event().is_none());
}

#[test]
fn end_play_sends_unpublish_stop_and_stream_eof_then_stops_audio() {
    let (mut s, mut c) = connected();
    c.receive(&mut s);
    s.handle_input(&c.invoke(0, &["createStream".into(), 2.0.into(), Value::Null]))
        .unwrap();
    c.receive(&mut s);
    s.handle_input(&c.invoke(1, &["play".into(), 0.0.into(), Value::Null, "far".into()]))
        .unwrap();
    assert!(s.poll_event().is_some());
    assert!(!s.end_play(1), "not playing yet: nothing to end");
    s.accept_play(1);
    c.receive(&mut s);
    assert!(s.end_play(1));
    let msgs = c.receive(&mut s);
    let codes: Vec<_> = commands(&msgs)
        .into_iter()
        .filter(|(id, _)| *id == 1)
        .filter_map(|(_, v)| v.get(3).and_then(|i| i.get_str("code")).map(str::to_string))
        .collect();
    assert_eq!(
        codes,
        ["NetStream.Play.UnpublishNotify", "NetStream.Play.Stop"]
    );
    let eof: Vec<_> = msgs
        .iter()
        .filter(|m| m.type_id == type_id::USER_CONTROL)
        .filter_map(|m| UserControlEvent::parse(&m.payload).ok())
        .collect();
    assert_eq!(eof, [UserControlEvent::StreamEof { stream_id: 1 }]);
    // The stream is stopped: no more audio, and a second end is a no-op.
    assert!(!s.send_audio(1, 40, Bytes::from_static(&[0xB2, 1])));
    assert!(!s.end_play(1));
    assert!(c.receive(&mut s).is_empty());
}

/// `onMetaData` of a play names the codec the runtime will send for these
/// caps: Speex by default, µ-law or A-law for an `audioCodecs` mask without
/// Speex, Opus for an E-RTMP Opus client.
#[test]
fn play_metadata_names_the_downlink_codec_of_the_caps() {
    let cases: [(Option<f64>, bool, f64, f64); 5] = [
        (None, false, 11.0, 16_000.0),
        (Some(0x0DF7 as f64), false, 11.0, 16_000.0),
        (Some(0x0100 as f64), false, 8.0, 8_000.0),
        (Some(0x0080 as f64), false, 7.0, 8_000.0),
        (
            Some(0x0100 as f64),
            true,
            f64::from(u32::from_be_bytes(*b"Opus")),
            48_000.0,
        ),
    ];
    for (mask, opus, codec_id, rate) in cases {
        let mut s = session(None);
        let mut c = Client::new();
        let mut values = connect_values("phone");
        if let Some(m) = mask {
            values[2].set("audioCodecs", Value::from(m));
        }
        if opus {
            values[2].set("fourCcList", Value::array(["Opus"]));
        }
        s.handle_input(&c.invoke(0, &values)).unwrap();
        c.receive(&mut s);
        while s.poll_event().is_some() {}
        s.handle_input(&c.invoke(0, &["createStream".into(), 2.0.into(), Value::Null]))
            .unwrap();
        c.receive(&mut s);
        s.handle_input(&c.invoke(1, &["play".into(), 0.0.into(), Value::Null, "far".into()]))
            .unwrap();
        s.accept_play(1);
        let msgs = c.receive(&mut s);
        let meta = msgs
            .iter()
            .filter(|m| m.type_id == type_id::DATA_AMF0)
            .filter_map(|m| amf::decode_amf0_all(&m.payload).ok())
            .find(|v| v.first().and_then(Value::as_str) == Some("onMetaData"))
            .unwrap_or_else(|| panic!("no onMetaData for {mask:?}"));
        assert_eq!(
            meta[1].get_f64("audiocodecid"),
            Some(codec_id),
            "{mask:?} {opus}"
        );
        assert_eq!(
            meta[1].get_f64("audiosamplerate"),
            Some(rate),
            "{mask:?} {opus}"
        );
    }
}
