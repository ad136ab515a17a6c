//! RTMP messages: the reassembled [`Message`], message type ids, and the
//! protocol control messages (RTMP spec 1.0, 5.4 and 6.2).

mod control;
mod user_control;

use bytes::Bytes;

use super::time::RtmpTimestamp;

pub use control::{ControlMessage, LimitType, MAX_CHUNK_SIZE};
pub use user_control::UserControlEvent;

/// The chunk stream id reserved for protocol control messages (spec 5.4:
/// "sent with chunk stream ID 2 and message stream ID 0").
pub const CONTROL_CHUNK_STREAM: u32 = 2;

/// A complete RTMP message (spec 6.1) as reassembled from chunks or to be
/// split into chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Chunk stream id it arrived on / is to be sent on (2..=65599).
    pub csid: u32,
    /// Absolute timestamp in ms (deltas already applied).
    pub timestamp: RtmpTimestamp,
    /// Message type id, see [`type_id`] and [`MessageType`].
    pub type_id: u8,
    /// Message stream id (0 = the NetConnection / control stream).
    pub stream_id: u32,
    /// The message payload, at most the reader's `max_message_size` bytes.
    pub payload: Bytes,
}

impl Message {
    /// The message type, classified.
    pub fn message_type(&self) -> MessageType {
        MessageType::from_u8(self.type_id)
    }

    /// Parses the payload as a protocol control message when the type id is
    /// 1..=6; `Ok(None)` for any other type.
    ///
    /// # Errors
    /// [`RtmpError::InvalidControlMessage`](super::RtmpError) when malformed.
    pub fn control(&self) -> Result<Option<ControlMessage>, super::RtmpError> {
        ControlMessage::parse(self.type_id, &self.payload)
    }
}

/// Message type ids (spec 5.4, 6.2, 7.1).
pub mod type_id {
    /// Set Chunk Size (5.4.1).
    pub const SET_CHUNK_SIZE: u8 = 1;
    /// Abort Message (5.4.2).
    pub const ABORT: u8 = 2;
    /// Acknowledgement (5.4.3).
    pub const ACKNOWLEDGEMENT: u8 = 3;
    /// User Control Message (6.2).
    pub const USER_CONTROL: u8 = 4;
    /// Window Acknowledgement Size (5.4.4).
    pub const WINDOW_ACK_SIZE: u8 = 5;
    /// Set Peer Bandwidth (5.4.5).
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    /// Audio data (7.1.4), an FLV audio tag body.
    pub const AUDIO: u8 = 8;
    /// Video data (7.1.5).
    pub const VIDEO: u8 = 9;
    /// Data message, AMF3 (7.1.2).
    pub const DATA_AMF3: u8 = 15;
    /// Shared object message, AMF3 (7.1.3).
    pub const SHARED_OBJECT_AMF3: u8 = 16;
    /// Command message, AMF3 (7.1.1): a 0x00 byte then AMF0 with AMF3 switches.
    pub const COMMAND_AMF3: u8 = 17;
    /// Data message, AMF0 (7.1.2).
    pub const DATA_AMF0: u8 = 18;
    /// Shared object message, AMF0 (7.1.3).
    pub const SHARED_OBJECT_AMF0: u8 = 19;
    /// Command message, AMF0 (7.1.1).
    pub const COMMAND_AMF0: u8 = 20;
    /// Aggregate message (7.1.6).
    pub const AGGREGATE: u8 = 22;
}

/// A message type id, classified (spec 5.4, 6.2, 7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 1
    SetChunkSize,
    /// 2
    Abort,
    /// 3
    Acknowledgement,
    /// 4
    UserControl,
    /// 5
    WindowAckSize,
    /// 6
    SetPeerBandwidth,
    /// 8
    Audio,
    /// 9
    Video,
    /// 15
    DataAmf3,
    /// 16
    SharedObjectAmf3,
    /// 17
    CommandAmf3,
    /// 18
    DataAmf0,
    /// 19
    SharedObjectAmf0,
    /// 20
    CommandAmf0,
    /// 22
    Aggregate,
    /// Any other id.
    Other(u8),
}

impl MessageType {
    /// Classifies a type id.
    pub const fn from_u8(id: u8) -> Self {
        match id {
            type_id::SET_CHUNK_SIZE => Self::SetChunkSize,
            type_id::ABORT => Self::Abort,
            type_id::ACKNOWLEDGEMENT => Self::Acknowledgement,
            type_id::USER_CONTROL => Self::UserControl,
            type_id::WINDOW_ACK_SIZE => Self::WindowAckSize,
            type_id::SET_PEER_BANDWIDTH => Self::SetPeerBandwidth,
            type_id::AUDIO => Self::Audio,
            type_id::VIDEO => Self::Video,
            type_id::DATA_AMF3 => Self::DataAmf3,
            type_id::SHARED_OBJECT_AMF3 => Self::SharedObjectAmf3,
            type_id::COMMAND_AMF3 => Self::CommandAmf3,
            type_id::DATA_AMF0 => Self::DataAmf0,
            type_id::SHARED_OBJECT_AMF0 => Self::SharedObjectAmf0,
            type_id::COMMAND_AMF0 => Self::CommandAmf0,
            type_id::AGGREGATE => Self::Aggregate,
            other => Self::Other(other),
        }
    }

    /// The type id on the wire.
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::SetChunkSize => type_id::SET_CHUNK_SIZE,
            Self::Abort => type_id::ABORT,
            Self::Acknowledgement => type_id::ACKNOWLEDGEMENT,
            Self::UserControl => type_id::USER_CONTROL,
            Self::WindowAckSize => type_id::WINDOW_ACK_SIZE,
            Self::SetPeerBandwidth => type_id::SET_PEER_BANDWIDTH,
            Self::Audio => type_id::AUDIO,
            Self::Video => type_id::VIDEO,
            Self::DataAmf3 => type_id::DATA_AMF3,
            Self::SharedObjectAmf3 => type_id::SHARED_OBJECT_AMF3,
            Self::CommandAmf3 => type_id::COMMAND_AMF3,
            Self::DataAmf0 => type_id::DATA_AMF0,
            Self::SharedObjectAmf0 => type_id::SHARED_OBJECT_AMF0,
            Self::CommandAmf0 => type_id::COMMAND_AMF0,
            Self::Aggregate => type_id::AGGREGATE,
            Self::Other(id) => id,
        }
    }

    /// True for the protocol control message types 1..=6 (incl. user control).
    pub const fn is_control(self) -> bool {
        matches!(
            self,
            Self::SetChunkSize
                | Self::Abort
                | Self::Acknowledgement
                | Self::UserControl
                | Self::WindowAckSize
                | Self::SetPeerBandwidth
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_ids_round_trip() {
        for id in 0..=255u8 {
            assert_eq!(MessageType::from_u8(id).to_u8(), id);
        }
        assert_eq!(MessageType::from_u8(20), MessageType::CommandAmf0);
        assert_eq!(MessageType::from_u8(8), MessageType::Audio);
        assert_eq!(MessageType::from_u8(7), MessageType::Other(7));
        assert!(MessageType::from_u8(4).is_control());
        assert!(!MessageType::from_u8(8).is_control());
    }
}
