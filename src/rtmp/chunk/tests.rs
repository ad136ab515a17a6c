//! Chunk reader/writer tests: hand-built wire vectors (RTMP spec 1.0,
//! 5.3.2 examples), every header type and basic-header size, extended
//! timestamps, limits, and writer -> reader round trips.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::rtmp::error::RtmpError;
use crate::rtmp::message::{type_id, ControlMessage, UserControlEvent};
use crate::rtmp::time::RtmpTimestamp;

fn read_all(reader: &mut ChunkReader, bytes: &[u8]) -> Result<Vec<Message>, RtmpError> {
    let mut input = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(m) = reader.read(&mut input)? {
        out.push(m);
    }
    assert!(input.is_empty(), "{} bytes left over", input.len());
    Ok(out)
}

fn read_bytewise(bytes: &[u8]) -> Result<Vec<Message>, RtmpError> {
    let mut reader = ChunkReader::new(ChunkLimits::default());
    let mut input = BytesMut::new();
    let mut out = Vec::new();
    for b in bytes {
        input.extend_from_slice(&[*b]);
        while let Some(m) = reader.read(&mut input)? {
            out.push(m);
        }
    }
    assert!(input.is_empty());
    Ok(out)
}

fn msg(csid: u32, ts: u32, type_id: u8, stream_id: u32, payload: &[u8]) -> Message {
    Message {
        csid,
        timestamp: RtmpTimestamp(ts),
        type_id,
        stream_id,
        payload: Bytes::copy_from_slice(payload),
    }
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

/// Spec 5.3.2.1 example 1: audio on csid 3, stream 12345, 32-byte
/// messages: type 0 (ts 1000), type 2 (delta 20), type 3, type 3.
fn spec_example_1() -> Vec<u8> {
    let p = payload(32, 1);
    let mut wire = vec![
        0x03, 0x00, 0x03, 0xE8, 0x00, 0x00, 0x20, 0x08, 0x39, 0x30, 0, 0,
    ];
    wire.extend_from_slice(&p);
    wire.extend_from_slice(&[0x83, 0x00, 0x00, 0x14]);
    wire.extend_from_slice(&p);
    wire.push(0xC3);
    wire.extend_from_slice(&p);
    wire.push(0xC3);
    wire.extend_from_slice(&p);
    wire
}

#[test]
fn spec_example_1_type_0_2_3_3() {
    let mut reader = ChunkReader::new(ChunkLimits::default());
    let wire = spec_example_1();
    let got = read_all(&mut reader, &wire).unwrap();
    let p = payload(32, 1);
    let want: Vec<Message> = [1000, 1020, 1040, 1060]
        .iter()
        .map(|ts| msg(3, *ts, 8, 12345, &p))
        .collect();
    assert_eq!(got, want);
    assert_eq!(reader.bytes_received(), wire.len() as u64);
    // The writer produces exactly the spec's bytes.
    let mut writer = ChunkWriter::new();
    let mut out = BytesMut::new();
    for m in &want {
        writer.write(m, &mut out).unwrap();
    }
    assert_eq!(&out[..], &wire[..]);
    assert_eq!(writer.bytes_written(), wire.len() as u64);
}

/// Spec 5.3.2.2 example 2: one 307-byte message in chunks of 128.
#[test]
fn spec_example_2_message_split_into_type_3_chunks() {
    let p = payload(307, 3);
    let mut wire = vec![
        0x04, 0x00, 0x03, 0xE8, 0x00, 0x01, 0x33, 0x09, 0x39, 0x30, 0, 0,
    ];
    wire.extend_from_slice(&p[..128]);
    wire.push(0xC4);
    wire.extend_from_slice(&p[128..256]);
    wire.push(0xC4);
    wire.extend_from_slice(&p[256..]);
    let mut reader = ChunkReader::new(ChunkLimits::default());
    let got = read_all(&mut reader, &wire).unwrap();
    assert_eq!(got, vec![msg(4, 1000, 9, 12345, &p)]);
    let mut out = BytesMut::new();
    ChunkWriter::new().write(&got[0], &mut out).unwrap();
    assert_eq!(&out[..], &wire[..]);
}

#[test]
fn type_1_header_changes_length_and_type() {
    let mut wire = vec![0x05, 0, 0, 100, 0, 0, 2, 20, 1, 0, 0, 0, 0xAA, 0xBB];
    // fmt 1, csid 5: delta 50, length 3, type 18; stream id inherited (1).
    wire.extend_from_slice(&[0x45, 0, 0, 50, 0, 0, 3, 18, 1, 2, 3]);
    let got = read_all(&mut ChunkReader::new(ChunkLimits::default()), &wire).unwrap();
    assert_eq!(
        got,
        vec![
            msg(5, 100, 20, 1, &[0xAA, 0xBB]),
            msg(5, 150, 18, 1, &[1, 2, 3])
        ]
    );
    let mut out = BytesMut::new();
    let mut writer = ChunkWriter::new();
    for m in &got {
        writer.write(m, &mut out).unwrap();
    }
    assert_eq!(&out[..], &wire[..]);
}

#[test]
fn every_basic_header_size_round_trips() {
    for csid in [2, 3, 63, 64, 65, 318, 319, 320, 321, 1000, 65598, 65599] {
        let mut writer = ChunkWriter::new();
        let mut out = BytesMut::new();
        let messages = vec![
            msg(csid, 10, 8, 1, &payload(300, 9)),
            msg(csid, 30, 8, 1, &payload(300, 8)),
            msg(csid, 50, 8, 1, &payload(300, 7)),
        ];
        for m in &messages {
            writer.write(m, &mut out).unwrap();
        }
        let got = read_all(&mut ChunkReader::new(ChunkLimits::default()), &out).unwrap();
        assert_eq!(got, messages, "csid {csid}");
    }
}

#[test]
fn writer_rejects_bad_csids_and_sizes() {
    let mut writer = ChunkWriter::new();
    let mut out = BytesMut::new();
    for csid in [0, 1, 65600] {
        assert_eq!(
            writer.write(&msg(csid, 0, 8, 1, &[1]), &mut out),
            Err(RtmpError::InvalidChunkStreamId(csid))
        );
    }
    let big = Message {
        payload: Bytes::from(vec![0; 0x100_0000]),
        ..msg(3, 0, 8, 1, &[])
    };
    assert_eq!(
        writer.write(&big, &mut out),
        Err(RtmpError::OutgoingMessageTooLarge(0x100_0000))
    );
    assert_eq!(
        writer.write_set_chunk_size(0, &mut out),
        Err(RtmpError::InvalidOutgoingChunkSize(0))
    );
    assert_eq!(
        writer.set_chunk_size(0x8000_0000),
        Err(RtmpError::InvalidOutgoingChunkSize(0x8000_0000))
    );
    assert!(out.is_empty());
}

#[test]
fn writer_header_compression_choices() {
    let mut writer = ChunkWriter::new();
    let mut fmts = Vec::new();
    let sends = [
        msg(6, 0, 8, 1, &[1; 10]),   // new chunk stream: type 0
        msg(6, 20, 8, 1, &[2; 10]),  // delta 20: type 2
        msg(6, 40, 8, 1, &[3; 10]),  // same delta: type 3
        msg(6, 60, 8, 1, &[4; 11]),  // length changes: type 1
        msg(6, 80, 9, 1, &[4; 11]),  // type changes: type 1
        msg(6, 100, 9, 2, &[4; 11]), // stream changes: type 0
        msg(6, 90, 9, 2, &[4; 11]),  // backwards: type 0
    ];
    for m in &sends {
        let mut out = BytesMut::new();
        writer.write(m, &mut out).unwrap();
        fmts.push(out[0] >> 6);
    }
    assert_eq!(fmts, vec![0, 2, 3, 1, 1, 0, 0]);
}

/// Type 0 with an extended timestamp, continued by a type 3 chunk that
/// repeats the 4 bytes (Flash, ffmpeg) or omits them (some peers).
#[test]
fn extended_timestamp_type_0_with_and_without_repeat() {
    let p = payload(200, 0x40);
    let head = [
        0x04, 0xFF, 0xFF, 0xFF, 0, 0, 200, 8, 1, 0, 0, 0, 0x01, 0x00, 0x00, 0x00,
    ];
    let mut with = head.to_vec();
    with.extend_from_slice(&p[..128]);
    with.extend_from_slice(&[0xC4, 0x01, 0x00, 0x00, 0x00]);
    with.extend_from_slice(&p[128..]);
    let mut without = head.to_vec();
    without.extend_from_slice(&p[..128]);
    without.push(0xC4);
    without.extend_from_slice(&p[128..]);
    let want = vec![msg(4, 0x0100_0000, 8, 1, &p)];
    for wire in [&with, &without] {
        let got = read_all(&mut ChunkReader::new(ChunkLimits::default()), wire).unwrap();
        assert_eq!(got, want);
        assert_eq!(read_bytewise(wire).unwrap(), want);
    }
    // Our writer repeats it, like Flash.
    let mut out = BytesMut::new();
    ChunkWriter::new().write(&want[0], &mut out).unwrap();
    assert_eq!(&out[..], &with[..]);
}

/// Type 2 with an extended delta, then a new message with a type 3 header,
/// which inherits the extended delta (with the 4 bytes repeated or not).
#[test]
fn extended_delta_and_type_3_new_message() {
    let base = [0x07, 0, 0, 10, 0, 0, 5, 8, 1, 0, 0, 0, 1, 2, 3, 4, 5];
    let t2 = [
        0x87, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x00, 0x00, 6, 7, 8, 9, 10,
    ];
    let t3_with = [0xC7, 0x01, 0x00, 0x00, 0x00, 11, 12, 13, 14, 15];
    let t3_without = [0xC7, 11, 12, 13, 14, 15];
    let want = vec![
        msg(7, 10, 8, 1, &[1, 2, 3, 4, 5]),
        msg(7, 10 + 0x0100_0000, 8, 1, &[6, 7, 8, 9, 10]),
        msg(7, 10 + 0x0200_0000, 8, 1, &[11, 12, 13, 14, 15]),
    ];
    for t3 in [&t3_with[..], &t3_without[..]] {
        let wire = [&base[..], &t2[..], t3].concat();
        let got = read_all(&mut ChunkReader::new(ChunkLimits::default()), &wire).unwrap();
        assert_eq!(got, want);
        assert_eq!(read_bytewise(&wire).unwrap(), want);
    }
    let mut out = BytesMut::new();
    let mut writer = ChunkWriter::new();
    for m in &want {
        writer.write(m, &mut out).unwrap();
    }
    assert_eq!(&out[..], &[&base[..], &t2[..], &t3_with[..]].concat()[..]);
}

#[test]
fn timestamps_wrap_at_2_pow_32() {
    let mut writer = ChunkWriter::new();
    let mut out = BytesMut::new();
    let messages = vec![
        msg(3, u32::MAX - 10, 8, 1, &[1]),
        msg(3, 9, 8, 1, &[2]), // +20 across the wrap: a type 2 delta
    ];
    for m in &messages {
        writer.write(m, &mut out).unwrap();
    }
    let got = read_all(&mut ChunkReader::new(ChunkLimits::default()), &out).unwrap();
    assert_eq!(got, messages);
}

#[test]
fn set_chunk_size_applies_to_following_chunks() {
    let mut writer = ChunkWriter::new();
    let mut out = BytesMut::new();
    writer.write_set_chunk_size(4096, &mut out).unwrap();
    // The control message itself is still in 128-byte chunks (it is 4 bytes).
    assert_eq!(
        &out[..],
        &[0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x10, 0]
    );
    assert_eq!(writer.chunk_size(), 4096);
    let big = msg(3, 0, 20, 0, &payload(3000, 5));
    let before = out.len();
    writer.write(&big, &mut out).unwrap();
    // One chunk: 12-byte header + payload, no continuation headers.
    assert_eq!(out.len() - before, 12 + 3000);
    writer.write_set_chunk_size(1, &mut out).unwrap();
    writer
        .write(&msg(3, 5, 20, 0, &[1, 2, 3]), &mut out)
        .unwrap();

    let mut reader = ChunkReader::new(ChunkLimits::default());
    let got = read_all(&mut reader, &out).unwrap();
    assert_eq!(got.len(), 4);
    assert_eq!(
        got[0].control(),
        Ok(Some(ControlMessage::SetChunkSize(4096)))
    );
    assert_eq!(got[1], big);
    assert_eq!(got[2].control(), Ok(Some(ControlMessage::SetChunkSize(1))));
    assert_eq!(got[3].payload, Bytes::from_static(&[1, 2, 3]));
    assert_eq!(reader.chunk_size(), 1);
}

#[test]
fn interleaved_chunk_streams() {
    // csid 4: 200-byte video; csid 5: 150-byte audio; chunks alternate.
    let v = payload(200, 1);
    let a = payload(150, 2);
    let mut wire = vec![0x04, 0, 0, 0, 0, 0, 200, 9, 1, 0, 0, 0];
    wire.extend_from_slice(&v[..128]);
    wire.extend_from_slice(&[0x05, 0, 0, 5, 0, 0, 150, 8, 1, 0, 0, 0]);
    wire.extend_from_slice(&a[..128]);
    wire.push(0xC4);
    wire.extend_from_slice(&v[128..]);
    wire.push(0xC5);
    wire.extend_from_slice(&a[128..]);
    let got = read_all(&mut ChunkReader::new(ChunkLimits::default()), &wire).unwrap();
    assert_eq!(got, vec![msg(4, 0, 9, 1, &v), msg(5, 5, 8, 1, &a)]);
    assert_eq!(read_bytewise(&wire).unwrap(), got);
}

#[test]
fn abort_discards_the_partial_message() {
    let p = payload(200, 1);
    let mut wire = vec![0x04, 0, 0, 0, 0, 0, 200, 9, 1, 0, 0, 0];
    wire.extend_from_slice(&p[..128]);
    // Abort (type 2) for csid 4 on csid 2.
    wire.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 4]);
    // A fresh message on csid 4 may now start with a full header.
    wire.extend_from_slice(&[0x04, 0, 0, 9, 0, 0, 2, 8, 1, 0, 0, 0, 7, 7]);
    let mut reader = ChunkReader::new(ChunkLimits::default());
    let got = read_all(&mut reader, &wire).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].control(),
        Ok(Some(ControlMessage::Abort { csid: 4 }))
    );
    assert_eq!(got[1], msg(4, 9, 8, 1, &[7, 7]));
}

