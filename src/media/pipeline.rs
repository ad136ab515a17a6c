//! The transcoding halves of the bridge: Speex wideband (RTMP side,
//! 16 kHz) to and from the SIP codec (G.711 or Speex narrowband, 8 kHz),
//! through the speexdsp resampler. Each half buffers PCM between codecs
//! whose frame sizes differ, with a bound.

use rtmp2sip_codecs::{
    AudioDecoder, AudioEncoder, G711Decoder, G711Encoder, G711Law, Resampler, SpeexDecoder,
    SpeexEncoder, SpeexEncoderConfig, SpeexMode,
};

use crate::sip::sdp::Codec;

use super::MediaError;

/// RTMP-side sample rate (Speex wideband), in Hz.
pub const RTMP_RATE: u32 = 16_000;
/// Samples per 20 ms Speex wideband frame.
pub const RTMP_FRAME: usize = 320;
/// Most PCM held between codecs, in samples (1 s at 16 kHz).
const MAX_PENDING: usize = 16_000;
/// Speex encoder complexity (1..=10) for both directions.
///
/// libspeex (1.2.1, `nb_celp.c`) runs its open-loop pitch estimate only
/// at complexity > 2; at its default of 2 the narrowband core (also the
/// low band of wideband) codes tonal audio with a per-frame error: a
/// 1 kHz tone comes out of Speex WB q8 at ~24 dB SNR, with sidebands
/// ~50 Hz either side (the 20 ms frame rate). Complexity 4 gives ~41 dB
/// (3 gives ~37 dB, as ffmpeg's default does) for ~30% more encoder CPU.
pub(crate) const SPEEX_COMPLEXITY: u8 = 4;

/// A codec's encoder and decoder, boxed.
type CodecPair = (Box<dyn AudioEncoder>, Box<dyn AudioDecoder>);

/// The SIP codec's encoder and decoder for a transcoded call.
fn sip_codec(codec: Codec, quality: u8) -> Result<CodecPair, MediaError> {
    match codec {
        Codec::Pcmu | Codec::Pcma => {
            let law = if codec == Codec::Pcmu {
                G711Law::Pcmu
            } else {
                G711Law::Pcma
            };
            Ok((
                Box::new(G711Encoder::new(law)),
                Box::new(G711Decoder::new(law)),
            ))
        }
        Codec::Speex8k => {
            let config = SpeexEncoderConfig {
                quality: quality.min(10),
                complexity: SPEEX_COMPLEXITY,
                ..SpeexEncoderConfig::narrowband()
            };
            Ok((
                Box::new(SpeexEncoder::new(config)?),
                Box::new(SpeexDecoder::new(SpeexMode::Narrowband)?),
            ))
        }
        _ => Err(MediaError::Config("no transcoder for this SIP codec")),
    }
}

/// Appends `pcm` to `pending`, dropping the oldest samples over the bound.
fn push_bounded(pending: &mut Vec<i16>, pcm: &[i16]) {
    pending.extend_from_slice(pcm);
    if let Some(excess) = pending.len().checked_sub(MAX_PENDING) {
        pending.drain(..excess);
    }
}

/// RTMP Speex WB -> SIP codec frames.
pub struct ToSip {
    decoder: SpeexDecoder,
    resampler: Resampler,
    encoder: Box<dyn AudioEncoder>,
    pcm: Vec<i16>,
    resampled: Vec<i16>,
    pending: Vec<i16>,
}

impl ToSip {
    /// Decodes one RTMP Speex payload (all its frames); returns how many
    /// 20 ms frames it held.
    ///
    /// Errors: [`MediaError::Codec`] for a corrupt payload (peer).
    pub fn push_speex(&mut self, payload: &[u8]) -> Result<usize, MediaError> {
        self.pcm.clear();
        let frames = self.decoder.decode_frames(payload, &mut self.pcm)?;
        self.resampled.clear();
        self.resampler.process(&self.pcm, &mut self.resampled);
        push_bounded(&mut self.pending, &self.resampled);
        Ok(frames)
    }

    /// Encodes the next whole SIP frame, if enough PCM is pending.
    pub fn next_frame(&mut self, out: &mut Vec<u8>) -> Result<Option<usize>, MediaError> {
        let n = self.encoder.frame_samples();
        if n == 0 || self.pending.len() < n {
            return Ok(None);
        }
        let encoded = self.encoder.encode(&self.pending[..n], out);
        self.pending.drain(..n);
        encoded?;
        Ok(Some(n))
    }
}

/// SIP codec frames -> RTMP Speex WB frames.
pub struct ToRtmp {
    decoder: Box<dyn AudioDecoder>,
    resampler: Resampler,
    encoder: SpeexEncoder,
    pcm: Vec<i16>,
    resampled: Vec<i16>,
    pending: Vec<i16>,
}

impl ToRtmp {
    /// Decodes one SIP payload.
    ///
    /// Errors: [`MediaError::Codec`] for a corrupt payload (peer).
    pub fn push_payload(&mut self, payload: &[u8]) -> Result<(), MediaError> {
        self.pcm.clear();
        let result = self.decoder.decode(payload, &mut self.pcm);
        self.resample();
        result.map_err(MediaError::from)
    }

    /// Conceals `samples` SIP-rate samples (a lost packet).
    pub fn conceal(&mut self, samples: usize) {
        self.pcm.clear();
        self.decoder
            .conceal(samples.min(MAX_PENDING), &mut self.pcm);
        self.resample();
    }

    fn resample(&mut self) {
        self.resampled.clear();
        self.resampler.process(&self.pcm, &mut self.resampled);
        push_bounded(&mut self.pending, &self.resampled);
    }

    /// Encodes the next 20 ms Speex WB frame, if enough PCM is pending.
    pub fn next_frame(&mut self, out: &mut Vec<u8>) -> Result<bool, MediaError> {
        if self.pending.len() < RTMP_FRAME {
            return Ok(false);
        }
        let encoded = self.encoder.encode(&self.pending[..RTMP_FRAME], out);
        self.pending.drain(..RTMP_FRAME);
        encoded?;
        Ok(true)
    }
}

/// Both transcoding halves for `codec` (G.711 or Speex NB).
///
/// Errors: [`MediaError::Config`] for a codec without a transcoder,
/// [`MediaError::Codec`] if a codec fails to initialise.
pub fn transcoders(codec: Codec, speex_quality: u8) -> Result<(ToSip, ToRtmp), MediaError> {
    let (sip_encoder, sip_decoder) = sip_codec(codec, speex_quality)?;
    let sip_rate = codec.clock_rate();
    let wb = SpeexEncoderConfig {
        quality: speex_quality.min(10),
        complexity: SPEEX_COMPLEXITY,
        ..SpeexEncoderConfig::wideband()
    };
    Ok((
        ToSip {
            decoder: SpeexDecoder::new(SpeexMode::Wideband)?,
            resampler: Resampler::voip(RTMP_RATE, sip_rate)?,
            encoder: sip_encoder,
            pcm: Vec::new(),
            resampled: Vec::new(),
            pending: Vec::new(),
        },
        ToRtmp {
            decoder: sip_decoder,
            resampler: Resampler::voip(sip_rate, RTMP_RATE)?,
            encoder: SpeexEncoder::new(wb)?,
            pcm: Vec::new(),
            resampled: Vec::new(),
            pending: Vec::new(),
        },
    ))
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
pub(crate) mod tests;
