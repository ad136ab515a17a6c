//! What the generator publishes and how it decodes what comes back.
//!
//! One FLV audio message per codec frame, as Flash sends them with
//! framesPerPacket = 1: Speex 20 ms (0xB2, wideband 320 samples at 16 kHz,
//! or narrowband 160 samples in the same 16 kHz FLV format), Nellymoser 8 kHz
//! one 64-byte block of 256 samples = 32 ms (0x52), G.711 20 ms = 160 bytes
//! (0x82 µ-law, 0x72 A-law), Opus 20 ms at 48 kHz as Enhanced RTMP v2
//! (`91 'Opus'` + one packet, after a `90 'Opus' OpusHead` SequenceStart).
//! Returned audio is decoded by its own FLV header byte, whatever the gateway
//! chose to send.

use bytes::{Bytes, BytesMut};
use rtmp2sip::flv::ex_audio::{write_opus_coded_frames, write_opus_sequence_start};
use rtmp2sip::flv::{is_ex_audio, parse_ex_audio, AudioTagHeader, ExAudio, OpusHead, SoundFormat};
use rtmp2sip_codecs::{
    AudioDecoder, AudioEncoder, CodecError, G711Decoder, G711Encoder, G711Law, NellymoserDecoder,
    NellymoserEncoder, OpusDecoder, OpusEncoder, OpusEncoderConfig, SpeexDecoder, SpeexEncoder,
    SpeexEncoderConfig, SpeexMode,
};

use crate::tone::Signal;

/// The codec the generator publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Speex wideband, 20 ms frames (what Flash sends).
    Speex,
    /// Speex narrowband frames in FLV Speex (decoded by a wideband decoder).
    SpeexNb,
    /// Nellymoser 8 kHz, 32 ms blocks.
    Nellymoser,
    /// G.711 µ-law, 20 ms.
    Pcmu,
    /// G.711 A-law, 20 ms.
    Pcma,
    /// Opus 48 kHz mono, 20 ms, as Enhanced RTMP v2 (announced in `connect`).
    Opus,
}

impl Codec {
    /// Parses a `--codec` value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "speex" => Self::Speex,
            "speex-nb" => Self::SpeexNb,
            "nellymoser" => Self::Nellymoser,
            "pcmu" => Self::Pcmu,
            "pcma" => Self::Pcma,
            "opus" => Self::Opus,
            _ => return None,
        })
    }

    /// The `--codec` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Speex => "speex",
            Self::SpeexNb => "speex-nb",
            Self::Nellymoser => "nellymoser",
            Self::Pcmu => "pcmu",
            Self::Pcma => "pcma",
            Self::Opus => "opus",
        }
    }

    /// The first byte of every published message (`0x91` for Opus CodedFrames).
    pub fn flv_byte(self) -> u8 {
        match self {
            Self::Speex | Self::SpeexNb => AudioTagHeader::FLASH_SPEEX.to_byte(),
            Self::Nellymoser => 0x52,
            Self::Pcmu => 0x82,
            Self::Pcma => 0x72,
            Self::Opus => 0x91,
        }
    }

    /// True for codecs carried as Enhanced RTMP (the client announces them
    /// in `connect` with `fourCcList`).
    pub fn is_ertmp(self) -> bool {
        self == Self::Opus
    }

    /// Encoder input rate, Hz.
    pub fn rate(self) -> u32 {
        match self {
            Self::Speex => 16000,
            Self::Opus => 48000,
            Self::SpeexNb | Self::Nellymoser | Self::Pcmu | Self::Pcma => 8000,
        }
    }

    /// Samples per published message.
    pub fn frame_samples(self) -> usize {
        match self {
            Self::Speex => 320,
            Self::SpeexNb | Self::Pcmu | Self::Pcma => 160,
            Self::Nellymoser => 256,
            Self::Opus => 960,
        }
    }

    /// Media time per published message, µs (20 000, or 32 000 for Nellymoser).
    pub fn frame_us(self) -> u64 {
        self.frame_samples() as u64 * 1_000_000 / u64::from(self.rate())
    }
}

/// The publishing side: signal generator + encoder, one FLV body per frame.
pub struct Source {
    codec: Codec,
    signal: Signal,
    encoder: Box<dyn AudioEncoder>,
    pcm: Vec<i16>,
    payload: Vec<u8>,
}

/// One encoded frame ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// FLV audio body: header byte + codec payload.
    pub body: Vec<u8>,
    /// Where a tone burst starts in this frame, µs from its start.
    pub burst_at_us: Option<u64>,
}