#[test]
fn control_messages_through_the_writer() {
    let mut writer = ChunkWriter::new();
    let mut out = BytesMut::new();
    let controls = [
        ControlMessage::WindowAckSize(2_500_000),
        ControlMessage::SetPeerBandwidth {
            window: 2_500_000,
            limit_type: crate::rtmp::message::LimitType::Dynamic,
        },
        ControlMessage::UserControl(UserControlEvent::StreamBegin { stream_id: 0 }),
        ControlMessage::Acknowledgement { sequence_number: 7 },
        ControlMessage::UserControl(UserControlEvent::PingRequest { timestamp: 99 }),
    ];
    for c in &controls {
        writer
            .write_control(c, RtmpTimestamp::ZERO, &mut out)
            .unwrap();
    }
    let got = read_all(&mut ChunkReader::new(ChunkLimits::default()), &out).unwrap();
    let parsed: Vec<ControlMessage> = got.iter().map(|m| m.control().unwrap().unwrap()).collect();
    assert_eq!(parsed, controls.to_vec());
    assert!(got.iter().all(|m| m.csid == 2 && m.stream_id == 0));
}

#[test]
fn zero_length_messages() {
    let wire = [0x03, 0, 0, 1, 0, 0, 0, 20, 0, 0, 0, 0, 0xC3];
    let got = read_all(&mut ChunkReader::new(ChunkLimits::default()), &wire).unwrap();
    assert_eq!(got, vec![msg(3, 1, 20, 0, &[]), msg(3, 2, 20, 0, &[])]);
}

