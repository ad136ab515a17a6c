//! AMF 3: Adobe "Action Message Format -- AMF 3" (January 2013).
//!
//! [`decode_amf3`] reads one value with fresh reference tables (strings,
//! objects, traits; section 2.2), as each avmplus-object in an AMF 0 stream
//! and each `ByteArray.readObject` is. [`encode_amf3`] writes one value
//! without references.

mod decode;
mod encode;
pub mod marker;
mod object;
mod u29;

#[cfg(test)]
mod tests;

pub use encode::encode_amf3;
pub use u29::{INT29_MAX, INT29_MIN, U29_MAX};

use super::cursor::Cursor;
use super::error::AmfError;
use super::limits::{Budget, Limits};
use super::value::Value;
use decode::Reader;

/// Decodes one AMF 3 value from the front of `input` and advances `input`
/// past it, with default [`Limits`].
pub fn decode_amf3(input: &mut &[u8]) -> Result<Value, AmfError> {
    decode_amf3_with(input, Limits::default())
}

/// [`decode_amf3`] with explicit limits.
pub fn decode_amf3_with(input: &mut &[u8], limits: Limits) -> Result<Value, AmfError> {
    let bytes: &[u8] = input;
    let mut cursor = Cursor::new(bytes);
    let mut budget = Budget::new(limits);
    let value = Reader::new(&mut cursor, &mut budget).value(0)?;
    *input = bytes.get(cursor.pos()..).unwrap_or_default();
    Ok(value)
}

/// Decodes the AMF 3 value after an AMF 0 avmplus-object marker (0x11),
/// sharing the AMF 0 decoder's cursor, budget and depth, with a fresh
/// AMF 3 context.
pub(crate) fn decode_switched(
    cursor: &mut Cursor<'_>,
    budget: &mut Budget,
    depth: usize,
) -> Result<Value, AmfError> {
    Reader::new(cursor, budget).value(depth)
}
