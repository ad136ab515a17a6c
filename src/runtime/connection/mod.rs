//! One RTMP connection: the handshake, then a loop that drives the
//! connection's `rtmp::Session` and `call::Controller` and the I/O around
//! them (the byte transport, the SIP user agent's events, the call's
//! media). The transport is generic ([`Transport`]): TCP, TLS or a
//! WebSocket tunnel all run this same code.
//!
//! Every loop turn first drives everything the last input produced
//! (session events, controller replies and effects) and flushes it, so
//! pipelined input (C2 + connect + dial in one segment) is answered at
//! once. Limits per connection (`[limits]`): `connect_timeout_s`,
//! `max_dials_per_minute` (`rate.rs`), `idle_timeout_s` (only streams
//! bound to a live call count as activity), `max_subscribers_per_call`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use admission::Admission;
use bytes::BytesMut;
use rand::RngCore;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio::time::{sleep_until, timeout, Instant};
use tracing::{debug, info, warn};

use super::media_task::{self, MediaEvent};
use super::metrics::{CallDirection, CallGuard};
use super::streams::{Direction, MediaHandle, PlayAudio, PlayEndedSender};
use super::Gateway;
use crate::amf::{self, Value};
use crate::call::{CallStatus, Controller, ControllerConfig, Output};
use crate::rtmp::chunk::ChunkLimits;
use crate::rtmp::handshake::ServerHandshake;
use crate::rtmp::session::{Session, SessionConfig, SessionEvent};
use crate::sip::event::{CallId, SipStatus};
use crate::sip::incoming::{AnswerHandle, IncomingCall, IncomingTarget};
use crate::sip::sdp;
use crate::sip::ua::{CallHandle, DtmfInfo, PlaceCall, SipEvent};

pub mod admission;
mod auth;
mod early;
mod features;
mod incoming;
mod rate;
mod register;
mod transfer;

/// Most time a write to a client may take before the client is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// DTMF tone length when `sendDTMF` gives none, in ms.
const DTMF_DEFAULT_MS: u32 = 160;
/// Most digits one `sendDTMF` may carry.
const DTMF_MAX_DIGITS: usize = 32;

/// Most time a closing connection waits for its call's BYE to finish.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// A byte transport an RTMP connection runs on: TCP, TLS (RTMPS) or a
/// WebSocket byte-stream tunnel (`runtime::http`).
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// Runs one accepted connection to its end, whatever carries its bytes.
/// The connection holds its `admission` (its places in `[limits]`) until it ends.
pub async fn run<S: Transport>(gw: Arc<Gateway>, mut stream: S, _admission: Admission) {
    let mut inbuf = BytesMut::with_capacity(4096);
    match timeout(
        gw.config.limits.handshake_timeout,
        handshake(&mut stream, &mut inbuf),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            info!(error = %e, "handshake failed");
            return;
        }
        Err(_) => {
            info!("handshake timed out");
            return;
        }
    }
    debug!("handshake done");
    let mut conn = Connection::new(gw);
    conn.run(stream, inbuf).await;
}

