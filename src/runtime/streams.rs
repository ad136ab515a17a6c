//! Per-call stream names: which call a `publish`/`play` name belongs to.
//!
//! A call's status-4 event carries two names made of 128 random bits. Any
//! RTMP connection may publish to the `publish` name (its audio goes to the
//! call's far end) or play the `play` name (it receives the far end's
//! audio), which lets one-stream-per-connection libraries (librtmp, ffmpeg)
//! carry a call's media, and lets a monitor listen in.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::mpsc;

/// Audio toward an RTMP client: one FLV audio tag body (header byte +
/// codec payload) and its RTMP timestamp in ms.
#[derive(Debug, Clone)]
pub struct PlayAudio {
    pub timestamp_ms: u32,
    pub body: Bytes,
}

/// What a connection may send to a call's media task.
#[derive(Debug)]
pub enum MediaCommand {
    /// An audio message published by a client: RTMP timestamp (ms) and FLV body.
    Audio { timestamp_ms: u32, body: Bytes },
    /// Start sending the far end's audio to this queue, tagged with the
    /// subscriber's NetStream id. The media task drops audio for a
    /// subscriber whose queue is full (a slow client), so latency cannot
    /// build up behind it.
    Subscribe {
        stream_id: u32,
        queue: mpsc::Sender<(u32, PlayAudio)>,
    },
    /// Send DTMF digits to the far end (RFC 4733, or SIP INFO when the far
    /// end has no telephone-event).
    Dtmf { digits: String, duration_ms: u32 },
}

/// A handle to a call's media task.
#[derive(Debug, Clone)]
pub struct MediaHandle {
    pub call_id: String,
    pub tx: mpsc::Sender<MediaCommand>,
    /// Cancelling it ends the media task.
    pub stop: tokio_util::sync::CancellationToken,
}

impl MediaHandle {
    /// Sends published audio; dropped (never blocks) when the task is behind.
    pub fn send_audio(&self, timestamp_ms: u32, body: Bytes) {
        let _ = self.tx.try_send(MediaCommand::Audio { timestamp_ms, body });
    }

    /// Queues DTMF digits (already validated) for the far end.
    pub fn send_dtmf(&self, digits: &str, duration_ms: u32) {
        let _ = self.tx.try_send(MediaCommand::Dtmf {
            digits: digits.to_string(),
            duration_ms,
        });
    }

    /// Subscribes a play queue.
    pub fn subscribe(&self, stream_id: u32, queue: mpsc::Sender<(u32, PlayAudio)>) {
        let _ = self
            .tx
            .try_send(MediaCommand::Subscribe { stream_id, queue });
    }
}

/// Which way a name is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Publish,
    Play,
}

/// The gateway-wide map of stream names to call media.
#[derive(Debug, Default)]
pub struct StreamRegistry {
    names: Mutex<HashMap<(Direction, String), MediaHandle>>,
}

impl StreamRegistry {
    /// Binds a call's two names.
    pub fn insert(&self, publish: &str, play: &str, media: MediaHandle) {
        if let Ok(mut m) = self.names.lock() {
            m.insert((Direction::Publish, publish.to_string()), media.clone());
            m.insert((Direction::Play, play.to_string()), media);
        }
    }

    /// Looks a name up.
    pub fn get(&self, dir: Direction, name: &str) -> Option<MediaHandle> {
        self.names
            .lock()
            .ok()
            .and_then(|m| m.get(&(dir, name.to_string())).cloned())
    }

    /// Removes every name of `call_id`.
    pub fn remove_call(&self, call_id: &str) {
        if let Ok(mut m) = self.names.lock() {
            m.retain(|_, h| h.call_id != call_id);
        }
    }
}
