//! The bridge's audio paths: which codecs run between the RTMP client and
//! the SIP peer, and the re-framing between them.
//!
//! - [`rtmp_codec`]: the client's codec from its FLV header byte
//!   (Speex, Nellymoser at 8/11.025/16/22.05/44.1 kHz, G.711), the header
//!   byte we send, and [`RtmpOut`].
//! - [`sip_codec`]: encoder and decoder of each SIP codec; RTP ticks per
//!   sample count.
//! - [`factory`]: the [`CodecFactory`] the bridge builds its halves with.
//! - [`transcoder`]: one generic half, decode -> resample -> encode.
//! - [`to_sip`], [`to_rtmp`]: the two directions, passthrough where the
//!   two sides carry the same codec.
//! - [`reframe`]: bounded PCM FIFO and the G.711 byte re-chunker.
//! - [`g711_conceal`]: repeat-and-fade for lost packets of G.711 passthrough.

pub mod factory;
pub mod g711_conceal;
pub mod reframe;
pub mod rtmp_codec;
pub mod sip_codec;
pub mod switch_limit;
pub mod to_rtmp;
pub mod to_sip;
pub mod transcoder;

pub use factory::{
    CodecFactory, EncoderSettings, RealCodecs, SpeexComplexity, SPEEX_MODE_NARROWBAND,
    SPEEX_QUALITY_NARROWBAND,
};
pub use rtmp_codec::{NellyRate, RtmpCodec, RtmpOut, RtmpPayload, RTMP_SPEEX_HEADER};
pub use to_rtmp::{opus_sequence_start, RtmpBody, ToRtmp};
pub use to_sip::ToSip;

#[cfg(test)]
#[path = "../pipeline_tests.rs"]
pub(crate) mod tests;
