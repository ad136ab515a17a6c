//! AMF 0 vectors: real connect commands and hand-built spec examples.

use super::*;
use crate::amf::error::RefTable;

/// Parses whitespace-free hex pieces into bytes.
pub(crate) fn hex(pieces: &[&str]) -> Vec<u8> {
    let text: String = pieces.concat();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("test hex"))
        .collect()
}

/// Flash Player 11 (Windows) `connect` with objectEncoding 3.
fn flash_connect() -> Vec<u8> {
    hex(&[
        "020007636f6e6e656374003ff0000000000000030003617070020004736f6e6f",
        "0008666c61736856657202001057494e2031312c322c3230322c323335000673",
        "776655726c020022687474703a2f2f6578616d706c652e6f72672f666c617368",
        "5f70686f6e652e7377660005746355726c02001572746d703a2f2f3132372e30",
        "2e302e312f736f6e6f0004667061640100000c6361706162696c697469657300",
        "406de00000000000000b617564696f436f646563730040abee0000000000000b",
        "766964656f436f6465637300406f800000000000000d766964656f46756e6374",
        "696f6e003ff000000000000000077061676555726c02001d687474703a2f2f65",
        "78616d706c652e6f72672f70686f6e652e68746d6c000e6f626a656374456e63",
        "6f64696e67004008000000000000000009",
    ])
}

/// ffmpeg (librtmp-compatible rtmpproto, playing) `connect`.
fn ffmpeg_connect() -> Vec<u8> {
    hex(&[
        "020007636f6e6e656374003ff00000000000000300036170700200046c697665",
        "0008666c61736856657202000d4c4e5820392c302c3132342c32000574635572",
        "6c02001a72746d703a2f2f3132372e302e302e313a313933352f6c6976650004",
        "667061640100000c6361706162696c697469657300402e000000000000000b61",
        "7564696f436f646563730040afce0000000000000b766964656f436f64656373",
        "00406f800000000000000d766964656f46756e6374696f6e003ff00000000000",
        "00000009",
    ])
}

fn flash_connect_values() -> Vec<Value> {
    vec![
        Value::from("connect"),
        Value::Number(1.0),
        Value::object_builder()
            .set("app", "sono")
            .set("flashVer", "WIN 11,2,202,235")
            .set("swfUrl", "http://example.org/flash_phone.swf")
            .set("tcUrl", "rtmp://127.0.0.1/sono")
            .set("fpad", false)
            .set("capabilities", 239)
            .set("audioCodecs", 3575)
            .set("videoCodecs", 252)
            .set("videoFunction", 1)
            .set("pageUrl", "http://example.org/phone.html")
            .set("objectEncoding", 3)
            .build(),
    ]
}

#[test]
fn decodes_flash_connect() {
    let bytes = flash_connect();
    assert_eq!(bytes.len(), 305);
    let values = decode_amf0_all(&bytes).expect("valid connect");
    assert_eq!(values, flash_connect_values());
    let cmd = &values[2];
    assert_eq!(cmd.get_str("flashVer"), Some("WIN 11,2,202,235"));
    assert_eq!(cmd.get_f64("objectEncoding"), Some(3.0));
    assert_eq!(cmd.get_bool("fpad"), Some(false));
}

#[test]
fn encodes_flash_connect_byte_for_byte() {
    assert_eq!(encode_amf0_all(&flash_connect_values()), flash_connect());
}

#[test]
fn decodes_ffmpeg_connect() {
    let values = decode_amf0_all(&ffmpeg_connect()).expect("valid connect");
    assert_eq!(values.len(), 3);
    assert_eq!(values[0].as_str(), Some("connect"));
    assert_eq!(values[1].as_f64(), Some(1.0));
    let cmd = &values[2];
    assert_eq!(cmd.get_str("app"), Some("live"));
    assert_eq!(cmd.get_str("flashVer"), Some("LNX 9,0,124,2"));
    assert_eq!(cmd.get_str("tcUrl"), Some("rtmp://127.0.0.1:1935/live"));
    assert_eq!(cmd.get_f64("audioCodecs"), Some(4071.0));
    assert_eq!(cmd.get("objectEncoding"), None);
    assert_eq!(encode_amf0_all(&values), ffmpeg_connect());
}

