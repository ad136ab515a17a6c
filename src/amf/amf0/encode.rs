//! AMF 0 encoding (AMF 0 spec, sections 2 and 3.1).

use super::marker;
use crate::amf::amf3;
use crate::amf::value::Value;

/// Appends the AMF 0 encoding of `value` to `out`.
///
/// Strings longer than 65,535 bytes become long strings (0x0C). Values AMF 0
/// cannot express ([`Value::Xml`], [`Value::ByteArray`], vectors,
/// [`Value::Dictionary`], [`Value::MixedArray`]) are written as an
/// avmplus-object (0x11) followed by their AMF 3 encoding (section 3.1).
/// No references are written. Lengths beyond a field's range (names over
/// 65,535 bytes, texts or counts over 2^32 - 1) are truncated to fit, which
/// no RTMP message (at most 2^24 - 1 bytes) can reach. Recursion follows
/// the value's nesting.
pub fn encode_amf0(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Number(n) => {
            out.push(marker::NUMBER);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Value::Boolean(b) => out.extend_from_slice(&[marker::BOOLEAN, u8::from(*b)]),
        Value::String(s) => encode_string(s, out),
        Value::Object(props) => {
            out.push(marker::OBJECT);
            write_properties(props, out);
        }
        Value::TypedObject { class, props } => {
            out.push(marker::TYPED_OBJECT);
            write_utf8(class, out);
            write_properties(props, out);
        }
        Value::Null => out.push(marker::NULL),
        Value::Undefined => out.push(marker::UNDEFINED),
        Value::Unsupported => out.push(marker::UNSUPPORTED),
        Value::EcmaArray(props) => {
            out.push(marker::ECMA_ARRAY);
            out.extend_from_slice(&clamp_u32(props.len()).to_be_bytes());
            write_properties(props, out);
        }
        Value::StrictArray(items) => {
            out.push(marker::STRICT_ARRAY);
            let count = clamp_u32(items.len());
            out.extend_from_slice(&count.to_be_bytes());
            for item in items.iter().take(count as usize) {
                encode_amf0(item, out);
            }
        }
        Value::Date { ms, tz } => {
            out.push(marker::DATE);
            out.extend_from_slice(&ms.to_be_bytes());
            out.extend_from_slice(&tz.to_be_bytes());
        }
        Value::XmlDocument(text) => {
            out.push(marker::XML_DOCUMENT);
            write_utf8_long(text, out);
        }
        Value::MixedArray { .. }
        | Value::Xml(_)
        | Value::ByteArray(_)
        | Value::VectorInt { .. }
        | Value::VectorUint { .. }
        | Value::VectorDouble { .. }
        | Value::VectorObject { .. }
        | Value::Dictionary { .. } => encode_avmplus(value, out),
    }
}

/// Appends an avmplus-object marker (0x11) and the AMF 3 encoding of
/// `value` (AMF 0 spec, section 3.1), as Flash Player does for arguments
/// when its NetConnection's objectEncoding is 3.
pub fn encode_avmplus(value: &Value, out: &mut Vec<u8>) {
    out.push(marker::AVMPLUS);
    amf3::encode_amf3(value, out);
}

/// The AMF 0 encoding of each value, concatenated: an RTMP command message
/// body (message type 0x14) or data message body (0x12).
pub fn encode_amf0_all(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for value in values {
        encode_amf0(value, &mut out);
    }
    out
}

/// string-type (2.4) up to 65,535 bytes, long-string-type (2.14) above.
fn encode_string(s: &str, out: &mut Vec<u8>) {
    if s.len() <= usize::from(u16::MAX) {
        out.push(marker::STRING);
        write_utf8(s, out);
    } else {
        out.push(marker::LONG_STRING);
        write_utf8_long(s, out);
    }
}

/// Property list then UTF-8-empty and object-end-marker (2.5).
fn write_properties(props: &[(String, Value)], out: &mut Vec<u8>) {
    for (key, value) in props {
        write_utf8(key, out);
        encode_amf0(value, out);
    }
    out.extend_from_slice(&[0x00, 0x00, marker::OBJECT_END]);
}

/// UTF-8 with a U16 byte length.
fn write_utf8(s: &str, out: &mut Vec<u8>) {
    let s = truncate(s, usize::from(u16::MAX));
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// UTF-8-long: UTF-8 with a U32 byte length.
fn write_utf8_long(s: &str, out: &mut Vec<u8>) {
    let s = truncate(s, u32::MAX as usize);
    out.extend_from_slice(&clamp_u32(s.len()).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The longest prefix of `s` of at most `max` bytes ending on a char boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}
