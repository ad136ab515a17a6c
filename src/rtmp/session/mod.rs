//! The RTMP session (sans-IO): NetConnection and NetStream on top of the
//! chunk stream, after the handshake.
//!
//! Fed the bytes a client sends ([`Session::handle_input`]); polled for
//! [`SessionEvent`]s (the product API's invokes, publish/play requests and
//! audio) and for bytes to send ([`Session::take_output`]). The session
//! answers the protocol itself (connect, createStream, releaseStream,
//! FCPublish, ..., Acknowledgement, Ping) the way Flash Media Server does;
//! what to do with `dial` or a publish is the driver's and controller's
//! decision, reported back through [`Session::reply_result`],
//! [`Session::accept_publish`], and so on.
//!
//! States are types: [`Phase::ExpectConnect`] until a `connect` is accepted,
//! then [`Phase::Connected`].

mod caps;
mod command;
mod faults;
mod gate;
mod replies;
mod streams;

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use thiserror::Error;
use tracing::{debug, warn};

pub use caps::{server_audio_map, AudioCodecs, ClientCaps, FourCcInfo};
pub use command::{Command, CommandError, Invoke};
pub use faults::{FaultKind, FaultLog};
pub use gate::{ConnectGate, ConnectRequest, Grant};
pub use streams::{NetStream, StreamRole};

use super::chunk::{AckWindow, ChunkLimits, ChunkReader, ChunkWriter, ReassemblyBudget};
use super::message::{type_id, ControlMessage, LimitType, Message, UserControlEvent};
use super::{RtmpError, RtmpTimestamp};
use crate::amf::{self, Value};

/// Chunk stream for command messages we send (invokes and replies).
pub const CSID_COMMAND: u32 = 3;
/// Chunk stream for NetStream status and data messages.
pub const CSID_STREAM: u32 = 5;
/// Chunk stream for audio toward the client: its own, apart from commands.
pub const CSID_AUDIO: u32 = 6;
/// Default for [`SessionConfig::max_streams`].
pub const MAX_STREAMS: usize = 16;

/// Static inputs of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Required application name; `None` accepts any.
    pub app: Option<String>,
    /// Our outgoing chunk size in bytes.
    pub chunk_size: u32,
    /// Window Acknowledgement Size we announce, in bytes.
    pub window_ack_size: u32,
    /// Limits for the chunk reader once `connect` is accepted.
    pub limits: ChunkLimits,
    /// Limits for the chunk reader until `connect` is accepted (smaller:
    /// an unauthenticated client needs little).
    pub limits_before_connect: ChunkLimits,
    /// Shared budget for partial messages of all sessions; `None`: only
    /// the per-session limits apply.
    pub budget: Option<ReassemblyBudget>,
    /// Most NetStreams (`createStream`) the client may hold.
    pub max_streams: usize,
    /// Limits for AMF decoding of commands.
    pub amf_limits: amf::Limits,
}

/// Errors that end a session.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The chunk stream broke (peer misbehaviour or a limit).
    #[error(transparent)]
    Transport(#[from] RtmpError),
    /// The client sent a command other than connect first (its name,
    /// shown escaped).
    #[error("{0:?} before connect")]
    NotConnected(String),
    /// The connect was rejected (wrong application).
    #[error("connect rejected: {0}")]
    Rejected(String),
}

