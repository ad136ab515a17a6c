//! Per-call stream names: which call a `publish`/`play` name belongs to.
//!
//! A call's status-4 event carries two names made of 128 random bits. Any
//! RTMP connection may publish to the `publish` name (its audio goes to the
//! call's far end) or play the `play` name (it receives the far end's
//! audio), which lets one-stream-per-connection libraries (librtmp, ffmpeg)
//! carry a call's media, and lets a monitor listen in.
//!
//! The registry also holds each call's players (subscribers): a repeated
//! `play` on the same NetStream is one subscriber, and a call has at most
//! `[limits] max_subscribers_per_call` of them.

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

/// One player of a call: its NetStream id and its connection's queue.
type Subscriber = (u32, mpsc::Sender<(u32, PlayAudio)>);

/// Why a play was not subscribed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// The call already has `max` players.
    #[error("this call already has {max} players")]
    TooMany { max: u32 },
}

/// The gateway-wide map of stream names to call media.
#[derive(Debug, Default)]
pub struct StreamRegistry {
    names: Mutex<HashMap<(Direction, String), MediaHandle>>,
    /// Players per call id.
    subscribers: Mutex<HashMap<String, Vec<Subscriber>>>,
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

    /// Removes every name and player of `call_id`.
    pub fn remove_call(&self, call_id: &str) {
        if let Ok(mut m) = self.names.lock() {
            m.retain(|_, h| h.call_id != call_id);
        }
        if let Ok(mut m) = self.subscribers.lock() {
            m.remove(call_id);
        }
    }

    /// Makes NetStream `stream_id` (whose audio goes to `queue`) a player
    /// of `media`'s call. Already a player (a repeated `play`): nothing
    /// changes. Players whose connection has gone are forgotten first.
    ///
    /// # Errors
    /// [`SubscribeError::TooMany`] when the call has `max` players.
    pub fn subscribe(
        &self,
        media: &MediaHandle,
        stream_id: u32,
        queue: mpsc::Sender<(u32, PlayAudio)>,
        max: u32,
    ) -> Result<(), SubscribeError> {
        let Ok(mut all) = self.subscribers.lock() else {
            return Ok(());
        };
        let players = all.entry(media.call_id.clone()).or_default();
        players.retain(|(_, q)| !q.is_closed());
        if players
            .iter()
            .any(|(id, q)| *id == stream_id && q.same_channel(&queue))
        {
            return Ok(());
        }
        if players.len() >= max as usize {
            return Err(SubscribeError::TooMany { max });
        }
        players.push((stream_id, queue.clone()));
        media.subscribe(stream_id, queue);
        Ok(())
    }

    /// Players of `call_id` now (connections that have gone excluded).
    pub fn subscriber_count(&self, call_id: &str) -> usize {
        self.subscribers
            .lock()
            .ok()
            .and_then(|m| {
                m.get(call_id)
                    .map(|v| v.iter().filter(|(_, q)| !q.is_closed()).count())
            })
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(call_id: &str) -> (MediaHandle, mpsc::Receiver<MediaCommand>) {
        let (tx, rx) = mpsc::channel(64);
        let h = MediaHandle {
            call_id: call_id.into(),
            tx,
            stop: tokio_util::sync::CancellationToken::new(),
        };
        (h, rx)
    }

    fn subscribes(rx: &mut mpsc::Receiver<MediaCommand>) -> usize {
        let mut n = 0;
        while let Ok(c) = rx.try_recv() {
            n += usize::from(matches!(c, MediaCommand::Subscribe { .. }));
        }
        n
    }

    #[test]
    fn repeated_play_is_one_subscriber_and_players_are_bounded() {
        let reg = StreamRegistry::default();
        let (h, mut rx) = handle("c1");
        let (q, _qr) = mpsc::channel(4);
        for _ in 0..100 {
            reg.subscribe(&h, 1, q.clone(), 3).unwrap();
        }
        assert_eq!(subscribes(&mut rx), 1);
        reg.subscribe(&h, 2, q.clone(), 3).unwrap();
        let (other, other_rx) = mpsc::channel(4);
        reg.subscribe(&h, 1, other.clone(), 3).unwrap();
        assert_eq!(
            reg.subscribe(&h, 3, q.clone(), 3),
            Err(SubscribeError::TooMany { max: 3 })
        );
        // A player's connection goes away: its place frees.
        drop(other_rx);
        reg.subscribe(&h, 3, q.clone(), 3).unwrap();
        assert_eq!(reg.subscriber_count("c1"), 3);
        reg.remove_call("c1");
        assert_eq!(reg.subscriber_count("c1"), 0);
    }
}
