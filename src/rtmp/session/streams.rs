//! The NetStreams of one connection (RTMP spec 1.0, 7.2.2).

use std::collections::BTreeMap;

/// What a NetStream is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRole {
    /// The client sends audio on the stream (`publish`).
    Publishing,
    /// The client receives audio on the stream (`play`).
    Playing,
}

/// One NetStream's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetStream {
    /// Created, neither publishing nor playing.
    Idle,
    /// publish/play asked, waiting for the driver's answer.
    Pending {
        /// What was asked.
        role: StreamRole,
        /// The stream name the client gave (bounded by the AMF limits).
        name: String,
    },
    /// Publishing or playing `name`.
    Active {
        /// What the stream does.
        role: StreamRole,
        /// The stream name.
        name: String,
    },
}

/// Message stream ids 1.. of one connection.
#[derive(Debug, Default)]
pub struct StreamTable {
    streams: BTreeMap<u32, NetStream>,
    next_id: u32,
}

impl StreamTable {
    /// createStream: the new message stream id, or `None` past `max`.
    pub fn create(&mut self, max: usize) -> Option<u32> {
        if self.streams.len() >= max {
            return None;
        }
        self.next_id = self.next_id.checked_add(1)?;
        self.streams.insert(self.next_id, NetStream::Idle);
        Some(self.next_id)
    }

    pub fn exists(&self, id: u32) -> bool {
        self.streams.contains_key(&id)
    }

    pub fn delete(&mut self, id: u32) {
        self.streams.remove(&id);
    }

    pub fn set_pending(&mut self, id: u32, role: StreamRole, name: &str) {
        if let Some(s) = self.streams.get_mut(&id) {
            *s = NetStream::Pending {
                role,
                name: name.to_string(),
            };
        }
    }

    /// Pending -> Active; returns the name.
    pub fn activate(&mut self, id: u32, want: StreamRole) -> Option<String> {
        let s = self.streams.get_mut(&id)?;
        match s {
            NetStream::Pending { role, name } if *role == want => {
                let name = std::mem::take(name);
                *s = NetStream::Active {
                    role: want,
                    name: name.clone(),
                };
                Some(name)
            }
            _ => None,
        }
    }

    /// Back to Idle; returns the name it had.
    pub fn reset(&mut self, id: u32) -> String {
        match self.streams.get_mut(&id) {
            Some(s) => match std::mem::replace(s, NetStream::Idle) {
                NetStream::Pending { name, .. } | NetStream::Active { name, .. } => name,
                NetStream::Idle => String::new(),
            },
            None => String::new(),
        }
    }

    /// Stops a publishing/playing stream; true if it was doing either.
    pub fn stop(&mut self, id: u32) -> bool {
        !self.reset(id).is_empty()
    }

    pub fn is_publishing(&self, id: u32) -> bool {
        matches!(
            self.streams.get(&id),
            Some(NetStream::Active {
                role: StreamRole::Publishing,
                ..
            })
        )
    }

    pub fn is_playing(&self, id: u32) -> bool {
        self.playing_name(id).is_some()
    }

    pub fn playing_name(&self, id: u32) -> Option<String> {
        match self.streams.get(&id) {
            Some(NetStream::Active {
                role: StreamRole::Playing,
                name,
            }) => Some(name.clone()),
            _ => None,
        }
    }

    pub fn playing_ids(&self) -> Vec<u32> {
        self.streams
            .iter()
            .filter(|(_, s)| {
                matches!(
                    s,
                    NetStream::Active {
                        role: StreamRole::Playing,
                        ..
                    }
                )
            })
            .map(|(id, _)| *id)
            .collect()
    }
}
