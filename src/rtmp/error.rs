//! The RTMP layer's error type.

use thiserror::Error;

/// Who is to blame for an [`RtmpError`]: the driver uses this to pick a log
/// level and to decide whether to close the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The peer sent something that violates RTMP or exceeds our limits.
    /// The connection should be closed.
    Peer,
    /// Our own code asked for something impossible (a bug on this side).
    Local,
    /// A deadline set by the driver passed.
    Timeout,
}

/// Errors of the RTMP transport layer (handshake, chunk stream, protocol
/// control messages).
///
/// After any [`ErrorKind::Peer`] error the reader or handshake state must be
/// considered broken and the connection closed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtmpError {
    // ---- peer misbehaviour: handshake ----
    /// C0/S0 carried a version other than 3 (RTMP spec 1.0, 5.2.2).
    #[error("unsupported RTMP version {0} in handshake (only 3 is supported)")]
    UnsupportedVersion(u8),
    /// C0 asked for RTMPE (version 6 or 8), which is not supported.
    #[error("encrypted RTMP (RTMPE, handshake version {0}) is not supported")]
    EncryptedHandshakeUnsupported(u8),
    /// The peer's S1/S2 digest did not verify (client side only).
    #[error("handshake digest verification failed: {0}")]
    HandshakeDigestMismatch(&'static str),
    /// The peer's S2 is not an echo of our C1 (client side, plain handshake).
    #[error("handshake echo does not match what we sent")]
    HandshakeEchoMismatch,

    // ---- peer misbehaviour: chunk stream ----
    /// A Set Chunk Size message carried 0 or a value with the top bit set
    /// (valid range 1..=0x7FFF_FFFF, spec 5.4.1).
    #[error("invalid chunk size {0} (valid: 1..=0x7FFFFFFF)")]
    InvalidChunkSize(u32),
    /// A message header declared a length above the configured limit.
    #[error("message of {length} bytes exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// Declared message length in bytes.
        length: u32,
        /// Configured maximum in bytes.
        limit: u32,
    },
    /// The peer opened more chunk streams than the configured limit.
    #[error("more than {limit} chunk streams on one connection")]
    TooManyChunkStreams {
        /// Configured maximum number of chunk streams.
        limit: usize,
    },
    /// A type 1, 2 or 3 chunk arrived on a chunk stream that has had no
    /// type 0 chunk yet, so there is nothing to inherit from (spec 5.3.1.2).
    #[error("chunk stream {csid} starts without a type 0 message header")]
    MissingMessageHeader {
        /// Chunk stream id.
        csid: u32,
    },
    /// A type 0, 1 or 2 chunk arrived while a message on the same chunk
    /// stream was still incomplete (continuations must be type 3).
    #[error("new message header on chunk stream {csid} interrupts an incomplete message")]
    InterruptedMessage {
        /// Chunk stream id.
        csid: u32,
    },
    /// Reassembling this message would take the partly received messages
    /// of all connections past the shared budget (`[limits]
    /// max_reassembly_bytes`).
    #[error("chunk reassembly memory budget of {limit} bytes exhausted")]
    ReassemblyBudgetExhausted {
        /// The shared budget in bytes.
        limit: u64,
    },
    /// A protocol control or user control message is malformed.
    #[error("malformed control message (type {type_id}): {reason}")]
    InvalidControlMessage {
        /// Message type id (1..=6).
        type_id: u8,
        /// What was wrong.
        reason: &'static str,
    },

    // ---- local misuse ----
    /// A chunk stream id outside 2..=65599 was given to the writer.
    #[error("chunk stream id {0} is outside 2..=65599")]
    InvalidChunkStreamId(u32),
    /// An outgoing message is longer than the 24-bit length field allows.
    #[error("outgoing message of {0} bytes exceeds 0xFFFFFF")]
    OutgoingMessageTooLarge(usize),
    /// An outgoing chunk size of 0 or above 0x7FFF_FFFF was requested.
    #[error("outgoing chunk size {0} is invalid (valid: 1..=0x7FFFFFFF)")]
    InvalidOutgoingChunkSize(u32),

    // ---- timeouts (raised by the driver) ----
    /// The handshake did not finish in time (the driver owns the clock).
    #[error("handshake timed out")]
    HandshakeTimeout,
}

impl RtmpError {
    /// Classifies the error: peer misbehaviour, local misuse or timeout.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidChunkStreamId(_)
            | Self::OutgoingMessageTooLarge(_)
            | Self::InvalidOutgoingChunkSize(_) => ErrorKind::Local,
            Self::HandshakeTimeout => ErrorKind::Timeout,
            _ => ErrorKind::Peer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_separated() {
        assert_eq!(RtmpError::UnsupportedVersion(9).kind(), ErrorKind::Peer);
        assert_eq!(RtmpError::InvalidChunkStreamId(1).kind(), ErrorKind::Local);
        assert_eq!(RtmpError::HandshakeTimeout.kind(), ErrorKind::Timeout);
        let text = RtmpError::MessageTooLarge {
            length: 10,
            limit: 5,
        }
        .to_string();
        assert!(text.contains("10") && text.contains('5'), "{text}");
    }
}
