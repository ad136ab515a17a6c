//! One RTMP connection: the handshake, then a loop that feeds the
//! connection's sans-IO cores (`rtmp::Session` for the bytes,
//! `call::connection::ConnectionCore` for the call plane) and carries out
//! the core's effects (`effects.rs`): SIP user agent calls, media tasks,
//! RTP ports, call-capacity permits, the stream registry, registrations.
//! The transport is generic ([`Transport`]): TCP, TLS or a WebSocket
//! tunnel all run this same code.
//!
//! Every loop turn first carries out everything the last input produced
//! and flushes it, so pipelined input (C2 + connect + dial in one segment)
//! is answered at once. The limits per connection (`[limits]`
//! `connect_timeout_s`, `max_dials_per_minute`, `idle_timeout_s`) are the
//! core's timers; `max_subscribers_per_call` is the stream registry's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use admission::Admission;
use bytes::BytesMut;
use rand::RngCore;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio::time::{sleep_until, timeout, Instant};
use tracing::{debug, info};

use super::media_task::MediaEvent;
use super::metrics::CallGuard;
use super::publisher::PublishClaim;
use super::registry::Origin;
use super::streams::{Direction, MediaHandle, PlayAudio};
use super::Gateway;
use crate::amf;
use crate::call::connection::{ConnectionConfig, ConnectionCore, Input, MediaInput};
use crate::call::ControllerConfig;
use crate::rtmp::chunk::ChunkLimits;
use crate::rtmp::handshake::ServerHandshake;
use crate::rtmp::session::{Session, SessionConfig, SessionEvent};
use crate::sip::event::CallId;
use crate::sip::incoming::{AnswerHandle, IncomingCall, IncomingTarget};
use crate::sip::ua::CallHandle;
use inbox::{Inbound, Inbox, InboxSender};

pub mod admission;
mod auth;
mod effects;
pub mod inbox;
mod incoming;
mod register;

/// Most time a write to a client may take before the client is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the connection's loop waits when its core has no deadline.
const IDLE_WAKE: Duration = Duration::from_secs(3600);

