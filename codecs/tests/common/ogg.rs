//! Test-only minimal Ogg (RFC 3533) muxer and demuxer for one logical
//! stream, and the Ogg Opus headers of RFC 7845 section 5.
#![allow(dead_code)]

/// Page header flag: continued packet (RFC 3533 section 6).
const CONTINUED: u8 = 0x01;
/// Page header flag: first page of the stream.
const BOS: u8 = 0x02;
/// Page header flag: last page of the stream.
const EOS: u8 = 0x04;
/// Most lacing values in one page.
const MAX_SEGMENTS: usize = 255;

/// CRC-32 of Ogg pages: polynomial 0x04C11DB7, not reflected, initial value
/// 0, no final XOR (RFC 3533 section 6, "CRC checksum").
pub fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &byte in data {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Lacing values of one packet: 255s, then the remainder (0 if the length
/// is a multiple of 255).
fn lacing(len: usize) -> Vec<u8> {
    let mut values = vec![255u8; len / 255];
    values.push((len % 255) as u8);
    values
}

/// Writes Ogg pages of one logical stream.
pub struct OggWriter {
    serial: u32,
    sequence: u32,
    out: Vec<u8>,
}

impl OggWriter {
    pub fn new(serial: u32) -> Self {
        Self {
            serial,
            sequence: 0,
            out: Vec::new(),
        }
    }

    /// Appends one page holding whole `packets` (at most 255 lacing values
    /// in all), ending at `granule`.
    pub fn page(&mut self, packets: &[&[u8]], granule: u64, flags: u8) {
        let segments: Vec<u8> = packets.iter().flat_map(|p| lacing(p.len())).collect();
        assert!(
            segments.len() <= MAX_SEGMENTS,
            "too many packets for a page"
        );
        let mut page = Vec::new();
        page.extend_from_slice(b"OggS");
        page.push(0); // stream structure version
        page.push(flags);
        page.extend_from_slice(&granule.to_le_bytes());
        page.extend_from_slice(&self.serial.to_le_bytes());
        page.extend_from_slice(&self.sequence.to_le_bytes());
        page.extend_from_slice(&[0; 4]); // CRC, filled below
        page.push(segments.len() as u8);
        page.extend_from_slice(&segments);
        for packet in packets {
            page.extend_from_slice(packet);
        }
        let crc = ogg_crc(&page);
        page[22..26].copy_from_slice(&crc.to_le_bytes());
        self.out.extend_from_slice(&page);
        self.sequence += 1;
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// The OpusHead packet (RFC 7845 section 5.1), mono, channel mapping 0.
pub fn opus_head(pre_skip: u16, input_rate: u32) -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1); // version
    head.push(1); // channels
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&input_rate.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    head.push(0); // mapping family
    head
}

/// The OpusTags packet (RFC 7845 section 5.2) with no user comments.
pub fn opus_tags(vendor: &str) -> Vec<u8> {
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor.as_bytes());
    tags.extend_from_slice(&0u32.to_le_bytes());
    tags
}

/// An Ogg Opus file of mono `packets`, each `samples_48k` long at 48 kHz
/// (RFC 7845: the granule position counts 48 kHz samples, pre-skip
/// included).
pub fn mux_ogg_opus(
    packets: &[Vec<u8>],
    samples_48k: u64,
    pre_skip: u16,
    input_rate: u32,
) -> Vec<u8> {
    let mut writer = OggWriter::new(0x5254_4D50);
    writer.page(&[&opus_head(pre_skip, input_rate)], 0, BOS);
    writer.page(&[&opus_tags("rtmp2sip test")], 0, 0);
    let mut granule = 0u64;
    // 50 packets (one second) per page, well under 255 lacing values.
    let pages: Vec<&[Vec<u8>]> = packets.chunks(50).collect();
    for (index, page) in pages.iter().enumerate() {
        granule += samples_48k * page.len() as u64;
        let flags = if index + 1 == pages.len() { EOS } else { 0 };
        let refs: Vec<&[u8]> = page.iter().map(Vec::as_slice).collect();
        writer.page(&refs, granule, flags);
    }
    writer.finish()
}

/// Packets of the first logical stream of an Ogg file, in order. Panics on
/// a malformed page or a CRC mismatch (test input comes from ffmpeg).
pub fn demux_ogg(data: &[u8]) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    let mut partial: Vec<u8> = Vec::new();
    let mut pos = 0;
    let mut serial = None;
    while pos < data.len() {
        let header = &data[pos..];
        assert_eq!(&header[..4], b"OggS", "page capture pattern at {pos}");
        assert_eq!(header[4], 0, "stream structure version");
        let flags = header[5];
        let page_serial = u32::from_le_bytes(header[14..18].try_into().unwrap());
        let crc = u32::from_le_bytes(header[22..26].try_into().unwrap());
        let count = usize::from(header[26]);
        let table = &header[27..27 + count];
        let body_len: usize = table.iter().map(|&v| usize::from(v)).sum();
        let page_len = 27 + count + body_len;
        let mut page = header[..page_len].to_vec();
        page[22..26].fill(0);
        assert_eq!(ogg_crc(&page), crc, "CRC of the page at {pos}");
        if *serial.get_or_insert(page_serial) == page_serial {
            if flags & CONTINUED == 0 {
                partial.clear();
            }
            let mut body = &header[27 + count..page_len];
            for &value in table {
                let (segment, rest) = body.split_at(usize::from(value));
                partial.extend_from_slice(segment);
                body = rest;
                if value < 255 {
                    packets.push(std::mem::take(&mut partial));
                }
            }
        }
        pos += page_len;
    }
    packets
}

/// Pre-skip (48 kHz samples) from an OpusHead packet.
pub fn opus_pre_skip(head: &[u8]) -> usize {
    assert_eq!(&head[..8], b"OpusHead");
    usize::from(u16::from_le_bytes([head[10], head[11]]))
}
