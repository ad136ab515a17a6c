//! RTP payloads from the SIP peer -> FLV audio bodies for the RTMP client.
//!
//! | SIP codec | RTMP out | path |
//! |---|---|---|
//! | speex/16000 | Speex | passthrough: `0xB2` + payload |
//! | speex/8000 | Speex | passthrough at `speex_mode_narrowband = "narrowband"` (the default): the client's wideband decoder plays narrowband frames |
//! | PCMU / PCMA | G.711 of the same law | passthrough: `0x82` / `0x72` + payload |
//! | opus/48000/2 | Opus (E-RTMP) | passthrough: `91 'Opus'` + packet |
//! | any | any other | decode (or conceal) -> resample -> encode, whole frames per message |
//!
//! Toward a Speex client, audio from a narrowband far end (PCMU, PCMA) is
//! encoded as Speex narrowband frames at 8 kHz when `[media]
//! speex_mode_narrowband` is `"narrowband"` (the default): Speex's wideband
//! layer is embedded, so the client's wideband decoder plays each frame as
//! the low band of 20 ms at 16 kHz with an empty high band (Speex manual,
//! "Formats and standards": wideband embeds narrowband); no resampler
//! runs and the encoder costs about half of a wideband one. The bodies'
//! sample counts are at the client's 16 kHz.
//!
//! Loss ([`ToRtmp::conceal`], one call per lost packet, in order): the
//! first [`MAX_CONCEAL_RUN`] packets of a run are concealed, later ones
//! become silence, so every lost packet still yields its audio time and
//! the client's stream keeps the timeline (a 300 ms burst is 300 ms of
//! output, not a jump). Transcoded: the SIP decoder's concealment (libspeex
//! PLC, Opus FEC/PLC, G.711's pitch repeat, G.722's repeat-and-fade),
//! then encoded silence. G.711 passthrough: [`G711Conceal`] (the same
//! pitch repeat fading out over 60 ms, then µ-law or A-law silence), only
//! for the lost packets. Speex and Opus passthrough
//! send nothing: the client's own decoder conceals, and the next message
//! keeps its RTP-derived timestamp.
//!
//! Toward an Opus client every body is an E-RTMP CodedFrames message; the
//! SequenceStart with the OpusHead ([`opus_sequence_start`]) goes to each
//! player first when it subscribes ([`super::super::Bridge::rtmp_stream_header`]).

use rtmp2sip_codecs::{G711Law, SpeexMode};

use crate::flv::ex_audio::write_opus_sequence_start;
use crate::flv::OpusHead;
use crate::media::codec::Codec;

use super::super::MediaError;
use super::factory::{speex_mode, CodecFactory, EncoderSettings};
use super::g711_conceal::G711Conceal;
use super::rtmp_codec::RtmpCodec;
use super::sip_codec::samples_for;
use super::transcoder::{at_rate, Transcoder};

/// Lost packets in a row concealed from the codec's last audio; the rest
/// of a longer run is silence (a decoder's concealment turns into a buzz
/// or noise over long runs, and 100 ms is past what it can guess).
pub const MAX_CONCEAL_RUN: u32 = 5;

/// How RTP payloads become RTMP bodies.
enum Path {
    /// Header byte + payload; G.711 keeps what conceals a lost packet.
    Passthrough(Option<Box<G711Conceal>>),
    /// Decode, resample, encode.
    Transcode(Box<Transcoder>),
}

/// An FLV audio body and the audio it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpBody {
    /// Header byte, then the codec payload.
    pub body: Vec<u8>,
    /// Samples at the RTMP codec's rate.
    pub samples: usize,
}

/// The SIP -> RTMP half for one RTMP output codec.
pub struct ToRtmp {
    sip: Codec,
    out: RtmpCodec,
    path: Path,
    /// Length of the last transcoded body: the next one's allocation.
    body_len: usize,
    /// Lost packets since the last played one.
    lost_run: u32,
}

/// Most bytes of G.711 concealment for one lost packet (1 s).
const G711_MAX_CONCEAL: usize = 8000;

/// Pre-skip we announce in our OpusHead, in 48 kHz samples: libopus's
/// encoder look-ahead (6.5 ms), RFC 7845 §4.2.
pub const OPUS_PRE_SKIP: u16 = 312;

/// The E-RTMP SequenceStart body we send first to an Opus client: mono,
/// 48 kHz, pre-skip [`OPUS_PRE_SKIP`].
pub fn opus_sequence_start() -> RtmpBody {
    let mut body = bytes::BytesMut::with_capacity(5 + OpusHead::LEN);
    write_opus_sequence_start(&OpusHead::mono(OPUS_PRE_SKIP), &mut body);
    RtmpBody {
        body: body.to_vec(),
        samples: 0,
    }
}

