//! The media layer (sans-IO): RTP/RTCP sessions, the jitter buffer and the
//! per-call bridge between FLV audio on RTMP and RTP on SIP.
//!
//! See `README.md` in this folder for the feature matrix, a packet's path
//! through the bridge, and the RFCs each part follows.

mod error;
pub mod receiver;
pub mod jitter;
pub mod rtcp;
pub mod rtp;
pub mod timestamp;

pub use error::MediaError;
pub use receiver::{Received, ReceptionReport, RtpReceiver};
pub use rtp::{RtpIn, RtpSender};
pub use timestamp::RtpTimestamp;
