//! AMF 3 encoding (AMF 3 spec, section 3), without reference compression.

use super::marker;
use super::u29::{inline_len, write_i29, write_inline_len, write_u29, INT29_MAX, INT29_MIN};
use crate::amf::amf0::truncate;
use crate::amf::value::Value;

/// Largest sealed member count a U29O-traits header carries (2^25 - 1).
const MAX_SEALED: usize = (1 << 25) - 1;

/// Appends the AMF 3 encoding of `value` to `out` (no 0x11 prefix).
///
/// Every string, object and traits is written inline (references are
/// optional for an encoder). Integral numbers in -2^28..=2^28-1 (not -0)
/// become integer-type, other numbers double-type. Anonymous objects are
/// dynamic, unless a member name is empty (the dynamic terminator), in
/// which case all members are sealed; typed objects are sealed. Lossy
/// cases: [`Value::Unsupported`] becomes undefined, a date's `tz` is
/// dropped, associative array entries with an empty key are skipped, and
/// lengths beyond 2^28 - 1 are truncated (no RTMP message reaches them).
pub fn encode_amf3(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Undefined | Value::Unsupported => out.push(marker::UNDEFINED),
        Value::Null => out.push(marker::NULL),
        Value::Boolean(false) => out.push(marker::FALSE),
        Value::Boolean(true) => out.push(marker::TRUE),
        Value::Number(n) => write_number(*n, out),
        Value::String(s) => {
            out.push(marker::STRING);
            write_string(s, out);
        }
        Value::XmlDocument(s) => {
            out.push(marker::XML_DOC);
            write_string(s, out);
        }
        Value::Xml(s) => {
            out.push(marker::XML);
            write_string(s, out);
        }
        Value::Date { ms, .. } => {
            out.extend_from_slice(&[marker::DATE, 0x01]);
            out.extend_from_slice(&ms.to_be_bytes());
        }
        Value::ByteArray(bytes) => {
            out.push(marker::BYTE_ARRAY);
            let n = inline_len(bytes.len()) as usize;
            write_inline_len(n, out);
            out.extend_from_slice(bytes.get(..n).unwrap_or_default());
        }
        Value::StrictArray(dense) => write_array(dense, &[], out),
        Value::EcmaArray(assoc) => write_array(&[], assoc, out),
        Value::MixedArray { dense, assoc } => write_array(dense, assoc, out),
        Value::Object(props) => {
            write_object("", props, props.iter().all(|(k, _)| !k.is_empty()), out)
        }
        Value::TypedObject { class, props } => write_object(class, props, false, out),
        Value::VectorInt { fixed, items } => {
            write_vector_header(marker::VECTOR_INT, items.len(), *fixed, out);
            for item in limited(items) {
                out.extend_from_slice(&item.to_be_bytes());
            }
        }
        Value::VectorUint { fixed, items } => {
            write_vector_header(marker::VECTOR_UINT, items.len(), *fixed, out);
            for item in limited(items) {
                out.extend_from_slice(&item.to_be_bytes());
            }
        }
        Value::VectorDouble { fixed, items } => {
            write_vector_header(marker::VECTOR_DOUBLE, items.len(), *fixed, out);
            for item in limited(items) {
                out.extend_from_slice(&item.to_be_bytes());
            }
        }
        Value::VectorObject {
            fixed,
            class,
            items,
        } => {
            write_vector_header(marker::VECTOR_OBJECT, items.len(), *fixed, out);
            write_string(class, out);
            limited(items).for_each(|item| encode_amf3(item, out));
        }
        Value::Dictionary { weak_keys, entries } => {
            write_vector_header(marker::DICTIONARY, entries.len(), *weak_keys, out);
            for (key, value) in limited(entries) {
                encode_amf3(key, out);
                encode_amf3(value, out);
            }
        }
    }
}

/// integer-type when exact, else double-type (3.6, 3.7).
fn write_number(n: f64, out: &mut Vec<u8>) {
    let integral = n.fract() == 0.0
        && n >= f64::from(INT29_MIN)
        && n <= f64::from(INT29_MAX)
        && !(n == 0.0 && n.is_sign_negative());
    if integral {
        out.push(marker::INTEGER);
        write_i29(n as i32, out);
    } else {
        out.push(marker::DOUBLE);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// UTF-8-vr inline (1.3.2); also U29X-value for XML.
fn write_string(s: &str, out: &mut Vec<u8>) {
    let s = truncate(s, inline_len(s.len()) as usize);
    write_inline_len(s.len(), out);
    out.extend_from_slice(s.as_bytes());
}

/// array-type (3.11): dense count, associative pairs, empty name, dense values.
fn write_array(dense: &[Value], assoc: &[(String, Value)], out: &mut Vec<u8>) {
    out.push(marker::ARRAY);
    write_inline_len(dense.len(), out);
    for (key, value) in assoc.iter().filter(|(k, _)| !k.is_empty()) {
        write_string(key, out);
        encode_amf3(value, out);
    }
    write_string("", out);
    limited(dense).for_each(|item| encode_amf3(item, out));
}

/// object-type (3.12) with inline traits: dynamic with no sealed members,
/// or sealed with every member.
fn write_object(class: &str, props: &[(String, Value)], dynamic: bool, out: &mut Vec<u8>) {
    out.push(marker::OBJECT);
    if dynamic {
        // U29O-traits: inline object, inline traits, not externalizable, dynamic.
        write_u29(0b1011, out);
        write_string(class, out);
        for (key, value) in props {
            write_string(key, out);
            encode_amf3(value, out);
        }
        write_string("", out);
        return;
    }
    let props = props.get(..props.len().min(MAX_SEALED)).unwrap_or_default();
    write_u29(((props.len() as u32) << 4) | 0b0011, out);
    write_string(class, out);
    for (key, _) in props {
        write_string(key, out);
    }
    for (_, value) in props {
        encode_amf3(value, out);
    }
}

/// Marker, U29V-value / U29Dict-value count and the one-byte flag.
fn write_vector_header(m: u8, len: usize, flag: bool, out: &mut Vec<u8>) {
    out.push(m);
    write_inline_len(len, out);
    out.push(u8::from(flag));
}

/// The elements a flagged U29 count can announce.
fn limited<T>(items: &[T]) -> std::slice::Iter<'_, T> {
    items
        .get(..inline_len(items.len()) as usize)
        .unwrap_or_default()
        .iter()
}