#[test]
fn every_truncation_of_a_value_is_an_error() {
    for body in [flash_connect(), ffmpeg_connect()] {
        let mut rest: &[u8] = &body;
        while !rest.is_empty() {
            let before = rest;
            decode_amf0(&mut rest).expect("valid value");
            let value_bytes = &before[..before.len() - rest.len()];
            for cut in 0..value_bytes.len() {
                let mut prefix = &value_bytes[..cut];
                assert!(decode_amf0(&mut prefix).is_err(), "prefix of {cut} bytes");
            }
        }
    }
}

#[test]
fn body_truncations_fail_or_stop_at_a_value_boundary() {
    let body = flash_connect();
    let full = decode_amf0_all(&body).expect("valid");
    let boundaries = [10usize, 19];
    for cut in 0..body.len() {
        match decode_amf0_all(&body[..cut]) {
            Ok(values) => {
                assert!(cut == 0 || boundaries.contains(&cut), "cut {cut} decoded");
                assert_eq!(values, full[..values.len()]);
            }
            Err(e) => assert!(!boundaries.contains(&cut), "cut {cut}: {e}"),
        }
    }
}

#[test]
fn decode_amf0_advances_the_slice() {
    let body = flash_connect();
    let mut rest: &[u8] = &body;
    assert_eq!(decode_amf0(&mut rest), Ok(Value::from("connect")));
    assert_eq!(rest.len(), body.len() - 10);
    assert_eq!(decode_amf0(&mut rest), Ok(Value::Number(1.0)));
    let mut decoder = Decoder::new(rest);
    assert!(matches!(decoder.decode(), Ok(Value::Object(_))));
    assert!(decoder.is_empty());
    assert_eq!(decoder.position(), rest.len());
}

#[test]
fn encodes_result_reply() {
    let reply = [
        Value::from("_result"),
        Value::Number(1.0),
        Value::object_builder()
            .set("fmsVer", "FMS/3,0,1,123")
            .set("capabilities", 31)
            .build(),
        Value::object([
            ("level", "status"),
            ("code", "NetConnection.Connect.Success"),
        ]),
    ];
    let bytes = encode_amf0_all(&reply);
    let expected = hex(&[
        "0200075f726573756c74",
        "003ff0000000000000",
        "03",
        "0006666d7356657202000d464d532f332c302c312c313233",
        "000c6361706162696c6974696573",
        "00403f000000000000",
        "000009",
        "03",
        "00056c6576656c0200067374617475",
        "73",
        "0004636f6465",
        "02001d4e6574436f6e6e656374696f6e2e436f6e6e6563742e53756363657373",
        "000009",
    ]);
    assert_eq!(bytes, expected);
    assert_eq!(decode_amf0_all(&bytes), Ok(reply.to_vec()));
}

#[test]
fn long_strings_switch_marker_automatically() {
    let short = "a".repeat(65_535);
    let long = "é".repeat(40_000); // 80,000 bytes
    let mut out = Vec::new();
    encode_amf0(&Value::from(short.as_str()), &mut out);
    assert_eq!(out[..3], [marker::STRING, 0xFF, 0xFF]);
    out.clear();
    encode_amf0(&Value::from(long.as_str()), &mut out);
    assert_eq!(out[..5], [marker::LONG_STRING, 0x00, 0x01, 0x38, 0x80]);
    assert_eq!(decode_amf0(&mut out.as_slice()), Ok(Value::String(long)));
}

#[test]
fn decodes_scalars_from_spec_layouts() {
    let cases: Vec<(Vec<u8>, Value)> = vec![
        (hex(&["0040590000", "00000000"]), Value::Number(100.0)),
        (hex(&["0101"]), Value::Boolean(true)),
        (hex(&["0105"]), Value::Boolean(true)),
        (hex(&["0100"]), Value::Boolean(false)),
        (hex(&["020000"]), Value::String(String::new())),
        (hex(&["05"]), Value::Null),
        (hex(&["06"]), Value::Undefined),
        (hex(&["0d"]), Value::Unsupported),
    ];
    for (bytes, value) in cases {
        assert_eq!(
            decode_amf0(&mut bytes.as_slice()),
            Ok(value),
            "{bytes:02x?}"
        );
    }
    // long-string "hé" and xml-document "<a/>".
    assert_eq!(
        decode_amf0(&mut hex(&["0c0000000368c3a9"]).as_slice()),
        Ok(Value::from("hé"))
    );
    assert_eq!(
        decode_amf0(&mut hex(&["0f000000043c612f3e"]).as_slice()),
        Ok(Value::XmlDocument("<a/>".into()))
    );
    // Date 2012-01-01T00:00:00Z = 1325376000000 ms, time-zone 0.
    let mut date = vec![marker::DATE];
    date.extend_from_slice(&1_325_376_000_000f64.to_be_bytes());
    date.extend_from_slice(&[0xFF, 0xC4]); // -60 minutes, kept as sent
    let value = decode_amf0(&mut date.as_slice());
    assert_eq!(
        value,
        Ok(Value::Date {
            ms: 1_325_376_000_000.0,
            tz: -60
        })
    );
    assert_eq!(encode_amf0_all(&[value.expect("date")]), date);
}

