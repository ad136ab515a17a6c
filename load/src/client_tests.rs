//! The client core against a scripted server built from the gateway's own
//! server handshake and chunk reader/writer, on a virtual clock.

use super::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rtmp2sip::rtmp::ServerHandshake;
use std::time::Duration;

/// The server side of the test: handshake, chunk reader and writer.
struct Server {
    hs: ServerHandshake,
    reader: ChunkReader,
    writer: ChunkWriter,
    input: BytesMut,
    rng: StdRng,
}

impl Server {
    fn new() -> Self {
        Self {
            hs: ServerHandshake::new(0),
            reader: ChunkReader::new(ChunkLimits::DEFAULT),
            writer: ChunkWriter::new(),
            input: BytesMut::new(),
            rng: StdRng::seed_from_u64(2),
        }
    }

    /// Takes the client's bytes; returns the server's handshake reply and the
    /// commands (name, txn, stream id, values) the client sent.
    fn receive(&mut self, client: &mut Client) -> (BytesMut, Vec<(String, f64, u32, Vec<Value>)>) {
        self.input.extend_from_slice(client.transmit());
        client.transmit().clear();
        let mut out = BytesMut::new();
        self.hs
            .receive(&mut self.input, &mut self.rng, &mut out)
            .expect("handshake");
        let mut cmds = Vec::new();
        if self.hs.is_done() {
            while let Some(m) = self.reader.read(&mut self.input).expect("chunks") {
                if m.type_id == type_id::COMMAND_AMF0 {
                    let v = decode_amf0_all(&m.payload).expect("amf");
                    let name = v[0].as_str().unwrap_or("").to_owned();
                    let txn = v[1].as_f64().unwrap_or(-1.0);
                    cmds.push((name, txn, m.stream_id, v));
                }
            }
        }
        (out, cmds)
    }

    fn command(&mut self, stream_id: u32, values: &[Value]) -> BytesMut {
        let mut out = BytesMut::new();
        let msg = Message {
            csid: 3,
            timestamp: RtmpTimestamp::ZERO,
            type_id: type_id::COMMAND_AMF0,
            stream_id,
            payload: Bytes::from(encode_amf0_all(values)),
        };
        self.writer.write(&msg, &mut out).expect("write");
        out
    }

    fn status(&mut self, code: u8) -> BytesMut {
        let info = Value::object_builder()
            .set("level", "status")
            .set("code", "Sono.Call.Status")
            .set("status_code", f64::from(code))
            .build();
        self.command(0, &["onStatus".into(), 0.0.into(), Value::Null, info])
    }

    fn result(&mut self, txn: f64, v: Value) -> BytesMut {
        self.command(0, &["_result".into(), txn.into(), Value::Null, v])
    }
}

fn connected(t0: Instant) -> (Client, Server, StdRng) {
    let mut rng = StdRng::seed_from_u64(1);
    let mut c = Client::new("phone", "rtmp://127.0.0.1:1935/phone", true, &mut rng);
    let mut s = Server::new();
    let (reply, _) = s.receive(&mut c);
    c.handle_bytes(t0, &reply, &mut rng).expect("s0s1s2");
    let (_, cmds) = s.receive(&mut c);
    assert_eq!(cmds.len(), 1);
    assert_eq!(cmds[0].0, "connect");
    assert_eq!(cmds[0].3[2].get_str("app"), Some("phone"));
    assert_eq!(
        cmds[0].3[2].get("fourCcList"),
        Some(&Value::StrictArray(vec!["Opus".into()]))
    );
    let r = s.result(1.0, Value::Null);
    c.handle_bytes(t0 + Duration::from_millis(3), &r, &mut rng)
        .expect("_result");
    assert_eq!(
        c.poll_event(),
        Some(Event::Connected {
            at: t0 + Duration::from_millis(3)
        })
    );
    (c, s, rng)
}