/// What the session reports to its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// `connect` was accepted for `app`; `args` are the optional connect
    /// arguments after the command object; `grant` is what the
    /// [`ConnectGate`] granted (empty without a gate); `caps` is what
    /// the client announced of Enhanced RTMP audio (`fourCcList`,
    /// `audioFourCcInfoMap`).
    Connected {
        /// The application name (the tcUrl path, e.g. `phone`).
        app: String,
        /// Connect arguments after the command object (AMF values).
        args: Vec<Value>,
        /// What the connect gate granted.
        grant: Grant,
        /// The client's Enhanced RTMP audio capabilities.
        caps: ClientCaps,
    },
    /// A product API invoke (dial, hangup, register, ...): answer it with
    /// [`Session::reply_result`] or [`Session::reply_error`] (or not at all
    /// when the API says events follow).
    Invoke(Invoke),
    /// The client wants to publish `name` on NetStream `stream_id`: answer
    /// with [`Session::accept_publish`] or [`Session::reject_publish`].
    Publish {
        /// Message stream id of the NetStream (1..).
        stream_id: u32,
        /// The stream name, as sent.
        name: String,
    },
    /// The client wants to play `name` on NetStream `stream_id`: answer
    /// with [`Session::accept_play`] or [`Session::reject_play`].
    Play {
        /// Message stream id of the NetStream (1..).
        stream_id: u32,
        /// The stream name, as sent.
        name: String,
    },
    /// The NetStream stopped publishing/playing (closeStream, deleteStream,
    /// FCUnpublish).
    StreamClosed {
        /// Message stream id of the NetStream.
        stream_id: u32,
    },
    /// An audio message on a publishing NetStream: FLV audio tag body and
    /// its RTMP timestamp in ms.
    Audio {
        /// Message stream id of the publishing NetStream.
        stream_id: u32,
        /// RTMP timestamp, in ms (wrapping at 2^32).
        timestamp_ms: u32,
        /// The FLV audio tag body (header byte(s) then payload).
        body: Bytes,
    },
}

/// Connection phase.
#[derive(Debug)]
pub enum Phase {
    /// Only `connect` is allowed.
    ExpectConnect,
    /// NetConnection established.
    Connected {
        /// The application name connected to.
        app: String,
    },
}

/// One client's RTMP session.
pub struct Session {
    cfg: SessionConfig,
    phase: Phase,
    reader: ChunkReader,
    writer: ChunkWriter,
    inbuf: BytesMut,
    out: BytesMut,
    ack: AckWindow,
    events: VecDeque<SessionEvent>,
    streams: streams::StreamTable,
    faults: FaultLog,
    gate: Option<Box<dyn ConnectGate>>,
    /// What the client announced of Enhanced RTMP audio in `connect`.
    caps: ClientCaps,
}

impl Session {
    /// A session whose handshake is done.
    pub fn new(cfg: SessionConfig) -> Self {
        let reader = match &cfg.budget {
            Some(b) => ChunkReader::with_budget(cfg.limits_before_connect, b.clone()),
            None => ChunkReader::new(cfg.limits_before_connect),
        };
        Self {
            reader,
            writer: ChunkWriter::new(),
            phase: Phase::ExpectConnect,
            inbuf: BytesMut::with_capacity(4096),
            out: BytesMut::with_capacity(4096),
            ack: AckWindow::new(),
            events: VecDeque::new(),
            streams: streams::StreamTable::default(),
            faults: FaultLog::default(),
            gate: None,
            caps: ClientCaps::default(),
            cfg,
        }
    }

    /// What the client announced of Enhanced RTMP audio in `connect`
    /// (the default before `connect`, and for clients that announce
    /// nothing).
    pub fn client_caps(&self) -> ClientCaps {
        self.caps
    }

    /// Peer faults counted but not logged so far (for one summary line).
    pub fn faults(&self) -> &FaultLog {
        &self.faults
    }

    /// Counts a peer fault; true when it should be logged.
    fn note_fault(&mut self, kind: FaultKind) -> bool {
        let log = self.faults.note(kind);
        if log && self.faults.is_last_logged(kind) {
            debug!(
                kind = kind.name(),
                "further faults of this kind are counted, not logged"
            );
        }
        log
    }

