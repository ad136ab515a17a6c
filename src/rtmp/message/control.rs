//! Protocol control messages, types 1..=6 (RTMP spec 1.0, 5.4 and 6.2).

use bytes::{BufMut, Bytes, BytesMut};

use super::user_control::UserControlEvent;
use super::{type_id, Message, CONTROL_CHUNK_STREAM};
use crate::rtmp::error::RtmpError;
use crate::rtmp::time::RtmpTimestamp;

/// Largest valid chunk size (spec 5.4.1: 31 bits, top bit zero).
pub const MAX_CHUNK_SIZE: u32 = 0x7FFF_FFFF;

/// The limit type of a Set Peer Bandwidth message (spec 5.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitType {
    /// 0: limit the output bandwidth to the window size.
    Hard,
    /// 1: limit to the window size or the current limit, whichever is smaller.
    Soft,
    /// 2: hard if the previous limit was hard, else ignore.
    Dynamic,
}

impl LimitType {
    /// Wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::Hard => 0,
            Self::Soft => 1,
            Self::Dynamic => 2,
        }
    }

    /// Parses the wire value; `None` for values above 2.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::Hard),
            1 => Some(Self::Soft),
            2 => Some(Self::Dynamic),
            _ => None,
        }
    }
}

/// A protocol control message (spec 5.4) or user control message (6.2).
/// These travel on chunk stream 2, message stream 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlMessage {
    /// Type 1: the sender's new maximum chunk size in bytes (1..=0x7FFFFFFF).
    SetChunkSize(u32),
    /// Type 2: discard the partly received message on this chunk stream id.
    Abort {
        /// Chunk stream id whose partial message is dropped.
        csid: u32,
    },
    /// Type 3: the number of bytes received so far (wrapping at 2^32).
    Acknowledgement {
        /// Sequence number = bytes received so far, mod 2^32.
        sequence_number: u32,
    },
    /// Type 4: a user control event.
    UserControl(UserControlEvent),
    /// Type 5: the window in bytes after which the receiver must acknowledge.
    WindowAckSize(u32),
    /// Type 6: limit the peer's output bandwidth.
    SetPeerBandwidth {
        /// Window size in bytes.
        window: u32,
        /// How to apply it.
        limit_type: LimitType,
    },
}

fn be_u32(payload: &[u8], type_id: u8, reason: &'static str) -> Result<u32, RtmpError> {
    payload
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .ok_or(RtmpError::InvalidControlMessage { type_id, reason })
}

impl ControlMessage {
    /// Parses a control message payload given its message type id.
    /// Returns `Ok(None)` when `type_id` is not 1..=6. Trailing bytes after
    /// the defined fields are ignored.
    ///
    /// # Errors
    /// [`RtmpError::InvalidControlMessage`] when the payload is too short or
    /// the limit type is unknown; [`RtmpError::InvalidChunkSize`] for a Set
    /// Chunk Size of 0 or with the top bit set.
    pub fn parse(type_id: u8, payload: &[u8]) -> Result<Option<Self>, RtmpError> {
        let msg = match type_id {
            type_id::SET_CHUNK_SIZE => {
                let size = be_u32(payload, type_id, "Set Chunk Size needs 4 bytes")?;
                if size == 0 || size > MAX_CHUNK_SIZE {
                    return Err(RtmpError::InvalidChunkSize(size));
                }
                Self::SetChunkSize(size)
            }
            type_id::ABORT => Self::Abort {
                csid: be_u32(payload, type_id, "Abort needs 4 bytes")?,
            },
            type_id::ACKNOWLEDGEMENT => Self::Acknowledgement {
                sequence_number: be_u32(payload, type_id, "Acknowledgement needs 4 bytes")?,
            },
            type_id::USER_CONTROL => Self::UserControl(UserControlEvent::parse(payload)?),
            type_id::WINDOW_ACK_SIZE => {
                Self::WindowAckSize(be_u32(payload, type_id, "Window Ack Size needs 4 bytes")?)
            }
            type_id::SET_PEER_BANDWIDTH => {
                let window = be_u32(payload, type_id, "Set Peer Bandwidth needs 5 bytes")?;
                let limit = payload.get(4).ok_or(RtmpError::InvalidControlMessage {
                    type_id,
                    reason: "Set Peer Bandwidth needs 5 bytes",
                })?;
                let limit_type =
                    LimitType::from_u8(*limit).ok_or(RtmpError::InvalidControlMessage {
                        type_id,
                        reason: "unknown Set Peer Bandwidth limit type",
                    })?;
                Self::SetPeerBandwidth { window, limit_type }
            }
            _ => return Ok(None),
        };
        Ok(Some(msg))
    }

