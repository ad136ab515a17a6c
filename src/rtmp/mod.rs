//! RTMP transport layer (sans-IO): handshake, chunk stream, message types.
//!
//! Implements Adobe's "RTMP Specification 1.0" (December 2012) plus the
//! digest ("complex") handshake used by Flash Player 9+, ffmpeg and librtmp.
//! Nothing here touches sockets or clocks: the driver feeds received bytes
//! into [`handshake::ServerHandshake`] and then [`chunk::ChunkReader`], and
//! writes what [`handshake::ServerHandshake`] and [`chunk::ChunkWriter`]
//! produce. See `README.md` beside this file for the feature matrix.

pub mod chunk;
pub mod error;
pub mod handshake;
pub mod message;
pub use crate::time;

// Added by the lead (NetConnection/NetStream session and tokio driver):
pub mod session;
// pub mod server;

pub use chunk::{ChunkLimits, ChunkReader, ChunkWriter};
pub use error::{ErrorKind, RtmpError};
pub use handshake::ServerHandshake;
pub use message::Message;
pub use time::RtmpTimestamp;