async fn handshake<S: Transport>(stream: &mut S, inbuf: &mut BytesMut) -> std::io::Result<()> {
    let s1_time = 0;
    let mut hs = ServerHandshake::new(s1_time);
    let mut out = BytesMut::new();
    let mut rng = rand::rngs::OsRng;
    while !hs.is_done() {
        if stream.read_buf(inbuf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        hs.receive(inbuf, &mut rng, &mut out)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if !out.is_empty() {
            stream.write_all(&out.split()).await?;
            stream.flush().await?;
        }
        if inbuf.len() > 8192 && !hs.is_done() {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
    }
    Ok(())
}

/// This connection's own call.
struct OwnCall {
    call_id: String,
    _permit: OwnedSemaphorePermit,
    /// The call's slot in its token subject's `max_calls`.
    _subject: Option<crate::auth::SubjectPermit>,
    sip: Option<CallHandle>,
    /// RTP sockets and the offer, kept until the answer arrives.
    pending_media: Option<(super::ports::PortPair, sdp::SdpOffer)>,
    media: Option<MediaHandle>,
    is_echo: bool,
    /// An incoming call's answer handle and SDP offer, until answered.
    incoming: Option<(AnswerHandle, Vec<u8>)>,
    /// Counts the call active until dropped, then ended with its reason.
    metric: CallGuard,
    /// When the call started (dial or INVITE), for the setup histogram.
    started: Instant,
}

impl Drop for OwnCall {
    fn drop(&mut self) {
        if let Some(m) = &self.media {
            m.stop.cancel();
        }
    }
}

/// Where a publishing NetStream's audio goes.
#[derive(Clone)]
enum PublishTarget {
    /// A call named by its publish name (any connection's call).
    Named(MediaHandle),
    /// This connection's own call, whichever it is.
    Own,
}

struct Connection {
    gw: Arc<Gateway>,
    session: Session,
    controller: Controller,
    sip_tx: mpsc::UnboundedSender<(CallId, SipEvent)>,
    sip_rx: mpsc::UnboundedReceiver<(CallId, SipEvent)>,
    media_tx: mpsc::UnboundedSender<(String, MediaEvent)>,
    media_rx: mpsc::UnboundedReceiver<(String, MediaEvent)>,
    play_tx: mpsc::Sender<(u32, PlayAudio)>,
    play_rx: mpsc::Receiver<(u32, PlayAudio)>,
    /// `(stream_id, call_id)`: a call this connection plays has ended.
    play_ended_tx: PlayEndedSender,
    play_ended_rx: mpsc::UnboundedReceiver<(u32, String)>,
    call: Option<OwnCall>,
    publishing: HashMap<u32, PublishTarget>,
    /// Playing NetStreams that follow this connection's own call.
    own_play: Vec<u32>,
    /// Playing NetStreams bound to a call by its play name.
    named_play: HashMap<u32, MediaHandle>,
    /// `connect` must arrive before this (`[limits] connect_timeout_s`).
    connect_deadline: Option<Instant>,
    dial_rate: rate::DialRate,
    last_rx: Instant,
    closing: Option<Instant>,
    /// New incoming calls routed to this connection.
    incoming_tx: mpsc::Sender<IncomingCall>,
    incoming_rx: mpsc::Receiver<IncomingCall>,
    /// Addresses and registrations this connection holds.
    registrations: register::Registrations,
    /// The client's identity when `[auth] mode = "jwt"`.
    identity: Option<crate::auth::Identity>,
    /// The last `dial` had no call capacity (gateway or token subject).
    dial_full: bool,
    /// A far end transferred the own call away: its SIP leg, until done.
    held: Option<transfer::HeldLeg>,
    /// The own call's early media, until the answer.
    early: Option<early::EarlyMedia>,
    /// Hold state of the own call, for `Sono.Call.Hold` (features.rs).
    hold: features::HoldState,
}

impl Connection {
    fn new(gw: Arc<Gateway>) -> Self {
        let c = &gw.config;
        let session = Session::new(SessionConfig {
            app: c.rtmp.app.clone(),
            chunk_size: c.rtmp.chunk_size,
            window_ack_size: c.rtmp.window_ack_size,
            limits: ChunkLimits {
                max_message_size: c.limits.max_message_size,
                max_chunk_streams: c.limits.max_chunk_streams as usize,
            },
            limits_before_connect: ChunkLimits {
                max_message_size: c.limits.max_message_size_before_connect,
                max_chunk_streams: c.limits.max_chunk_streams_before_connect as usize,
            },
            budget: Some(gw.reassembly.clone()),
            max_streams: c.limits.max_streams as usize,
            amf_limits: amf::Limits::default(),
        });
        let session = match &gw.auth {
            Some(a) => session.with_connect_gate(Box::new(auth::JwtGate {
                auth: a.clone(),
                metrics: gw.metrics.clone(),
            })),
            None => session,
        };
        let controller = Controller::new(
            ControllerConfig {
                policy: gw.policy.clone(),
                echo_user: c.sip.echo_user.clone(),
                ring_timeout: c.sip.ring_timeout,
            },
            rand::rngs::OsRng.next_u64(),
        );
        let (sip_tx, sip_rx) = mpsc::unbounded_channel();
        let (media_tx, media_rx) = mpsc::unbounded_channel();
        let depth = (c.media.rtmp_out_max_ms / 20).max(2) as usize;
        let (play_tx, play_rx) = mpsc::channel(depth);
        let (play_ended_tx, play_ended_rx) = mpsc::unbounded_channel();
        let (incoming_tx, incoming_rx) = mpsc::channel(4);
        let connect_timeout = c.limits.connect_timeout;
        let dial_rate = rate::DialRate::new(c.limits.max_dials_per_minute);
        Self {
            gw,
            session,
            controller,
            sip_tx,
            sip_rx,
            media_tx,
            media_rx,
            play_tx,
            play_rx,
            play_ended_tx,
            play_ended_rx,
            call: None,
            publishing: HashMap::new(),
            own_play: Vec::new(),
            named_play: HashMap::new(),
            connect_deadline: Some(Instant::now() + connect_timeout),
            dial_rate,
            last_rx: Instant::now(),
            closing: None,
            incoming_tx,
            incoming_rx,
            registrations: register::Registrations::default(),
            identity: None,
            dial_full: false,
            held: None,
            early: None,
            hold: features::HoldState::default(),
        }
    }

    /// Where the UA sends calls for addresses this connection holds.
    fn incoming_target(&self) -> IncomingTarget {
        IncomingTarget {
            calls: self.incoming_tx.clone(),
            events: self.sip_tx.clone(),
        }
    }

    async fn run<S: Transport>(&mut self, mut stream: S, leftover: BytesMut) {
        if !leftover.is_empty() && !self.input(&leftover).await {
            self.drive_controller().await;
            let _ = self.flush(&mut stream).await;
            return;
        }
        let mut buf = vec![0u8; 16 * 1024];
        let mut tcp_open = true;
        loop {
            // Everything the last input produced (events, replies, effects)
            // is driven before waiting again: pipelined input is whole.
            self.drive_controller().await;
            if !tcp_open {
                while self.session.take_output().is_some() {}
            } else if self.flush(&mut stream).await.is_err() {
                info!("client write failed or stalled; closing");
                tcp_open = false;
                self.begin_close();
            }
            if let Some(deadline) = self.closing {
                if !self.controller.has_call() || Instant::now() >= deadline {
                    break;
                }
            }
            let wake = self.next_wake();
            tokio::select! {
                r = stream.read(&mut buf), if tcp_open => match r {
                    Ok(0) | Err(_) => {
                        debug!("client closed the connection");
                        tcp_open = false;
                        self.begin_close();
                    }
                    Ok(n) => {
                        self.last_rx = Instant::now();
                        if !self.input(&buf[..n]).await {
                            self.drive_controller().await;
                            let _ = self.flush(&mut stream).await;
                            tcp_open = false;
                            self.begin_close();
                        }
                    }
                },
                Some((call_id, ev)) = self.sip_rx.recv() => self.on_sip(call_id, ev).await,
                Some(call) = self.incoming_rx.recv() => self.on_incoming(call),
                Some(ev) = self.registrations.next_event() => self.on_registration_event(ev),
                Some((call_id, ev)) = self.media_rx.recv() => self.on_media_event(&call_id, ev).await,
                Some((stream_id, audio)) = self.play_rx.recv() => {
                    self.session.send_audio(stream_id, audio.timestamp_ms, audio.body);
                }
                Some((stream_id, call_id)) = self.play_ended_rx.recv() => {
                    self.on_play_ended(stream_id, &call_id);
                }
                _ = sleep_until(wake) => self.on_timer(),
                _ = self.gw.shutdown.cancelled(), if self.closing.is_none() => {
                    info!("gateway shutting down");
                    self.begin_close();
                }
            }
        }
        self.controller.handle_disconnect(std::time::Instant::now());
        self.drive_controller().await;
        if tcp_open {
            let _ = self.flush(&mut stream).await;
            let _ = stream.shutdown().await;
        }
        if let Some(call) = self.call.take() {
            self.gw.streams.remove_call(&call.call_id);
        }
        self.registrations.close(&self.gw).await;
        for (kind, n) in self.session.faults().suppressed() {
            info!(kind = kind.name(), n, "peer faults counted but not logged");
        }
        debug!("connection closed");
    }

    fn begin_close(&mut self) {
        if self.closing.is_none() {
            self.closing = Some(Instant::now() + CLOSE_GRACE);
            self.controller.handle_disconnect(std::time::Instant::now());
        }
    }

    fn next_wake(&self) -> Instant {
        let idle = self.last_rx + self.gw.config.limits.idle_timeout;
        let ctl = self
            .controller
            .poll_timeout()
            .map(Instant::from_std)
            .unwrap_or(idle);
        let close = self.closing.unwrap_or(idle);
        let connect = self.connect_deadline.unwrap_or(idle);
        idle.min(ctl).min(close).min(connect)
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        self.controller.handle_timeout(now.into_std());
        if self.connect_deadline.is_some_and(|d| now >= d) && self.closing.is_none() {
            info!("no connect in time; closing");
            self.connect_deadline = None;
            self.begin_close();
            return;
        }
        let idle = self.gw.config.limits.idle_timeout;
        if now < self.last_rx + idle || self.closing.is_some() {
            return;
        }
        // Only streams bound to a live call keep an idle connection open.
        let live = |h: &MediaHandle| !h.stop.is_cancelled();
        let busy = self.controller.has_call()
            || self.publishing.values().any(|t| match t {
                PublishTarget::Named(h) => live(h),
                PublishTarget::Own => false,
            })
            || self.named_play.values().any(live);
        if busy {
            // Busy past the idle time: look again one idle period later.
            self.last_rx = now;
        } else {
            info!(idle_s = idle.as_secs(), "idle timeout");
            self.begin_close();
        }
    }

    async fn flush<S: Transport>(&mut self, stream: &mut S) -> std::io::Result<()> {
        let mut wrote = false;
        while let Some(out) = self.session.take_output() {
            match timeout(WRITE_TIMEOUT, stream.write_all(&out)).await {
                Ok(r) => r?,
                Err(_) => return Err(std::io::ErrorKind::TimedOut.into()),
            }
            wrote = true;
        }
        // TLS and WebSocket transports buffer writes; TCP's flush is a no-op.
        if wrote {
            match timeout(WRITE_TIMEOUT, stream.flush()).await {
                Ok(r) => r?,
                Err(_) => return Err(std::io::ErrorKind::TimedOut.into()),
            }
        }
        Ok(())
    }

    /// Feeds client bytes; false when the session must end.
    async fn input(&mut self, data: &[u8]) -> bool {
        if let Err(e) = self.session.handle_input(data) {
            info!(error = %e, "closing RTMP session");
            return false;
        }
        while let Some(ev) = self.session.poll_event() {
            self.on_session_event(ev).await;
        }
        true
    }

    async fn on_session_event(&mut self, ev: SessionEvent) {
        match ev {
            SessionEvent::Connected { app, grant, .. } => {
                self.connect_deadline = None;
                self.on_connected(&app, &grant);
            }
            SessionEvent::Invoke(inv) => self.on_invoke(inv).await,
            SessionEvent::Publish { stream_id, name } => self.on_publish(stream_id, &name),
            SessionEvent::Play { stream_id, name } => self.on_play(stream_id, &name),
            SessionEvent::StreamClosed { stream_id } => {
                self.publishing.remove(&stream_id);
                self.own_play.retain(|s| *s != stream_id);
                self.named_play.remove(&stream_id);
            }
            SessionEvent::Audio {
                stream_id,
                timestamp_ms,
                body,
            } => match self.publishing.get(&stream_id) {
                Some(PublishTarget::Named(h)) => h.send_audio(timestamp_ms, body),
                Some(PublishTarget::Own) => {
                    if let Some(h) = self.call.as_ref().and_then(|c| c.media.as_ref()) {
                        h.send_audio(timestamp_ms, body);
                    }
                }
                None => {}
            },
        }
    }

    async fn on_invoke(&mut self, inv: crate::rtmp::session::Invoke) {
        let now = std::time::Instant::now();
        match inv.name.as_str() {
            "dial" if !self.dial_rate.admit(now) => {
                let why = format!(
                    "dial rate limit: at most {} dials per minute",
                    self.dial_rate.max()
                );
                info!("dial refused: rate limit");
                self.gw.metrics.refused("dial", "rate");
                self.session.reply_error(inv.txn, "Sono.Call.Failed", &why);
            }
            "dial" => {
                let uri = inv
                    .args
                    .first()
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                let permit = self.gw.calls.clone().try_acquire_owned().ok();
                let slot = self.subject_slot();
                let capacity = auth::capacity(permit.is_some(), &slot);
                self.dial_full = !matches!(capacity, crate::call::Capacity::Available);
                let before = self.controller.call_id().map(str::to_string);
                self.controller
                    .handle_dial(now, inv.txn, uri.as_deref(), capacity);
                let after = self.controller.call_id().map(str::to_string);
                if let (Some(call_id), Some(permit)) =
                    (after.filter(|a| before.as_ref() != Some(a)), permit)
                {
                    info!(%call_id, uri = ?uri.as_deref().unwrap_or_default(), "dial");
                    self.call = Some(OwnCall {
                        call_id,
                        _permit: permit,
                        _subject: match slot {
                            auth::SubjectSlot::Ok(p) => p,
                            auth::SubjectSlot::Full { .. } => None,
                        },
                        sip: None,
                        pending_media: None,
                        media: None,
                        is_echo: false,
                        incoming: None,
                        metric: self.gw.metrics.call(CallDirection::Outbound),
                        started: Instant::now(),
                    });
                }
            }
            "hangup" => self.controller.handle_hangup(now, inv.txn),
            "accept" => self.controller.handle_accept(now, inv.txn),
            "reject" => {
                let code = inv
                    .args
                    .first()
                    .and_then(|v| v.as_f64())
                    .filter(|c| c.is_finite() && (0.0..=u16::MAX as f64).contains(c))
                    .map(|c| c as u16);
                self.controller.handle_reject(now, inv.txn, code);
            }
            "register" => match self.register_allowed() {
                Ok(()) => self.on_register(&inv),
                Err(why) => {
                    info!(reason = %why, "register refused");
                    self.session
                        .reply_error(inv.txn, "Sono.Registration.Failed", &why);
                }
            },
            "unregister" => self.on_unregister(&inv).await,
            "sendDTMF" => self.on_send_dtmf(&inv),
            "transfer" => self.on_transfer_invoke(&inv),
            "hold" | "unhold" => self.on_hold_invoke(inv.txn, inv.name == "hold"),
            other => {
                let why = format!("`{other}` is not supported by this gateway");
                self.session
                    .reply_error(inv.txn, "NetConnection.Call.Failed", &why);
            }
        }
    }

    /// `sendDTMF(digits[, duration_ms])`: RFC 4733 toward the far end,
    /// SIP INFO when it has no telephone-event.
    fn on_send_dtmf(&mut self, inv: &crate::rtmp::session::Invoke) {
        let digits = inv
            .args
            .first()
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let duration_ms = inv
            .args
            .get(1)
            .and_then(|v| v.as_f64())
            .filter(|d| d.is_finite())
            .map(|d| d.clamp(40.0, 2000.0) as u32)
            .unwrap_or(DTMF_DEFAULT_MS);
        if let Err(why) = validate_dtmf(digits) {
            self.session.reply_error(inv.txn, "Sono.Call.Failed", &why);
            return;
        }
        let Some(media) = self.call.as_ref().and_then(|c| c.media.as_ref()) else {
            self.session
                .reply_error(inv.txn, "Sono.Call.Failed", "no connected call");
            return;
        };
        media.send_dtmf(&digits.to_ascii_uppercase(), duration_ms);
        self.session.reply_result(inv.txn, Value::Null);
    }

    /// A call's publish name, or any name on a connection with a call
    /// (its own); anything else is `NetStream.Publish.BadName`.
    fn on_publish(&mut self, stream_id: u32, name: &str) {
        let target = match self.gw.streams.get(Direction::Publish, name) {
            Some(h) => PublishTarget::Named(h),
            None if self.call.is_some() => PublishTarget::Own,
            None => {
                debug!(?name, "publish refused: no such call");
                self.publishing.remove(&stream_id);
                return self
                    .session
                    .reject_publish(stream_id, "no call has this name");
            }
        };
        self.publishing.insert(stream_id, target);
        self.session.accept_publish(stream_id);
    }

    /// A call's play name, or any name on a connection with a call (its
    /// own); anything else, or a call with `[limits]
    /// max_subscribers_per_call` players, is `NetStream.Play.StreamNotFound`.
    fn on_play(&mut self, stream_id: u32, name: &str) {
        let max = self.gw.config.limits.max_subscribers_per_call;
        let queue = self.play_tx.clone();
        let ended = self.play_ended_tx.clone();
        let refused = match self.gw.streams.get(Direction::Play, name) {
            Some(h) => match self
                .gw
                .streams
                .subscribe(&h, stream_id, queue, ended.clone(), max)
            {
                Ok(()) => {
                    self.named_play.insert(stream_id, h);
                    None
                }
                Err(e) => Some(e.to_string()),
            },
            None if self.call.is_some() => {
                let media = self.call.as_ref().and_then(|c| c.media.clone());
                match media.map(|h| {
                    self.gw
                        .streams
                        .subscribe(&h, stream_id, queue, ended.clone(), max)
                }) {
                    Some(Err(e)) => Some(e.to_string()),
                    _ => {
                        if !self.own_play.contains(&stream_id) {
                            self.own_play.push(stream_id);
                        }
                        None
                    }
                }
            }
            None => Some("no call has this name".to_string()),
        };
        match refused {
            None => self.session.accept_play(stream_id),
            Some(why) => {
                debug!(?name, %why, "play refused");
                self.session.reject_play(stream_id, &why);
            }
        }
    }

    async fn drive_controller(&mut self) {
        while let Some(out) = self.controller.poll_output() {
            self.on_output(out).await;
        }
    }

    async fn on_output(&mut self, out: Output) {
        let now = std::time::Instant::now();
        match out {
            Output::Result { txn } => self.session.reply_result(txn, Value::Null),
            Output::Error {
                txn,
                code,
                description,
            } => {
                self.count_refusal(code);
                self.session.reply_error(txn, code, &description)
            }
            Output::Status(st) => {
                self.count_status(&st);
                self.session.send_connection_status(status_info(&st))
            }
            Output::Invite { call_id, target } => {
                if let Err((code, reason)) = self.start_invite(&call_id, target).await {
                    warn!(%call_id, %reason, "cannot place call");
                    self.controller.handle_sip(
                        now,
                        &call_id,
                        SipEvent::Failed(SipStatus::new(code, reason)),
                    );
                }
            }
            Output::StartEcho { call_id } => {
                if let Err(reason) = self.start_echo(&call_id) {
                    self.controller.handle_sip(
                        now,
                        &call_id,
                        SipEvent::Failed(SipStatus::new(500, reason)),
                    );
                } else {
                    self.controller.handle_sip(
                        now,
                        &call_id,
                        SipEvent::Answered { sdp: Vec::new() },
                    );
                }
            }
            Output::Hangup { call_id } => self.hangup(&call_id),
            Output::ConnectStreams {
                call_id,
                publish,
                play,
            } => self.connect_streams(&call_id, &publish, &play),
            Output::Release { call_id } => self.release(&call_id),
            Output::Incoming(info) => self.session.send_connection_status(incoming_info(&info)),
            Output::Accept { call_id } => {
                if let Err((code, reason)) = self.accept_incoming(&call_id).await {
                    warn!(%call_id, %reason, "cannot answer the incoming call");
                    self.controller.handle_sip(
                        now,
                        &call_id,
                        SipEvent::Failed(SipStatus::new(code, reason)),
                    );
                }
            }
            Output::Reject { call_id, code } => self.reject_incoming(&call_id, code),
            Output::Refer { call_id, target } => self.send_refer(&call_id, &target),
            Output::Transfer(ev) => self.send_transfer_event(&ev),
            Output::TransferLeg {
                old_call_id,
                new_call_id,
            } => self.transfer_leg(&old_call_id, &new_call_id),
        }
    }

    /// An RTP/RTCP port pair for a call; 503 when the range is exhausted.
    async fn allocate_ports(&self) -> Result<super::ports::PortPair, (u16, String)> {
        self.gw
            .ports
            .allocate()
            .await
            .map_err(|e| (503, format!("Service Unavailable: {e}")))
    }

    async fn start_invite(
        &mut self,
        call_id: &str,
        target: crate::call::uri::DialUri,
    ) -> Result<(), (u16, String)> {
        let ports = self.allocate_ports().await?;
        let remote = target_socket_addr(target.uri());
        let host = self.gw.ua.media_host_for(remote);
        let addr = host
            .parse()
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        let local = sdp::LocalMedia {
            addr,
            port: ports.rtp_port(),
            session_id: rand::rngs::OsRng.next_u64() >> 1,
            session_version: 1,
        };
        let codecs = media_task::offer_codecs(&self.gw.codecs, self.session.client_caps());
        let offer = sdp::build_offer(&codecs, &local).map_err(|e| (500, e.to_string()))?;
        let handle = self.gw.ua.place_call(
            PlaceCall {
                target: target.uri().clone(),
                offer: offer.to_bytes(),
                call_id: CallId::new(call_id),
                invite_timeout: self.gw.config.sip.invite_timeout,
                from: self.caller_id(),
            },
            self.sip_tx.clone(),
        );
        if let Some(call) = self.call.as_mut().filter(|c| c.call_id == call_id) {
            call.sip = Some(handle);
            call.pending_media = Some((ports, offer));
        }
        Ok(())
    }

    fn start_echo(&mut self, call_id: &str) -> Result<(), String> {
        let caps = self.session.client_caps();
        let handle = media_task::spawn_echo(
            &self.gw.config.media,
            caps,
            call_id,
            self.media_tx.clone(),
            self.gw.metrics.clone(),
        )
        .map_err(|e| e.to_string())?;
        if let Some(call) = self.call.as_mut().filter(|c| c.call_id == call_id) {
            call.media = Some(handle);
            call.is_echo = true;
        }
        Ok(())
    }

    async fn on_sip(&mut self, call_id: CallId, ev: SipEvent) {
        let call_id = String::from(call_id);
        if self.on_call_feature(&call_id, &ev) {
            return;
        }
        count_sip_response(&self.gw.metrics, &ev);
        if self.on_transfer_sip(&call_id, &ev) || self.on_early_sip(&call_id, &ev) {
            return;
        }
        let now = std::time::Instant::now();
        let outgoing = self
            .call
            .as_ref()
            .is_some_and(|c| c.call_id == call_id && c.pending_media.is_some());
        if let (SipEvent::Answered { sdp: answer }, true) = (&ev, outgoing) {
            if let Err(reason) = self.start_media(&call_id, answer) {
                warn!(%call_id, %reason, "cannot start media; ending the call");
                if let Some(mut h) = self.call.as_mut().and_then(|c| c.sip.take()) {
                    h.hangup();
                }
                self.controller.handle_sip(
                    now,
                    &call_id,
                    SipEvent::Failed(SipStatus::new(
                        488,
                        format!("Not Acceptable Here: {reason}"),
                    )),
                );
                return;
            }
        }
        self.controller.handle_sip(now, &call_id, ev);
    }

    fn start_media(&mut self, call_id: &str, answer: &[u8]) -> Result<(), String> {
        let Some(call) = self.call.as_mut().filter(|c| c.call_id == call_id) else {
            return Ok(());
        };
        let Some((ports, offer)) = call.pending_media.take() else {
            return Err("no media prepared for this call".into());
        };
        let negotiated = sdp::parse_answer(&offer, answer).map_err(|e| e.to_string())?;
        info!(%call_id, codec = ?negotiated.codec, remote = %negotiated.remote_rtp, "media negotiated");
        let handle = media_task::spawn_rtp(
            &self.gw.config.media,
            self.session.client_caps(),
            call_id,
            negotiated,
            ports,
            self.media_tx.clone(),
            self.gw.metrics.clone(),
        )
        .map_err(|e| e.to_string())?;
        call.media = Some(handle);
        Ok(())
    }

    async fn on_media_event(&mut self, call_id: &str, ev: MediaEvent) {
        let now = std::time::Instant::now();
        match ev {
            MediaEvent::RtpTimeout => {
                info!(%call_id, "RTP timeout");
                self.controller
                    .handle_media_failure(now, call_id, 408, "RTP timeout");
            }
            MediaEvent::Dtmf(digit) => {
                if self.controller.call_id() == Some(call_id) {
                    let info = Value::object_builder()
                        .set("level", "status")
                        .set("code", "Sono.Call.DTMF")
                        .set("digit", digit.to_string())
                        .set("call_id", call_id)
                        .build();
                    self.session.send_connection_status(info);
                }
            }
            MediaEvent::DtmfFallback {
                digits,
                duration_ms,
            } => {
                if let Some(h) = self
                    .call
                    .as_ref()
                    .filter(|c| c.call_id == call_id)
                    .and_then(|c| c.sip.as_ref())
                {
                    h.send_info_dtmf(digits.chars().map(|digit| DtmfInfo { digit, duration_ms }));
                }
            }
            MediaEvent::Ended => {
                if self
                    .call
                    .as_ref()
                    .is_some_and(|c| c.call_id == call_id && c.is_echo)
                {
                    self.controller
                        .handle_sip(now, call_id, SipEvent::Ended { by_remote: false });
                }
            }
        }
    }

    fn hangup(&mut self, call_id: &str) {
        let Some(call) = self.call.as_mut().filter(|c| c.call_id == call_id) else {
            return;
        };
        if let Some(h) = call.sip.as_mut() {
            h.hangup();
        } else if let Some(m) = &call.media {
            // The echo destination ends at once; its media task reports
            // `MediaEvent::Ended`, which ends the call.
            m.stop.cancel();
        }
    }

    fn connect_streams(&mut self, call_id: &str, publish: &str, play: &str) {
        let Some(media) = self
            .call
            .as_ref()
            .filter(|c| c.call_id == call_id)
            .and_then(|c| c.media.clone())
        else {
            return;
        };
        self.gw.streams.insert(publish, play, media.clone());
        let max = self.gw.config.limits.max_subscribers_per_call;
        for &stream_id in &self.own_play {
            let queue = self.play_tx.clone();
            let ended = self.play_ended_tx.clone();
            if let Err(e) = self
                .gw
                .streams
                .subscribe(&media, stream_id, queue, ended, max)
            {
                debug!(stream_id, error = %e, "own play not subscribed");
            }
        }
    }

    /// The call NetStream `stream_id` plays by its play name has ended:
    /// the player gets `NetStream.Play.UnpublishNotify`, `NetStream.Play.Stop`
    /// and StreamEOF, so ffmpeg and librtmp players exit. Ignored when the
    /// stream has since played another name or follows this connection's own
    /// call (that one only gets UnpublishNotify in [`Self::release`]).
    fn on_play_ended(&mut self, stream_id: u32, call_id: &str) {
        if self
            .named_play
            .get(&stream_id)
            .is_some_and(|h| h.call_id == call_id)
        {
            self.named_play.remove(&stream_id);
            self.session.end_play(stream_id);
        }
    }

    /// A dial refused by the controller: `[policy]` or capacity.
    fn count_refusal(&mut self, code: &str) {
        let full = std::mem::take(&mut self.dial_full);
        match code {
            "Sono.Call.Forbidden" => self.gw.metrics.refused("dial", "policy"),
            "Sono.Call.Failed" if full => self.gw.metrics.refused("dial", "capacity"),
            _ => {}
        }
    }

    /// Feeds the own call's status into its metrics: SIP code, answer time.
    fn count_status(&mut self, st: &CallStatus) {
        let Some(call) = self.call.as_mut().filter(|c| c.call_id == st.call_id) else {
            return;
        };
        if let Some(code) = st.sip_code {
            call.metric.sip_code(code);
        }
        if st.status == crate::call::StatusCode::Connected {
            call.metric.answered(call.started.elapsed());
        }
    }

    fn release(&mut self, call_id: &str) {
        if self.call.as_ref().is_some_and(|c| c.call_id == call_id) {
            self.gw.streams.remove_call(call_id);
            self.call = None; // Drop stops the media task and frees the permit.
            for &stream_id in &self.own_play {
                self.session.notify_unpublished(stream_id);
            }
        }
    }
}

/// Counts an INVITE response as the UA reports it (`Failed` includes the
/// UA's own 408/503 for a timeout or transport failure).
fn count_sip_response(metrics: &super::metrics::Metrics, ev: &SipEvent) {
    let code = match ev {
        SipEvent::Progress { status, .. } => status.code(),
        SipEvent::Answered { .. } => 200,
        SipEvent::Failed(status) => status.code(),
        _ => return,
    };
    metrics.sip_response(super::metrics::SipDirection::Received, code);
}

/// Checks `sendDTMF` digits: 1..=32 of `0-9 * # A-D`.
fn validate_dtmf(digits: &str) -> Result<(), String> {
    if digits.is_empty() {
        return Err("sendDTMF needs digits".into());
    }
    if digits.chars().count() > DTMF_MAX_DIGITS {
        return Err(format!("at most {DTMF_MAX_DIGITS} digits per sendDTMF"));
    }
    match digits
        .chars()
        .find(|c| !matches!(c.to_ascii_uppercase(), '0'..='9' | '*' | '#' | 'A'..='D'))
    {
        Some(c) => Err(format!("`{c}` is not a DTMF digit (0-9 * # A-D)")),
        None => Ok(()),
    }
}

/// The `Sono.Call.Status` info object.
fn status_info(st: &CallStatus) -> Value {
    Value::object_builder()
        .set("level", "status")
        .set("code", "Sono.Call.Status")
        .set("status_code", f64::from(st.status as u8))
        .set("call_id", st.call_id.as_str())
        .set_opt("sip_code", st.sip_code.map(f64::from))
        .set_opt("reason", st.reason.clone())
        .set_opt("publish", st.publish.clone())
        .set_opt("play", st.play.clone())
        .set_opt("early_media", st.early_media)
        .build()
}

/// The `Sono.Call.Incoming` info object: the caller as `uri`.
fn incoming_info(info: &crate::call::IncomingCallInfo) -> Value {
    Value::object_builder()
        .set("level", "status")
        .set("code", "Sono.Call.Incoming")
        .set("uri", info.uri.as_str())
        .set_opt("display_name", info.display_name.clone())
        .set("to", info.to.as_str())
        .set("call_id", info.call_id.as_str())
        .build()
}

/// The dialled host as a socket address when it is an IP literal (for
/// choosing the local address toward it).
fn target_socket_addr(uri: &rsipstack::sip::Uri) -> Option<std::net::SocketAddr> {
    use rsipstack::sip::uri::Host;
    match &uri.host_with_port.host {
        Host::IpAddr(ip) => Some(std::net::SocketAddr::new(*ip, 5060)),
        Host::Domain(_) => None,
    }
}
