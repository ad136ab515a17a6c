//! RTMP AMF 3 command message bodies (RTMP message type 0x11).
//!
//! Adobe's RTMP specification (section 7.1.1) gives message type 17 for
//! commands sent with objectEncoding 3: the body is one format byte 0x00
//! followed by AMF 0 values, any of which may be an avmplus-object (0x11)
//! switching to AMF 3 for that value.

use super::amf0::{encode_amf0, encode_avmplus, Decoder};
use super::cursor::Cursor;
use super::error::AmfError;
use super::limits::Limits;
use super::value::Value;

/// Decodes an AMF 3 command message body with default [`Limits`]: skips the
/// leading 0x00 format byte and decodes the AMF 0 values after it.
///
/// Errors: [`AmfError::UnexpectedEof`] for an empty body,
/// [`AmfError::BadFormatByte`] when the first byte is not 0x00, and any
/// AMF decoding error.
pub fn decode_amf3_command_body(bytes: &[u8]) -> Result<Vec<Value>, AmfError> {
    decode_amf3_command_body_with(bytes, Limits::default())
}

/// [`decode_amf3_command_body`] with explicit limits.
pub fn decode_amf3_command_body_with(bytes: &[u8], limits: Limits) -> Result<Vec<Value>, AmfError> {
    let mut cursor = Cursor::new(bytes);
    match cursor.read_u8()? {
        0x00 => Decoder::with_limits(bytes.get(1..).unwrap_or_default(), limits).decode_all(),
        other => Err(AmfError::BadFormatByte(other)),
    }
}

/// Encodes an AMF 3 command message body the way Flash Player does with
/// objectEncoding 3: the 0x00 format byte; numbers, booleans, strings,
/// null and undefined in AMF 0; every other value as an avmplus-object
/// (0x11) with its AMF 3 encoding.
pub fn encode_amf3_command_body(values: &[Value]) -> Vec<u8> {
    let mut out = vec![0x00];
    for value in values {
        match value {
            Value::Number(_)
            | Value::Boolean(_)
            | Value::String(_)
            | Value::Null
            | Value::Undefined => encode_amf0(value, &mut out),
            _ => encode_avmplus(value, &mut out),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amf::amf0::{self, marker};

    #[test]
    fn flash_amf3_dial_command() {
        // "dial", txn 2, null, then the URI as an AMF 3 string after 0x11.
        let mut body = vec![0x00, marker::STRING, 0x00, 0x04];
        body.extend_from_slice(b"dial");
        body.push(marker::NUMBER);
        body.extend_from_slice(&2.0f64.to_be_bytes());
        body.extend_from_slice(&[marker::NULL, marker::AVMPLUS, 0x06, 0x29]);
        body.extend_from_slice(b"sip:1000@example.org");
        assert_eq!(b"sip:1000@example.org".len(), 0x29 >> 1);
        let values = decode_amf3_command_body(&body).expect("decodes");
        assert_eq!(
            values,
            [
                Value::from("dial"),
                Value::Number(2.0),
                Value::Null,
                Value::from("sip:1000@example.org"),
            ]
        );
    }

    #[test]
    fn avmplus_objects_in_a_command_body() {
        // connect-style info object as AMF 3: {objectEncoding: 3} dynamic.
        let mut body = vec![0x00, marker::STRING, 0x00, 0x07];
        body.extend_from_slice(b"connect");
        body.push(marker::NUMBER);
        body.extend_from_slice(&1.0f64.to_be_bytes());
        body.extend_from_slice(&[marker::AVMPLUS, 0x0A, 0x0B, 0x01, 0x1D]);
        body.extend_from_slice(b"objectEncoding");
        body.extend_from_slice(&[0x04, 0x03, 0x01]);
        let values = decode_amf3_command_body(&body).expect("decodes");
        assert_eq!(values[2], Value::object([("objectEncoding", 3.0)]));
    }

    #[test]
    fn format_byte_is_required() {
        assert_eq!(decode_amf3_command_body(&[]), Err(AmfError::UnexpectedEof));
        assert_eq!(
            decode_amf3_command_body(&[0x02, 0x00, 0x00]),
            Err(AmfError::BadFormatByte(0x02))
        );
        assert_eq!(decode_amf3_command_body(&[0x00]), Ok(vec![]));
    }

    #[test]
    fn encode_then_decode_keeps_values() {
        let values = [
            Value::from("_result"),
            Value::Number(1.0),
            Value::object_builder()
                .set("fmsVer", "FMS/3,5,7,7009")
                .set("capabilities", 31)
                .build(),
            Value::object([
                ("level", "status"),
                ("code", "NetConnection.Connect.Success"),
            ]),
        ];
        let body = encode_amf3_command_body(&values);
        assert_eq!(body[0], 0x00);
        assert_eq!(body[1], marker::STRING);
        assert_eq!(decode_amf3_command_body(&body), Ok(values.to_vec()));
        // The objects went through AMF 3.
        assert_eq!(body.iter().filter(|&&b| b == marker::AVMPLUS).count(), 2);
    }

    #[test]
    fn amf0_decoder_is_reused_for_the_body() {
        let plain = amf0::encode_amf0_all(&[Value::from("x")]);
        let mut body = vec![0x00];
        body.extend_from_slice(&plain);
        assert_eq!(decode_amf3_command_body(&body), Ok(vec![Value::from("x")]));
    }
}
