//! Shared helpers of the bridge tests: configurations, a client and a SIP
//! peer for every codec, a virtual clock driver, tone measurement, and
//! cheap stand-in codecs for long timing runs.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::mock::StepRng;
use rtmp2sip_codecs::{
    AudioDecoder, AudioEncoder, CodecError, G711Decoder, G711Encoder, NellymoserDecoder,
    SpeexDecoder, SpeexEncoder, SpeexEncoderConfig, SpeexMode,
};

use super::bridge::{Bridge, BridgeConfig, RtmpAudio, TransmitKind};
use super::latch::LatchMode;
use super::pipeline::factory::{
    PcmDecoder, Resample, SpeexComplexity, SPEEX_COMPLEXITY, SPEEX_MODE_NARROWBAND,
    SPEEX_QUALITY_NARROWBAND,
};
use super::pipeline::{
    sip_codec, CodecFactory, EncoderSettings, NellyRate, RealCodecs, RtmpCodec, RtmpOut,
};
use super::MediaError;
use crate::flv::AudioTagHeader;
use crate::media::codec::{Codec, Direction, Negotiated};
use crate::time::RtmpTimestamp;

pub(crate) use super::pipeline::tests::{tone, tone_snr};

pub const PEER: &str = "192.0.2.1:5004";
pub const PEER_RTCP: &str = "192.0.2.1:5005";

/// Every RTMP codec a client can publish.
pub const RTMP_CODECS: [RtmpCodec; 8] = [
    RtmpCodec::Speex,
    RtmpCodec::Nellymoser(NellyRate::Hz8000),
    RtmpCodec::Nellymoser(NellyRate::Hz11025),
    RtmpCodec::Nellymoser(NellyRate::Hz16000),
    RtmpCodec::Nellymoser(NellyRate::Hz22050),
    RtmpCodec::Nellymoser(NellyRate::Hz44100),
    RtmpCodec::G711(rtmp2sip_codecs::G711Law::Pcma),
    RtmpCodec::G711(rtmp2sip_codecs::G711Law::Pcmu),
];

/// Every SIP audio codec.
pub const SIP_CODECS: [Codec; 6] = [
    Codec::Speex16k,
    Codec::Speex8k,
    Codec::Pcmu,
    Codec::Pcma,
    Codec::G722,
    Codec::Opus,
];

pub const SETTINGS: EncoderSettings = EncoderSettings {
    speex_quality: 8,
    // Complexity 3 for narrowband far ends too (the default there is
    // SPEEX_COMPLEXITY_NARROWBAND, 1): the tone tests measure the bridge,
    // and below 3 libspeex skips its open-loop pitch search, so a pure
    // 1 kHz tone through PCMU comes out at ~15 dB SNR instead of ~34 dB
    // (speech scores the same by PESQ). `pipeline::factory`'s tests check
    // which complexity each far end gets.
    speex_complexity: SpeexComplexity {
        wideband: SPEEX_COMPLEXITY,
        narrowband: SPEEX_COMPLEXITY,
    },
    opus_complexity: 5,
    speex_mode_narrowband: SPEEX_MODE_NARROWBAND,
    speex_quality_narrowband: SPEEX_QUALITY_NARROWBAND,
};

pub fn peer() -> SocketAddr {
    PEER.parse().unwrap()
}

pub fn negotiated(codec: Codec) -> Negotiated {
    Negotiated {
        codec,
        pt: codec.default_pt(),
        recv_pt: codec.default_pt(),
        dtmf_pt: Some(101),
        recv_dtmf_pt: Some(101),
        ptime_ms: 20,
        direction: Direction::SendRecv,
        remote_rtp: PEER.parse().unwrap(),
        remote_rtcp: PEER_RTCP.parse().unwrap(),
        rtcp_mux: false,
        srtp: None,
    }
}

pub fn config(codec: Codec, rtmp_out: RtmpOut) -> BridgeConfig {
    BridgeConfig {
        sip_codec: negotiated(codec),
        jitter_ms: 60,
        speex_quality: SETTINGS.speex_quality,
        speex_complexity: SETTINGS.speex_complexity,
        speex_mode_narrowband: SETTINGS.speex_mode_narrowband,
        speex_quality_narrowband: SETTINGS.speex_quality_narrowband,
        opus_complexity: SETTINGS.opus_complexity,
        rtmp_out,
        rtmp_out_max_ms: 2000,
        rtp_timeout: Duration::from_secs(60),
        ntp_at_start: 0xE000_0000_0000_0000,
        latching: LatchMode::Ip,
    }
}