#[test]
fn ecma_array_count_is_only_a_hint() {
    // onMetaData-style: count says 0, two entries follow.
    let bytes = hex(&[
        "0800000000",
        "00086475726174696f6e",
        "000000000000000000",
        "0005776964746800",
        "4074000000000000",
        "000009",
    ]);
    let value = decode_amf0(&mut bytes.as_slice()).expect("ecma array");
    assert_eq!(
        value,
        Value::ecma_array([("duration", 0.0), ("width", 320.0)])
    );
    assert_eq!(value.get_f64("width"), Some(320.0));
}

#[test]
fn strict_and_typed_values_round_trip_bytes() {
    let bytes = hex(&[
        "0a00000002",
        "0101",
        "05",
        "100003612e42",
        "00017802000179",
        "000009",
    ]);
    let values = decode_amf0_all(&bytes).expect("valid");
    assert_eq!(
        values,
        [
            Value::array([Value::Boolean(true), Value::Null]),
            Value::typed_object("a.B", [("x", "y")]),
        ]
    );
    assert_eq!(encode_amf0_all(&values), bytes);
}

#[test]
fn empty_name_before_a_value_is_a_member() {
    let bytes = hex(&["03", "000005", "000009"]);
    assert_eq!(
        decode_amf0(&mut bytes.as_slice()),
        Ok(Value::Object(vec![(String::new(), Value::Null)]))
    );
}

#[test]
fn references_copy_earlier_complex_objects() {
    // [ {a: 1}, ref 1 ]: the strict array is index 0, the object index 1.
    let bytes = hex(&[
        "0a00000002",
        "03",
        "000161",
        "003ff0000000000000",
        "000009",
        "070001",
    ]);
    let a = Value::object([("a", 1.0)]);
    assert_eq!(
        decode_amf0(&mut bytes.as_slice()),
        Ok(Value::array([a.clone(), a]))
    );
}

#[test]
fn references_across_values_of_one_body() {
    let bytes = hex(&["03", "000162", "0101", "000009", "070000", "070000"]);
    let b = Value::object([("b", true)]);
    assert_eq!(decode_amf0_all(&bytes), Ok(vec![b.clone(), b.clone(), b]));
}

#[test]
fn bad_and_circular_references_fail() {
    assert_eq!(
        decode_amf0(&mut hex(&["070000"]).as_slice()),
        Err(AmfError::BadReference {
            table: RefTable::Object,
            index: 0
        })
    );
    assert_eq!(
        decode_amf0(&mut hex(&["0a00000001", "070001"]).as_slice()),
        Err(AmfError::BadReference {
            table: RefTable::Object,
            index: 1
        })
    );
    // {self: <ref 0>}
    assert_eq!(
        decode_amf0(&mut hex(&["03", "000473656c66", "070000", "000009"]).as_slice()),
        Err(AmfError::CircularReference { index: 0 })
    );
}

#[test]
fn reference_amplification_is_bounded() {
    // An object holding a 60,000-byte string, then 400 references to it.
    let big = Value::object([("s", "x".repeat(60_000))]);
    let mut bytes = encode_amf0_all(&[big]);
    for _ in 0..400 {
        bytes.extend_from_slice(&[marker::REFERENCE, 0, 0]);
    }
    assert_eq!(
        decode_amf0_all(&bytes),
        Err(AmfError::TotalBytesExceeded { max: 16 << 20 })
    );
    let limits = Limits {
        max_items: 100,
        ..Limits::default()
    };
    let small = encode_amf0_all(&[Value::object([("n", Value::Null)])]);
    let mut many = small.clone();
    for _ in 0..200 {
        many.extend_from_slice(&[marker::REFERENCE, 0, 0]);
    }
    assert_eq!(
        decode_amf0_all_with(&many, limits),
        Err(AmfError::TooManyItems { max: 100 })
    );
}