impl Source {
    /// A source for `codec`.
    ///
    /// # Errors
    /// The codec's initialisation error.
    pub fn new(codec: Codec) -> Result<Self, CodecError> {
        let encoder: Box<dyn AudioEncoder> = match codec {
            Codec::Speex => Box::new(SpeexEncoder::new(SpeexEncoderConfig::wideband())?),
            Codec::SpeexNb => Box::new(SpeexEncoder::new(SpeexEncoderConfig::narrowband())?),
            Codec::Nellymoser => Box::new(NellymoserEncoder::new(8000)?),
            Codec::Pcmu => Box::new(G711Encoder::new(G711Law::Pcmu)),
            Codec::Pcma => Box::new(G711Encoder::new(G711Law::Pcma)),
            Codec::Opus => Box::new(OpusEncoder::new(OpusEncoderConfig::default())?),
        };
        Ok(Self {
            codec,
            signal: Signal::new(codec.rate()),
            encoder,
            pcm: Vec::with_capacity(codec.frame_samples()),
            payload: Vec::with_capacity(512),
        })
    }

    /// What must be published before the first frame: the Opus
    /// SequenceStart (`90 'Opus'` + OpusHead, mono 48 kHz); `None` otherwise.
    pub fn preamble(&self) -> Option<Vec<u8>> {
        self.codec.is_ertmp().then(|| {
            let mut out = BytesMut::new();
            write_opus_sequence_start(&OpusHead::mono(312), &mut out);
            out.to_vec()
        })
    }

    /// Encodes the next frame.
    ///
    /// # Errors
    /// The encoder's error (none expected for whole frames).
    pub fn next_frame(&mut self) -> Result<Frame, CodecError> {
        let len = self.codec.frame_samples();
        let burst_at_us = self
            .signal
            .burst_offset(len)
            .map(|n| n as u64 * 1_000_000 / u64::from(self.signal.rate()));
        self.pcm.clear();
        self.signal.fill(len, &mut self.pcm);
        self.payload.clear();
        let body = if self.codec.is_ertmp() {
            self.encoder.encode(&self.pcm, &mut self.payload)?;
            let mut out = BytesMut::with_capacity(self.payload.len() + 5);
            write_opus_coded_frames(&self.payload, &mut out);
            out.to_vec()
        } else {
            self.payload.push(self.codec.flv_byte());
            self.encoder.encode(&self.pcm, &mut self.payload)?;
            self.payload.clone()
        };
        Ok(Frame { body, burst_at_us })
    }
}

/// One cycle of the encoded signal, made once and shared by every
/// connection, so publishing costs the generator no codec work: frames
/// for the least common multiple of the burst period (1 s) and the frame
/// duration (1 s of 20 ms frames; 4 s of 32 ms Nellymoser blocks), encoded
/// in one pass (the encoder state runs on across the cycle; at the wrap,
/// where a burst starts, the decoder sees the cycle's first frame again).
pub struct FrameLoop {
    /// The codec.
    pub codec: Codec,
    /// Published once before the first frame (Opus SequenceStart).
    pub preamble: Option<Bytes>,
    /// The cycle: FLV body and where a burst starts in it (µs).
    pub frames: Vec<(Bytes, Option<u64>)>,
}