pub fn bridge(cfg: BridgeConfig, t0: Instant) -> Bridge {
    Bridge::new(cfg, t0, &mut StepRng::new(0x1234_5678, 0x9abc_def1)).unwrap()
}

pub fn cheap_bridge(cfg: BridgeConfig, t0: Instant) -> Bridge {
    let mut rng = StepRng::new(0x1234_5678, 0x9abc_def1);
    Bridge::with_factory(cfg, t0, &mut rng, &CheapCodecs).unwrap()
}

pub fn rtp_packet(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    rtp_types::RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(pt)
        .sequence_number(seq)
        .timestamp(ts)
        .ssrc(0x5151_5151)
        .marker_bit(marker)
        .payload(payload)
        .write_vec()
        .unwrap()
}

/// An RTP packet we sent.
#[derive(Debug, Clone)]
pub struct SentRtp {
    pub ssrc: u32,
    pub pt: u8,
    pub seq: u16,
    pub ts: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
}

pub fn take_rtp(b: &mut Bridge, out: &mut Vec<SentRtp>) {
    while let Some(t) = b.poll_transmit() {
        if t.kind != TransmitKind::Rtp {
            continue;
        }
        let p = super::rtp::parse(&t.payload).unwrap();
        out.push(SentRtp {
            ssrc: p.ssrc,
            pt: p.pt,
            seq: p.seq,
            ts: p.ts.0,
            marker: p.marker,
            payload: p.payload.to_vec(),
        });
    }
}

/// Runs due timers up to `until`, collecting RTMP output.
pub fn run_timers(b: &mut Bridge, until: Instant, out: &mut Vec<RtmpAudio>) {
    while let Some(t) = b.poll_timeout().filter(|&t| t <= until) {
        b.handle_timeout(t);
        out.extend(std::iter::from_fn(|| b.poll_rtmp_audio()));
    }
    out.extend(std::iter::from_fn(|| b.poll_rtmp_audio()));
}

// ---- A client publishing every RTMP codec ---------------------------------

/// Encodes PCM as an RTMP client would publish it: FLV bodies with
/// timestamps from its own sample count.
pub struct Client {
    pub codec: RtmpCodec,
    encoder: ClientEncoder,
    /// Samples published so far.
    pub samples: u64,
}

enum ClientEncoder {
    /// Flash packs 2 frames per message bit after bit.
    Speex(SpeexEncoder),
    Other(Box<dyn AudioEncoder>),
}

impl Client {
    /// Speex: 2 frames per message (Flash's default); Nellymoser: as many
    /// blocks as the bridge sends; G.711: 25 ms messages (not 20 ms, so
    /// the bridge must re-cut them).
    pub fn new(codec: RtmpCodec) -> Self {
        let encoder = match codec {
            RtmpCodec::Speex => ClientEncoder::Speex(
                SpeexEncoder::new(SpeexEncoderConfig {
                    complexity: SPEEX_COMPLEXITY,
                    ..SpeexEncoderConfig::wideband()
                })
                .unwrap(),
            ),
            _ => ClientEncoder::Other(
                RealCodecs
                    .rtmp_encoder(codec, Codec::Speex16k, SETTINGS)
                    .unwrap(),
            ),
        };
        Client {
            codec,
            encoder,
            samples: 0,
        }
    }

    /// Samples in one message.
    pub fn message_samples(&self) -> usize {
        match self.codec {
            RtmpCodec::Speex => 640,
            RtmpCodec::Nellymoser(_) => 256 * self.codec.frames_per_message(),
            RtmpCodec::G711(_) => 200,
            RtmpCodec::Opus => 960,
        }
    }

    /// The next message of `pcm` (exactly [`Client::message_samples`]):
    /// (timestamp ms, FLV body).
    pub fn message(&mut self, pcm: &[i16]) -> (u32, Vec<u8>) {
        let ts = (self.samples * 1000 / u64::from(self.codec.audio_rate())) as u32;
        let mut body = Vec::new();
        self.codec.write_header(&mut body);
        match &mut self.encoder {
            ClientEncoder::Speex(enc) => {
                enc.encode_packet(pcm, &mut body).unwrap();
            }
            ClientEncoder::Other(enc) => {
                let n = match self.codec {
                    RtmpCodec::G711(_) => pcm.len(),
                    _ => enc.frame_samples(),
                };
                for frame in pcm.chunks(n) {
                    enc.encode(frame, &mut body).unwrap();
                }
            }
        }
        self.samples += pcm.len() as u64;
        (ts, body)
    }