#[test]
fn limit_message_too_large() {
    let limits = ChunkLimits {
        max_message_size: 100,
        ..ChunkLimits::default()
    };
    let wire = [0x03, 0, 0, 0, 0, 0, 101, 8, 0, 0, 0, 0];
    assert_eq!(
        ChunkReader::new(limits).read(&mut BytesMut::from(&wire[..])),
        Err(RtmpError::MessageTooLarge {
            length: 101,
            limit: 100
        })
    );
    // Type 1 raising the length above the limit too.
    let mut reader = ChunkReader::new(limits);
    let mut wire = vec![0x03, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0, 9];
    wire.extend_from_slice(&[0x43, 0, 0, 0, 0, 1, 0, 8]);
    let mut input = BytesMut::from(&wire[..]);
    assert!(reader.read(&mut input).unwrap().is_some());
    assert!(matches!(
        reader.read(&mut input),
        Err(RtmpError::MessageTooLarge { length: 256, .. })
    ));
}

#[test]
fn limit_chunk_streams() {
    let limits = ChunkLimits {
        max_chunk_streams: 3,
        ..ChunkLimits::default()
    };
    let mut reader = ChunkReader::new(limits);
    let mut wire = Vec::new();
    for csid in 3..=6u8 {
        wire.extend_from_slice(&[csid, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0, 1]);
    }
    let mut input = BytesMut::from(&wire[..]);
    for _ in 0..3 {
        assert!(reader.read(&mut input).unwrap().is_some());
    }
    assert_eq!(
        reader.read(&mut input),
        Err(RtmpError::TooManyChunkStreams { limit: 3 })
    );
    assert_eq!(reader.chunk_stream_count(), 3);
}

