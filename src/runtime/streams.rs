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
use tokio::sync::{mpsc, watch};

use crate::media::codec::Negotiated;

/// Audio toward an RTMP client: one FLV audio tag body (header byte +
/// codec payload) and its RTMP timestamp in ms.
#[derive(Debug, Clone)]
pub struct PlayAudio {
    /// RTMP timestamp of the message, in ms (wrapping at 2^32).
    pub timestamp_ms: u32,
    /// The FLV audio tag body: header byte(s) then the codec payload.
    pub body: Bytes,
}

/// What a connection may send to a call's media (on its media worker).
#[derive(Debug)]
pub enum MediaCommand {
    /// An audio message published by a client: RTMP timestamp (ms) and FLV body.
    Audio {
        /// RTMP timestamp of the message, in ms.
        timestamp_ms: u32,
        /// The FLV audio tag body.
        body: Bytes,
    },
    /// Start sending the far end's audio to this queue, tagged with the
    /// subscriber's NetStream id. The media worker drops audio for a
    /// subscriber whose queue is full (a slow client), so latency cannot
    /// build up behind it.
    Subscribe {
        /// The subscriber's NetStream id on its connection.
        stream_id: u32,
        /// The connection's bounded play queue (`[media] rtmp_out_max_ms`).
        queue: mpsc::Sender<(u32, PlayAudio)>,
    },
    /// Send DTMF digits to the far end (RFC 4733, or SIP INFO when the far
    /// end has no telephone-event).
    Dtmf {
        /// The digits (`0-9 * # A-D`, validated, at most 32).
        digits: String,
        /// Duration of each digit, in ms.
        duration_ms: u32,
    },
}

/// A handle to a call's media (on its media worker).
#[derive(Debug, Clone)]
pub struct MediaHandle {
    /// The call's id (its SIP Call-ID, or the echo call's generated id).
    pub call_id: String,
    /// The call's bounded command queue (its worker takes it each tick).
    pub tx: mpsc::Sender<MediaCommand>,
    /// Cancelling it ends the call's media (at its worker's next tick).
    pub stop: tokio_util::sync::CancellationToken,
    /// The latest renegotiated media (one slot, latest wins), apart from
    /// the audio queue so that an update is never dropped behind audio:
    /// see [`MediaHandle::update`]. `None` until the first update.
    pub updates: watch::Sender<Option<Negotiated>>,
    /// Who publishes into the call now: one NetStream at a time.
    pub publisher: super::publisher::PublisherSlot,
    /// The call's media counters, refreshed about once a second and when
    /// it ends (for the status API and call detail records).
    pub stats: watch::Receiver<MediaSnapshot>,
}

/// What a call's media last reported about its call.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MediaSnapshot {
    /// The bridge's counters.
    pub stats: crate::media::bridge::BridgeStats,
    /// The codec the client publishes, once it sent audio.
    pub rtmp_in: Option<crate::media::RtmpCodec>,
}

/// A fresh update slot for a [`MediaHandle`] and the worker's end of it.
pub fn update_channel() -> (
    watch::Sender<Option<Negotiated>>,
    watch::Receiver<Option<Negotiated>>,
) {
    watch::channel(None)
}

impl MediaHandle {
    /// Sends published audio; dropped (never blocks) when the call's worker is behind.
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

    /// Hands the call's media worker a new offer/answer outcome (a re-INVITE
    /// or UPDATE, hold/resume, the 200 after a 183's early media; RFC 3264
    /// §8): direction, remote RTP/RTCP address, rtcp-mux, codec and
    /// payload types. The worker adopts it without ending the call or its
    /// RTMP streams: same SSRC, continuing RTP sequence numbers and RTMP
    /// timestamps (see `media::Bridge::update`).
    ///
    /// Never blocks and is never lost: it does not use the bounded audio
    /// queue but a one-slot channel where the latest update wins. Two
    /// updates given before the worker's next tick are applied as the second
    /// alone, which is what the far end agreed to last; an update equal to
    /// what the call runs (the 200 repeating a 183's SDP) changes nothing.
    /// After the call's media has ended it is ignored.
    pub fn update(&self, negotiated: Negotiated) {
        self.updates.send_replace(Some(negotiated));
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
    /// A `publish` name: the client's audio goes to the far end.
    Publish,
    /// A `play` name: the client receives the far end's audio.
    Play,
}

/// Tells a player's connection that the call it plays ended: the
/// NetStream id and the call id (Call-ID). One message per subscription,
/// sent once when the call is removed, so the channel holds at most as
/// many messages as the connection has subscriptions.
pub type PlayEndedSender = std::sync::Arc<dyn PlayEnded>;

/// Where a player's connection hears that the call it plays ended (its
/// inbox); never blocks.
pub trait PlayEnded: Send + Sync + std::fmt::Debug {
    /// NetStream `stream_id`'s call `call_id` ended.
    fn ended(&self, stream_id: u32, call_id: &str);
}

impl PlayEnded for mpsc::UnboundedSender<(u32, String)> {
    fn ended(&self, stream_id: u32, call_id: &str) {
        let _ = self.send((stream_id, call_id.to_string()));
    }
}

/// One player of a call: its NetStream id, its connection's audio queue
/// and where to say the call ended.
#[derive(Debug)]
struct Subscriber {
    stream_id: u32,
    queue: mpsc::Sender<(u32, PlayAudio)>,
    ended: PlayEndedSender,
}

/// Why a play was not subscribed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// The call already has `max` players.
    #[error("this call already has {max} players")]
    TooMany {
        /// `[limits] max_subscribers_per_call`.
        max: u32,
    },
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