#[test]
fn unknown_and_reserved_markers_fail() {
    for m in [marker::MOVIECLIP, marker::RECORDSET, 0x12, 0x7F, 0xFF] {
        assert_eq!(
            decode_amf0(&mut [m].as_slice()),
            Err(AmfError::UnknownMarker(m))
        );
    }
    assert_eq!(
        decode_amf0(&mut [marker::OBJECT_END].as_slice()),
        Err(AmfError::UnexpectedObjectEnd)
    );
}

#[test]
fn invalid_utf8_fails() {
    assert_eq!(
        decode_amf0(&mut hex(&["020002c328"]).as_slice()),
        Err(AmfError::InvalidUtf8)
    );
    assert_eq!(
        decode_amf0(&mut hex(&["030001ff05000009"]).as_slice()),
        Err(AmfError::InvalidUtf8)
    );
}

fn nested_objects(levels: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for _ in 0..levels {
        bytes.extend_from_slice(&[marker::OBJECT, 0x00, 0x01, b'o']);
    }
    bytes.push(marker::NULL);
    for _ in 0..levels {
        bytes.extend_from_slice(&[0x00, 0x00, marker::OBJECT_END]);
    }
    bytes
}

#[test]
fn depth_limit_allows_32_and_rejects_33() {
    assert!(decode_amf0(&mut nested_objects(32).as_slice()).is_ok());
    assert_eq!(
        decode_amf0(&mut nested_objects(33).as_slice()),
        Err(AmfError::DepthExceeded { max: 32 })
    );
    assert_eq!(
        decode_amf0(&mut nested_objects(100_000).as_slice()),
        Err(AmfError::DepthExceeded { max: 32 })
    );
}

#[test]
fn huge_counts_do_not_allocate() {
    // Strict array announcing 2^32 - 1 elements with none present.
    assert_eq!(
        decode_amf0(&mut hex(&["0affffffff"]).as_slice()),
        Err(AmfError::UnexpectedEof)
    );
    // Long string announcing 4 GiB.
    assert_eq!(
        decode_amf0(&mut hex(&["0cffffffff41"]).as_slice()),
        Err(AmfError::StringTooLong {
            len: u32::MAX as usize,
            max: 1 << 20
        })
    );
}

#[test]
fn item_string_and_table_limits_apply() {
    let limits = Limits {
        max_items: 5,
        ..Limits::default()
    };
    let nulls = encode_amf0_all(&[Value::array(vec![Value::Null; 10])]);
    assert_eq!(
        decode_amf0_all_with(&nulls, limits),
        Err(AmfError::TooManyItems { max: 5 })
    );
    let limits = Limits {
        max_string_len: 3,
        ..Limits::default()
    };
    let text = encode_amf0_all(&[Value::from("four")]);
    assert_eq!(
        decode_amf0_all_with(&text, limits),
        Err(AmfError::StringTooLong { len: 4, max: 3 })
    );
    let limits = Limits {
        max_refs: 2,
        ..Limits::default()
    };
    let three = encode_amf0_all(&[Value::array([Value::array([Value::array([1])])])]);
    assert_eq!(
        decode_amf0_all_with(&three, limits),
        Err(AmfError::TooManyReferences {
            table: RefTable::Object,
            max: 2
        })
    );
}

#[test]
fn nan_keeps_its_bits() {
    let nan = f64::from_bits(0x7FF8_0000_0000_0001);
    let bytes = encode_amf0_all(&[Value::Number(nan)]);
    match decode_amf0(&mut bytes.as_slice()) {
        Ok(Value::Number(n)) => assert_eq!(n.to_bits(), nan.to_bits()),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn avmplus_values_inside_amf0() {
    // {data: <AMF 3 ByteArray [1, 2]>}
    let value = Value::object([("data", Value::ByteArray(vec![1, 2]))]);
    let bytes = encode_amf0_all(std::slice::from_ref(&value));
    assert_eq!(
        bytes,
        hex(&["03", "000464617461", "11", "0c05", "0102", "000009"])
    );
    assert_eq!(decode_amf0_all(&bytes), Ok(vec![value]));
}

#[test]
fn each_avmplus_value_has_fresh_amf3_tables() {
    // Two switched strings "ab"; the second may not reference the first.
    let ok = hex(&["11", "0605", "6162", "11", "0605", "6162"]);
    assert_eq!(
        decode_amf0_all(&ok),
        Ok(vec![Value::from("ab"), Value::from("ab")])
    );
    let cross = hex(&["11", "0605", "6162", "11", "0600"]);
    assert_eq!(
        decode_amf0_all(&cross),
        Err(AmfError::BadReference {
            table: RefTable::String,
            index: 0
        })
    );
}