impl FrameLoop {
    /// Encodes one cycle of `codec`.
    ///
    /// # Errors
    /// The codec's error.
    pub fn new(codec: Codec) -> Result<Self, CodecError> {
        let mut src = Source::new(codec)?;
        let period_us = crate::tone::PERIOD_MS * 1000;
        let frame_us = codec.frame_us();
        let cycle_us = period_us / gcd(period_us, frame_us) * frame_us;
        let frames = (0..cycle_us / frame_us)
            .map(|_| {
                src.next_frame()
                    .map(|f| (Bytes::from(f.body), f.burst_at_us))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            codec,
            preamble: src.preamble().map(Bytes::from),
            frames,
        })
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The receiving side: decodes each returned FLV body by its header byte.
#[derive(Default)]
pub struct Sink {
    decoder: Option<(u8, Box<dyn AudioDecoder>)>,
    /// Decoded PCM of the last body.
    pub pcm: Vec<i16>,
}

impl Sink {
    /// Decodes one FLV audio body into [`Self::pcm`]; returns the PCM's rate
    /// in Hz, or `None` for an empty body, a format the generator does not
    /// decode, or a payload that does not decode. An E-RTMP Opus
    /// SequenceStart/End decodes to no samples.
    pub fn decode(&mut self, body: &[u8]) -> Option<u32> {
        self.pcm.clear();
        if is_ex_audio(body) {
            return self.decode_ex(body);
        }
        let (&first, payload) = body.split_first()?;
        let format = first >> 4;
        if self.decoder.as_ref().map(|d| d.0) != Some(format) {
            self.decoder = Some((format, new_decoder(first)?));
        }
        let (_, dec) = self.decoder.as_mut()?;
        dec.decode(payload, &mut self.pcm).ok()?;
        Some(dec.sample_rate())
    }
}

impl Sink {
    /// Enhanced RTMP Opus (format 9): 48 kHz mono decoder keyed as format 9.
    fn decode_ex(&mut self, body: &[u8]) -> Option<u32> {
        let packet = match parse_ex_audio(body).ok()? {
            ExAudio::CodedFrames(p) => Some(p),
            ExAudio::SequenceStart(_) | ExAudio::SequenceEnd => None,
        };
        if self.decoder.as_ref().map(|d| d.0) != Some(9) {
            self.decoder = Some((9, Box::new(OpusDecoder::new(48000).ok()?)));
        }
        let (_, dec) = self.decoder.as_mut()?;
        if let Some(p) = packet {
            dec.decode(p, &mut self.pcm).ok()?;
        }
        Some(48000)
    }
}

/// Whether an FLV audio body carries media: false for an E-RTMP
/// SequenceStart or SequenceEnd (E-RTMP v2, "ExAudioTagHeader": a codec
/// configuration record or end of sequence, no samples), which a player
/// gets when it subscribes, well before the first frame.
pub fn carries_media(body: &[u8]) -> bool {
    !is_ex_audio(body)
        || !matches!(
            parse_ex_audio(body),
            Ok(ExAudio::SequenceStart(_) | ExAudio::SequenceEnd)
        )
}

/// A decoder for the format in FLV header byte `first`.
fn new_decoder(first: u8) -> Option<Box<dyn AudioDecoder>> {
    let header = AudioTagHeader::from_byte(first);
    Some(match header.format {
        SoundFormat::Speex => Box::new(SpeexDecoder::new(SpeexMode::Wideband).ok()?),
        SoundFormat::Nellymoser8k | SoundFormat::Nellymoser16k | SoundFormat::Nellymoser => {
            Box::new(NellymoserDecoder::new(header.sample_rate_hz()).ok()?)
        }
        SoundFormat::G711U => Box::new(G711Decoder::new(G711Law::Pcmu)),
        SoundFormat::G711A => Box::new(G711Decoder::new(G711Law::Pcma)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::ToneDetector;

    #[test]
    fn every_codec_round_trips_and_keeps_its_bursts() {
        for codec in [
            Codec::Speex,
            Codec::SpeexNb,
            Codec::Nellymoser,
            Codec::Pcmu,
            Codec::Pcma,
            Codec::Opus,
        ] {
            let mut src = Source::new(codec).expect("encoder");
            let mut sink = Sink::default();
            if let Some(p) = src.preamble() {
                assert_eq!(&p[..5], b"\x90Opus");
                assert_eq!(sink.decode(&p), Some(48000));
                assert!(sink.pcm.is_empty());
            }
            let mut det: Option<ToneDetector> = None;
            let (mut onsets, mut bursts) = (0, 0);
            let frames = 3_000_000 / codec.frame_us();
            for _ in 0..frames {
                let f = src.next_frame().expect("frame");
                assert_eq!(f.body[0], codec.flv_byte());
                bursts += usize::from(f.burst_at_us.is_some());
                let rate = sink.decode(&f.body).expect("decodes");
                let d = det.get_or_insert_with(|| ToneDetector::new(rate));
                onsets += d.push(&sink.pcm);
            }
            assert_eq!(bursts, 3, "{codec:?}");
            assert_eq!(onsets, 3, "{codec:?}");
        }
    }

    #[test]
    fn frame_loops_cover_whole_periods() {
        let l = FrameLoop::new(Codec::Pcmu).expect("loop");
        assert_eq!(l.frames.len(), 50);
        assert_eq!(l.frames.iter().filter(|f| f.1.is_some()).count(), 1);
        let l = FrameLoop::new(Codec::Nellymoser).expect("loop");
        assert_eq!(l.frames.len(), 125); // 4 s of 32 ms blocks
        assert_eq!(l.frames.iter().filter(|f| f.1.is_some()).count(), 4);
        assert!(FrameLoop::new(Codec::Opus)
            .expect("loop")
            .preamble
            .is_some());
    }

    #[test]
    fn frame_durations() {
        assert_eq!(Codec::Speex.frame_us(), 20_000);
        assert_eq!(Codec::Pcmu.frame_us(), 20_000);
        assert_eq!(Codec::Nellymoser.frame_us(), 32_000);
        assert_eq!(Codec::parse("speex-nb"), Some(Codec::SpeexNb));
        assert_eq!(Codec::parse("opus"), Some(Codec::Opus));
        assert_eq!(Codec::Opus.frame_us(), 20_000);
        assert_eq!(Codec::parse("g729"), None);
    }
}