impl ToRtmp {
    /// The half from `sip` payloads to `out` bodies. A transcoding half's
    /// Speex encoder runs at the complexity for `sip`'s bandwidth
    /// ([`super::factory::SpeexComplexity::toward_rtmp`]); a re-INVITE to
    /// another codec builds a new half.
    ///
    /// Errors: [`MediaError::Config`] for a SIP codec without audio,
    /// [`MediaError::Codec`] if a codec fails to start.
    pub fn new(
        sip: Codec,
        out: RtmpCodec,
        factory: &dyn CodecFactory,
        settings: EncoderSettings,
    ) -> Result<Self, MediaError> {
        let path = match (sip, out) {
            // The client's wideband decoder plays narrowband frames.
            (Codec::Speex8k, RtmpCodec::Speex)
                if speex_mode(sip, settings) == SpeexMode::Narrowband =>
            {
                Path::Passthrough(None)
            }
            (Codec::Speex16k, RtmpCodec::Speex)
            | (Codec::Opus, RtmpCodec::Opus)
            | (Codec::Pcmu, RtmpCodec::G711(G711Law::Pcmu))
            | (Codec::Pcma, RtmpCodec::G711(G711Law::Pcma)) => Path::Passthrough(match out {
                RtmpCodec::G711(law) => Some(Box::new(G711Conceal::new(law))),
                _ => None,
            }),
            _ => {
                let decoder = factory.sip_decoder(sip)?;
                let encoder = factory.rtmp_encoder(out, sip, settings)?;
                let resampler = factory.resampler(sip.audio_rate(), encoder.sample_rate())?;
                Path::Transcode(Box::new(Transcoder::new(
                    decoder,
                    sip.audio_rate(),
                    resampler,
                    encoder,
                    out.frames_per_message(),
                )))
            }
        };
        Ok(ToRtmp {
            sip,
            out,
            path,
            body_len: 64,
            lost_run: 0,
        })
    }

    /// The RTMP codec this half produces.
    pub fn out_codec(&self) -> RtmpCodec {
        self.out
    }

    /// Whether payloads pass unchanged (no codec runs).
    pub fn is_passthrough(&self) -> bool {
        matches!(self.path, Path::Passthrough(_))
    }

    /// Takes one RTP payload and calls `emit` for every RTMP body now
    /// complete, in order.
    ///
    /// Errors: [`MediaError::Codec`] for a corrupt payload (peer); audio
    /// decoded before the fault is still sent.
    pub fn push(
        &mut self,
        payload: &[u8],
        emit: &mut dyn FnMut(RtmpBody),
    ) -> Result<(), MediaError> {
        self.lost_run = 0;
        match &mut self.path {
            Path::Passthrough(conceal) => {
                if let Some(c) = conceal {
                    c.played(payload);
                }
                let mut body = Vec::with_capacity(5 + payload.len());
                self.out.write_header(&mut body);
                body.extend_from_slice(payload);
                let samples = self.out.samples_in(payload).max(1);
                emit(RtmpBody { body, samples });
                Ok(())
            }
            Path::Transcode(half) => {
                let decoded = half.decode(payload);
                self.body_len = flush(half, self.out, self.body_len, emit);
                decoded.map(|_| ())
            }
        }
    }

    /// Conceals a lost packet of `ticks` RTP ticks; `next` is the payload
    /// after it if already received (Opus FEC). Past [`MAX_CONCEAL_RUN`]
    /// lost packets in a row the audio is silence. G.711 passthrough emits
    /// one body of concealment; Speex and Opus passthrough send nothing.
    pub fn conceal(&mut self, ticks: u32, next: Option<&[u8]>, emit: &mut dyn FnMut(RtmpBody)) {
        self.lost_run = self.lost_run.saturating_add(1);
        let samples = samples_for(self.sip, ticks);
        let silent = self.lost_run > MAX_CONCEAL_RUN;
        match &mut self.path {
            Path::Transcode(half) => {
                if silent {
                    half.silence(samples);
                } else {
                    half.conceal(samples, next);
                }
                self.body_len = flush(half, self.out, self.body_len, emit);
            }
            Path::Passthrough(Some(c)) => {
                // 8 kHz both sides: samples are bytes. Bounded by the
                // jitter buffer's frame (at most 8 frames' ticks).
                let samples = samples.min(G711_MAX_CONCEAL);
                let mut body = Vec::with_capacity(1 + samples);
                self.out.write_header(&mut body);
                c.conceal(samples, &mut body);
                emit(RtmpBody { body, samples });
            }
            Path::Passthrough(None) => {}
        }
    }
}

/// Emits every whole message queued in `half`, allocating each body at
/// `body_len` (the previous body's length); returns the last length.
fn flush(
    half: &mut Transcoder,
    out: RtmpCodec,
    mut body_len: usize,
    emit: &mut dyn FnMut(RtmpBody),
) -> usize {
    while half.has_unit() {
        let mut body = Vec::with_capacity(body_len);
        out.write_header(&mut body);
        match half.next_unit(&mut body) {
            Ok(Some(samples)) => {
                body_len = body.len();
                let samples = at_rate(samples, half.out_rate(), out.audio_rate());
                emit(RtmpBody { body, samples });
            }
            Ok(None) => break,
            // The unit's PCM is dropped: carry on with the next.
            Err(_) => {}
        }
    }
    body_len
}
