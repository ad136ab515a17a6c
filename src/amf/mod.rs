//! AMF (Action Message Format) values, decoding and encoding with hard
//! limits, for RTMP command and data messages.
//!
//! Sources: Adobe "Action Message Format -- AMF 0" (December 2007) and
//! "Action Message Format -- AMF 3" (January 2013); the RTMP specification
//! (section 7.1.1) for the AMF 3 command body's leading format byte.
//!
//! - [`Value`]: one owned tree for both versions; build objects with
//!   [`Value::object`] or [`Value::object_builder`], read them with
//!   [`Value::get`], [`Value::as_str`], [`Value::as_f64`], ...
//! - AMF 0: [`decode_amf0`], [`decode_amf0_all`], [`amf0::Decoder`],
//!   [`encode_amf0`], [`encode_amf0_all`].
//! - AMF 3: [`decode_amf3`], [`encode_amf3`]; RTMP message type 0x11 bodies:
//!   [`decode_amf3_command_body`], [`encode_amf3_command_body`].
//! - [`Limits`] bound depth, values, string sizes and reference tables;
//!   every failure is an [`AmfError`], nothing panics on input.
//!
//! See `README.md` beside this file for the marker matrix.

pub mod amf0;
pub mod amf3;
mod builder;
mod command;
mod cursor;
mod error;
mod limits;
mod value;

#[cfg(test)]
mod proptests;

pub use amf0::{
    decode_amf0, decode_amf0_all, decode_amf0_all_with, decode_amf0_with, encode_amf0,
    encode_amf0_all, encode_avmplus,
};
pub use amf3::{decode_amf3, decode_amf3_with, encode_amf3};
pub use builder::ObjectBuilder;
pub use command::{
    decode_amf3_command_body, decode_amf3_command_body_with, encode_amf3_command_body,
};
pub use error::{AmfError, RefTable};
pub use limits::Limits;
pub use value::{Properties, Value};