#[test]
fn protocol_violations_are_errors() {
    let cases: Vec<(Vec<u8>, RtmpError)> = vec![
        (
            vec![0x43, 0, 0, 0, 0, 0, 1, 8],
            RtmpError::MissingMessageHeader { csid: 3 },
        ),
        (vec![0xC9], RtmpError::MissingMessageHeader { csid: 9 }),
        (
            // 200-byte message, then a type 0 on the same csid mid-message.
            [
                &[0x03, 0, 0, 0, 0, 0, 200, 8, 0, 0, 0, 0][..],
                &[0; 128][..],
                &[0x03, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0, 1][..],
            ]
            .concat(),
            RtmpError::InterruptedMessage { csid: 3 },
        ),
        (
            vec![0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0],
            RtmpError::InvalidChunkSize(0),
        ),
        (
            vec![0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0x80, 0, 0, 0],
            RtmpError::InvalidChunkSize(0x8000_0000),
        ),
    ];
    for (wire, want) in cases {
        let mut reader = ChunkReader::new(ChunkLimits::default());
        let mut input = BytesMut::from(&wire[..]);
        let result = loop {
            match reader.read(&mut input) {
                Ok(Some(_)) => continue,
                other => break other,
            }
        };
        assert_eq!(result, Err(want));
    }
}