    /// The message type id (1..=6).
    pub fn type_id(&self) -> u8 {
        match self {
            Self::SetChunkSize(_) => type_id::SET_CHUNK_SIZE,
            Self::Abort { .. } => type_id::ABORT,
            Self::Acknowledgement { .. } => type_id::ACKNOWLEDGEMENT,
            Self::UserControl(_) => type_id::USER_CONTROL,
            Self::WindowAckSize(_) => type_id::WINDOW_ACK_SIZE,
            Self::SetPeerBandwidth { .. } => type_id::SET_PEER_BANDWIDTH,
        }
    }

    /// Appends the payload (without any chunk header) to `out`.
    pub fn encode_payload(&self, out: &mut BytesMut) {
        match self {
            Self::SetChunkSize(size) => out.put_u32(*size & MAX_CHUNK_SIZE),
            Self::Abort { csid } => out.put_u32(*csid),
            Self::Acknowledgement { sequence_number } => out.put_u32(*sequence_number),
            Self::UserControl(event) => event.encode(out),
            Self::WindowAckSize(window) => out.put_u32(*window),
            Self::SetPeerBandwidth { window, limit_type } => {
                out.put_u32(*window);
                out.put_u8(limit_type.to_u8());
            }
        }
    }

    /// The complete message: chunk stream 2, message stream 0 (spec 5.4).
    pub fn to_message(&self, timestamp: RtmpTimestamp) -> Message {
        let mut payload = BytesMut::with_capacity(10);
        self.encode_payload(&mut payload);
        Message {
            csid: CONTROL_CHUNK_STREAM,
            timestamp,
            type_id: self.type_id(),
            stream_id: 0,
            payload: Bytes::from(payload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(msg: &ControlMessage) -> Vec<u8> {
        let mut out = BytesMut::new();
        msg.encode_payload(&mut out);
        out.to_vec()
    }

    #[test]
    fn wire_vectors() {
        let cases: Vec<(ControlMessage, u8, Vec<u8>)> = vec![
            (ControlMessage::SetChunkSize(4096), 1, vec![0, 0, 0x10, 0]),
            (ControlMessage::Abort { csid: 5 }, 2, vec![0, 0, 0, 5]),
            (
                ControlMessage::Acknowledgement {
                    sequence_number: 0x0102_0304,
                },
                3,
                vec![1, 2, 3, 4],
            ),
            (
                ControlMessage::WindowAckSize(2_500_000),
                5,
                vec![0x00, 0x26, 0x25, 0xA0],
            ),
            (
                ControlMessage::SetPeerBandwidth {
                    window: 2_500_000,
                    limit_type: LimitType::Dynamic,
                },
                6,
                vec![0x00, 0x26, 0x25, 0xA0, 2],
            ),
            (
                ControlMessage::UserControl(UserControlEvent::StreamBegin { stream_id: 1 }),
                4,
                vec![0, 0, 0, 0, 0, 1],
            ),
        ];
        for (msg, id, bytes) in cases {
            assert_eq!(msg.type_id(), id);
            assert_eq!(encoded(&msg), bytes, "{msg:?}");
            assert_eq!(ControlMessage::parse(id, &bytes), Ok(Some(msg)));
        }
    }

    #[test]
    fn limit_types() {
        for (v, t) in [
            (0, LimitType::Hard),
            (1, LimitType::Soft),
            (2, LimitType::Dynamic),
        ] {
            assert_eq!(LimitType::from_u8(v), Some(t));
            assert_eq!(t.to_u8(), v);
        }
        assert_eq!(LimitType::from_u8(3), None);
        assert!(ControlMessage::parse(6, &[0, 0, 1, 0, 3]).is_err());
    }

    #[test]
    fn invalid_chunk_sizes_are_rejected() {
        assert_eq!(
            ControlMessage::parse(1, &[0, 0, 0, 0]),
            Err(RtmpError::InvalidChunkSize(0))
        );
        assert_eq!(
            ControlMessage::parse(1, &[0x80, 0, 0, 1]),
            Err(RtmpError::InvalidChunkSize(0x8000_0001))
        );
        assert_eq!(
            ControlMessage::parse(1, &[0x7F, 0xFF, 0xFF, 0xFF]),
            Ok(Some(ControlMessage::SetChunkSize(MAX_CHUNK_SIZE)))
        );
    }

    #[test]
    fn short_payloads_are_errors_and_others_are_not_control() {
        for id in 1..=6u8 {
            assert!(ControlMessage::parse(id, &[0, 0]).is_err(), "type {id}");
        }
        assert_eq!(ControlMessage::parse(8, &[0xB2]), Ok(None));
        assert_eq!(ControlMessage::parse(20, &[]), Ok(None));
    }

    #[test]
    fn to_message_uses_control_stream() {
        let m = ControlMessage::WindowAckSize(5000).to_message(RtmpTimestamp(7));
        assert_eq!((m.csid, m.stream_id, m.type_id), (2, 0, 5));
        assert_eq!(m.timestamp, RtmpTimestamp(7));
        assert_eq!(m.control(), Ok(Some(ControlMessage::WindowAckSize(5000))));
    }
}
