//! RTMP client audio -> RTP payloads for the SIP peer.
//!
//! | RTMP in | SIP codec | path |
//! |---|---|---|
//! | Speex | speex/16000 | passthrough: the payload as it is, 320 ticks per frame (RFC 5574 §3.3) |
//! | Opus (E-RTMP) | opus/48000/2 | passthrough: the packet as it is, ticks from its TOC (960 per 20 ms; RFC 7587 §4.1) |
//! | G.711 law L | the same law | passthrough: bytes re-cut into 160-byte (20 ms) payloads |
//! | Speex | PCMU, PCMA, speex/8000 | at `speex_mode_narrowband = "narrowband"` (the default): a Speex **narrowband** decoder plays the frames' embedded narrowband part at 8 kHz (the high band is skipped, no resampler) -> encode |
//! | any | any other | decode -> resample -> encode, one 20 ms frame per packet |

use rtmp2sip_codecs::G711Law;

use crate::media::codec::Codec;

use super::super::MediaError;
use super::factory::{CodecFactory, EncoderSettings};
use super::reframe::ByteChunker;
use super::rtmp_codec::RtmpCodec;
use super::sip_codec::ticks_for;
use super::transcoder::{at_rate, Transcoder};

/// Bytes of G.711 in one 20 ms RTP payload.
pub const G711_PACKET_BYTES: usize = 160;

/// How RTMP audio becomes RTP payloads.
enum Path {
    /// Speex WB payloads or Opus packets unchanged.
    FramePassthrough,
    /// G.711 bytes re-cut into 20 ms payloads, never altered or reordered.
    G711Passthrough(ByteChunker<G711_PACKET_BYTES>),
    /// Decode, resample, encode.
    Transcode(Box<Transcoder>),
}

/// The RTMP -> SIP half for one client codec.
pub struct ToSip {
    rtmp: RtmpCodec,
    sip: Codec,
    path: Path,
}

/// Called with each RTP payload and its duration in RTP ticks.
pub type EmitRtp<'a> = dyn FnMut(&[u8], u32) -> Result<(), MediaError> + 'a;

impl ToSip {
    /// The half for client audio in `rtmp` toward `sip`.
    ///
    /// Errors: [`MediaError::Config`] for a SIP codec without audio,
    /// [`MediaError::Codec`] if a codec fails to start.
    pub fn new(
        rtmp: RtmpCodec,
        sip: Codec,
        factory: &dyn CodecFactory,
        settings: EncoderSettings,
    ) -> Result<Self, MediaError> {
        let path = match (rtmp, sip) {
            (RtmpCodec::Speex, Codec::Speex16k) | (RtmpCodec::Opus, Codec::Opus) => {
                Path::FramePassthrough
            }
            (RtmpCodec::G711(G711Law::Pcmu), Codec::Pcmu)
            | (RtmpCodec::G711(G711Law::Pcma), Codec::Pcma) => {
                Path::G711Passthrough(ByteChunker::default())
            }
            _ => {
                let encoder = factory.sip_encoder(sip, settings)?;
                let decoder = factory.rtmp_decoder(rtmp, sip, settings)?;
                let in_rate = decoder.sample_rate();
                let resampler = factory.resampler(in_rate, encoder.sample_rate())?;
                Path::Transcode(Box::new(Transcoder::new(
                    decoder, in_rate, resampler, encoder, 1,
                )))
            }
        };
        Ok(ToSip { rtmp, sip, path })
    }

    /// The client codec this half takes.
    pub fn rtmp_codec(&self) -> RtmpCodec {
        self.rtmp
    }

    /// Whether payloads pass unchanged (no codec runs).
    #[cfg(test)]
    pub fn is_passthrough(&self) -> bool {
        !matches!(self.path, Path::Transcode(_))
    }

    /// Takes one RTMP payload (after the FLV header byte) and calls `emit`
    /// for every RTP payload now complete, in order. `scratch` is reused
    /// for encoded payloads. Returns the audio the payload held, in
    /// samples at the client codec's rate.
    ///
    /// Errors: [`MediaError::Codec`] for a corrupt payload (audio decoded
    /// before the fault is still sent), or what `emit` returns.
    pub fn push(
        &mut self,
        payload: &[u8],
        scratch: &mut Vec<u8>,
        emit: &mut EmitRtp<'_>,
    ) -> Result<usize, MediaError> {
        match &mut self.path {
            Path::FramePassthrough => {
                let samples = self.rtmp.samples_in(payload);
                if samples > 0 {
                    emit(payload, ticks_for(self.sip, samples))?;
                }
                Ok(samples)
            }
            Path::G711Passthrough(chunker) => {
                let ticks = ticks_for(self.sip, G711_PACKET_BYTES);
                chunker.push(payload, |chunk| emit(chunk, ticks))?;
                Ok(payload.len())
            }
            Path::Transcode(half) => {
                let decoded = half.decode(payload);
                while half.has_unit() {
                    scratch.clear();
                    if let Some(samples) = half.next_unit(scratch)? {
                        emit(scratch, ticks_for(self.sip, samples))?;
                    }
                }
                // A narrowband decoder of Speex WB frames gives 8 kHz.
                decoded.map(|n| at_rate(n, half.in_rate(), self.rtmp.audio_rate()))
            }
        }
    }
}
