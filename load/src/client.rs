//! The sans-IO RTMP client of one load connection: fed bytes plus `now`,
//! polled for bytes to send and for [`Event`]s. No sockets, no clock.
//!
//! Sequence (README.md "RTMP API"; Adobe RTMP spec 1.0 sections 5.2, 7.2):
//!
//! ```text
//! C0C1 ->            <- S0S1S2        (plain handshake, spec 5.2)
//! C2, SetChunkSize 4096, connect(1, {app, tcUrl, objectEncoding 0}) ->
//!                    <- _result(1)    => Event::Connected
//! dial(2, null, uri) ->                (on Client::dial)
//!                    <- onStatus Sono.Call.Status 1, 2, 4 => Event::CallStatus
//! on status 4: createStream(3), createStream(4) ->
//!                    <- _result(3, id) => publish("dummy") on id
//!                    <- _result(4, id) => play("dummy") on id => Event::StreamsReady
//! audio (type 8, csid 4, publish stream) ->   <- audio on the play stream => Event::Audio
//! hangup(5) ->       (on Client::hangup)
//! ```

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rand::RngCore;
use rtmp2sip::amf::{decode_amf0_all, encode_amf0_all, Value};
use rtmp2sip::rtmp::handshake::client::{ClientHandshake, ClientMode};
use rtmp2sip::rtmp::message::{type_id, ControlMessage, UserControlEvent};
use rtmp2sip::rtmp::{ChunkLimits, ChunkReader, ChunkWriter, Message, RtmpError, RtmpTimestamp};

/// Chunk stream for commands (as Flash uses).
const COMMAND_CSID: u32 = 3;
/// Chunk stream for published audio.
const AUDIO_CSID: u32 = 4;
/// Outgoing chunk size: one chunk per audio message.
const CHUNK_SIZE: u32 = 4096;
/// Stream name on the owning connection (free there; SEMS uses "dummy").
const STREAM_NAME: &str = "dummy";

/// Transaction ids of the commands whose replies matter.
mod txn {
    pub const CONNECT: f64 = 1.0;
    pub const DIAL: f64 = 2.0;
    pub const CREATE_PUBLISH: f64 = 3.0;
    pub const CREATE_PLAY: f64 = 4.0;
    pub const HANGUP: f64 = 5.0;
}

/// Errors of the client core; after one the connection is closed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Handshake or chunk stream error from the gateway's bytes.
    #[error("rtmp: {0}")]
    Rtmp(#[from] RtmpError),
    /// The gateway refused `connect`.
    #[error("connect rejected: {0}")]
    ConnectRejected(String),
    /// A command was used in the wrong phase (local misuse).
    #[error("{0} not allowed now")]
    Misuse(&'static str),
}

/// What happened, stamped with the `now` of the input that caused it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Handshake done and `connect` answered with `_result`.
    Connected {
        /// When the `_result` arrived.
        at: Instant,
    },
    /// `dial` answered with `_error` (its `code`, e.g. `Sono.Call.Failed`).
    DialRejected {
        /// The error info's code and description.
        reason: String,
    },
    /// A `Sono.Call.Status` event.
    CallStatus {
        /// When it arrived.
        at: Instant,
        /// `status_code`: 0 idle/ended, 1 in progress, 2 connected,
        /// 3 disconnecting, 4 connect streams.
        code: u8,
        /// `sip_code` and `reason`, when the gateway sent them.
        detail: String,
    },
    /// Both streams exist: publish audio with [`Client::send_audio`].
    StreamsReady {
        /// When the second createStream result arrived.
        at: Instant,
    },
    /// An audio message on the play stream.
    Audio {
        /// Arrival time.
        at: Instant,
        /// RTMP timestamp, ms (the gateway's media clock).
        timestamp: RtmpTimestamp,
        /// FLV audio body.
        body: Bytes,
    },
}

/// Connection phase (states as types; data lives in the variant).
#[derive(Debug)]
enum Phase {
    Handshake(ClientHandshake),
    AwaitConnect,
    Ready,
    Dialing,
    Streams {
        publish: Option<u32>,
        play: Option<u32>,
    },
}

/// The client core of one load connection.
#[derive(Debug)]
pub struct Client {
    phase: Phase,
    reader: ChunkReader,
    writer: ChunkWriter,
    input: BytesMut,
    output: BytesMut,
    events: VecDeque<Event>,
    app: String,
    tc_url: String,
    /// Announce Enhanced RTMP Opus (`fourCcList: ["Opus"]`) in `connect`.
    opus: bool,
    /// Acknowledgement window the gateway asked for, bytes.
    ack_window: u32,
    /// `bytes_received` when the last acknowledgement was sent.
    acked: u64,
}

