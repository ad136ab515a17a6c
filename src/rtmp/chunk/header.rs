//! Chunk headers on the wire (RTMP spec 1.0, 5.3.1): the basic header
//! (format + chunk stream id, 1 to 3 bytes) and the four message header
//! types (11, 7, 3 or 0 bytes), without the extended timestamp.

use bytes::{BufMut, BytesMut};

/// Smallest chunk stream id a chunk can carry (0 and 1 select the 2- and
/// 3-byte basic header forms; spec 5.3.1.1).
pub const MIN_CSID: u32 = 2;
/// Largest chunk stream id (3-byte form: 65535 + 64).
pub const MAX_CSID: u32 = 65599;
/// The 24-bit timestamp value that announces an extended timestamp
/// (spec 5.3.1.3).
pub const EXTENDED_TIMESTAMP_MARKER: u32 = 0xFF_FFFF;
/// Largest message length the 24-bit length field can carry.
pub const MAX_MESSAGE_LENGTH: u32 = 0xFF_FFFF;

/// The chunk format ("fmt", 2 bits) selecting the message header type
/// (spec 5.3.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChunkType {
    /// Type 0, 11 bytes: absolute timestamp, length, type id, stream id.
    Type0,
    /// Type 1, 7 bytes: timestamp delta, length, type id (same stream id).
    Type1,
    /// Type 2, 3 bytes: timestamp delta only.
    Type2,
    /// Type 3, 0 bytes: everything inherited (continuation or repeat).
    Type3,
}

impl ChunkType {
    /// From the top two bits of the first byte.
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0 => Self::Type0,
            1 => Self::Type1,
            2 => Self::Type2,
            _ => Self::Type3,
        }
    }

    /// The 2-bit fmt value.
    pub const fn bits(self) -> u8 {
        match self {
            Self::Type0 => 0,
            Self::Type1 => 1,
            Self::Type2 => 2,
            Self::Type3 => 3,
        }
    }

    /// Length in bytes of this type's message header (without the
    /// extended timestamp).
    pub const fn message_header_len(self) -> usize {
        match self {
            Self::Type0 => 11,
            Self::Type1 => 7,
            Self::Type2 => 3,
            Self::Type3 => 0,
        }
    }
}

/// The chunk basic header (spec 5.3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasicHeader {
    /// Chunk format.
    pub fmt: ChunkType,
    /// Chunk stream id, 2..=65599.
    pub csid: u32,
}

impl BasicHeader {
    /// Parses a basic header at the start of `buf`: `None` when more bytes
    /// are needed, else the header and its length in bytes (1, 2 or 3).
    pub fn parse(buf: &[u8]) -> Option<(Self, usize)> {
        let first = *buf.first()?;
        let fmt = ChunkType::from_bits(first >> 6);
        let (csid, len) = match first & 0x3F {
            0 => (u32::from(*buf.get(1)?) + 64, 2),
            1 => {
                let low = u32::from(*buf.get(1)?);
                let high = u32::from(*buf.get(2)?);
                (high * 256 + low + 64, 3)
            }
            id => (u32::from(id), 1),
        };
        Some((Self { fmt, csid }, len))
    }

    /// Appends the shortest encoding. `csid` must be in
    /// [`MIN_CSID`]..=[`MAX_CSID`] (the writer checks this).
    pub fn encode(&self, out: &mut BytesMut) {
        let fmt = self.fmt.bits() << 6;
        match self.csid {
            // The casts are in range by the match arms.
            id @ 0..=63 => out.put_u8(fmt | id as u8),
            id @ 64..=319 => out.put_slice(&[fmt, (id - 64) as u8]),
            id => {
                let v = id.saturating_sub(64).min(0xFFFF);
                out.put_slice(&[fmt | 1, (v & 0xFF) as u8, (v >> 8) as u8]);
            }
        }
    }
}

/// A message header's fields as on the wire (spec 5.3.1.2), before
/// inheritance and before the extended timestamp is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawMessageHeader {
    /// Type 0.
    Type0 {
        /// 24-bit absolute timestamp field (0xFFFFFF = extended follows).
        timestamp: u32,
        /// Message length in bytes (24 bits).
        length: u32,
        /// Message type id.
        type_id: u8,
        /// Message stream id (little-endian on the wire).
        stream_id: u32,
    },
    /// Type 1.
    Type1 {
        /// 24-bit timestamp delta field.
        delta: u32,
        /// Message length in bytes.
        length: u32,
        /// Message type id.
        type_id: u8,
    },
    /// Type 2.
    Type2 {
        /// 24-bit timestamp delta field.
        delta: u32,
    },
    /// Type 3: no fields.
    Type3,
}

fn u24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 3)?;
    Some(s.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x)))
}

impl RawMessageHeader {
    /// Parses the message header of type `fmt` at the start of `buf`;
    /// `None` when more bytes are needed.
    pub fn parse(fmt: ChunkType, buf: &[u8]) -> Option<Self> {
        Some(match fmt {
            ChunkType::Type0 => {
                let sid = buf.get(7..11)?;
                Self::Type0 {
                    timestamp: u24(buf, 0)?,
                    length: u24(buf, 3)?,
                    type_id: *buf.get(6)?,
                    stream_id: u32::from_le_bytes(<[u8; 4]>::try_from(sid).ok()?),
                }
            }
            ChunkType::Type1 => Self::Type1 {
                delta: u24(buf, 0)?,
                length: u24(buf, 3)?,
                type_id: *buf.get(6)?,
            },
            ChunkType::Type2 => Self::Type2 {
                delta: u24(buf, 0)?,
            },
            ChunkType::Type3 => Self::Type3,
        })
    }