#[test]
fn incomplete_input_waits_without_consuming() {
    let wire = spec_example_1();
    let mut reader = ChunkReader::new(ChunkLimits::default());
    let mut input = BytesMut::from(&wire[..40]);
    assert_eq!(reader.read(&mut input), Ok(None));
    assert_eq!(input.len(), 40);
    assert_eq!(reader.bytes_received(), 0);
}

#[test]
fn byte_at_a_time_equals_all_at_once() {
    let mut writer = ChunkWriter::new();
    let mut out = BytesMut::new();
    writer.write_set_chunk_size(60, &mut out).unwrap();
    for i in 0..20u32 {
        let csid = [3, 4, 70, 400][i as usize % 4];
        let ts = i * 20 + if i > 10 { 0x0100_0000 } else { 0 };
        writer
            .write(
                &msg(csid, ts, 8, 1, &payload(10 + 17 * i as usize, i as u8)),
                &mut out,
            )
            .unwrap();
    }
    let all = read_all(&mut ChunkReader::new(ChunkLimits::default()), &out).unwrap();
    assert_eq!(all.len(), 21);
    assert_eq!(read_bytewise(&out).unwrap(), all);
}

#[derive(Debug, Clone)]
enum Op {
    Send {
        csid: u32,
        ts_step: TsStep,
        type_id: u8,
        stream_id: u32,
        payload: Vec<u8>,
    },
    ChunkSize(u32),
}

