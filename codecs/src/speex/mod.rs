//! Speex narrowband and wideband (the system's libspeex 1.2.1, through our
//! own FFI wrapper `ffi.rs`).
//!
//! - Wideband: 16 kHz, 320 samples (20 ms) per frame; what Flash Player
//!   publishes (FLV SoundFormat 11) and what RFC 5574 calls speex/16000.
//! - Narrowband: 8 kHz, 160 samples (20 ms) per frame; speex/8000.
//!
//! A payload (one RTMP audio message after its FLV byte, or one RTP
//! payload, RFC 5574 section 3) holds one or more frames packed bit after
//! bit, optionally padded with a terminator. [`SpeexDecoder`] decodes them
//! all; [`speex_frame_count`] counts them without decoding. GStreamer sends
//! Ogg Speex header and comment packets first: see
//! [`is_speex_header_packet`].

mod decoder;
mod encoder;
mod ffi;
mod frames;
mod header;

pub use decoder::SpeexDecoder;
pub use encoder::{SpeexEncoder, SpeexEncoderConfig};
pub use ffi::MAX_PAYLOAD_BYTES;
pub use frames::speex_frame_count;
pub use header::{is_speex_header_packet, SpeexHeader, SPEEX_HEADER_LEN, SPEEX_HEADER_MAGIC};

/// Most frames decoded or counted in one payload (640 ms of wideband audio).
pub const MAX_FRAMES_PER_PAYLOAD: usize = 32;

/// Speex band mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpeexMode {
    /// 8 kHz, 160 samples per 20 ms frame.
    Narrowband,
    /// 16 kHz, 320 samples per 20 ms frame.
    Wideband,
}

impl SpeexMode {
    /// Sample rate, in Hz.
    pub fn sample_rate(self) -> u32 {
        match self {
            Self::Narrowband => 8000,
            Self::Wideband => 16000,
        }
    }

    /// Samples per 20 ms frame.
    pub fn frame_samples(self) -> usize {
        match self {
            Self::Narrowband => 160,
            Self::Wideband => 320,
        }
    }
}