    /// Messages carrying `seconds` of a 1 kHz tone (continuing the phase).
    pub fn tone_messages(&mut self, seconds: f64) -> Vec<(u32, Vec<u8>)> {
        let n = self.message_samples();
        let rate = self.codec.audio_rate();
        let count = (seconds * f64::from(rate) / n as f64) as usize;
        (0..count)
            .map(|_| {
                let pcm = tone(1000.0, rate, n, self.samples as usize);
                self.message(&pcm)
            })
            .collect()
    }
}

/// Decodes what the bridge sent to the client; every body must carry
/// `codec`'s header byte.
pub fn decode_rtmp(codec: RtmpCodec, out: &[RtmpAudio]) -> Vec<i16> {
    let mut dec: Box<dyn AudioDecoder> = match codec {
        RtmpCodec::Speex => Box::new(SpeexDecoder::new(SpeexMode::Wideband).unwrap()),
        RtmpCodec::Nellymoser(rate) => Box::new(NellymoserDecoder::new(rate.hz()).unwrap()),
        RtmpCodec::G711(law) => Box::new(G711Decoder::new(law)),
        RtmpCodec::Opus => Box::new(rtmp2sip_codecs::OpusDecoder::new(48_000).unwrap()),
    };
    let mut pcm = Vec::new();
    if codec == RtmpCodec::Opus {
        for (i, a) in out.iter().enumerate() {
            match crate::flv::parse_ex_audio(&a.body).unwrap() {
                crate::flv::ExAudio::SequenceStart(_) => assert_eq!(i, 0, "OpusHead first"),
                crate::flv::ExAudio::CodedFrames(p) => dec.decode(p, &mut pcm).unwrap(),
                crate::flv::ExAudio::SequenceEnd => {}
            }
        }
        return pcm;
    }
    for a in out {
        assert_eq!(a.body[0], codec.header_byte(), "{codec:?}");
        let header = AudioTagHeader::from_byte(a.body[0]);
        assert_eq!(RtmpCodec::from_header(header), Ok(codec));
        dec.decode(&a.body[1..], &mut pcm).unwrap();
    }
    pcm
}

// ---- A SIP peer for every codec --------------------------------------------

/// A SIP peer sending a codec as RTP every 20 ms.
pub struct Peer {
    pub codec: Codec,
    encoder: Box<dyn AudioEncoder>,
    pub seq: u16,
    pub ts: u32,
    pub samples: u64,
}

impl Peer {
    pub fn new(codec: Codec) -> Self {
        Peer {
            codec,
            encoder: sip_codec::encoder(codec, SETTINGS).unwrap(),
            seq: 1000,
            ts: 4000,
            samples: 0,
        }
    }

    /// The next 20 ms packet of a 1 kHz tone.
    pub fn next_packet(&mut self) -> Vec<u8> {
        let n = self.encoder.frame_samples();
        let pcm = tone(1000.0, self.codec.audio_rate(), n, self.samples as usize);
        let mut payload = Vec::new();
        self.encoder.encode(&pcm, &mut payload).unwrap();
        let pkt = rtp_packet(
            self.codec.default_pt(),
            self.seq,
            self.ts,
            self.samples == 0,
            &payload,
        );
        self.samples += n as u64;
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(sip_codec::ticks_for(self.codec, n));
        pkt
    }
}

/// Decodes RTP payloads we sent in `codec`.
pub fn decode_sip(codec: Codec, sent: &[SentRtp]) -> Vec<i16> {
    let mut dec = sip_codec::decoder(codec).unwrap();
    let mut pcm = Vec::new();
    for p in sent {
        assert_eq!(p.pt, codec.default_pt());
        dec.decode(&p.payload, &mut pcm).unwrap();
    }
    pcm
}

pub fn rms(pcm: &[i16]) -> f64 {
    (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len().max(1) as f64).sqrt()
}

// ---- Cheap codecs for long timing runs ---------------------------------------

/// Stand-in codecs with the real frame sizes and rates (silence in, zeros
/// out), and a resampler with the real output counts; G.711 is real (it
/// is cheap). Used where a test is about time, not sound.
pub struct CheapCodecs;

