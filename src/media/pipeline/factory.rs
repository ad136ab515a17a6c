//! Where the bridge gets its codecs and resamplers: a [`CodecFactory`]
//! builds the decoder, encoder and resampler of each transcoding half.
//! [`RealCodecs`] builds the codecs crate's; tests substitute cheap ones
//! where the point is timing, not sound.

use rtmp2sip_codecs::{
    AudioDecoder, AudioEncoder, G711Decoder, G711Encoder, NellymoserDecoder, NellymoserEncoder,
    OpusDecoder, Resampler, SpeexDecoder, SpeexEncoder, SpeexEncoderConfig, SpeexMode,
};

use crate::media::codec::Codec;

use super::super::MediaError;
use super::rtmp_codec::RtmpCodec;
use super::sip_codec;

/// Default Speex encoder complexity (1..=10) for both directions
/// (`[media] speex_complexity`; the bridge takes it from
/// [`EncoderSettings::speex_complexity`]).
///
/// Chosen by PESQ on speech (`tests/peers/tools/pesq_path.py`,
/// BENCHMARKS.md "Speex and Opus settings by PESQ"): the cheapest
/// complexity within 0.05 MOS-LQO of the best at quality 8 on every path
/// (Speex WB alone, PCMU -> Speex WB, Speex NB). Complexity 2 is 0.057
/// below the best on Speex WB alone and 25 % cheaper; 4 costs about the
/// same as 3 on speech and scores no better.
///
/// On a pure tone the choice looks different: libspeex (1.2.1,
/// `nb_celp.c`) runs its open-loop pitch estimate only at complexity > 2,
/// and at 2 a 1 kHz tone comes out of Speex WB q8 at ~24 dB SNR with
/// sidebands ~50 Hz either side; 3 gives ~37 dB, 4 ~41 dB.
pub const SPEEX_COMPLEXITY: u8 = 3;

/// Default Opus encoder complexity (`[media] opus_complexity`), chosen by
/// PESQ on speech like [`SPEEX_COMPLEXITY`]: 8 is the cheapest within 0.05
/// MOS-LQO of the best (8..=10 score alike; 7 is 0.09 below, 5 0.43 below).
pub const OPUS_COMPLEXITY: u8 = 8;

/// Encoder settings from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderSettings {
    /// Speex quality 0..=10 (`[media] speex_quality`).
    pub speex_quality: u8,
    /// Speex complexity 1..=10 (`[media] speex_complexity`); values outside
    /// are clamped.
    pub speex_complexity: u8,
    /// Opus complexity 0..=10 (`[media] opus_complexity`).
    pub opus_complexity: u8,
}

impl Default for EncoderSettings {
    /// The `[media]` defaults: Speex quality 8 at [`SPEEX_COMPLEXITY`],
    /// Opus at [`OPUS_COMPLEXITY`].
    fn default() -> Self {
        Self {
            speex_quality: 8,
            speex_complexity: SPEEX_COMPLEXITY,
            opus_complexity: OPUS_COMPLEXITY,
        }
    }
}

/// Sample-rate conversion of mono PCM, keeping state across calls; the
/// output length of a stream is its input length x `to / from` (up to
/// one sample carried between calls).
pub trait Resample: Send {
    /// Converts `input`, appending to `out`.
    fn process(&mut self, input: &[i16], out: &mut Vec<i16>);
}

impl Resample for Resampler {
    fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        Resampler::process(self, input, out);
    }
}

/// A decoder with the concealment the codec offers: Opus can rebuild a
/// lost frame from the in-band FEC of the packet after it (RFC 6716
/// §2.1.7); the others conceal from their own history.
pub enum PcmDecoder {
    /// A codec without forward error correction.
    Plain(Box<dyn AudioDecoder>),
    /// Opus, with FEC recovery.
    Opus(Box<OpusDecoder>),
}

impl PcmDecoder {
    /// Decodes one payload, appending PCM to `out`.
    ///
    /// Errors: the codec's (a corrupt payload; what was decoded is kept).
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), MediaError> {
        let result = match self {
            PcmDecoder::Plain(d) => d.decode(payload, out),
            PcmDecoder::Opus(d) => d.decode(payload, out),
        };
        result.map_err(MediaError::from)
    }

    /// Appends exactly `samples` samples standing in for a lost payload;
    /// `next` is the payload after the lost one if it already arrived
    /// (Opus decodes its FEC copy of the lost frame from it).
    pub fn conceal(&mut self, samples: usize, next: Option<&[u8]>, out: &mut Vec<i16>) {
        let start = out.len();
        match self {
            PcmDecoder::Plain(d) => d.conceal(samples, out),
            PcmDecoder::Opus(d) => {
                let recovered = next.is_some_and(|next| d.decode_fec(next, samples, out).is_ok());
                if !recovered {
                    out.truncate(start);
                    d.conceal(samples, out);
                }
            }
        }
        // Hold every decoder to the requested length.
        out.resize(start + samples, 0);
    }
}