    /// Removes every name and player of `call_id`, telling each player's
    /// connection (on its [`PlayEndedSender`]) that the call ended, so it
    /// can send `NetStream.Play.Stop` and StreamEOF to the player.
    pub fn remove_call(&self, call_id: &str) {
        if let Ok(mut m) = self.names.lock() {
            m.retain(|_, h| h.call_id != call_id);
        }
        let players = self
            .subscribers
            .lock()
            .ok()
            .and_then(|mut m| m.remove(call_id))
            .unwrap_or_default();
        for p in players {
            p.ended.ended(p.stream_id, call_id);
        }
    }

    /// Makes NetStream `stream_id` (whose audio goes to `queue`) a player
    /// of `media`'s call; `ended` hears `(stream_id, call_id)` when the call
    /// is removed. Already a player (a repeated `play`): nothing changes.
    /// Players whose connection has gone are forgotten first.
    ///
    /// # Errors
    /// [`SubscribeError::TooMany`] when the call has `max` players.
    pub fn subscribe(
        &self,
        media: &MediaHandle,
        stream_id: u32,
        queue: mpsc::Sender<(u32, PlayAudio)>,
        ended: PlayEndedSender,
        max: u32,
    ) -> Result<(), SubscribeError> {
        let Ok(mut all) = self.subscribers.lock() else {
            return Ok(());
        };
        let players = all.entry(media.call_id.clone()).or_default();
        players.retain(|p| !p.queue.is_closed());
        if players
            .iter()
            .any(|p| p.stream_id == stream_id && p.queue.same_channel(&queue))
        {
            return Ok(());
        }
        if players.len() >= max as usize {
            return Err(SubscribeError::TooMany { max });
        }
        players.push(Subscriber {
            stream_id,
            queue: queue.clone(),
            ended,
        });
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
                    .map(|v| v.iter().filter(|p| !p.queue.is_closed()).count())
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
            updates: update_channel().0,
            publisher: Default::default(),
            stats: watch::channel(MediaSnapshot::default()).1,
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
        let (e, _er) = mpsc::unbounded_channel::<(u32, String)>();
        let e: PlayEndedSender = std::sync::Arc::new(e);
        for _ in 0..100 {
            reg.subscribe(&h, 1, q.clone(), e.clone(), 3).unwrap();
        }
        assert_eq!(subscribes(&mut rx), 1);
        reg.subscribe(&h, 2, q.clone(), e.clone(), 3).unwrap();
        let (other, other_rx) = mpsc::channel(4);
        reg.subscribe(&h, 1, other.clone(), e.clone(), 3).unwrap();
        assert_eq!(
            reg.subscribe(&h, 3, q.clone(), e.clone(), 3),
            Err(SubscribeError::TooMany { max: 3 })
        );
        // A player's connection goes away: its place frees.
        drop(other_rx);
        reg.subscribe(&h, 3, q.clone(), e.clone(), 3).unwrap();
        assert_eq!(reg.subscriber_count("c1"), 3);
        reg.remove_call("c1");
        assert_eq!(reg.subscriber_count("c1"), 0);
    }

    #[test]
    fn removing_a_call_tells_each_live_player_once() {
        let reg = StreamRegistry::default();
        let (h, _rx) = handle("c1");
        let (q1, _q1r) = mpsc::channel(4);
        let (q2, q2r) = mpsc::channel(4);
        let (e1, mut e1r) = mpsc::unbounded_channel::<(u32, String)>();
        let (e2, mut e2r) = mpsc::unbounded_channel::<(u32, String)>();
        let e1: PlayEndedSender = std::sync::Arc::new(e1);
        let e2: PlayEndedSender = std::sync::Arc::new(e2);
        reg.insert("pub", "play", h.clone());
        reg.subscribe(&h, 1, q1.clone(), e1.clone(), 8).unwrap();
        reg.subscribe(&h, 4, q1, e1, 8).unwrap();
        reg.subscribe(&h, 2, q2, e2, 8).unwrap();
        drop(q2r); // this player's connection has gone
        reg.remove_call("c1");
        let mut told = vec![];
        while let Ok(m) = e1r.try_recv() {
            told.push(m);
        }
        assert_eq!(told, [(1, "c1".to_string()), (4, "c1".to_string())]);
        // A gone connection's entry is still told; its receiver decides.
        assert_eq!(e2r.try_recv().ok(), Some((2, "c1".to_string())));
        assert!(reg.get(Direction::Play, "play").is_none());
        reg.remove_call("c1");
        assert!(e1r.try_recv().is_err(), "told once");
    }
}
