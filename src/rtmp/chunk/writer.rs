//! Chunk stream writer: messages in, chunks out, with header compression
//! (RTMP spec 1.0, 5.3).

use std::collections::HashMap;

use bytes::{BufMut, BytesMut};

use super::header::{
    BasicHeader, ChunkType, RawMessageHeader, EXTENDED_TIMESTAMP_MARKER, MAX_CSID,
    MAX_MESSAGE_LENGTH, MIN_CSID,
};
use super::reader::DEFAULT_CHUNK_SIZE;
use crate::rtmp::error::RtmpError;
use crate::rtmp::message::{type_id, ControlMessage, Message, MAX_CHUNK_SIZE};
use crate::rtmp::time::RtmpTimestamp;

/// What the last message written on a chunk stream looked like.
#[derive(Debug, Clone, Copy)]
struct LastSent {
    timestamp: RtmpTimestamp,
    /// The delta of the last type 1/2/3 header; `None` after a type 0
    /// (peers disagree on what a type 3 after a type 0 means, so we never
    /// send that).
    delta: Option<u32>,
    length: u32,
    type_id: u8,
    stream_id: u32,
}

/// Splits messages into chunks with the smallest header the previous
/// message on the same chunk stream allows: type 0 for a new chunk stream,
/// another message stream or a timestamp going backwards; type 1 when the
/// length or type changes; type 2 when only the delta changes; type 3 when
/// even the delta repeats. Extended timestamps are written when the field
/// reaches 0xFFFFFF, and repeated on every type 3 chunk (as Flash does).
#[derive(Debug)]
pub struct ChunkWriter {
    chunk_size: u32,
    streams: HashMap<u32, LastSent>,
    bytes_written: u64,
}

