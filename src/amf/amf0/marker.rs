//! AMF 0 type markers (AMF 0 spec, section 2.1).

/// number-marker: IEEE 754 double follows (2.2).
pub const NUMBER: u8 = 0x00;
/// boolean-marker: U8 follows, 0 is false (2.3).
pub const BOOLEAN: u8 = 0x01;
/// string-marker: UTF-8 with U16 length (2.4).
pub const STRING: u8 = 0x02;
/// object-marker: anonymous object, property list (2.5).
pub const OBJECT: u8 = 0x03;
/// movieclip-marker: reserved, not supported (2.6).
pub const MOVIECLIP: u8 = 0x04;
/// null-marker (2.7).
pub const NULL: u8 = 0x05;
/// undefined-marker (2.8).
pub const UNDEFINED: u8 = 0x06;
/// reference-marker: U16 index into the complex object table (2.9).
pub const REFERENCE: u8 = 0x07;
/// ecma-array-marker: U32 count, property list (2.10).
pub const ECMA_ARRAY: u8 = 0x08;
/// object-end-marker, after an empty property name (2.11).
pub const OBJECT_END: u8 = 0x09;
/// strict-array-marker: U32 count, values (2.12).
pub const STRICT_ARRAY: u8 = 0x0A;
/// date-marker: double ms, S16 time-zone (2.13).
pub const DATE: u8 = 0x0B;
/// long-string-marker: UTF-8 with U32 length (2.14).
pub const LONG_STRING: u8 = 0x0C;
/// unsupported-marker (2.15).
pub const UNSUPPORTED: u8 = 0x0D;
/// recordset-marker: reserved, not supported (2.16).
pub const RECORDSET: u8 = 0x0E;
/// xml-document-marker: UTF-8 with U32 length (2.17).
pub const XML_DOCUMENT: u8 = 0x0F;
/// typed-object-marker: class name, property list (2.18).
pub const TYPED_OBJECT: u8 = 0x10;
/// avmplus-object-marker: one AMF 3 value follows (3.1).
pub const AVMPLUS: u8 = 0x11;
