//! RTP packets (RFC 3550 §5.1) and the sending side of an RTP session.
//!
//! Parsing and writing use `rtp-types`; [`RtpSender`] owns the send state:
//! random SSRC, random initial sequence number and timestamp (RFC 3550
//! §5.1), the marker bit on the first packet of a talkspurt (RFC 3551 §4.1),
//! and the sender counters used in sender reports (RFC 3550 §6.4.1).

use rand::RngCore;

use super::timestamp::RtpTimestamp;
use super::MediaError;

/// Largest RTP payload we send, in bytes (keeps datagrams under a 1500 MTU).
pub const MAX_PAYLOAD: usize = 1200;

/// A parsed RTP packet (borrowed from the datagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpIn<'a> {
    /// Synchronisation source.
    pub ssrc: u32,
    /// Payload type (7 bits).
    pub pt: u8,
    /// Sequence number.
    pub seq: u16,
    /// Media timestamp in clock ticks.
    pub ts: RtpTimestamp,
    /// Marker bit (start of a talkspurt for audio, RFC 3551 §4.1).
    pub marker: bool,
    /// Payload, without padding, header extension or CSRCs.
    pub payload: &'a [u8],
}

/// Parses an RTP datagram (version 2, any CSRC/extension/padding).
///
/// Errors: [`MediaError::MalformedRtp`] (peer).
pub fn parse(datagram: &[u8]) -> Result<RtpIn<'_>, MediaError> {
    let packet = rtp_types::RtpPacket::parse(datagram)
        .map_err(|e| MediaError::MalformedRtp(e.to_string()))?;
    let start = packet.payload_offset();
    let payload = start
        .checked_add(packet.payload_len())
        .and_then(|end| datagram.get(start..end))
        .ok_or_else(|| MediaError::MalformedRtp("payload bounds".into()))?;
    Ok(RtpIn {
        ssrc: packet.ssrc(),
        pt: packet.payload_type(),
        seq: packet.sequence_number(),
        ts: RtpTimestamp(packet.timestamp()),
        marker: packet.marker_bit(),
        payload,
    })
}

/// Whether a datagram looks like RTCP rather than RTP when both share a
/// port (RFC 5761 §4: second byte 192..=223 is an RTCP packet type).
pub fn looks_like_rtcp(datagram: &[u8]) -> bool {
    matches!(datagram.get(1), Some(192..=223))
}

/// The sending half of an RTP session for one SSRC.
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    next_seq: u16,
    /// Timestamp of the next audio frame.
    next_ts: RtpTimestamp,
    talkspurt: Talkspurt,
    packets_sent: u32,
    octets_sent: u32,
    last_sent_ts: Option<RtpTimestamp>,
}

/// Whether the next audio packet starts a talkspurt (marker bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Talkspurt {
    Starting,
    Continuing,
}

impl RtpSender {
    /// A sender with random SSRC, sequence number and timestamp.
    pub fn new(rng: &mut impl RngCore) -> Self {
        RtpSender {
            ssrc: rng.next_u32(),
            next_seq: rng.next_u32() as u16,
            next_ts: RtpTimestamp(rng.next_u32()),
            talkspurt: Talkspurt::Starting,
            packets_sent: 0,
            octets_sent: 0,
            last_sent_ts: None,
        }
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Timestamp the next audio frame will carry.
    pub fn next_timestamp(&self) -> RtpTimestamp {
        self.next_ts
    }

    /// Timestamp of the last packet sent, if any (for sender reports).
    pub fn last_timestamp(&self) -> Option<RtpTimestamp> {
        self.last_sent_ts
    }

    /// Packets sent so far (RFC 3550 §6.4.1 sender's packet count, wrapping).
    pub fn packets_sent(&self) -> u32 {
        self.packets_sent
    }

    /// Payload octets sent so far (sender's octet count, wrapping).
    pub fn octets_sent(&self) -> u32 {
        self.octets_sent
    }

    /// Builds the packet for the next audio frame of `duration` ticks and
    /// advances the timestamp by it. The first packet, and the first after
    /// [`RtpSender::skip`], carries the marker bit.
    pub fn audio(&mut self, pt: u8, duration: u32, payload: &[u8]) -> Result<Vec<u8>, MediaError> {
        let marker = self.talkspurt == Talkspurt::Starting;
        let packet = self.packet(pt, self.next_ts, marker, payload)?;
        self.talkspurt = Talkspurt::Continuing;
        self.next_ts = self.next_ts.advance(duration);
        Ok(packet)
    }

    /// Advances the timeline by `duration` ticks without sending (silence,
    /// DTX, or a dropped frame); the next audio packet starts a talkspurt.
    pub fn skip(&mut self, duration: u32) {
        self.next_ts = self.next_ts.advance(duration);
        self.talkspurt = Talkspurt::Starting;
    }

    /// Builds a packet with an explicit timestamp and marker (telephone
    /// events, RFC 4733 §2.3: one timestamp for all packets of an event).
    /// Consumes a sequence number; does not move the audio timeline.
    ///
    /// Errors: [`MediaError::Build`] if the payload exceeds [`MAX_PAYLOAD`]
    /// or `pt` is over 127 (local misuse).
    pub fn packet(
        &mut self,
        pt: u8,
        ts: RtpTimestamp,
        marker: bool,
        payload: &[u8],
    ) -> Result<Vec<u8>, MediaError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(MediaError::Build(format!(
                "payload of {} bytes",
                payload.len()
            )));
        }
        let bytes = rtp_types::RtpPacketBuilder::<&[u8], &[u8]>::new()
            .payload_type(pt)
            .sequence_number(self.next_seq)
            .timestamp(ts.0)
            .ssrc(self.ssrc)
            .marker_bit(marker)
            .payload(payload)
            .write_vec()
            .map_err(|e| MediaError::Build(e.to_string()))?;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.packets_sent = self.packets_sent.wrapping_add(1);
        self.octets_sent = self.octets_sent.wrapping_add(payload.len() as u32);
        self.last_sent_ts = Some(ts);
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::mock::StepRng;

