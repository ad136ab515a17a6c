//! Publish/play routing: which call a NetStream's audio goes to or comes
//! from (part of [`ConnectionCore`]).

use super::ConnectionCore;
use crate::call::connection::effect::{AudioTarget, Effect};
use crate::sip::event::CallId;

impl ConnectionCore {
    /// A call's publish name, or any name on a connection with a call
    /// (its own); anything else, or a call that already has a publisher,
    /// is `NetStream.Publish.BadName`.
    pub(super) fn on_publish(&mut self, stream_id: u32, named: Option<Result<CallId, String>>) {
        let target = match named {
            Some(Ok(_)) => AudioTarget::Named,
            Some(Err(reason)) => {
                self.publishing.remove(&stream_id);
                self.out
                    .push_back(Effect::RejectPublish { stream_id, reason });
                return;
            }
            None if self.call.is_some() => AudioTarget::Own,
            None => {
                self.publishing.remove(&stream_id);
                self.out.push_back(Effect::RejectPublish {
                    stream_id,
                    reason: "no call has this name".into(),
                });
                return;
            }
        };
        self.publishing.insert(stream_id, target);
        self.out.push_back(Effect::AcceptPublish(stream_id));
    }

    /// A call's play name (subscribed by the driver), or any name on a
    /// connection with a call (its own); anything else is
    /// `NetStream.Play.StreamNotFound`.
    pub(super) fn on_play(&mut self, stream_id: u32, named: Option<Result<CallId, String>>) {
        match named {
            Some(Ok(call_id)) => {
                self.named_play.insert(stream_id, call_id);
                self.out.push_back(Effect::AcceptPlay(stream_id));
            }
            Some(Err(reason)) => self.out.push_back(Effect::RejectPlay { stream_id, reason }),
            None if self.call.is_some() => self.out.push_back(Effect::SubscribeOwn(stream_id)),
            None => self.out.push_back(Effect::RejectPlay {
                stream_id,
                reason: "no call has this name".into(),
            }),
        }
    }

    pub(super) fn on_own_subscribed(&mut self, stream_id: u32, result: Result<(), String>) {
        match result {
            Ok(()) => {
                if !self.own_play.contains(&stream_id) {
                    self.own_play.push(stream_id);
                }
                self.out.push_back(Effect::AcceptPlay(stream_id));
            }
            Err(reason) => self.out.push_back(Effect::RejectPlay { stream_id, reason }),
        }
    }
}
