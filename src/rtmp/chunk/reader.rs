//! Sans-IO chunk stream reader: bytes in, complete messages out
//! (RTMP spec 1.0, 5.3).

use std::collections::HashMap;

use bytes::{Buf, Bytes, BytesMut};

use super::budget::ReassemblyBudget;
use super::header::{BasicHeader, ChunkType, RawMessageHeader, EXTENDED_TIMESTAMP_MARKER};
use super::ChunkLimits;
use crate::rtmp::error::RtmpError;
use crate::rtmp::message::{ControlMessage, Message, MAX_CHUNK_SIZE};
use crate::rtmp::time::RtmpTimestamp;

/// Default chunk size before any Set Chunk Size (spec 5.4.1): 128 bytes.
pub const DEFAULT_CHUNK_SIZE: u32 = 128;

/// The header state a chunk stream inherits from (spec 5.3.1.2).
#[derive(Debug, Clone, Copy)]
struct StreamHeader {
    /// Absolute timestamp of the current/last message on this chunk stream.
    timestamp: RtmpTimestamp,
    /// Delta a following type 3 new message adds. After a type 0 header it
    /// is the absolute timestamp field, as ffmpeg and librtmp do.
    delta: u32,
    length: u32,
    type_id: u8,
    stream_id: u32,
    /// The extended timestamp field of the last type 0/1/2 header, when it
    /// had one: type 3 chunks then carry (or may omit) the same 4 bytes.
    extended: Option<u32>,
}

#[derive(Debug)]
struct ChunkStream {
    header: StreamHeader,
    /// Payload received so far of the message in progress, if any.
    partial: Option<Vec<u8>>,
    /// Bytes taken from the budget for `partial`'s buffer.
    held: u64,
}

/// What one parsed chunk means, computed before anything is consumed.
struct ChunkPlan {
    csid: u32,
    header: StreamHeader,
    /// Bytes of basic + message header + extended timestamp.
    header_len: usize,
    /// Payload bytes in this chunk.
    payload_len: usize,
}

/// Reassembles RTMP messages from a chunk stream.
///
/// Feed it the bytes after the handshake with [`ChunkReader::read`]; it
/// consumes whole chunks only, so partial chunks stay in the caller's
/// buffer. Set Chunk Size and Abort messages are applied by the reader
/// itself as soon as they complete (and still returned to the caller).
///
/// Memory: a message in progress never holds more than its declared
/// length, which is at most [`ChunkLimits::max_message_size`]; at most
/// [`ChunkLimits::max_chunk_streams`] chunk streams are tracked. The
/// caller's input buffer holds at most one chunk (header + chunk size).
///
/// With a [`ReassemblyBudget`] ([`ChunkReader::with_budget`]) the bytes
/// of partial messages are also taken from that shared budget.
///
/// After an error the connection must be closed: the state is undefined.
#[derive(Debug)]
pub struct ChunkReader {
    limits: ChunkLimits,
    chunk_size: u32,
    streams: HashMap<u32, ChunkStream>,
    bytes_received: u64,
    budget: Option<ReassemblyBudget>,
}

impl Drop for ChunkReader {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.give_back(self.streams.values().map(|s| s.held).sum());
        }
    }
}

impl ChunkReader {
    /// A reader with the default chunk size of 128 bytes.
    pub fn new(limits: ChunkLimits) -> Self {
        Self {
            limits,
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: HashMap::new(),
            bytes_received: 0,
            budget: None,
        }
    }

    /// A reader whose partial messages are also bounded by `budget`,
    /// shared with other readers.
    pub fn with_budget(limits: ChunkLimits, budget: ReassemblyBudget) -> Self {
        let mut reader = Self::new(limits);
        reader.budget = Some(budget);
        reader
    }

    /// Replaces the limits (e.g. wider ones once the client is
    /// authenticated); they apply to message headers read from now on.
    pub fn set_limits(&mut self, limits: ChunkLimits) {
        self.limits = limits;
    }

    /// The peer's current chunk size in bytes.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// The limits in force.
    pub fn limits(&self) -> &ChunkLimits {
        &self.limits
    }

    /// Total bytes consumed from the input so far (chunk stream only, not
    /// the handshake). Acknowledgement sequence numbers are this mod 2^32;
    /// see [`super::AckWindow`].
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// Number of chunk streams seen so far.
    pub fn chunk_stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Sets the incoming chunk size directly (normally done by a received
    /// Set Chunk Size message).
    ///
    /// # Errors
    /// [`RtmpError::InvalidChunkSize`] for 0 or values above 0x7FFFFFFF.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), RtmpError> {
        if size == 0 || size > MAX_CHUNK_SIZE {
            return Err(RtmpError::InvalidChunkSize(size));
        }
        self.chunk_size = size;
        Ok(())
    }