/// Builds codecs and resamplers for the bridge.
pub trait CodecFactory: Sync {
    /// Decoder of audio the RTMP client publishes.
    fn rtmp_decoder(&self, codec: RtmpCodec) -> Result<PcmDecoder, MediaError>;
    /// Encoder of audio sent to the RTMP client (one codec frame per call).
    fn rtmp_encoder(
        &self,
        codec: RtmpCodec,
        settings: EncoderSettings,
    ) -> Result<Box<dyn AudioEncoder>, MediaError>;
    /// Decoder of the negotiated SIP codec.
    fn sip_decoder(&self, codec: Codec) -> Result<PcmDecoder, MediaError>;
    /// Encoder of the negotiated SIP codec (one 20 ms frame per call).
    fn sip_encoder(
        &self,
        codec: Codec,
        settings: EncoderSettings,
    ) -> Result<Box<dyn AudioEncoder>, MediaError>;
    /// A resampler from `from_hz` to `to_hz`.
    fn resampler(&self, from_hz: u32, to_hz: u32) -> Result<Box<dyn Resample>, MediaError>;
}

/// The codecs crate's codecs and speexdsp resampler (quality 3, "VoIP").
#[derive(Debug, Clone, Copy, Default)]
pub struct RealCodecs;

impl CodecFactory for RealCodecs {
    fn rtmp_decoder(&self, codec: RtmpCodec) -> Result<PcmDecoder, MediaError> {
        let decoder: Box<dyn AudioDecoder> = match codec {
            RtmpCodec::Speex => Box::new(SpeexDecoder::new(SpeexMode::Wideband)?),
            RtmpCodec::Nellymoser(rate) => Box::new(NellymoserDecoder::new(rate.hz())?),
            RtmpCodec::G711(law) => Box::new(G711Decoder::new(law)),
            RtmpCodec::Opus => return sip_codec::decoder(Codec::Opus),
        };
        Ok(PcmDecoder::Plain(decoder))
    }

    fn rtmp_encoder(
        &self,
        codec: RtmpCodec,
        settings: EncoderSettings,
    ) -> Result<Box<dyn AudioEncoder>, MediaError> {
        Ok(match codec {
            RtmpCodec::Speex => Box::new(SpeexEncoder::new(SpeexEncoderConfig {
                quality: settings.speex_quality.min(10),
                complexity: settings.speex_complexity.clamp(1, 10),
                ..SpeexEncoderConfig::wideband()
            })?),
            RtmpCodec::Nellymoser(rate) => Box::new(NellymoserEncoder::new(rate.hz())?),
            RtmpCodec::G711(law) => Box::new(G711Encoder::new(law)),
            // The same 48 kHz mono, 20 ms, FEC encoder as SIP opus.
            RtmpCodec::Opus => return sip_codec::encoder(Codec::Opus, settings),
        })
    }

    fn sip_decoder(&self, codec: Codec) -> Result<PcmDecoder, MediaError> {
        sip_codec::decoder(codec)
    }

    fn sip_encoder(
        &self,
        codec: Codec,
        settings: EncoderSettings,
    ) -> Result<Box<dyn AudioEncoder>, MediaError> {
        sip_codec::encoder(codec, settings)
    }

    fn resampler(&self, from_hz: u32, to_hz: u32) -> Result<Box<dyn Resample>, MediaError> {
        Ok(Box::new(Resampler::voip(from_hz, to_hz)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 ms of a voiced-speech stand-in at 16 kHz.
    fn speech_like() -> Vec<i16> {
        (0..1600)
            .map(|i| {
                let t = f64::from(i) / 16000.0;
                let f0 = std::f64::consts::TAU * (140.0 + 200.0 * t) * t;
                let v: f64 = (1..=8)
                    .map(|k| (f0 * f64::from(k)).sin() / f64::from(k))
                    .sum();
                (v * 6000.0) as i16
            })
            .collect()
    }

    fn encode(encoder: &mut dyn AudioEncoder) -> Vec<u8> {
        let mut out = Vec::new();
        for frame in speech_like().chunks_exact(encoder.frame_samples()) {
            encoder.encode(frame, &mut out).unwrap();
        }
        out
    }

    fn direct(complexity: u8) -> Vec<u8> {
        let mut encoder = SpeexEncoder::new(SpeexEncoderConfig {
            quality: 8,
            complexity,
            ..SpeexEncoderConfig::wideband()
        })
        .unwrap();
        encode(&mut encoder)
    }

    #[test]
    fn speex_encoders_use_the_configured_complexity_in_both_directions() {
        for complexity in [1, 10] {
            let settings = EncoderSettings {
                speex_complexity: complexity,
                ..EncoderSettings::default()
            };
            let mut to_rtmp = RealCodecs.rtmp_encoder(RtmpCodec::Speex, settings).unwrap();
            let mut to_sip = RealCodecs.sip_encoder(Codec::Speex16k, settings).unwrap();
            assert_eq!(encode(to_rtmp.as_mut()), direct(complexity), "{complexity}");
            assert_eq!(encode(to_sip.as_mut()), direct(complexity), "{complexity}");
        }
        // The two settings really code differently, so the check above means something.
        assert_ne!(direct(1), direct(10));
    }

    #[test]
    fn out_of_range_complexity_is_clamped_not_refused() {
        for (given, used) in [(0, 1), (11, 10)] {
            let settings = EncoderSettings {
                speex_complexity: given,
                ..EncoderSettings::default()
            };
            let mut encoder = RealCodecs.rtmp_encoder(RtmpCodec::Speex, settings).unwrap();
            assert_eq!(encode(encoder.as_mut()), direct(used), "{given}");
        }
    }
}
