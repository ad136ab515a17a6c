//! The RTMP chunk stream (RTMP spec 1.0, 5.3): [`ChunkReader`] turns
//! received bytes into [`Message`]s, [`ChunkWriter`] turns messages into
//! bytes, [`AckWindow`] tells when to send an Acknowledgement (5.4.3).

mod ack;
pub mod budget;
pub mod header;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

pub use crate::rtmp::message::Message;
pub use ack::AckWindow;
pub use budget::ReassemblyBudget;
pub use header::{ChunkType, MAX_CSID, MIN_CSID};
pub use reader::{ChunkReader, DEFAULT_CHUNK_SIZE};
pub use writer::ChunkWriter;

/// Resource limits for one connection's [`ChunkReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    /// Largest message length accepted, in bytes (the wire allows up to
    /// 0xFFFFFF). Larger declared lengths are
    /// [`RtmpError::MessageTooLarge`](crate::rtmp::RtmpError).
    pub max_message_size: u32,
    /// Most distinct chunk stream ids one connection may use. More are
    /// [`RtmpError::TooManyChunkStreams`](crate::rtmp::RtmpError).
    pub max_chunk_streams: usize,
}

impl ChunkLimits {
    /// Defaults: 1 MiB messages, 64 chunk streams. A voice client uses a
    /// handful of chunk streams and messages of a few hundred bytes, so the
    /// worst-case reassembly memory is 64 MiB only under attack, and grows
    /// only as bytes actually arrive.
    pub const DEFAULT: Self = Self {
        max_message_size: 1 << 20,
        max_chunk_streams: 64,
    };
}

impl Default for ChunkLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