/// Most time a closing connection waits for its call's BYE to finish.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// A byte transport an RTMP connection runs on: TCP, TLS (RTMPS) or a
/// WebSocket byte-stream tunnel (`runtime::http`).
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// Runs one accepted connection to its end, whatever carries its bytes.
/// The connection holds its `admission` (its places in `[limits]`) until it ends.
/// `origin` names the connection in the status API (`/api/v1/connections`).
pub async fn run<S: Transport>(
    gw: Arc<Gateway>,
    mut stream: S,
    _admission: Admission,
    origin: Origin,
) {
    gw.registry.open_connection(origin);
    let _listed = Listed(gw.clone(), origin.id);
    let mut inbuf = BytesMut::with_capacity(4096);
    match timeout(
        gw.config().limits.handshake_timeout,
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
    let mut conn = Connection::new(gw, origin.id);
    conn.run(stream, inbuf).await;
}

/// Removes the connection (and any call it still holds) from the
/// registry when it ends, however it ends.
struct Listed(Arc<Gateway>, u64);

impl Drop for Listed {
    fn drop(&mut self) {
        self.0.registry.close_connection(self.1);
    }
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

/// This connection's own call: the real resources behind the core's
/// `Resources` state.
struct OwnCall {
    call_id: CallId,
    _permit: OwnedSemaphorePermit,
    /// The call's slot in its token subject's `max_calls`.
    _subject: Option<crate::auth::SubjectPermit>,
    sip: Option<CallHandle>,
    /// RTP sockets, from `AllocatePorts` until the media task takes them.
    ports: Option<super::ports::PortPair>,
    media: Option<MediaHandle>,
    /// An incoming call's answer handle, until answered or refused.
    incoming: Option<AnswerHandle>,
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

/// Call slots taken for a `dial` or an INVITE (`Effect::ReserveCall`),
/// until the core binds them to a call or drops them.
struct Reservation {
    permit: Option<OwnedSemaphorePermit>,
    subject: Option<crate::auth::SubjectPermit>,
}

struct Connection {
    gw: Arc<Gateway>,
    /// The connection's id in the registry and logs.
    id: u64,
    session: Session,
    core: ConnectionCore,
    /// Everything other tasks tell this connection (`inbox.rs`).
    inbox_tx: InboxSender,
    inbox: Inbox,
    /// Per-frame audio toward the client: its own bounded queue, so it
    /// never holds up the inbox.
    play_tx: mpsc::Sender<(u32, PlayAudio)>,
    play_rx: mpsc::Receiver<(u32, PlayAudio)>,
    call: Option<OwnCall>,
    reservation: Option<Reservation>,
    /// Publishing NetStreams bound to a call by its publish name, each
    /// with its claim on the call's one publisher slot.
    named_publish: HashMap<u32, (MediaHandle, PublishClaim)>,
    /// Claims of this connection's own (unnamed) publishing NetStreams on
    /// its call's publisher slot, taken at their first audio message.
    own_claims: HashMap<u32, PublishClaim>,
    /// Playing NetStreams bound to a call by its play name.
    named_play: HashMap<u32, MediaHandle>,
    /// An INVITE routed here, until the core binds or refuses it.
    new_incoming: Option<IncomingCall>,
    /// The SIP leg of a call the far end transferred away
    /// (`Effect::TransferLeg`), NOTIFYing the new call's progress until
    /// `Effect::DropTransferredLeg`; dropping it sends BYE.
    transferred: Option<(CallId, CallHandle)>,
    /// Addresses and registrations this connection holds.
    registrations: register::Registrations,
    /// The client's identity when `[auth] mode = "jwt"`.
    identity: Option<crate::auth::Identity>,
    tcp_open: bool,
    /// `Input::Shutdown` was fed (the gateway's token is cancelled).
    shutdown_fed: bool,
    /// The gateway's configuration generation this connection's core was
    /// last given (a live reload bumps it: new dials use the new policy).
    config_gen: u64,
}

impl Connection {
    fn new(gw: Arc<Gateway>, id: u64) -> Self {
        let config_gen = gw.config_generation();
        let c = gw.config();
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
        let session = match &gw.auth() {
            Some(a) => session.with_connect_gate(Box::new(auth::JwtGate {
                auth: a.clone(),
                metrics: gw.metrics.clone(),
            })),
            None => session,
        };
        let core = ConnectionCore::new(
            std::time::Instant::now(),
            ConnectionConfig {
                controller: ControllerConfig {
                    policy: c.policy.dial_allow.clone(),
                    echo_user: c.sip.echo_user.clone(),
                    ring_timeout: c.sip.ring_timeout,
                },
                connect_timeout: c.limits.connect_timeout,
                idle_timeout: c.limits.idle_timeout,
                max_dials_per_minute: c.limits.max_dials_per_minute,
                close_grace: CLOSE_GRACE,
                codecs: gw.codecs.clone(),
                srtp: c.media.srtp,
            },
            rand::rngs::OsRng.next_u64(),
        );
        let (inbox_tx, inbox) = inbox::inbox();
        let depth = (c.media.rtmp_out_max_ms / 20).max(2) as usize;
        let (play_tx, play_rx) = mpsc::channel(depth);
        Self {
            gw,
            id,
            session,
            core,
            registrations: register::Registrations::new(inbox_tx.clone()),
            inbox_tx,
            inbox,
            play_tx,
            play_rx,
            call: None,
            reservation: None,
            named_publish: HashMap::new(),
            own_claims: HashMap::new(),
            named_play: HashMap::new(),
            new_incoming: None,
            transferred: None,
            identity: None,
            tcp_open: true,
            shutdown_fed: false,
            config_gen,
        }
    }

    /// Where the UA sends calls for addresses this connection holds.
    fn incoming_target(&self) -> IncomingTarget {
        IncomingTarget {
            inbox: Arc::new(self.inbox_tx.clone()),
        }
    }

    async fn run<S: Transport>(&mut self, mut stream: S, leftover: BytesMut) {
        if !leftover.is_empty() && !self.input(&leftover).await {
            self.session_failed(&mut stream).await;
        }
        let mut buf = vec![0u8; 16 * 1024];
        // One timer and one shutdown waiter for the connection's life,
        // re-armed only when the core's deadline moves: a fresh
        // `sleep_until` and `cancelled()` per wake-up registered and
        // removed a timer entry and a waiter on the gateway-wide token
        // (a lock shared by every connection) for each audio message.
        let mut idle_until = Instant::now() + IDLE_WAKE;
        let sleep = sleep_until(idle_until);
        tokio::pin!(sleep);
        let shutdown = self.gw.shutdown.clone().cancelled_owned();
        tokio::pin!(shutdown);
        loop {
            // Everything the last input produced is carried out and
            // flushed before waiting again: pipelined input is whole.
            self.drive().await;
            if !self.tcp_open {
                while self.session.take_output().is_some() {}
            } else if self.flush(&mut stream).await.is_err() {
                info!("client write failed or stalled; closing");
                self.tcp_open = false;
                self.feed(Input::ClientClosed).await;
            }
            if self.core.is_closed() {
                break;
            }
            let wake = match self.core.poll_timeout() {
                Some(t) => Instant::from_std(t),
                None => {
                    if idle_until <= Instant::now() {
                        idle_until = Instant::now() + IDLE_WAKE;
                    }
                    idle_until
                }
            };
            if sleep.deadline() != wake {
                sleep.as_mut().reset(wake);
            }
            let tcp_open = self.tcp_open;
            tokio::select! {
                // Control first: a burst of audio never delays SIP events.
                biased;
                Some(msg) = self.inbox.recv() => self.on_inbound(msg).await,
                r = stream.read(&mut buf), if tcp_open => match r {
                    Ok(0) | Err(_) => {
                        debug!("client closed the connection");
                        self.tcp_open = false;
                        self.feed(Input::ClientClosed).await;
                    }
                    Ok(n) => {
                        if !self.input(&buf[..n]).await {
                            self.session_failed(&mut stream).await;
                        }
                    }
                },
                Some((stream_id, audio)) = self.play_rx.recv() => {
                    self.session.send_audio(stream_id, audio.timestamp_ms, audio.body);
                }
                _ = &mut sleep => {
                    self.core.handle_timeout(std::time::Instant::now());
                }
                // Once: the core then ends its call (BYE) and closes; a
                // cancelled token stays ready, so polling it again would spin.
                _ = &mut shutdown, if !self.core.is_closed() && !self.shutdown_fed => {
                    info!("gateway shutting down");
                    self.shutdown_fed = true;
                    self.feed(Input::Shutdown).await;
                }
            }
        }
        self.drive().await;
        if self.tcp_open {
            let _ = self.flush(&mut stream).await;
            let _ = stream.shutdown().await;
        }
        if let Some(call) = self.call.take() {
            self.gw.streams.remove_call(call.call_id.as_str());
        }
        self.registrations.close(&self.gw).await;
        for (kind, n) in self.session.faults().suppressed() {
            info!(kind = kind.name(), n, "peer faults counted but not logged");
        }
        debug!("connection closed");
    }

    /// Feeds one input to the core and carries out what it asks.
    /// After a live reload, gives the core the new `[policy] dial_allow`
    /// before it handles the next input (a running call is untouched).
    fn refresh_config(&mut self) {
        let generation = self.gw.config_generation();
        if generation != self.config_gen {
            self.config_gen = generation;
            let policy = self.gw.config().policy.dial_allow.clone();
            self.core.set_dial_policy(policy);
        }
    }

    async fn feed(&mut self, input: Input) {
        self.refresh_config();
        self.core.handle(std::time::Instant::now(), input);
        self.drive().await;
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

    /// Feeds client bytes to the session and its events to the core;
    /// false when the session must end.
    async fn input(&mut self, data: &[u8]) -> bool {
        self.refresh_config();
        self.core
            .handle(std::time::Instant::now(), Input::ClientActivity);
        let result = self.session.handle_input(data);
        while let Some(ev) = self.session.poll_event() {
            self.on_session_event(ev).await;
        }
        match result {
            Ok(()) => true,
            Err(e) => {
                info!(error = %e, "closing RTMP session");
                false
            }
        }
    }

    /// The session ended: send what it answered (e.g. Connect.Rejected),
    /// then stop reading and close.
    async fn session_failed<S: Transport>(&mut self, stream: &mut S) {
        self.drive().await;
        let _ = self.flush(stream).await;
        self.tcp_open = false;
        self.feed(Input::ClientClosed).await;
    }

    /// A session event, with the stream registry's answer for
    /// publish/play names.
    async fn on_session_event(&mut self, ev: SessionEvent) {
        let input = match ev {
            SessionEvent::Publish { stream_id, name } => {
                let named = self.publish_named(stream_id, &name);
                if let Some(Err(why)) = &named {
                    debug!(?name, %why, "publish refused");
                } else if named.is_none() && self.call.is_none() {
                    debug!(?name, "publish refused: no such call");
                }
                Input::Publish { stream_id, named }
            }
            SessionEvent::Play { stream_id, name } => {
                let named = self.subscribe_named(stream_id, &name);
                if let Some(Err(why)) = &named {
                    debug!(?name, %why, "play refused");
                }
                Input::Play { stream_id, named }
            }
            SessionEvent::Connected {
                app,
                grant,
                args,
                caps,
            } => {
                self.on_connected(&app, &grant);
                Input::Session(SessionEvent::Connected {
                    app,
                    grant,
                    args,
                    caps,
                })
            }
            other => Input::Session(other),
        };
        self.feed(input).await;
    }

    /// Subscribes NetStream `stream_id` to the call whose play name is
    /// `name`, if any.
    /// `publish(name)`: binds NetStream `stream_id` to the call whose
    /// publish name `name` is, with that call's one publisher claim.
    /// `None`: no call has this name; `Err(why)`: another NetStream
    /// publishes into the call. A repeated publish on the stream first
    /// gives up what the stream held.
    fn publish_named(&mut self, stream_id: u32, name: &str) -> Option<Result<CallId, String>> {
        self.named_publish.remove(&stream_id);
        self.own_claims.remove(&stream_id);
        let h = self.gw.streams.get(Direction::Publish, name)?;
        let Some(claim) = h.publisher.claim() else {
            return Some(Err("this call already has a publisher".into()));
        };
        let id = CallId::new(h.call_id.as_str());
        self.named_publish.insert(stream_id, (h, claim));
        Some(Ok(id))
    }

    fn subscribe_named(&mut self, stream_id: u32, name: &str) -> Option<Result<CallId, String>> {
        let h = self.gw.streams.get(Direction::Play, name)?;
        let max = self.gw.config().limits.max_subscribers_per_call;
        let queue = self.play_tx.clone();
        let ended: super::streams::PlayEndedSender = Arc::new(self.inbox_tx.clone());
        Some(
            match self.gw.streams.subscribe(&h, stream_id, queue, ended, max) {
                Ok(()) => {
                    let id = CallId::new(h.call_id.as_str());
                    self.named_play.insert(stream_id, h);
                    Ok(id)
                }
                Err(e) => Err(e.to_string()),
            },
        )
    }

    /// A message from another task, for the core.
    async fn on_inbound(&mut self, msg: Inbound) {
        self.refresh_config();
        match msg {
            Inbound::Sip(call_id, event) => {
                effects::count_sip_response(&self.gw.metrics, &event);
                self.feed(Input::Sip { call_id, event }).await;
            }
            Inbound::Incoming(call) => self.on_incoming(call).await,
            Inbound::Media(call_id, ev) => self.on_media_event(call_id, ev).await,
            Inbound::PlayEnded(stream_id, call_id) => {
                if self
                    .named_play
                    .get(&stream_id)
                    .is_some_and(|h| h.call_id == call_id)
                {
                    self.named_play.remove(&stream_id);
                }
                let call_id = CallId::new(call_id);
                self.feed(Input::PlayEnded { stream_id, call_id }).await;
            }
            Inbound::Registration(aor, event) => {
                info!(aor = ?aor, event = ?event, "registration");
                self.gw
                    .registry
                    .registration(self.id, register::view(self.id, &aor, &event));
                self.feed(Input::Registration { aor, event }).await;
            }
            Inbound::OperatorHangup(call_id) => {
                info!(%call_id, "hangup by the operator (status API)");
                self.feed(Input::OperatorHangup { call_id }).await;
            }
        }
    }

    /// A media task's event, for the core.
    async fn on_media_event(&mut self, call_id: String, ev: MediaEvent) {
        let event = match ev {
            MediaEvent::RtpTimeout => {
                info!(%call_id, "RTP timeout");
                MediaInput::RtpTimeout
            }
            MediaEvent::Dtmf(d) => MediaInput::Dtmf(d),
            MediaEvent::DtmfFallback {
                digits,
                duration_ms,
            } => MediaInput::DtmfFallback {
                digits,
                duration_ms,
            },
            MediaEvent::Ended => MediaInput::Ended,
        };
        self.feed(Input::Media {
            call_id: CallId::new(call_id),
            event,
        })
        .await;
    }
}
