//! User control message events (RTMP spec 1.0, 6.2 and 7.1.7).

use bytes::{BufMut, Bytes, BytesMut};

use super::type_id;
use crate::rtmp::error::RtmpError;

/// A user control event (message type 4): 2-byte event type, then data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserControlEvent {
    /// 0: the stream became functional (sent before play/publish data).
    StreamBegin {
        /// Message stream id.
        stream_id: u32,
    },
    /// 1: playback of the stream ended.
    StreamEof {
        /// Message stream id.
        stream_id: u32,
    },
    /// 2: no more data on the stream for now.
    StreamDry {
        /// Message stream id.
        stream_id: u32,
    },
    /// 3: the client's buffer length for a stream, in ms.
    SetBufferLength {
        /// Message stream id.
        stream_id: u32,
        /// Buffer length in ms.
        buffer_ms: u32,
    },
    /// 4: the stream is a recorded stream.
    StreamIsRecorded {
        /// Message stream id.
        stream_id: u32,
    },
    /// 6: ping; the peer answers with a PingResponse carrying the same value.
    PingRequest {
        /// Sender's local time in ms.
        timestamp: u32,
    },
    /// 7: answer to a PingRequest.
    PingResponse {
        /// The timestamp from the request.
        timestamp: u32,
    },
    /// Any other event type (e.g. 26/27 SWF verification, 31/32 buffer
    /// empty/ready sent by some servers): kept raw, not an error.
    Unknown {
        /// Event type.
        event_type: u16,
        /// Event data after the type.
        data: Bytes,
    },
}

const STREAM_BEGIN: u16 = 0;
const STREAM_EOF: u16 = 1;
const STREAM_DRY: u16 = 2;
const SET_BUFFER_LENGTH: u16 = 3;
const STREAM_IS_RECORDED: u16 = 4;
const PING_REQUEST: u16 = 6;
const PING_RESPONSE: u16 = 7;

fn field(data: &[u8], at: usize) -> Result<u32, RtmpError> {
    data.get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .ok_or(RtmpError::InvalidControlMessage {
            type_id: type_id::USER_CONTROL,
            reason: "user control event data too short",
        })
}

impl UserControlEvent {
    /// Parses a user control message payload.
    ///
    /// # Errors
    /// [`RtmpError::InvalidControlMessage`] when shorter than the event
    /// type requires. Unknown event types are [`Self::Unknown`].
    pub fn parse(payload: &[u8]) -> Result<Self, RtmpError> {
        let short = RtmpError::InvalidControlMessage {
            type_id: type_id::USER_CONTROL,
            reason: "user control message shorter than 2 bytes",
        };
        let (head, data) = payload.split_at_checked(2).ok_or(short)?;
        let event_type = u16::from_be_bytes([head[0], head[1]]);
        Ok(match event_type {
            STREAM_BEGIN => Self::StreamBegin {
                stream_id: field(data, 0)?,
            },
            STREAM_EOF => Self::StreamEof {
                stream_id: field(data, 0)?,
            },
            STREAM_DRY => Self::StreamDry {
                stream_id: field(data, 0)?,
            },
            SET_BUFFER_LENGTH => Self::SetBufferLength {
                stream_id: field(data, 0)?,
                buffer_ms: field(data, 4)?,
            },
            STREAM_IS_RECORDED => Self::StreamIsRecorded {
                stream_id: field(data, 0)?,
            },
            PING_REQUEST => Self::PingRequest {
                timestamp: field(data, 0)?,
            },
            PING_RESPONSE => Self::PingResponse {
                timestamp: field(data, 0)?,
            },
            other => Self::Unknown {
                event_type: other,
                data: Bytes::copy_from_slice(data),
            },
        })
    }

    /// The event type number.
    pub fn event_type(&self) -> u16 {
        match self {
            Self::StreamBegin { .. } => STREAM_BEGIN,
            Self::StreamEof { .. } => STREAM_EOF,
            Self::StreamDry { .. } => STREAM_DRY,
            Self::SetBufferLength { .. } => SET_BUFFER_LENGTH,
            Self::StreamIsRecorded { .. } => STREAM_IS_RECORDED,
            Self::PingRequest { .. } => PING_REQUEST,
            Self::PingResponse { .. } => PING_RESPONSE,
            Self::Unknown { event_type, .. } => *event_type,
        }
    }

    /// Appends the message payload (event type + data) to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u16(self.event_type());
        match self {
            Self::StreamBegin { stream_id }
            | Self::StreamEof { stream_id }
            | Self::StreamDry { stream_id }
            | Self::StreamIsRecorded { stream_id } => out.put_u32(*stream_id),
            Self::SetBufferLength {
                stream_id,
                buffer_ms,
            } => {
                out.put_u32(*stream_id);
                out.put_u32(*buffer_ms);
            }
            Self::PingRequest { timestamp } | Self::PingResponse { timestamp } => {
                out.put_u32(*timestamp)
            }
            Self::Unknown { data, .. } => out.put_slice(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(event: UserControlEvent, wire: &[u8]) {
        let mut out = BytesMut::new();
        event.encode(&mut out);
        assert_eq!(&out[..], wire, "{event:?}");
        assert_eq!(UserControlEvent::parse(wire), Ok(event));
    }

    #[test]
    fn every_event_round_trips() {
        round_trip(
            UserControlEvent::StreamBegin { stream_id: 1 },
            &[0, 0, 0, 0, 0, 1],
        );
        round_trip(
            UserControlEvent::StreamEof { stream_id: 2 },
            &[0, 1, 0, 0, 0, 2],
        );
        round_trip(
            UserControlEvent::StreamDry { stream_id: 3 },
            &[0, 2, 0, 0, 0, 3],
        );
        round_trip(
            UserControlEvent::SetBufferLength {
                stream_id: 1,
                buffer_ms: 3000,
            },
            &[0, 3, 0, 0, 0, 1, 0, 0, 0x0B, 0xB8],
        );
        round_trip(
            UserControlEvent::StreamIsRecorded { stream_id: 4 },
            &[0, 4, 0, 0, 0, 4],
        );
        round_trip(
            UserControlEvent::PingRequest {
                timestamp: 0xDEAD_BEEF,
            },
            &[0, 6, 0xDE, 0xAD, 0xBE, 0xEF],
        );
        round_trip(
            UserControlEvent::PingResponse { timestamp: 9 },
            &[0, 7, 0, 0, 0, 9],
        );
        round_trip(
            UserControlEvent::Unknown {
                event_type: 31,
                data: Bytes::from_static(&[0, 0, 0, 1]),
            },
            &[0, 31, 0, 0, 0, 1],
        );
    }

    #[test]
    fn short_events_are_errors() {
        assert!(UserControlEvent::parse(&[]).is_err());
        assert!(UserControlEvent::parse(&[0]).is_err());
        assert!(UserControlEvent::parse(&[0, 0, 0, 0, 1]).is_err());
        assert!(UserControlEvent::parse(&[0, 3, 0, 0, 0, 1, 0, 0]).is_err());
        // Unknown types with no data are fine.
        assert_eq!(
            UserControlEvent::parse(&[0, 5]),
            Ok(UserControlEvent::Unknown {
                event_type: 5,
                data: Bytes::new()
            })
        );
    }
}