impl Client {
    /// Starts a connection to application `app` at `tc_url`
    /// (`rtmp://host:port/app`); C0C1 is ready to send at once. With `opus`
    /// the `connect` command object carries `fourCcList: ["Opus"]`
    /// (Enhanced RTMP v2), so the gateway sends Opus back.
    pub fn new<R: RngCore + ?Sized>(app: &str, tc_url: &str, opus: bool, rng: &mut R) -> Self {
        let mut output = BytesMut::with_capacity(4096);
        let hs = ClientHandshake::start(ClientMode::Plain, rng, &mut output);
        Self {
            phase: Phase::Handshake(hs),
            reader: ChunkReader::new(ChunkLimits::DEFAULT),
            writer: ChunkWriter::new(),
            input: BytesMut::with_capacity(8192),
            output,
            events: VecDeque::new(),
            app: app.to_owned(),
            tc_url: tc_url.to_owned(),
            opus,
            ack_window: 0,
            acked: 0,
        }
    }

    /// Bytes to send; the caller writes them all and then clears the buffer.
    pub fn transmit(&mut self) -> &mut BytesMut {
        &mut self.output
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// True once both streams exist.
    pub fn streaming(&self) -> bool {
        matches!(
            self.phase,
            Phase::Streams {
                publish: Some(_),
                play: Some(_)
            }
        )
    }

    /// Feeds bytes received from the gateway at `now`.
    ///
    /// # Errors
    /// [`ClientError`]; the connection must then be closed.
    pub fn handle_bytes(
        &mut self,
        now: Instant,
        data: &[u8],
        rng: &mut dyn RngCore,
    ) -> Result<(), ClientError> {
        self.input.extend_from_slice(data);
        if let Phase::Handshake(hs) = &mut self.phase {
            hs.receive(&mut self.input, rng, &mut self.output)?;
            if !hs.is_done() {
                return Ok(());
            }
            self.phase = Phase::AwaitConnect;
            self.send_connect()?;
        }
        while let Some(msg) = self.reader.read(&mut self.input)? {
            self.handle_message(now, msg)?;
        }
        self.acknowledge()
    }

    /// Places the call: `dial(uri)`.
    ///
    /// # Errors
    /// [`ClientError::Misuse`] before `connect` succeeded or twice.
    pub fn dial(&mut self, uri: &str) -> Result<(), ClientError> {
        if !matches!(self.phase, Phase::Ready) {
            return Err(ClientError::Misuse("dial"));
        }
        self.phase = Phase::Dialing;
        self.command(0, "dial", txn::DIAL, vec![Value::String(uri.to_owned())])
    }

    /// Sends `hangup()`.
    ///
    /// # Errors
    /// Chunk writer errors only (none expected).
    pub fn hangup(&mut self) -> Result<(), ClientError> {
        self.command(0, "hangup", txn::HANGUP, vec![])
    }

    /// Publishes one FLV audio body with RTMP timestamp `ts_ms`.
    ///
    /// # Errors
    /// [`ClientError::Misuse`] before the publish stream exists.
    pub fn send_audio(&mut self, ts_ms: u32, body: Bytes) -> Result<(), ClientError> {
        let Phase::Streams {
            publish: Some(stream_id),
            ..
        } = self.phase
        else {
            return Err(ClientError::Misuse("audio"));
        };
        let msg = Message {
            csid: AUDIO_CSID,
            timestamp: RtmpTimestamp::from_millis(ts_ms),
            type_id: type_id::AUDIO,
            stream_id,
            payload: body,
        };
        self.writer.write(&msg, &mut self.output)?;
        Ok(())
    }

    fn send_connect(&mut self) -> Result<(), ClientError> {
        self.writer.write_control(
            &ControlMessage::SetChunkSize(CHUNK_SIZE),
            RtmpTimestamp::ZERO,
            &mut self.output,
        )?;
        let mut obj = Value::object([
            ("app", Value::String(self.app.clone())),
            ("tcUrl", Value::String(self.tc_url.clone())),
            ("flashVer", Value::String("rtmp2sip-load".into())),
            ("objectEncoding", Value::Number(0.0)),
        ]);
        if self.opus {
            obj.set("fourCcList", Value::StrictArray(vec!["Opus".into()]));
        }
        let body = encode_amf0_all(&[
            Value::String("connect".into()),
            Value::Number(txn::CONNECT),
            obj,
        ]);
        self.write_command(0, body)
    }

    fn command(
        &mut self,
        stream_id: u32,
        name: &str,
        txn: f64,
        args: Vec<Value>,
    ) -> Result<(), ClientError> {
        let mut values = vec![Value::String(name.into()), Value::Number(txn), Value::Null];
        values.extend(args);
        self.write_command(stream_id, encode_amf0_all(&values))
    }

    fn write_command(&mut self, stream_id: u32, body: Vec<u8>) -> Result<(), ClientError> {
        let msg = Message {
            csid: COMMAND_CSID,
            timestamp: RtmpTimestamp::ZERO,
            type_id: type_id::COMMAND_AMF0,
            stream_id,
            payload: Bytes::from(body),
        };
        self.writer.write(&msg, &mut self.output)?;
        Ok(())
    }

    /// Sends an Acknowledgement each time a window's worth arrived (spec 5.4.3).
    fn acknowledge(&mut self) -> Result<(), ClientError> {
        let received = self.reader.bytes_received();
        if self.ack_window > 0 && received - self.acked >= u64::from(self.ack_window) {
            self.acked = received;
            let ack = ControlMessage::Acknowledgement {
                sequence_number: received as u32,
            };
            self.writer
                .write_control(&ack, RtmpTimestamp::ZERO, &mut self.output)?;
        }
        Ok(())
    }

    fn handle_message(&mut self, now: Instant, msg: Message) -> Result<(), ClientError> {
        match msg.type_id {
            type_id::AUDIO => self.handle_audio(now, msg),
            type_id::COMMAND_AMF0 => self.handle_command(now, &msg.payload),
            type_id::COMMAND_AMF3 => self.handle_command(now, msg.payload.get(1..).unwrap_or(&[])),
            _ => self.handle_control(&msg),
        }
    }

    fn handle_control(&mut self, msg: &Message) -> Result<(), ClientError> {
        match msg.control() {
            Ok(Some(ControlMessage::WindowAckSize(w))) => self.ack_window = w,
            Ok(Some(ControlMessage::UserControl(UserControlEvent::PingRequest { timestamp }))) => {
                let pong =
                    ControlMessage::UserControl(UserControlEvent::PingResponse { timestamp });
                self.writer
                    .write_control(&pong, RtmpTimestamp::ZERO, &mut self.output)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn handle_audio(&mut self, now: Instant, msg: Message) -> Result<(), ClientError> {
        if let Phase::Streams { play: Some(p), .. } = self.phase {
            if msg.stream_id == p && !msg.payload.is_empty() {
                self.events.push_back(Event::Audio {
                    at: now,
                    timestamp: msg.timestamp,
                    body: msg.payload,
                });
            }
        }
        Ok(())
    }

    fn handle_command(&mut self, now: Instant, payload: &[u8]) -> Result<(), ClientError> {
        let Ok(values) = decode_amf0_all(payload) else {
            return Ok(());
        };
        let name = values.first().and_then(Value::as_str).unwrap_or("");
        let txn = values.get(1).and_then(Value::as_f64).unwrap_or(0.0);
        match name {
            "_result" => self.handle_result(now, txn, &values),
            "_error" => self.handle_error(txn, &values),
            "onStatus" => {
                self.handle_status(now, values.get(3));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn handle_result(
        &mut self,
        now: Instant,
        txn: f64,
        values: &[Value],
    ) -> Result<(), ClientError> {
        let number = values.get(3).and_then(Value::as_f64);
        match (&mut self.phase, txn) {
            (Phase::AwaitConnect, t) if t == txn::CONNECT => {
                self.phase = Phase::Ready;
                self.events.push_back(Event::Connected { at: now });
            }
            (Phase::Streams { publish, play }, t) => {
                let Some(id) = number.map(|n| n as u32) else {
                    return Ok(());
                };
                if t == txn::CREATE_PUBLISH && publish.is_none() {
                    *publish = Some(id);
                    self.command(id, "publish", 0.0, vec![STREAM_NAME.into(), "live".into()])?;
                } else if t == txn::CREATE_PLAY && play.is_none() {
                    *play = Some(id);
                    self.command(id, "play", 0.0, vec![STREAM_NAME.into()])?;
                }
                if self.streaming() {
                    self.events.push_back(Event::StreamsReady { at: now });
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn handle_error(&mut self, txn: f64, values: &[Value]) -> Result<(), ClientError> {
        let info = values.get(3);
        let reason = format!(
            "{} {}",
            info.and_then(|i| i.get_str("code")).unwrap_or("?"),
            info.and_then(|i| i.get_str("description")).unwrap_or("")
        );
        if txn == txn::CONNECT {
            return Err(ClientError::ConnectRejected(reason));
        }
        if txn == txn::DIAL {
            self.events.push_back(Event::DialRejected { reason });
        }
        Ok(())
    }

    fn handle_status(&mut self, now: Instant, info: Option<&Value>) {
        let Some(info) = info else { return };
        if info.get_str("code") != Some("Sono.Call.Status") {
            return;
        }
        let Some(code) = info.get_f64("status_code") else {
            return;
        };
        let code = code as u8;
        let detail = match (info.get_f64("sip_code"), info.get_str("reason")) {
            (Some(c), Some(r)) => format!("{c} {r}"),
            (Some(c), None) => format!("{c}"),
            (None, Some(r)) => r.to_owned(),
            (None, None) => String::new(),
        };
        if code == 4 && matches!(self.phase, Phase::Dialing) {
            self.phase = Phase::Streams {
                publish: None,
                play: None,
            };
            // Writing to the output buffer cannot fail for these small messages.
            let _ = self.command(0, "createStream", txn::CREATE_PUBLISH, vec![]);
            let _ = self.command(0, "createStream", txn::CREATE_PLAY, vec![]);
        }
        self.events.push_back(Event::CallStatus {
            at: now,
            code,
            detail,
        });
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