    /// Installs the gate consulted on `connect` (see `gate.rs`).
    pub fn with_connect_gate(mut self, gate: Box<dyn ConnectGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// The phase the session is in.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Feeds bytes received from the client.
    ///
    /// # Errors
    /// [`SessionError`]: the connection must be closed (after sending what
    /// [`Session::take_output`] holds, e.g. a Connect.Rejected).
    pub fn handle_input(&mut self, data: &[u8]) -> Result<(), SessionError> {
        self.inbuf.extend_from_slice(data);
        while let Some(msg) = self.reader.read(&mut self.inbuf)? {
            self.handle_message(msg)?;
        }
        if let Some(ack) = self.ack.poll(self.reader.bytes_received()) {
            self.write_control(&ack);
        }
        Ok(())
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// Bytes to send to the client, if any.
    pub fn take_output(&mut self) -> Option<Bytes> {
        (!self.out.is_empty()).then(|| self.out.split().freeze())
    }

    /// Bytes waiting in [`Session::take_output`].
    pub fn pending_output(&self) -> usize {
        self.out.len()
    }

    fn handle_message(&mut self, msg: Message) -> Result<(), SessionError> {
        match msg.type_id {
            type_id::COMMAND_AMF0 | type_id::COMMAND_AMF3 => self.handle_command(&msg),
            type_id::AUDIO => {
                self.handle_audio(msg);
                Ok(())
            }
            type_id::SET_CHUNK_SIZE | type_id::ABORT => Ok(()), // applied by the reader
            type_id::ACKNOWLEDGEMENT | type_id::SET_PEER_BANDWIDTH => Ok(()),
            type_id::WINDOW_ACK_SIZE | type_id::USER_CONTROL => {
                self.handle_control(&msg);
                Ok(())
            }
            other => {
                if self.note_fault(FaultKind::IgnoredMessage) {
                    debug!(type_id = other, "ignoring message");
                }
                Ok(())
            }
        }
    }

    fn handle_control(&mut self, msg: &Message) {
        match msg.control() {
            Ok(Some(ControlMessage::WindowAckSize(w))) => self.ack.set_window(w),
            Ok(Some(ControlMessage::UserControl(UserControlEvent::PingRequest { timestamp }))) => {
                self.write_control(&ControlMessage::UserControl(
                    UserControlEvent::PingResponse { timestamp },
                ));
            }
            Ok(_) => {}
            Err(e) => {
                if self.note_fault(FaultKind::MalformedControl) {
                    debug!(error = %e, "ignoring malformed control message");
                }
            }
        }
    }

    fn handle_audio(&mut self, msg: Message) {
        if !self.streams.is_publishing(msg.stream_id) {
            if self.note_fault(FaultKind::StrayAudio) {
                debug!(
                    stream_id = msg.stream_id,
                    "audio on a stream that is not publishing"
                );
            }
            return;
        }
        if msg.payload.is_empty() {
            return;
        }
        self.events.push_back(SessionEvent::Audio {
            stream_id: msg.stream_id,
            timestamp_ms: msg.timestamp.0,
            body: msg.payload,
        });
    }

    fn handle_command(&mut self, msg: &Message) -> Result<(), SessionError> {
        let amf3 = msg.type_id == type_id::COMMAND_AMF3;
        let invoke = match command::decode_invoke(&msg.payload, amf3, self.cfg.amf_limits) {
            Ok(i) => i,
            Err(e) => {
                if self.note_fault(FaultKind::UnreadableCommand) {
                    warn!(error = %e, "dropping unreadable command message");
                }
                return Ok(());
            }
        };
        let cmd = Command::from_invoke(invoke);
        match (&self.phase, cmd) {
            (Phase::ExpectConnect, Command::Connect { txn, object, args }) => {
                self.on_connect(txn, &object, args)
            }
            (Phase::ExpectConnect, Command::App(i)) => Err(SessionError::NotConnected(i.name)),
            (Phase::ExpectConnect, other) => Err(SessionError::NotConnected(
                format!("{other:?}").chars().take(40).collect(),
            )),
            (Phase::Connected { .. }, cmd) => {
                self.on_command(msg.stream_id, cmd);
                Ok(())
            }
        }
    }

    fn on_connect(
        &mut self,
        txn: f64,
        object: &Value,
        args: Vec<Value>,
    ) -> Result<(), SessionError> {
        let app = object
            .get_str("app")
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string();
        let encoding = object.get_f64("objectEncoding").unwrap_or(0.0);
        if let Some(required) = &self.cfg.app {
            // The app may carry a query string or an instance ("phone/x").
            let base = app.split(['/', '?']).next().unwrap_or_default();
            if base != required {
                let why = format!("unknown application {base:?}");
                self.send_connect_rejected(txn, &why, encoding);
                return Err(SessionError::Rejected(why));
            }
        }
        let grant = match self.admit(&app, object, &args) {
            Ok(grant) => grant,
            Err(why) => {
                self.send_connect_rejected(txn, &why, encoding);
                return Err(SessionError::Rejected(why));
            }
        };
        self.write_control(&ControlMessage::WindowAckSize(self.cfg.window_ack_size));
        self.write_control(&ControlMessage::SetPeerBandwidth {
            window: self.cfg.window_ack_size,
            limit_type: LimitType::Dynamic,
        });
        self.write_control(&ControlMessage::UserControl(
            UserControlEvent::StreamBegin { stream_id: 0 },
        ));
        if let Err(e) = self
            .writer
            .write_set_chunk_size(self.cfg.chunk_size, &mut self.out)
        {
            warn!(error = %e, "cannot set outgoing chunk size");
        }
        self.send_connect_success(txn, encoding);
        self.reader.set_limits(self.cfg.limits);
        self.phase = Phase::Connected { app: app.clone() };
        let caps = ClientCaps::from_connect(object);
        self.caps = caps;
        if caps != ClientCaps::default() {
            debug!(?caps, "client announced E-RTMP audio codecs");
        }
        self.events.push_back(SessionEvent::Connected {
            app,
            args,
            grant,
            caps,
        });
        Ok(())
    }

    /// Asks the gate, if any, whether this `connect` is admitted.
    fn admit(&mut self, app: &str, object: &Value, args: &[Value]) -> Result<Grant, String> {
        let Some(gate) = self.gate.as_mut() else {
            return Ok(Grant::default());
        };
        gate.admit(&ConnectRequest {
            app,
            tc_url: object.get_str("tcUrl"),
            args,
        })
    }

    fn on_command(&mut self, stream_id: u32, cmd: Command) {
        match cmd {
            Command::Connect { txn, .. } => {
                self.reply_error(txn, "NetConnection.Call.Failed", "already connected")
            }
            Command::CreateStream { txn } => match self.streams.create(self.cfg.max_streams) {
                Some(id) => {
                    self.send_invoke(CSID_COMMAND, 0, "_result", txn, &[Value::Null, id.into()])
                }
                None => self.reply_error(txn, "NetConnection.Call.Failed", "too many streams"),
            },
            Command::DeleteStream { stream_id: id } => {
                if let Some(id) = id {
                    self.close_stream(id);
                    self.streams.delete(id);
                }
            }
            Command::CloseStream => self.close_stream(stream_id),
            Command::ReleaseStream { txn, .. } => self.reply_result(txn, Value::Undefined),
            Command::FcPublish { txn, name } => {
                self.reply_result(txn, Value::Undefined);
                self.send_fc_status("onFCPublish", "NetStream.Publish.Start", name.as_deref());
            }
            Command::FcUnpublish { txn, name } => {
                self.reply_result(txn, Value::Undefined);
                self.send_fc_status(
                    "onFCUnpublish",
                    "NetStream.Unpublish.Success",
                    name.as_deref(),
                );
            }
            Command::Publish { txn, name } => {
                self.on_stream_request(stream_id, txn, name, StreamRole::Publishing)
            }
            Command::Play { txn, name } => {
                self.on_stream_request(stream_id, txn, name, StreamRole::Playing)
            }
            Command::GetStreamLength { txn } => {
                self.send_invoke(CSID_COMMAND, 0, "_result", txn, &[Value::Null, 0.0.into()])
            }
            Command::StreamHousekeeping { .. } | Command::Response => {}
            Command::App(inv) => self.events.push_back(SessionEvent::Invoke(inv)),
        }
    }

    /// publish or play: checks the name and stream, marks the stream
    /// pending and asks the driver (`Publish`/`Play` event).
    fn on_stream_request(
        &mut self,
        stream_id: u32,
        txn: f64,
        name: Option<String>,
        role: StreamRole,
    ) {
        let (no_name, bad_stream) = match role {
            StreamRole::Publishing => ("NetStream.Publish.BadName", "NetStream.Publish.BadName"),
            StreamRole::Playing => ("NetStream.Play.StreamNotFound", "NetStream.Play.Failed"),
        };
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            self.send_stream_status(stream_id, "error", no_name, "no stream name", "");
            return;
        };
        if !self.streams.exists(stream_id) {
            self.reply_error(txn, bad_stream, "unknown stream id");
            return;
        }
        self.streams.set_pending(stream_id, role, &name);
        self.events.push_back(match role {
            StreamRole::Publishing => SessionEvent::Publish { stream_id, name },
            StreamRole::Playing => SessionEvent::Play { stream_id, name },
        });
    }

    fn close_stream(&mut self, stream_id: u32) {
        if self.streams.stop(stream_id) {
            self.events
                .push_back(SessionEvent::StreamClosed { stream_id });
        }
    }

    fn write_control(&mut self, c: &ControlMessage) {
        if let Err(e) = self
            .writer
            .write_control(c, RtmpTimestamp(0), &mut self.out)
        {
            warn!(error = %e, "cannot write control message");
        }
    }

    fn write_message(&mut self, csid: u32, type_id: u8, stream_id: u32, ts: u32, payload: Bytes) {
        let msg = Message {
            csid,
            timestamp: RtmpTimestamp(ts),
            type_id,
            stream_id,
            payload,
        };
        if let Err(e) = self.writer.write(&msg, &mut self.out) {
            warn!(error = %e, "cannot write message");
        }
    }

    /// Sends an AMF0 command message `name(txn, values...)`.
    fn send_invoke(&mut self, csid: u32, stream_id: u32, name: &str, txn: f64, values: &[Value]) {
        let mut all = Vec::with_capacity(values.len() + 2);
        all.push(Value::from(name));
        all.push(Value::from(txn));
        all.extend_from_slice(values);
        let body = amf::encode_amf0_all(&all);
        self.write_message(csid, type_id::COMMAND_AMF0, stream_id, 0, body.into());
    }

    /// Answers invoke `txn` with `_result(null, value)`.
    pub fn reply_result(&mut self, txn: f64, value: Value) {
        self.send_invoke(CSID_COMMAND, 0, "_result", txn, &[Value::Null, value]);
    }

    /// Answers invoke `txn` with `_error(null, {level: "error", code, description})`.
    pub fn reply_error(&mut self, txn: f64, code: &str, description: &str) {
        let info = Value::object([
            ("level", "error"),
            ("code", code),
            ("description", description),
        ]);
        self.send_invoke(CSID_COMMAND, 0, "_error", txn, &[Value::Null, info]);
    }

    /// [`Session::reply_error`] with a SIP-style `sip_code` in the info
    /// object when there is one (e.g. 503 for a `dial` refused for
    /// overload).
    pub fn reply_error_with_code(
        &mut self,
        txn: f64,
        code: &str,
        description: &str,
        sip_code: Option<u16>,
    ) {
        let Some(sip_code) = sip_code else {
            return self.reply_error(txn, code, description);
        };
        let info = Value::object_builder()
            .set("level", "error")
            .set("code", code)
            .set("description", description)
            .set("sip_code", f64::from(sip_code))
            .build();
        self.send_invoke(CSID_COMMAND, 0, "_error", txn, &[Value::Null, info]);
    }

    /// Sends `onStatus(info)` on message stream 0, so it reaches the
    /// NetConnection's netStatus handler (README.md, "RTMP API").
    pub fn send_connection_status(&mut self, info: Value) {
        self.send_invoke(CSID_COMMAND, 0, "onStatus", 0.0, &[Value::Null, info]);
    }

    /// Confirms a publish: StreamBegin and `NetStream.Publish.Start` on its stream.
    pub fn accept_publish(&mut self, stream_id: u32) {
        let Some(name) = self.streams.activate(stream_id, StreamRole::Publishing) else {
            return;
        };
        self.write_control(&ControlMessage::UserControl(
            UserControlEvent::StreamBegin { stream_id },
        ));
        let desc = format!("{name} is now published.");
        self.send_stream_status(stream_id, "status", "NetStream.Publish.Start", &desc, &name);
    }

    /// Refuses a publish with `NetStream.Publish.BadName`.
    pub fn reject_publish(&mut self, stream_id: u32, reason: &str) {
        let name = self.streams.reset(stream_id);
        self.send_stream_status(
            stream_id,
            "error",
            "NetStream.Publish.BadName",
            reason,
            &name,
        );
    }

    /// Confirms a play: StreamBegin, `NetStream.Play.Reset`,
    /// `NetStream.Play.Start`, `|RtmpSampleAccess` and `onMetaData` for
    /// Speex audio, all on the stream.
    pub fn accept_play(&mut self, stream_id: u32) {
        let Some(name) = self.streams.activate(stream_id, StreamRole::Playing) else {
            return;
        };
        self.write_control(&ControlMessage::UserControl(
            UserControlEvent::StreamBegin { stream_id },
        ));
        self.send_stream_status(
            stream_id,
            "status",
            "NetStream.Play.Reset",
            &format!("Playing and resetting {name}."),
            &name,
        );
        self.send_stream_status(
            stream_id,
            "status",
            "NetStream.Play.Start",
            &format!("Started playing {name}."),
            &name,
        );
        self.send_play_data(stream_id);
    }

    /// Refuses a play with `NetStream.Play.StreamNotFound`.
    pub fn reject_play(&mut self, stream_id: u32, reason: &str) {
        let name = self.streams.reset(stream_id);
        self.send_stream_status(
            stream_id,
            "error",
            "NetStream.Play.StreamNotFound",
            reason,
            &name,
        );
    }

    /// Tells a playing stream the far end stopped (`NetStream.Play.UnpublishNotify`).
    pub fn notify_unpublished(&mut self, stream_id: u32) {
        if let Some(name) = self.streams.playing_name(stream_id) {
            let desc = format!("{name} is now unpublished.");
            self.send_stream_status(
                stream_id,
                "status",
                "NetStream.Play.UnpublishNotify",
                &desc,
                &name,
            );
        }
    }

    /// Tells a playing stream its source ended for good and stops it: on
    /// the stream, `onStatus` `NetStream.Play.UnpublishNotify` then
    /// `NetStream.Play.Stop`, then User Control `StreamEOF` (event 1) for
    /// the stream id (RTMP spec 1.0 §7.1.7). The stream goes back to Idle,
    /// so later audio for it is not sent; a player may `play` again.
    /// Does nothing (and returns false) when the stream is not playing.
    pub fn end_play(&mut self, stream_id: u32) -> bool {
        let Some(name) = self.streams.playing_name(stream_id) else {
            return false;
        };
        self.notify_unpublished(stream_id);
        self.send_stream_status(
            stream_id,
            "status",
            "NetStream.Play.Stop",
            &format!("Stopped playing {name}."),
            &name,
        );
        self.write_control(&ControlMessage::UserControl(UserControlEvent::StreamEof {
            stream_id,
        }));
        self.streams.stop(stream_id);
        true
    }

    /// Sends one audio message (FLV audio tag body) on a playing stream.
    /// Returns false (and sends nothing) when the stream is not playing.
    pub fn send_audio(&mut self, stream_id: u32, timestamp_ms: u32, body: Bytes) -> bool {
        if !self.streams.is_playing(stream_id) {
            return false;
        }
        self.write_message(CSID_AUDIO, type_id::AUDIO, stream_id, timestamp_ms, body);
        true
    }

    /// The NetStreams currently playing.
    pub fn playing_streams(&self) -> Vec<u32> {
        self.streams.playing_ids()
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
