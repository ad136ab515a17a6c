//! AMF 0: Adobe "Action Message Format -- AMF 0" (December 2007).
//!
//! [`Decoder`] reads a sequence of values with one reference table;
//! [`decode_amf0`] and [`decode_amf0_all`] are shorthands with default
//! [`Limits`]. [`encode_amf0`] writes values, switching to AMF 3 (marker
//! 0x11) for the types only AMF 3 has.

mod decode;
mod encode;
pub mod marker;

#[cfg(test)]
pub(crate) mod tests;

pub use decode::Decoder;
pub(crate) use encode::truncate;
pub use encode::{encode_amf0, encode_amf0_all, encode_avmplus};

use super::error::AmfError;
use super::limits::Limits;
use super::value::Value;

/// Decodes one AMF 0 value from the front of `input` and advances `input`
/// past it, with default [`Limits`] and a fresh reference table.
pub fn decode_amf0(input: &mut &[u8]) -> Result<Value, AmfError> {
    decode_amf0_with(input, Limits::default())
}

/// [`decode_amf0`] with explicit limits.
pub fn decode_amf0_with(input: &mut &[u8], limits: Limits) -> Result<Value, AmfError> {
    let bytes: &[u8] = input;
    let mut decoder = Decoder::with_limits(bytes, limits);
    let value = decoder.decode()?;
    *input = bytes.get(decoder.position()..).unwrap_or_default();
    Ok(value)
}

/// Decodes a whole AMF 0 message body (every value until the end), with
/// default [`Limits`] and one reference table for the body.
///
/// An RTMP command (message type 0x14) gives `[name, transaction id,
/// command object, args...]`. Errors if any value is malformed or truncated.
pub fn decode_amf0_all(bytes: &[u8]) -> Result<Vec<Value>, AmfError> {
    Decoder::new(bytes).decode_all()
}

/// [`decode_amf0_all`] with explicit limits.
pub fn decode_amf0_all_with(bytes: &[u8], limits: Limits) -> Result<Vec<Value>, AmfError> {
    Decoder::with_limits(bytes, limits).decode_all()
}