    /// Consumes whole chunks from the front of `input` until one message
    /// is complete. Returns `Ok(None)` when `input` holds no complete chunk
    /// any more (bytes of an incomplete chunk are left in `input`). Call it
    /// again until `Ok(None)` after each receive.
    ///
    /// # Errors
    /// Peer errors: [`RtmpError::MessageTooLarge`],
    /// [`RtmpError::TooManyChunkStreams`], [`RtmpError::MissingMessageHeader`],
    /// [`RtmpError::InterruptedMessage`], [`RtmpError::InvalidChunkSize`],
    /// [`RtmpError::InvalidControlMessage`] (malformed Set Chunk Size/Abort)
    /// and [`RtmpError::ReassemblyBudgetExhausted`].
    pub fn read(&mut self, input: &mut BytesMut) -> Result<Option<Message>, RtmpError> {
        loop {
            let Some(plan) = self.plan_chunk(input)? else {
                return Ok(None);
            };
            if let Some(message) = self.commit_chunk(plan, input)? {
                self.apply_control(&message)?;
                return Ok(Some(message));
            }
        }
    }

    /// Parses the chunk at the front of `input` without consuming it.
    fn plan_chunk(&self, input: &[u8]) -> Result<Option<ChunkPlan>, RtmpError> {
        let Some((basic, basic_len)) = BasicHeader::parse(input) else {
            return Ok(None);
        };
        let csid = basic.csid;
        let stream = self.streams.get(&csid);
        let in_progress = stream.is_some_and(|s| s.partial.is_some());
        if in_progress && basic.fmt != ChunkType::Type3 {
            return Err(RtmpError::InterruptedMessage { csid });
        }
        if stream.is_none() {
            if basic.fmt != ChunkType::Type0 {
                return Err(RtmpError::MissingMessageHeader { csid });
            }
            if self.streams.len() >= self.limits.max_chunk_streams {
                return Err(RtmpError::TooManyChunkStreams {
                    limit: self.limits.max_chunk_streams,
                });
            }
        }
        let rest = input.get(basic_len..).unwrap_or_default();
        let Some(raw) = RawMessageHeader::parse(basic.fmt, rest) else {
            return Ok(None);
        };
        let mut header_len = basic_len + basic.fmt.message_header_len();
        let after = input.get(header_len..).unwrap_or_default();
        let Some((header, ext_len)) =
            resolve_header(raw, stream.map(|s| &s.header), in_progress, after)
        else {
            return Ok(None);
        };
        header_len += ext_len;
        if header.length > self.limits.max_message_size {
            return Err(RtmpError::MessageTooLarge {
                length: header.length,
                limit: self.limits.max_message_size,
            });
        }
        let received = stream
            .and_then(|s| s.partial.as_ref())
            .map_or(0, |p| p.len());
        let remaining = (header.length as usize).saturating_sub(received);
        let payload_len = remaining.min(self.chunk_size as usize);
        if input.len() < header_len.saturating_add(payload_len) {
            return Ok(None);
        }
        Ok(Some(ChunkPlan {
            csid,
            header,
            header_len,
            payload_len,
        }))
    }

    /// Consumes the planned chunk; returns the message it completes, if any.
    fn commit_chunk(
        &mut self,
        plan: ChunkPlan,
        input: &mut BytesMut,
    ) -> Result<Option<Message>, RtmpError> {
        let total = plan.header_len + plan.payload_len;
        self.bytes_received += total as u64;
        input.advance(plan.header_len);
        let data = input.split_to(plan.payload_len);
        let stream = self.streams.entry(plan.csid).or_insert(ChunkStream {
            header: plan.header,
            partial: None,
            held: 0,
        });
        stream.header = plan.header;
        let length = plan.header.length as usize;
        let payload = match stream.partial.take() {
            // Whole message in one chunk: no copy.
            None if data.len() == length => data.freeze(),
            partial => {
                let mut buf = partial.unwrap_or_default();
                let target = grown_capacity(stream.held, buf.len() + data.len(), length);
                if target > stream.held {
                    let more = target - stream.held;
                    if !self.budget.as_ref().is_none_or(|b| b.try_take(more)) {
                        return Err(RtmpError::ReassemblyBudgetExhausted {
                            limit: self.budget.as_ref().map_or(0, |b| b.limit()),
                        });
                    }
                    stream.held = target;
                    buf.reserve_exact((target as usize).saturating_sub(buf.len()));
                }
                buf.extend_from_slice(&data);
                if buf.len() < length {
                    stream.partial = Some(buf);
                    return Ok(None);
                }
                if let Some(b) = &self.budget {
                    b.give_back(stream.held);
                }
                stream.held = 0;
                Bytes::from(buf)
            }
        };
        Ok(Some(Message {
            csid: plan.csid,
            timestamp: plan.header.timestamp,
            type_id: plan.header.type_id,
            stream_id: plan.header.stream_id,
            payload,
        }))
    }

