//! The SIP side's codecs: encoder and decoder for each negotiated audio
//! codec, at [`Codec::audio_rate`], 20 ms per encoded frame.
//!
//! | codec | PCM rate | frame | RTP ticks per frame |
//! |---|---|---|---|
//! | speex/16000 | 16000 Hz | 320 | 320 |
//! | speex/8000 | 8000 Hz | 160 | 160 |
//! | PCMU, PCMA | 8000 Hz | 160 | 160 |
//! | G722/8000 | 16000 Hz | 320 | 160 (RFC 3551 §4.5.2) |
//! | opus/48000/2 | 48000 Hz mono | 960 | 960 (RFC 7587 §4.1) |

use rtmp2sip_codecs::{
    AudioEncoder, G711Decoder, G711Encoder, G711Law, G722Decoder, G722Encoder, OpusDecoder,
    OpusEncoder, OpusEncoderConfig, SpeexDecoder, SpeexEncoder, SpeexEncoderConfig, SpeexMode,
};

use crate::media::codec::Codec;

use super::super::MediaError;
use super::factory::{EncoderSettings, PcmDecoder};

/// Opus bit rate we send, in bit/s: transparent wideband voice, with room
/// for in-band FEC (RFC 7587 §3.1.1 suggests 20-40 kbit/s for fullband
/// speech).
pub const OPUS_BITRATE: u32 = 32_000;

/// Expected loss we tell the Opus encoder, in percent: libopus adds in-band
/// FEC only when this is above zero.
pub const OPUS_LOSS_PERCENT: u8 = 10;

/// RTP ticks for `samples` samples of `codec` (`samples x clock / audio
/// rate`: G.722 320 -> 160).
pub fn ticks_for(codec: Codec, samples: usize) -> u32 {
    let ticks =
        samples as u64 * u64::from(codec.clock_rate()) / u64::from(codec.audio_rate().max(1));
    u32::try_from(ticks).unwrap_or(u32::MAX)
}

/// Samples of `codec` audio in `ticks` RTP ticks (the inverse of [`ticks_for`]).
pub fn samples_for(codec: Codec, ticks: u32) -> usize {
    (u64::from(ticks) * u64::from(codec.audio_rate()) / u64::from(codec.clock_rate().max(1)))
        as usize
}

fn law(codec: Codec) -> Option<G711Law> {
    match codec {
        Codec::Pcmu => Some(G711Law::Pcmu),
        Codec::Pcma => Some(G711Law::Pcma),
        _ => None,
    }
}

/// The encoder of `codec`.
///
/// Errors: [`MediaError::Config`] for telephone-event,
/// [`MediaError::Codec`] if the codec fails to start.
pub fn encoder(
    codec: Codec,
    settings: EncoderSettings,
) -> Result<Box<dyn AudioEncoder>, MediaError> {
    let speex = |mode| SpeexEncoderConfig {
        mode,
        quality: settings.speex_quality.min(10),
        complexity: settings.speex_complexity.wideband.clamp(1, 10),
        ..SpeexEncoderConfig::wideband()
    };
    Ok(match codec {
        Codec::Speex16k => Box::new(SpeexEncoder::new(speex(SpeexMode::Wideband))?),
        Codec::Speex8k => Box::new(SpeexEncoder::new(speex(SpeexMode::Narrowband))?),
        Codec::Pcmu | Codec::Pcma => match law(codec) {
            Some(law) => Box::new(G711Encoder::new(law)),
            None => return Err(MediaError::Config("no encoder for this SIP codec")),
        },
        Codec::G722 => Box::new(G722Encoder::new()?),
        Codec::Opus => Box::new(OpusEncoder::new(OpusEncoderConfig {
            sample_rate: Codec::Opus.audio_rate(),
            complexity: settings.opus_complexity.min(10),
            bitrate: Some(OPUS_BITRATE),
            fec: true,
            packet_loss_percent: OPUS_LOSS_PERCENT,
        })?),
        _ => return Err(MediaError::Config("no encoder for this SIP codec")),
    })
}

/// The decoder of `codec`.
///
/// Errors: as [`encoder`].
pub fn decoder(codec: Codec) -> Result<PcmDecoder, MediaError> {
    Ok(match codec {
        Codec::Speex16k => PcmDecoder::Plain(Box::new(SpeexDecoder::new(SpeexMode::Wideband)?)),
        Codec::Speex8k => PcmDecoder::Plain(Box::new(SpeexDecoder::new(SpeexMode::Narrowband)?)),
        Codec::Pcmu | Codec::Pcma => match law(codec) {
            Some(law) => PcmDecoder::Plain(Box::new(G711Decoder::new(law))),
            None => return Err(MediaError::Config("no decoder for this SIP codec")),
        },
        Codec::G722 => PcmDecoder::Plain(Box::new(G722Decoder::new()?)),
        Codec::Opus => PcmDecoder::Opus(Box::new(OpusDecoder::new(Codec::Opus.audio_rate())?)),
        _ => return Err(MediaError::Config("no decoder for this SIP codec")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::pipeline::factory::SpeexComplexity;

    #[test]
    fn ticks_follow_the_rtp_clock() {
        assert_eq!(ticks_for(Codec::G722, 320), 160);
        assert_eq!(ticks_for(Codec::Opus, 960), 960);
        assert_eq!(ticks_for(Codec::Pcmu, 160), 160);
        assert_eq!(ticks_for(Codec::Speex16k, 320), 320);
        assert_eq!(samples_for(Codec::G722, 160), 320);
        assert_eq!(samples_for(Codec::Opus, 960), 960);
    }

    #[test]
    fn every_audio_codec_has_a_20_ms_encoder_and_a_decoder() {
        let settings = EncoderSettings {
            speex_quality: 8,
            speex_complexity: SpeexComplexity::default(),
            opus_complexity: 5,
            ..EncoderSettings::default()
        };
        for codec in Codec::ALL.into_iter().filter(|c| c.is_audio()) {
            let enc = encoder(codec, settings).unwrap();
            assert_eq!(enc.sample_rate(), codec.audio_rate(), "{codec}");
            assert_eq!(
                enc.frame_samples() as u32,
                codec.audio_rate() / 50,
                "{codec}: 20 ms"
            );
            assert!(decoder(codec).is_ok());
        }
        assert!(matches!(
            encoder(Codec::TelephoneEvent, settings),
            Err(MediaError::Config(_))
        ));
        assert!(decoder(Codec::TelephoneEvent).is_err());
    }
}
