//! AMF 3 type markers (AMF 3 spec, section 3.1).

/// undefined-marker (3.2).
pub const UNDEFINED: u8 = 0x00;
/// null-marker (3.3).
pub const NULL: u8 = 0x01;
/// false-marker (3.4).
pub const FALSE: u8 = 0x02;
/// true-marker (3.5).
pub const TRUE: u8 = 0x03;
/// integer-marker: U29 holding a signed 29-bit integer (3.6).
pub const INTEGER: u8 = 0x04;
/// double-marker: IEEE 754 double (3.7).
pub const DOUBLE: u8 = 0x05;
/// string-marker: UTF-8-vr (3.8).
pub const STRING: u8 = 0x06;
/// xml-doc-marker: legacy XMLDocument (3.9).
pub const XML_DOC: u8 = 0x07;
/// date-marker (3.10).
pub const DATE: u8 = 0x08;
/// array-marker: associative then dense part (3.11).
pub const ARRAY: u8 = 0x09;
/// object-marker: traits, sealed then dynamic members (3.12).
pub const OBJECT: u8 = 0x0A;
/// xml-marker: E4X XML (3.13).
pub const XML: u8 = 0x0B;
/// byte-array-marker (3.14).
pub const BYTE_ARRAY: u8 = 0x0C;
/// vector-int-marker (3.15).
pub const VECTOR_INT: u8 = 0x0D;
/// vector-uint-marker (3.15).
pub const VECTOR_UINT: u8 = 0x0E;
/// vector-double-marker (3.15).
pub const VECTOR_DOUBLE: u8 = 0x0F;
/// vector-object-marker (3.15).
pub const VECTOR_OBJECT: u8 = 0x10;
/// dictionary-marker (3.16).
pub const DICTIONARY: u8 = 0x11;
