//! The media layer (sans-IO): RTP/RTCP sessions, the jitter buffer and the
//! per-call bridge between FLV audio on RTMP and RTP on SIP.
//!
//! See `README.md` in this folder for the feature matrix, a packet's path
//! through the bridge, and the RFCs each part follows.

pub mod bridge;
mod bridge_types;
pub mod budget;
mod clock;
pub mod codec;
pub mod delay_hist;
pub mod dtmf;
pub mod dtmf_send;
mod error;
pub mod jitter;
pub mod latch;
pub mod load;
mod pipeline;
pub mod receiver;
pub mod rtcp;
pub mod rtp;
pub mod srtp;
pub mod timestamp;

#[cfg(test)]
mod bridge_latch_tests;
#[cfg(test)]
mod bridge_update_tests;
#[cfg(test)]
mod codec_tests;
#[cfg(test)]
mod matrix_tests;
#[cfg(test)]
mod opus_tests;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod timing_tests;

pub use bridge::{
    Bridge, BridgeConfig, BridgeStats, MediaChange, MediaEvent, RtmpAudio, Transmit, TransmitKind,
};
pub use codec::{Codec, Direction, Negotiated, UnknownCodec};
pub use error::MediaError;
pub use jitter::{JitterBuffer, JitterConfig, Playout};
pub use latch::{Latch, LatchMode};
pub use pipeline::{
    NellyRate, RtmpCodec, RtmpOut, SpeexComplexity, SPEEX_MODE_NARROWBAND, SPEEX_QUALITY_NARROWBAND,
};
pub use receiver::{Received, ReceptionReport, RtpReceiver};
pub use rtp::{RtpIn, RtpSender};
pub use srtp::{SrtpKey, SrtpParams, SrtpSession, SrtpSuite};
pub use timestamp::RtpTimestamp;