#[derive(Debug, Clone)]
enum TsStep {
    Delta(u32),
    Absolute(u32),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let csid = prop_oneof![
        Just(2u32),
        Just(3),
        Just(63),
        Just(64),
        Just(319),
        Just(320),
        Just(65599),
        2u32..=65599
    ];
    let ts = prop_oneof![
        (0u32..100).prop_map(TsStep::Delta),
        Just(TsStep::Delta(20)),
        (0xFF_FFF0u32..0x0100_0010).prop_map(TsStep::Delta),
        any::<u32>().prop_map(TsStep::Absolute),
    ];
    let send = (
        csid,
        ts,
        prop::sample::select(vec![8u8, 9, 15, 17, 18, 20, 22, 4]),
        prop_oneof![Just(0u32), Just(1), any::<u32>()],
        prop::collection::vec(any::<u8>(), 0..700),
    )
        .prop_map(|(csid, ts_step, type_id, stream_id, payload)| Op::Send {
            csid,
            ts_step,
            type_id,
            stream_id,
            payload,
        });
    prop_oneof![
        8 => send,
        1 => prop_oneof![1u32..300, Just(128), Just(4096), Just(0x7FFF_FFFF)].prop_map(Op::ChunkSize),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn writer_reader_round_trip(
        ops in prop::collection::vec(op_strategy(), 1..40),
        split in prop::collection::vec(1usize..200, 1..50),
    ) {
        let mut writer = ChunkWriter::new();
        let mut out = BytesMut::new();
        let mut sent = Vec::new();
        let mut clock = 0u32;
        for op in ops {
            match op {
                Op::Send { csid, ts_step, type_id, stream_id, payload } => {
                    clock = match ts_step {
                        TsStep::Delta(d) => clock.wrapping_add(d),
                        TsStep::Absolute(t) => t,
                    };
                    let m = msg(csid, clock, type_id, stream_id, &payload);
                    writer.write(&m, &mut out).unwrap();
                    sent.push(m);
                }
                Op::ChunkSize(size) => {
                    writer.write_set_chunk_size(size, &mut out).unwrap();
                    sent.push(ControlMessage::SetChunkSize(size).to_message(RtmpTimestamp::ZERO));
                }
            }
        }
        // Feed in pieces of varying size.
        let mut reader = ChunkReader::new(ChunkLimits::default());
        let mut input = BytesMut::new();
        let mut got = Vec::new();
        let mut rest = &out[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = split[i % split.len()].min(rest.len());
            i += 1;
            input.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            while let Some(m) = reader.read(&mut input).unwrap() {
                got.push(m);
            }
        }
        prop_assert!(input.is_empty());
        prop_assert_eq!(got, sent);
        prop_assert_eq!(reader.bytes_received(), out.len() as u64);
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let limits = ChunkLimits { max_message_size: 4096, max_chunk_streams: 8 };
        let mut reader = ChunkReader::new(limits);
        let mut input = BytesMut::from(&bytes[..]);
        let mut consumed_before = 0;
        while let Ok(Some(m)) = reader.read(&mut input) {
            prop_assert!(m.payload.len() <= 4096);
            prop_assert!(reader.bytes_received() > consumed_before || m.payload.is_empty());
            consumed_before = reader.bytes_received();
        }
        prop_assert!(reader.chunk_stream_count() <= 8);
    }
}

#[test]
fn type_ids_are_passed_through() {
    let m = msg(3, 0, type_id::COMMAND_AMF3, 0, &[0, 2, 0, 1, b'x']);
    let mut out = BytesMut::new();
    ChunkWriter::new().write(&m, &mut out).unwrap();
    let got = read_all(&mut ChunkReader::new(ChunkLimits::default()), &out).unwrap();
    assert_eq!(got, vec![m]);
}

/// A type 0 chunk header on `csid` (< 64) starting an audio message of
/// `length` bytes, followed by `first` payload bytes.
fn start_message(csid: u8, length: u32, first: usize) -> Vec<u8> {
    let l = length.to_be_bytes();
    let mut w = vec![csid, 0, 0, 0, l[1], l[2], l[3], 8, 0, 0, 0, 0];
    w.extend(std::iter::repeat_n(0xAA, first));
    w
}

#[test]
fn budget_bounds_partial_messages_across_readers() {
    let budget = ReassemblyBudget::new(1000);
    let mut a = ChunkReader::with_budget(ChunkLimits::default(), budget.clone());
    let mut b = ChunkReader::with_budget(ChunkLimits::default(), budget.clone());
    // A holds 128 bytes of a 600-byte message (capacity doubles as it grows).
    let mut input = BytesMut::from(&start_message(3, 600, 128)[..]);
    assert_eq!(a.read(&mut input), Ok(None));
    assert_eq!(budget.used(), 128);
    // B asks for 600 bytes in pieces; the budget runs out on the way.
    let mut wire = start_message(3, 900, 128);
    for _ in 0..6 {
        wire.push(0xC3);
        wire.extend(std::iter::repeat_n(0xBB, 128));
    }
    let mut input = BytesMut::from(&wire[..]);
    assert_eq!(
        b.read(&mut input),
        Err(RtmpError::ReassemblyBudgetExhausted { limit: 1000 })
    );
    assert!(budget.used() <= 1000);
    drop(b);
    assert_eq!(budget.used(), 128, "a dropped reader gives its bytes back");
    // A completes its message: its bytes come back too.
    let mut rest = Vec::new();
    for chunk in 0..4 {
        let n = if chunk == 3 { 600 - 128 * 4 } else { 128 };
        rest.push(0xC3);
        rest.extend(std::iter::repeat_n(0xAA, n));
    }
    let got = read_all(&mut a, &rest).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload.len(), 600);
    assert_eq!(budget.used(), 0);
}

#[test]
fn abort_gives_budget_back() {
    let budget = ReassemblyBudget::new(10_000);
    let mut r = ChunkReader::with_budget(ChunkLimits::default(), budget.clone());
    let mut wire = start_message(4, 5000, 128);
    // Abort (type 2) for csid 4 on csid 2.
    wire.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 4]);
    let got = read_all(&mut r, &wire).unwrap();
    assert_eq!(got.len(), 1, "the Abort itself");
    assert_eq!(budget.used(), 0);
}

#[test]
fn set_limits_applies_to_later_headers() {
    let small = ChunkLimits {
        max_message_size: 100,
        max_chunk_streams: 2,
    };
    let mut r = ChunkReader::new(small);
    let wire = start_message(3, 101, 0);
    assert!(matches!(
        r.read(&mut BytesMut::from(&wire[..])),
        Err(RtmpError::MessageTooLarge { .. })
    ));
    let mut r = ChunkReader::new(small);
    r.set_limits(ChunkLimits::default());
    let wire = start_message(3, 101, 101);
    assert_eq!(read_all(&mut r, &wire).unwrap().len(), 1);
}
