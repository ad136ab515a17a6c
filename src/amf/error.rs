//! The AMF layer's error type.

/// Which reference table a reference pointed into.
///
/// AMF 0 has one table of complex objects (AMF 0 spec, section 2.9); AMF 3
/// has three: strings, objects and traits (AMF 3 spec, section 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefTable {
    /// AMF 0 complex objects or AMF 3 objects (arrays, dates, XML, ...).
    Object,
    /// AMF 3 strings.
    String,
    /// AMF 3 traits (class name, sealed member names, flags).
    Traits,
}

impl std::fmt::Display for RefTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RefTable::Object => "object",
            RefTable::String => "string",
            RefTable::Traits => "traits",
        })
    }
}

/// Everything that can go wrong while decoding AMF.
///
/// Every variant is peer misbehaviour (malformed or hostile input) or a
/// configured [`Limits`](crate::amf::Limits) bound being hit; encoding is
/// infallible, so there are no local-misuse variants yet.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmfError {
    /// The input ended inside a value, or a length field claims more bytes
    /// than remain.
    #[error("AMF input ended unexpectedly")]
    UnexpectedEof,
    /// A type marker that is unknown or reserved (AMF 0 movieclip 0x04 and
    /// recordset 0x0E are reserved and not supported).
    #[error("unknown or unsupported AMF type marker 0x{0:02x}")]
    UnknownMarker(u8),
    /// An AMF 0 object-end marker (0x09) where a value was expected.
    #[error("AMF 0 object-end marker outside an object")]
    UnexpectedObjectEnd,
    /// An AMF 3 command message body (RTMP message type 0x11) did not start
    /// with the 0x00 format byte.
    #[error("AMF 3 command body starts with 0x{0:02x}, expected 0x00")]
    BadFormatByte(u8),
    /// Containers nested deeper than [`Limits::max_depth`](crate::amf::Limits::max_depth).
    #[error("AMF nesting deeper than {max}")]
    DepthExceeded {
        /// The configured limit.
        max: usize,
    },
    /// More values than [`Limits::max_items`](crate::amf::Limits::max_items).
    #[error("more than {max} AMF values")]
    TooManyItems {
        /// The configured limit.
        max: usize,
    },
    /// A string, XML text or ByteArray longer than
    /// [`Limits::max_string_len`](crate::amf::Limits::max_string_len) bytes.
    #[error("AMF string of {len} bytes exceeds {max}")]
    StringTooLong {
        /// The length the input announced, in bytes.
        len: usize,
        /// The configured limit, in bytes.
        max: usize,
    },
    /// Strings and byte arrays materialised in total (references included)
    /// exceed [`Limits::max_total_bytes`](crate::amf::Limits::max_total_bytes).
    #[error("AMF text and bytes exceed {max} bytes in total")]
    TotalBytesExceeded {
        /// The configured limit, in bytes.
        max: usize,
    },
    /// A reference table grew beyond [`Limits::max_refs`](crate::amf::Limits::max_refs) entries.
    #[error("AMF {table} reference table exceeds {max} entries")]
    TooManyReferences {
        /// The table that overflowed.
        table: RefTable,
        /// The configured limit.
        max: usize,
    },
    /// A reference index past the end of its table.
    #[error("AMF {table} reference {index} out of range")]
    BadReference {
        /// The table the reference points into.
        table: RefTable,
        /// The index that was sent.
        index: usize,
    },
    /// A reference to an object that is still being decoded (a cycle), which
    /// an owned [`Value`](crate::amf::Value) tree cannot represent.
    #[error("AMF circular reference to object {index}")]
    CircularReference {
        /// The index that was sent.
        index: usize,
    },
    /// String bytes that are not UTF-8 (both AMF versions mandate UTF-8).
    #[error("AMF string is not valid UTF-8")]
    InvalidUtf8,
    /// An AMF 3 externalizable object of a class whose private encoding is
    /// unknown (AMF 3 spec, section 3.12, U29O-traits-ext).
    #[error("AMF 3 externalizable class {0:?} is not supported")]
    UnsupportedExternalizable(String),
}