#[test]
fn handshake_connect_dial_streams_and_audio() {
    let t0 = Instant::now();
    let (mut c, mut s, mut rng) = connected(t0);
    assert!(matches!(
        c.send_audio(0, Bytes::from_static(b"\xb2x")),
        Err(ClientError::Misuse(_))
    ));
    c.dial("sip:echo@127.0.0.1").expect("dial");
    assert!(c.dial("sip:again@x").is_err(), "one dial per connection");
    let (_, cmds) = s.receive(&mut c);
    assert_eq!(cmds[0].0, "dial");
    assert_eq!(cmds[0].3[3].as_str(), Some("sip:echo@127.0.0.1"));

    for code in [1, 2, 4] {
        let b = s.status(code);
        c.handle_bytes(t0, &b, &mut rng).expect("status");
        assert!(matches!(c.poll_event(), Some(Event::CallStatus { code: k, .. }) if k == code));
    }
    let (_, cmds) = s.receive(&mut c);
    let names: Vec<_> = cmds.iter().map(|c| (c.0.as_str(), c.1)).collect();
    assert_eq!(names, [("createStream", 3.0), ("createStream", 4.0)]);

    let mut b = s.result(3.0, 1.0.into());
    b.extend_from_slice(&s.result(4.0, 2.0.into()));
    c.handle_bytes(t0, &b, &mut rng).expect("results");
    assert!(matches!(c.poll_event(), Some(Event::StreamsReady { .. })));
    assert!(c.streaming());
    let (_, cmds) = s.receive(&mut c);
    assert_eq!((cmds[0].0.as_str(), cmds[0].2), ("publish", 1));
    assert_eq!((cmds[1].0.as_str(), cmds[1].2), ("play", 2));

    // Audio on the play stream (2) is an event; on another stream it is not.
    for sid in [2, 1] {
        let mut out = BytesMut::new();
        let msg = Message {
            csid: 6,
            timestamp: RtmpTimestamp::from_millis(40),
            type_id: type_id::AUDIO,
            stream_id: sid,
            payload: Bytes::from_static(b"\xb2abc"),
        };
        s.writer.write(&msg, &mut out).expect("write");
        c.handle_bytes(t0, &out, &mut rng).expect("audio");
    }
    match c.poll_event() {
        Some(Event::Audio {
            timestamp, body, ..
        }) => {
            assert_eq!(timestamp.as_millis(), 40);
            assert_eq!(&body[..], b"\xb2abc");
        }
        other => panic!("expected audio, got {other:?}"),
    }
    assert_eq!(c.poll_event(), None);

    c.send_audio(20, Bytes::from_static(b"\xb2zz"))
        .expect("audio");
    c.hangup().expect("hangup");
    let (_, cmds) = s.receive(&mut c);
    assert_eq!(cmds[0].0, "hangup");
}

#[test]
fn dial_error_is_an_event() {
    let t0 = Instant::now();
    let (mut c, mut s, mut rng) = connected(t0);
    c.dial("sip:nope@example.com").expect("dial");
    let info = Value::object([
        ("code", "Sono.Call.Forbidden"),
        ("description", "not allowed"),
    ]);
    let b = s.command(0, &["_error".into(), 2.0.into(), Value::Null, info]);
    c.handle_bytes(t0, &b, &mut rng).expect("error");
    assert_eq!(
        c.poll_event(),
        Some(Event::DialRejected {
            reason: "Sono.Call.Forbidden not allowed".into()
        })
    );
}

#[test]
fn ping_is_answered_and_window_acknowledged() {
    let t0 = Instant::now();
    let (mut c, mut s, mut rng) = connected(t0);
    let mut b = BytesMut::new();
    s.writer
        .write_control(
            &ControlMessage::WindowAckSize(1000),
            RtmpTimestamp::ZERO,
            &mut b,
        )
        .expect("w");
    let ping = ControlMessage::UserControl(UserControlEvent::PingRequest { timestamp: 77 });
    s.writer
        .write_control(&ping, RtmpTimestamp::ZERO, &mut b)
        .expect("w");
    for _ in 0..20 {
        s.writer
            .write(
                &Message {
                    csid: 6,
                    timestamp: RtmpTimestamp::ZERO,
                    type_id: type_id::AUDIO,
                    stream_id: 9,
                    payload: Bytes::from(vec![0xb2; 100]),
                },
                &mut b,
            )
            .expect("w");
    }
    c.handle_bytes(t0, &b, &mut rng).expect("bytes");
    s.input.extend_from_slice(c.transmit());
    let mut kinds = Vec::new();
    while let Some(m) = s.reader.read(&mut s.input).expect("read") {
        kinds.push(m.control().expect("control"));
    }
    assert!(kinds.contains(&Some(ControlMessage::UserControl(
        UserControlEvent::PingResponse { timestamp: 77 }
    ))));
    assert!(kinds
        .iter()
        .any(|k| matches!(k, Some(ControlMessage::Acknowledgement { .. }))));
}

#[test]
fn connect_rejected_is_an_error() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut c = Client::new("phone", "rtmp://h/phone", false, &mut rng);
    let mut s = Server::new();
    let (reply, _) = s.receive(&mut c);
    c.handle_bytes(Instant::now(), &reply, &mut rng)
        .expect("hs");
    let info = Value::object([
        ("code", "NetConnection.Connect.Rejected"),
        ("description", "no"),
    ]);
    let b = s.command(0, &["_error".into(), 1.0.into(), Value::Null, info]);
    assert!(matches!(
        c.handle_bytes(Instant::now(), &b, &mut rng),
        Err(ClientError::ConnectRejected(_))
    ));
}