    /// RFC 3550 §5.1 layout, built by hand.
    const PCMU_PACKET: [u8; 16] = [
        0x80, 0x80, 0x12, 0x34, 0x00, 0x00, 0x01, 0x40, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0x7f,
        0x7f,
    ];

    #[test]
    fn parses_a_packet() {
        let p = parse(&PCMU_PACKET).unwrap();
        assert_eq!(p.pt, 0);
        assert!(p.marker);
        assert_eq!(p.seq, 0x1234);
        assert_eq!(p.ts, RtpTimestamp(320));
        assert_eq!(p.ssrc, 0xdead_beef);
        assert_eq!(p.payload, &[0xff, 0xff, 0x7f, 0x7f]);
        assert!(matches!(
            parse(&PCMU_PACKET[..11]),
            Err(MediaError::MalformedRtp(_))
        ));
        let mut v1 = PCMU_PACKET;
        v1[0] = 0x40;
        assert!(parse(&v1).is_err());
    }

    #[test]
    fn sender_numbers_packets_and_marks_talkspurts() {
        let mut rng = StepRng::new(0xffff_fffe, 1);
        let mut s = RtpSender::new(&mut rng);
        let first_ts = s.next_timestamp();
        let a = s.audio(0, 160, &[1; 160]).unwrap();
        let b = s.audio(0, 160, &[2; 160]).unwrap();
        s.skip(160);
        let c = s.audio(0, 160, &[3; 160]).unwrap();
        let (a, b, c) = (parse(&a).unwrap(), parse(&b).unwrap(), parse(&c).unwrap());
        assert!(a.marker && !b.marker && c.marker);
        assert_eq!(b.seq, a.seq.wrapping_add(1));
        assert_eq!(c.seq, a.seq.wrapping_add(2));
        assert_eq!(a.ts, first_ts);
        assert_eq!(b.ts, first_ts.advance(160));
        assert_eq!(c.ts, first_ts.advance(480));
        assert_eq!(a.ssrc, s.ssrc());
        assert_eq!(c.payload, &[3; 160][..]);
        assert_eq!(s.packets_sent(), 3);
        assert_eq!(s.octets_sent(), 480);
        assert_eq!(s.last_timestamp(), Some(first_ts.advance(480)));
    }

    #[test]
    fn sequence_wraps() {
        let mut rng = StepRng::new(0xffff, 0);
        let mut s = RtpSender::new(&mut rng);
        let a = parse(&s.audio(8, 160, &[0]).unwrap()).unwrap().seq;
        let b = parse(&s.audio(8, 160, &[0]).unwrap()).unwrap().seq;
        assert_eq!((a, b), (0xffff, 0));
    }

    #[test]
    fn rejects_oversized_payloads() {
        let mut s = RtpSender::new(&mut StepRng::new(1, 1));
        assert!(matches!(
            s.audio(0, 160, &[0; MAX_PAYLOAD + 1]),
            Err(MediaError::Build(_))
        ));
        assert!(matches!(
            s.packet(128, RtpTimestamp(0), false, &[0]),
            Err(MediaError::Build(_))
        ));
    }

    #[test]
    fn demux_heuristic() {
        assert!(!looks_like_rtcp(&PCMU_PACKET));
        assert!(looks_like_rtcp(&[0x80, 200, 0, 6]));
        assert!(!looks_like_rtcp(&[]));
    }
}