    /// Applies Set Chunk Size and Abort (spec 5.4.1, 5.4.2).
    fn apply_control(&mut self, message: &Message) -> Result<(), RtmpError> {
        match ControlMessage::parse(message.type_id, &message.payload) {
            Ok(Some(ControlMessage::SetChunkSize(size))) => self.set_chunk_size(size),
            Ok(Some(ControlMessage::Abort { csid })) => {
                if let Some(stream) = self.streams.get_mut(&csid) {
                    stream.partial = None;
                    if let Some(b) = &self.budget {
                        b.give_back(stream.held);
                    }
                    stream.held = 0;
                }
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) if matches!(message.type_id, 1 | 2) => Err(e),
            // Other malformed control messages are the session's business.
            Err(_) => Ok(()),
        }
    }
}

/// The capacity in bytes a partial message's buffer needs to hold
/// `needed` bytes, given it has `held`: doubling, but never past `length`
/// (the declared, limit-checked message length); `held` when enough.
fn grown_capacity(held: u64, needed: usize, length: usize) -> u64 {
    let needed = needed as u64;
    if needed <= held {
        return held;
    }
    needed
        .max(held.saturating_mul(2))
        .min(length as u64)
        .max(needed)
}

/// Applies inheritance and the extended timestamp: the resolved header and
/// the number of extended timestamp bytes consumed, or `None` when more
/// input is needed. `after` is the input after the message header.
fn resolve_header(
    raw: RawMessageHeader,
    prev: Option<&StreamHeader>,
    in_progress: bool,
    after: &[u8],
) -> Option<(StreamHeader, usize)> {
    let read_ext = |field: u32| -> Option<(u32, Option<u32>, usize)> {
        if field == EXTENDED_TIMESTAMP_MARKER {
            let v = u32::from_be_bytes(<[u8; 4]>::try_from(after.get(..4)?).ok()?);
            Some((v, Some(v), 4))
        } else {
            Some((field, None, 0))
        }
    };
    match (raw, prev) {
        (
            RawMessageHeader::Type0 {
                timestamp,
                length,
                type_id,
                stream_id,
            },
            _,
        ) => {
            let (ts, extended, n) = read_ext(timestamp)?;
            let header = StreamHeader {
                timestamp: RtmpTimestamp(ts),
                delta: ts,
                length,
                type_id,
                stream_id,
                extended,
            };
            Some((header, n))
        }
        (
            RawMessageHeader::Type1 {
                delta,
                length,
                type_id,
            },
            Some(p),
        ) => {
            let (delta, extended, n) = read_ext(delta)?;
            let header = StreamHeader {
                timestamp: p.timestamp + delta,
                delta,
                length,
                type_id,
                extended,
                ..*p
            };
            Some((header, n))
        }
        (RawMessageHeader::Type2 { delta }, Some(p)) => {
            let (delta, extended, n) = read_ext(delta)?;
            let header = StreamHeader {
                timestamp: p.timestamp + delta,
                delta,
                extended,
                ..*p
            };
            Some((header, n))
        }
        (RawMessageHeader::Type3, Some(p)) => {
            let n = type3_extended_len(p, after)?;
            let mut header = *p;
            if !in_progress {
                header.timestamp = p.timestamp + p.delta;
            }
            Some((header, n))
        }
        // Unreachable: the caller rejects type 1-3 chunks without state.
        (_, None) => None,
    }
}

/// A type 3 chunk after a header with an extended timestamp should repeat
/// those 4 bytes (spec 5.3.1.3; Flash and ffmpeg do), but some peers omit
/// them. As librtmp does, consume the 4 bytes only when they equal the
/// stored value. `None` when fewer than 4 bytes are available to decide.
fn type3_extended_len(prev: &StreamHeader, after: &[u8]) -> Option<usize> {
    let Some(expected) = prev.extended else {
        return Some(0);
    };
    let bytes = after.get(..4)?;
    Some(if bytes == expected.to_be_bytes() {
        4
    } else {
        0
    })
}
