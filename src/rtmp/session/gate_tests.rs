//! The session consults its gate on `connect` and answers by itself.

use bytes::BytesMut;

use super::super::{Session, SessionConfig, SessionError, SessionEvent};
use super::*;
use crate::amf;
use crate::rtmp::chunk::{ChunkLimits, ChunkReader, ChunkWriter};
use crate::rtmp::message::{type_id, Message};
use crate::rtmp::RtmpTimestamp;

/// Admits a connect whose first argument is "open sesame", granting the app.
struct Password;

impl ConnectGate for Password {
    fn admit(&mut self, req: &ConnectRequest<'_>) -> Result<Grant, String> {
        match req.args.first().and_then(Value::as_str) {
            Some("open sesame") => Ok(Grant::new(format!(
                "{}|{}",
                req.app,
                req.tc_url.unwrap_or_default()
            ))),
            Some(_) => Err("bad password".into()),
            None => Err("no password".into()),
        }
    }
}

fn session() -> Session {
    Session::new(SessionConfig {
        app: None,
        chunk_size: 4096,
        window_ack_size: 2_500_000,
        limits: ChunkLimits::DEFAULT,
        limits_before_connect: ChunkLimits::DEFAULT,
        budget: None,
        max_streams: 16,
        amf_limits: amf::Limits::default(),
    })
    .with_connect_gate(Box::new(Password))
}

fn connect(args: &[Value]) -> Vec<u8> {
    let mut values = vec![
        "connect".into(),
        1.0.into(),
        Value::object_builder()
            .set("app", "phone")
            .set("tcUrl", "rtmp://127.0.0.1/phone")
            .build(),
    ];
    values.extend_from_slice(args);
    let msg = Message {
        csid: 3,
        timestamp: RtmpTimestamp(0),
        type_id: type_id::COMMAND_AMF0,
        stream_id: 0,
        payload: amf::encode_amf0_all(&values).into(),
    };
    let mut out = BytesMut::new();
    ChunkWriter::new().write(&msg, &mut out).unwrap();
    out.to_vec()
}

/// The reply to connect: method name and info object.
fn reply(s: &mut Session) -> (String, Value) {
    let mut inbox = BytesMut::from(&s.take_output().unwrap()[..]);
    let mut reader = ChunkReader::new(ChunkLimits::DEFAULT);
    while let Some(m) = reader.read(&mut inbox).unwrap() {
        if m.type_id == type_id::COMMAND_AMF0 {
            let v = amf::decode_amf0_all(&m.payload).unwrap();
            return (v[0].as_str().unwrap().to_string(), v[3].clone());
        }
    }
    panic!("no reply to connect");
}

#[test]
fn admitted_connect_carries_the_grant() {
    let mut s = session();
    s.handle_input(&connect(&["open sesame".into()])).unwrap();
    let (method, info) = reply(&mut s);
    assert_eq!(method, "_result");
    assert_eq!(info.get_str("code"), Some("NetConnection.Connect.Success"));
    match s.poll_event() {
        Some(SessionEvent::Connected { grant, .. }) => assert_eq!(
            grant.get::<String>().map(String::as_str),
            Some("phone|rtmp://127.0.0.1/phone")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn refused_connect_is_rejected_with_the_reason_and_ends() {
    for (args, why) in [
        (vec![Value::from("guess")], "bad password"),
        (vec![], "no password"),
    ] {
        let mut s = session();
        let err = s.handle_input(&connect(&args)).unwrap_err();
        assert!(
            matches!(&err, SessionError::Rejected(w) if w == why),
            "{err}"
        );
        let (method, info) = reply(&mut s);
        assert_eq!(method, "_error");
        assert_eq!(info.get_str("code"), Some("NetConnection.Connect.Rejected"));
        assert_eq!(info.get_str("description"), Some(why));
        assert!(s.poll_event().is_none(), "no Connected event");
    }
}

#[test]
fn without_a_gate_the_grant_is_empty() {
    let mut s = Session::new(SessionConfig {
        app: None,
        chunk_size: 4096,
        window_ack_size: 2_500_000,
        limits: ChunkLimits::DEFAULT,
        limits_before_connect: ChunkLimits::DEFAULT,
        budget: None,
        max_streams: 16,
        amf_limits: amf::Limits::default(),
    });
    s.handle_input(&connect(&[])).unwrap();
    match s.poll_event() {
        Some(SessionEvent::Connected { grant, .. }) => assert!(grant.is_empty()),
        other => panic!("{other:?}"),
    }
    assert_eq!(Grant::default(), Grant::default());
    let g = Grant::new(1u8);
    assert_eq!(g.clone(), g);
    assert_ne!(g, Grant::new(1u8));
    assert!(g.get::<u16>().is_none());
}