impl Default for ChunkWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkWriter {
    /// A writer with the default chunk size of 128 bytes.
    pub fn new() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: HashMap::new(),
            bytes_written: 0,
        }
    }

    /// The outgoing chunk size in bytes.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Total bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Switches the outgoing chunk size without telling the peer. Prefer
    /// [`Self::write_set_chunk_size`], which sends the Set Chunk Size
    /// message first; this is for tests and for peers told out of band.
    ///
    /// # Errors
    /// [`RtmpError::InvalidOutgoingChunkSize`] for 0 or above 0x7FFFFFFF.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), RtmpError> {
        if size == 0 || size > MAX_CHUNK_SIZE {
            return Err(RtmpError::InvalidOutgoingChunkSize(size));
        }
        self.chunk_size = size;
        Ok(())
    }

    /// Writes a Set Chunk Size message (chunk stream 2, stream 0, timestamp
    /// 0) with the current size, then switches to `size` for what follows.
    ///
    /// # Errors
    /// [`RtmpError::InvalidOutgoingChunkSize`]; nothing is written then.
    pub fn write_set_chunk_size(&mut self, size: u32, out: &mut BytesMut) -> Result<(), RtmpError> {
        self.write_control(
            &ControlMessage::SetChunkSize(size),
            RtmpTimestamp::ZERO,
            out,
        )
    }

    /// Writes a protocol control / user control message on chunk stream 2,
    /// message stream 0. A Set Chunk Size switches the outgoing size after
    /// it is written.
    ///
    /// # Errors
    /// As [`Self::write`].
    pub fn write_control(
        &mut self,
        control: &ControlMessage,
        timestamp: RtmpTimestamp,
        out: &mut BytesMut,
    ) -> Result<(), RtmpError> {
        self.write(&control.to_message(timestamp), out)
    }

    /// Appends `message` to `out` as chunks. A message of type 1 (Set Chunk
    /// Size) switches the outgoing chunk size once it is written, so the
    /// size the peer uses to read always matches.
    ///
    /// # Errors
    /// Local misuse: [`RtmpError::InvalidChunkStreamId`] (not 2..=65599),
    /// [`RtmpError::OutgoingMessageTooLarge`] (over 0xFFFFFF bytes),
    /// [`RtmpError::InvalidOutgoingChunkSize`] (a Set Chunk Size message with
    /// 0 or the top bit set). Nothing is written on error.
    pub fn write(&mut self, message: &Message, out: &mut BytesMut) -> Result<(), RtmpError> {
        if !(MIN_CSID..=MAX_CSID).contains(&message.csid) {
            return Err(RtmpError::InvalidChunkStreamId(message.csid));
        }
        let length = u32::try_from(message.payload.len())
            .ok()
            .filter(|l| *l <= MAX_MESSAGE_LENGTH)
            .ok_or(RtmpError::OutgoingMessageTooLarge(message.payload.len()))?;
        let new_chunk_size = self.requested_chunk_size(message)?;

        let (header, last) = self.choose_header(message, length);
        let timestamp_field = match header {
            RawMessageHeader::Type0 { timestamp, .. } => timestamp,
            RawMessageHeader::Type1 { delta, .. } | RawMessageHeader::Type2 { delta } => delta,
            RawMessageHeader::Type3 => last.delta.unwrap_or(0),
        };
        let extended = (timestamp_field >= EXTENDED_TIMESTAMP_MARKER).then_some(timestamp_field);

        let start = out.len();
        let mut chunks = message.payload.chunks(self.chunk_size as usize);
        let first = chunks.next().unwrap_or_default();
        put_chunk(out, message.csid, header, extended, first);
        for chunk in chunks {
            put_chunk(out, message.csid, RawMessageHeader::Type3, extended, chunk);
        }
        self.bytes_written += (out.len() - start) as u64;
        self.streams.insert(message.csid, last);
        if let Some(size) = new_chunk_size {
            self.chunk_size = size;
        }
        Ok(())
    }

    /// For a Set Chunk Size message, the size it announces (validated).
    fn requested_chunk_size(&self, message: &Message) -> Result<Option<u32>, RtmpError> {
        if message.type_id != type_id::SET_CHUNK_SIZE {
            return Ok(None);
        }
        match ControlMessage::parse(message.type_id, &message.payload) {
            Ok(Some(ControlMessage::SetChunkSize(size))) => Ok(Some(size)),
            Err(RtmpError::InvalidChunkSize(size)) => {
                Err(RtmpError::InvalidOutgoingChunkSize(size))
            }
            _ => Err(RtmpError::InvalidOutgoingChunkSize(0)),
        }
    }

    /// Picks the message header type and the state to remember.
    fn choose_header(&self, message: &Message, length: u32) -> (RawMessageHeader, LastSent) {
        let mut last = LastSent {
            timestamp: message.timestamp,
            delta: None,
            length,
            type_id: message.type_id,
            stream_id: message.stream_id,
        };
        let type0 = RawMessageHeader::Type0 {
            timestamp: message.timestamp.as_millis(),
            length,
            type_id: message.type_id,
            stream_id: message.stream_id,
        };
        let Some(prev) = self.streams.get(&message.csid) else {
            return (type0, last);
        };
        let delta = message.timestamp.wrapping_sub(prev.timestamp);
        // A backwards timestamp (serial order) cannot be a delta.
        if prev.stream_id != message.stream_id || message.timestamp.signed_delta(prev.timestamp) < 0
        {
            return (type0, last);
        }
        last.delta = Some(delta);
        let header = if prev.length != length || prev.type_id != message.type_id {
            RawMessageHeader::Type1 {
                delta,
                length,
                type_id: message.type_id,
            }
        } else if prev.delta == Some(delta) {
            RawMessageHeader::Type3
        } else {
            RawMessageHeader::Type2 { delta }
        };
        (header, last)
    }
}

/// Appends one chunk: basic header, message header, extended timestamp,
/// payload.
fn put_chunk(
    out: &mut BytesMut,
    csid: u32,
    header: RawMessageHeader,
    extended: Option<u32>,
    payload: &[u8],
) {
    let fmt: ChunkType = header.chunk_type();
    BasicHeader { fmt, csid }.encode(out);
    header.encode(out);
    if let Some(ts) = extended {
        out.put_u32(ts);
    }
    out.put_slice(payload);
}