/// Zeros in, `bytes` zero bytes per `samples` out, and back.
struct CheapCodec {
    rate: u32,
    samples: usize,
    bytes: usize,
}

impl AudioEncoder for CheapCodec {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn frame_samples(&self) -> usize {
        self.samples
    }
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        if pcm.len() != self.samples {
            return Err(CodecError::FrameLength {
                expected: self.samples,
                got: pcm.len(),
            });
        }
        out.resize(out.len() + self.bytes, 0);
        Ok(())
    }
}

impl AudioDecoder for CheapCodec {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        let frames = payload.len() / self.bytes.max(1);
        out.resize(out.len() + frames * self.samples, 0);
        Ok(())
    }
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        out.resize(out.len() + samples, 0);
    }
}

fn cheap(codec: RtmpCodec) -> CheapCodec {
    match codec {
        RtmpCodec::Speex => CheapCodec {
            rate: 16_000,
            samples: 320,
            bytes: 70,
        },
        RtmpCodec::Nellymoser(rate) => CheapCodec {
            rate: rate.hz(),
            samples: 256,
            bytes: 64,
        },
        RtmpCodec::G711(_) => CheapCodec {
            rate: 8000,
            samples: 160,
            bytes: 160,
        },
        RtmpCodec::Opus => CheapCodec {
            rate: 48_000,
            samples: 960,
            bytes: 40,
        },
    }
}

fn cheap_sip(codec: Codec) -> CheapCodec {
    let rate = codec.audio_rate();
    CheapCodec {
        rate,
        samples: rate as usize / 50,
        bytes: 40,
    }
}

/// Output count of a real resampler (input x to / from, remainder
/// carried), zeros for content.
struct CheapResampler {
    from: u64,
    to: u64,
    /// Input samples seen, output samples given.
    seen: u64,
    given: u64,
}

impl Resample for CheapResampler {
    fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        self.seen += input.len() as u64;
        let due = self.seen * self.to / self.from;
        out.resize(out.len() + (due - self.given) as usize, 0);
        self.given = due;
    }
}

impl CodecFactory for CheapCodecs {
    fn rtmp_decoder(
        &self,
        codec: RtmpCodec,
        _: Codec,
        _: EncoderSettings,
    ) -> Result<PcmDecoder, MediaError> {
        match codec {
            RtmpCodec::G711(law) => Ok(PcmDecoder::Plain(Box::new(G711Decoder::new(law)))),
            _ => Ok(PcmDecoder::Plain(Box::new(cheap(codec)))),
        }
    }
    fn rtmp_encoder(
        &self,
        codec: RtmpCodec,
        _: Codec,
        _: EncoderSettings,
    ) -> Result<Box<dyn AudioEncoder>, MediaError> {
        match codec {
            RtmpCodec::G711(law) => Ok(Box::new(G711Encoder::new(law))),
            _ => Ok(Box::new(cheap(codec))),
        }
    }
    fn sip_decoder(&self, codec: Codec) -> Result<PcmDecoder, MediaError> {
        match codec {
            Codec::Pcmu | Codec::Pcma => sip_codec::decoder(codec),
            _ => Ok(PcmDecoder::Plain(Box::new(cheap_sip(codec)))),
        }
    }
    fn sip_encoder(
        &self,
        codec: Codec,
        settings: EncoderSettings,
    ) -> Result<Box<dyn AudioEncoder>, MediaError> {
        match codec {
            Codec::Pcmu | Codec::Pcma => sip_codec::encoder(codec, settings),
            _ => Ok(Box::new(cheap_sip(codec))),
        }
    }
    fn resampler(&self, from_hz: u32, to_hz: u32) -> Result<Box<dyn Resample>, MediaError> {
        Ok(Box::new(CheapResampler {
            from: u64::from(from_hz),
            to: u64::from(to_hz),
            seen: 0,
            given: 0,
        }))
    }
}

/// Sends each message at its own timestamp on the virtual clock; returns
/// the RTP packets sent.
pub fn publish(b: &mut Bridge, t0: Instant, messages: &[(u32, Vec<u8>)]) -> Vec<SentRtp> {
    let mut sent = Vec::new();
    for (ts, body) in messages {
        let now = t0 + Duration::from_millis(u64::from(*ts));
        b.handle_rtmp_audio(now, RtmpTimestamp(*ts), body).unwrap();
        take_rtp(b, &mut sent);
    }
    sent
}