    /// The chunk type of this header.
    pub fn chunk_type(&self) -> ChunkType {
        match self {
            Self::Type0 { .. } => ChunkType::Type0,
            Self::Type1 { .. } => ChunkType::Type1,
            Self::Type2 { .. } => ChunkType::Type2,
            Self::Type3 => ChunkType::Type3,
        }
    }

    /// Appends the header fields. Timestamp/delta fields are clamped to
    /// [`EXTENDED_TIMESTAMP_MARKER`] (the caller appends the extended
    /// timestamp); lengths are masked to 24 bits.
    pub fn encode(&self, out: &mut BytesMut) {
        let put_u24 = |out: &mut BytesMut, v: u32| {
            let v = v.min(EXTENDED_TIMESTAMP_MARKER);
            out.put_slice(&v.to_be_bytes()[1..]);
        };
        match *self {
            Self::Type0 {
                timestamp,
                length,
                type_id,
                stream_id,
            } => {
                put_u24(out, timestamp);
                put_u24(out, length);
                out.put_u8(type_id);
                out.put_u32_le(stream_id);
            }
            Self::Type1 {
                delta,
                length,
                type_id,
            } => {
                put_u24(out, delta);
                put_u24(out, length);
                out.put_u8(type_id);
            }
            Self::Type2 { delta } => put_u24(out, delta),
            Self::Type3 => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_forms() {
        // 1-byte form: fmt 0, csid 3.
        assert_eq!(
            BasicHeader::parse(&[0x03]),
            Some((
                BasicHeader {
                    fmt: ChunkType::Type0,
                    csid: 3
                },
                1
            ))
        );
        // 2-byte form: fmt 1, csid 64 + 10.
        assert_eq!(
            BasicHeader::parse(&[0x40, 10]),
            Some((
                BasicHeader {
                    fmt: ChunkType::Type1,
                    csid: 74
                },
                2
            ))
        );
        // 3-byte form: fmt 3, csid 64 + 0x01 + 0x02 * 256.
        assert_eq!(
            BasicHeader::parse(&[0xC1, 0x01, 0x02]),
            Some((
                BasicHeader {
                    fmt: ChunkType::Type3,
                    csid: 64 + 1 + 512
                },
                3
            ))
        );
        assert_eq!(BasicHeader::parse(&[]), None);
        assert_eq!(BasicHeader::parse(&[0x00]), None);
        assert_eq!(BasicHeader::parse(&[0x01, 0x00]), None);
    }

    #[test]
    fn basic_header_round_trip_all_csids() {
        for csid in MIN_CSID..=MAX_CSID {
            for fmt in [
                ChunkType::Type0,
                ChunkType::Type1,
                ChunkType::Type2,
                ChunkType::Type3,
            ] {
                let h = BasicHeader { fmt, csid };
                let mut out = BytesMut::new();
                h.encode(&mut out);
                let expect_len = match csid {
                    0..=63 => 1,
                    64..=319 => 2,
                    _ => 3,
                };
                assert_eq!(out.len(), expect_len);
                assert_eq!(BasicHeader::parse(&out), Some((h, expect_len)));
            }
        }
    }

    #[test]
    fn three_byte_form_for_small_ids_is_accepted() {
        // 3-byte form carrying csid 64 (a peer may use it though 2 bytes suffice).
        assert_eq!(
            BasicHeader::parse(&[0x01, 0, 0]).map(|h| h.0.csid),
            Some(64)
        );
    }

    #[test]
    fn message_header_type0_vector() {
        // Spec 5.3.2.1 style: timestamp 1000, length 32, type 8, stream 1.
        let wire = [
            0x00, 0x03, 0xE8, 0x00, 0x00, 0x20, 0x08, 0x01, 0x00, 0x00, 0x00,
        ];
        let h = RawMessageHeader::parse(ChunkType::Type0, &wire).unwrap();
        assert_eq!(
            h,
            RawMessageHeader::Type0 {
                timestamp: 1000,
                length: 32,
                type_id: 8,
                stream_id: 1
            }
        );
        let mut out = BytesMut::new();
        h.encode(&mut out);
        assert_eq!(&out[..], &wire);
        assert_eq!(RawMessageHeader::parse(ChunkType::Type0, &wire[..10]), None);
    }

    #[test]
    fn message_header_types_1_2_3() {
        let t1 = RawMessageHeader::parse(ChunkType::Type1, &[0, 0, 20, 0, 1, 0, 20]).unwrap();
        assert_eq!(
            t1,
            RawMessageHeader::Type1 {
                delta: 20,
                length: 256,
                type_id: 20
            }
        );
        let t2 = RawMessageHeader::parse(ChunkType::Type2, &[0xFF, 0xFF, 0xFF]).unwrap();
        assert_eq!(t2, RawMessageHeader::Type2 { delta: 0xFF_FFFF });
        assert_eq!(
            RawMessageHeader::parse(ChunkType::Type3, &[]),
            Some(RawMessageHeader::Type3)
        );
        for t in [t1, t2, RawMessageHeader::Type3] {
            let mut out = BytesMut::new();
            t.encode(&mut out);
            assert_eq!(out.len(), t.chunk_type().message_header_len());
        }
    }
}
