#![warn(missing_docs)]
//! Audio codecs for rtmp2sip.
//!
//! Every codec sits behind [`AudioEncoder`] / [`AudioDecoder`], working on
//! 16-bit signed mono PCM at the codec's own sample rate. Nothing here panics
//! on network input: decoders return [`CodecError`] for bad bytes.
//!
//! | module | codec | rate | frame (20 ms) |
//! |---|---|---|---|
//! | [`speex`] | Speex wideband / narrowband (libspeex 1.2.1, system library) | 16000 / 8000 Hz | 320 / 160 samples |
//! | [`g711`] | G.711 PCMU / PCMA (ours) | 8000 Hz | 160 samples |
//! | [`g722`] | G.722 64 kbit/s (`ezk-g722`, RTP clock 8000 Hz) | 16000 Hz | 320 samples |
//! | [`opus`] | Opus, mono VoIP, with FEC (libopus, RTP clock 48000 Hz) | 8000..=48000 Hz | rate / 50 samples |
//! | [`nellymoser`] | Nellymoser Asao (ours; FLV sound formats 4, 5, 6) | 8000, 11025, 16000, 22050, 44100 Hz | 256 samples = 64 bytes |
//! | [`resample`] | speexdsp resampler (libspeexdsp 1.2.1, system library) | 8000..=48000 Hz | any |
//!
//! The only `unsafe` code is in the libspeex wrapper `speex/ffi.rs` and the
//! libspeexdsp resampler wrapper `resample/ffi.rs` (libopus is reached
//! through the safe `opus` crate).

pub mod conceal;
pub mod g711;
pub mod g722;
pub mod nellymoser;
pub mod opus;
pub mod pitch_conceal;
pub mod resample;
pub mod speex;

pub use self::opus::{OpusDecoder, OpusEncoder, OpusEncoderConfig};
pub use g711::{G711Decoder, G711Encoder, G711Law};
pub use g722::{G722Decoder, G722Encoder};
pub use nellymoser::{NellymoserDecoder, NellymoserEncoder};
pub use pitch_conceal::PitchRepeat;
pub use resample::Resampler;
pub use speex::{
    is_speex_header_packet, speex_frame_count, SpeexDecoder, SpeexEncoder, SpeexEncoderConfig,
    SpeexMode,
};

use thiserror::Error;

/// Errors of the codec layer.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// The payload could not be decoded (peer misbehaviour).
    #[error("invalid payload: {0}")]
    InvalidPayload(&'static str),
    /// The caller passed a frame of the wrong length (local misuse).
    #[error("wrong frame length: expected {expected} samples, got {got}")]
    FrameLength {
        /// The encoder's `frame_samples()` (e.g. 320 for 20 ms at 16000 Hz).
        expected: usize,
        /// The length of the frame passed, in samples.
        got: usize,
    },
    /// The output buffer is too small (local misuse).
    #[error("output buffer too small: need {need}, have {have}")]
    OutputTooSmall {
        /// Room needed, in elements of the buffer (samples for PCM).
        need: usize,
        /// Room available, in the same unit.
        have: usize,
    },
    /// The underlying C library failed to initialise.
    #[error("codec initialisation failed: {0}")]
    Init(&'static str),
    /// A sample rate the component does not support (local misuse).
    #[error("unsupported sample rate: {0} Hz")]
    UnsupportedRate(u32),
    /// A setting out of its range, e.g. Speex quality 11 (local misuse).
    #[error("invalid codec setting: {0}")]
    InvalidConfig(&'static str),
}

/// Encodes fixed-size frames of PCM into one codec payload each.
pub trait AudioEncoder: Send {
    /// Sample rate of the PCM input, in Hz.
    fn sample_rate(&self) -> u32;
    /// Samples per frame the encoder expects (e.g. 320 for Speex WB 20 ms).
    fn frame_samples(&self) -> usize;
    /// Encodes exactly `frame_samples()` samples, appending the payload to `out`.
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError>;
}

/// Decodes codec payloads into PCM.
pub trait AudioDecoder: Send {
    /// Sample rate of the PCM output, in Hz.
    fn sample_rate(&self) -> u32;
    /// Decodes one payload (which may hold several frames), appending PCM to `out`.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError>;
    /// Produces `samples` samples of concealment for a lost frame, appending to `out`.
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>);
}
