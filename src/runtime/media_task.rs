//! One task per call: drives the call's sans-IO `media::Bridge` between
//! its RTP/RTCP sockets and the RTMP streams bound to it.
//!
//! Audio published by a client arrives as [`MediaCommand::Audio`]; audio
//! for clients leaves through each subscriber's bounded queue, and is
//! dropped for a subscriber whose queue is full, so a slow client never
//! delays the others or builds up latency.
//!
//! Every datagram goes to the bridge with its source address: the bridge
//! drops what `[media] latching` does not accept before parsing it, and
//! with rtcp-mux (RFC 5761) demultiplexes RTCP arriving on the RTP socket
//! and sends its own RTCP from it ([`TransmitKind::Rtp`]).
//!
//! The task runs on the media runtime ([`super::media_runtime`]), with its
//! sockets registered there; it adds the time each step takes (an input
//! into the bridge and the output it flushes) to the runtime's
//! [`crate::media::load::BusyClock`] for load shedding. Published audio
//! passes a per-call [`WorkBudget`]: beyond twice real time (after a
//! burst) messages are dropped before decoding, counted in
//! `rtmp2sip_media_budget_dropped_total`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant as StdInstant;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, Instrument};

use super::connection::inbox::{Inbound, InboxSender};
use super::media_runtime::MediaRuntime;
use super::metrics::Metrics;
use super::ports::PortPair;
use super::streams::{update_channel, MediaCommand, MediaHandle, MediaSnapshot, PlayAudio};
use crate::config::{Latching, MediaConfig, RtmpOutCodec};
use crate::media::bridge::{Bridge, BridgeConfig, MediaEvent as BridgeEvent, TransmitKind};
use crate::media::budget::WorkBudget;
use crate::media::codec::{Codec, Direction, Negotiated};
use crate::media::{LatchMode, MediaError, RtmpOut};
use crate::rtmp::session::{AudioCodecs, ClientCaps};
use crate::time::RtmpTimestamp;
use rtmp2sip_codecs::G711Law;

/// What a call's media task tells the connection that owns the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// No RTP from the far end for `[media] rtp_timeout_s`.
    RtpTimeout,
    /// A DTMF digit began at the far end (RFC 4733 telephone-event).
    Dtmf(char),
    /// The far end has no telephone-event: send these digits as SIP INFO.
    DtmfFallback {
        /// The digits (`0-9 * # A-D`, already validated, at most 32).
        digits: String,
        /// Duration of each digit, in ms.
        duration_ms: u32,
    },
    /// The task ended.
    Ended,
}

/// Queue depth of published audio toward a media task (messages). Sized
/// for the densest stream: Nellymoser at 44.1 kHz arrives as ~172
/// messages/s (one 256-sample block each), so 256 messages are ~1.5 s of
/// slack (Speex, 20-40 ms per message: 5-10 s); at most ~4 KiB each
/// (`MAX_RTMP_PAYLOAD`), which bounds a call's queue to ~1 MiB.
const INBOUND_DEPTH: usize = 256;

/// Where a media task runs and what it reports to.
#[derive(Debug, Clone)]
pub struct TaskEnv {
    /// The media runtime (spawning, busy clock).
    pub runtime: MediaRuntime,
    /// Receives the call's bridge counters once, when the task ends.
    pub metrics: Arc<Metrics>,
}

struct Subscriber {
    stream_id: u32,
    queue: mpsc::Sender<(u32, PlayAudio)>,
}

/// The media layer's name for `[media] rtmp_out_codec`.
fn rtmp_out(codec: RtmpOutCodec) -> RtmpOut {
    match codec {
        RtmpOutCodec::Speex => RtmpOut::Speex,
        RtmpOutCodec::Match => RtmpOut::Match,
    }
}

/// The codec a connection's client receives, from what it announced in
/// `connect`:
///
/// 1. Enhanced RTMP Opus when it can decode Opus (`fourCcList` /
///    `audioFourCcInfoMap`);
/// 2. else, when its `audioCodecs` mask is present and lacks Speex
///    (0x0800): G.711 µ-law if G711U (0x0100) is set, else A-law if G711A
///    (0x0080) is set;
/// 3. else `[media] rtmp_out_codec`.
pub fn downlink(media: &MediaConfig, caps: ClientCaps) -> RtmpOut {
    if caps.plays_opus() {
        return RtmpOut::Opus;
    }
    g711_fallback(caps).unwrap_or_else(|| rtmp_out(media.rtmp_out_codec))
}

/// The G.711 law for a client that said it cannot play Speex, µ-law first.
fn g711_fallback(caps: ClientCaps) -> Option<RtmpOut> {
    let mask = caps.audio_codecs().filter(|_| caps.lacks_speex())?;
    if mask.has(AudioCodecs::G711U) {
        Some(RtmpOut::G711(G711Law::Pcmu))
    } else if mask.has(AudioCodecs::G711A) {
        Some(RtmpOut::G711(G711Law::Pcma))
    } else {
        None
    }
}

/// The media layer's name for `[media] latching`.
fn latch_mode(latching: Latching) -> LatchMode {
    match latching {
        Latching::Strict => LatchMode::Strict,
        Latching::Ip => LatchMode::Ip,
        Latching::Any => LatchMode::Any,
    }
}

fn bridge_config(media: &MediaConfig, negotiated: Negotiated, out: RtmpOut) -> BridgeConfig {
    BridgeConfig {
        sip_codec: negotiated,
        jitter_ms: media.jitter_ms,
        speex_quality: media.speex_quality,
        speex_complexity: media.speex_complexity,
        opus_complexity: media.opus_complexity,
        rtmp_out: out,
        rtmp_out_max_ms: media.rtmp_out_max_ms,
        // "Never" for a disabled timeout: ten years is far past any call
        // and safely inside `Instant`'s range.
        rtp_timeout: media
            .rtp_timeout
            .unwrap_or(std::time::Duration::from_secs(10 * 365 * 24 * 3600)),
        ntp_at_start: crate::media::rtcp::ntp_from_system_time(std::time::SystemTime::now()),
        latching: latch_mode(media.latching),
    }
}

/// Starts the media of a SIP call on its allocated sockets; `caps` (the
/// owning client's `connect` announcement) chooses the downlink codec
/// ([`downlink`]).
///
/// # Errors
/// [`MediaError`] when the bridge cannot be built for the negotiated codec.
pub fn spawn_rtp(
    media: &MediaConfig,
    caps: ClientCaps,
    call_id: &str,
    negotiated: Negotiated,
    ports: PortPair,
    events: InboxSender,
    env: TaskEnv,
) -> Result<MediaHandle, MediaError> {
    let mut bridge = Bridge::new(
        bridge_config(media, negotiated, downlink(media, caps)),
        StdInstant::now(),
        &mut rand::rngs::OsRng,
    )?;
    if !negotiated.is_hold() {
        bridge.set_remote(negotiated.remote_rtp, negotiated.remote_rtcp);
    }
    let ptime_ms = negotiated.ptime_ms;
    Ok(spawn_task(
        call_id,
        bridge,
        ptime_ms,
        Some(ports),
        events,
        env,
    ))
}

/// Starts the built-in echo destination: a bridge whose far end is a
/// loopback, so the caller's audio (any codec it publishes) is carried as
/// PCMU through the RTP path and jitter buffer and back: transcoded, or
/// byte for byte when the client publishes µ-law and `[media]
/// rtmp_out_codec = "match"`.
///
/// An Opus client ([`downlink`]) publishes and receives Opus, PCMU in
/// between.
///
/// # Errors
/// [`MediaError`] when the bridge cannot be built.
pub fn spawn_echo(
    media: &MediaConfig,
    caps: ClientCaps,
    call_id: &str,
    events: InboxSender,
    env: TaskEnv,
) -> Result<MediaHandle, MediaError> {
    let loopback: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 9));
    let negotiated = Negotiated {
        codec: Codec::Pcmu,
        pt: 0,
        recv_pt: 0,
        dtmf_pt: None,
        recv_dtmf_pt: None,
        ptime_ms: 20,
        direction: Direction::SendRecv,
        remote_rtp: loopback,
        remote_rtcp: loopback,
        rtcp_mux: false,
        srtp: None,
    };
    let mut cfg = bridge_config(media, negotiated, downlink(media, caps));
    cfg.rtp_timeout = std::time::Duration::from_secs(10 * 365 * 24 * 3600);
    let bridge = Bridge::new(cfg, StdInstant::now(), &mut rand::rngs::OsRng)?;
    Ok(spawn_task(call_id, bridge, 20, None, events, env))
}

/// Builds the task around `bridge` (SIP packet time `ptime_ms`, ms) and
/// spawns it on the media runtime; `ports` (`None` for the echo
/// destination) move over to that runtime when the task starts.
fn spawn_task(
    call_id: &str,
    bridge: Bridge,
    ptime_ms: u32,
    ports: Option<PortPair>,
    events: InboxSender,
    env: TaskEnv,
) -> MediaHandle {
    let (handle, rx, updates, stats) = new_handle(call_id);
    let now = StdInstant::now();
    let task = MediaTask {
        call_id: call_id.to_string(),
        bridge,
        sockets: None,
        commands: rx,
        updates,
        subscribers: Vec::new(),
        events,
        stop: handle.stop.clone(),
        metrics: env.metrics,
        stats: (stats, now),
        busy: env.runtime.busy.clone(),
        budget: WorkBudget::new(now),
        ptime_ms,
    };
    let span = if ports.is_some() {
        tracing::info_span!("media", call_id = %call_id)
    } else {
        tracing::info_span!("echo", call_id = %call_id)
    };
    env.runtime.handle.spawn(task.run(ports).instrument(span));
    handle
}

type UpdateReceiver = watch::Receiver<Option<Negotiated>>;

fn new_handle(
    call_id: &str,
) -> (
    MediaHandle,
    mpsc::Receiver<MediaCommand>,
    UpdateReceiver,
    StatsSender,
) {
    let (tx, rx) = mpsc::channel(INBOUND_DEPTH);
    let (updates, updates_rx) = update_channel();
    let (stats_tx, stats) = watch::channel(MediaSnapshot::default());
    (
        MediaHandle {
            call_id: call_id.to_string(),
            tx,
            stop: CancellationToken::new(),
            updates,
            publisher: Default::default(),
            stats,
        },
        rx,
        updates_rx,
        stats_tx,
    )
}

/// The media task's end of [`MediaHandle::stats`].
type StatsSender = watch::Sender<MediaSnapshot>;

/// How often a media task refreshes [`MediaHandle::stats`] (off the
/// per-packet path: on its timer wake-ups).
const STATS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

struct MediaTask {
    call_id: String,
    bridge: Bridge,
    /// `None` for the echo destination.
    sockets: Option<PortPair>,
    commands: mpsc::Receiver<MediaCommand>,
    /// Renegotiated media ([`MediaHandle::update`]), latest wins.
    updates: UpdateReceiver,
    subscribers: Vec<Subscriber>,
    events: InboxSender,
    stop: CancellationToken,
    /// Receives the call's [`BridgeStats`] once, when the task ends.
    metrics: Arc<Metrics>,
    /// [`MediaHandle::stats`], and when it was last refreshed.
    stats: (StatsSender, StdInstant),
    /// The media workers' busy time: each step's duration is added.
    busy: crate::media::load::BusyClock,
    /// Published audio beyond twice real time is dropped.
    budget: WorkBudget,
    /// The SIP side's packet time (ms): each RTP packet a published
    /// message produced charges this much to the budget.
    ptime_ms: u32,
}

/// What woke the task.
enum Step {
    Stop,
    Command(Option<MediaCommand>),
    Rtp(std::io::Result<(usize, SocketAddr)>),
    Rtcp(std::io::Result<(usize, SocketAddr)>),
    Updated(bool),
    Timeout,
}

async fn recv_on(sock: Option<&UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match sock {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

impl MediaTask {
    /// Runs until stopped; `ports` (none for the echo destination) are
    /// moved onto the runtime this runs on first.
    async fn run(mut self, ports: Option<PortPair>) {
        debug!("media started");
        if let Some(p) = ports {
            match p.into_current_runtime() {
                Ok(p) => self.sockets = Some(p),
                Err(e) => {
                    info!(error = %e, "cannot register the RTP sockets; media ends");
                    self.events
                        .send(Inbound::Media(self.call_id.clone(), MediaEvent::Ended));
                    return;
                }
            }
        }
        let mut rtp_buf = vec![0u8; 2048];
        let mut rtcp_buf = vec![0u8; 2048];
        loop {
            let t0 = StdInstant::now();
            self.flush().await;
            let wake = self
                .bridge
                .poll_timeout()
                .map(Instant::from_std)
                .unwrap_or_else(|| Instant::now() + std::time::Duration::from_secs(3600));
            let flushed = t0.elapsed();
            let rtp_sock = self.sockets.as_ref().map(|p| &p.rtp);
            let rtcp_sock = self.sockets.as_ref().map(|p| &p.rtcp);
            let step = tokio::select! {
                _ = self.stop.cancelled() => Step::Stop,
                cmd = self.commands.recv() => Step::Command(cmd),
                r = recv_on(rtp_sock, &mut rtp_buf) => Step::Rtp(r),
                r = recv_on(rtcp_sock, &mut rtcp_buf) => Step::Rtcp(r),
                changed = self.updates.changed() => Step::Updated(changed.is_ok()),
                _ = sleep_until(wake) => Step::Timeout,
            };
            let t1 = StdInstant::now();
            let go_on = self.step(t1, step, &rtp_buf, &rtcp_buf);
            self.busy.add(flushed + t1.elapsed());
            if !go_on {
                break;
            }
        }
        self.bridge.close(StdInstant::now());
        self.flush().await;
        self.publish_stats(true);
        let stats = self.bridge.stats();
        let budget_dropped = self.budget.dropped();
        info!(?stats, budget_dropped, "media ended");
        self.metrics.media_ended(&stats);
        self.metrics.media_budget_dropped(budget_dropped);
        self.events
            .send(Inbound::Media(self.call_id.clone(), MediaEvent::Ended));
    }

    /// Handles what woke the task at `now`; false when the task ends.
    fn step(&mut self, now: StdInstant, step: Step, rtp_buf: &[u8], rtcp_buf: &[u8]) -> bool {
        match step {
            Step::Stop | Step::Command(None) | Step::Updated(false) => return false,
            Step::Command(Some(cmd)) => self.command(now, cmd),
            Step::Rtp(Ok((n, from))) => {
                if let Some(d) = rtp_buf.get(..n) {
                    if let Err(e) = self.bridge.handle_rtp(now, from, d) {
                        debug!(error = %e, "dropping RTP packet");
                    }
                }
            }
            Step::Rtcp(Ok((n, from))) => {
                if let Some(d) = rtcp_buf.get(..n) {
                    if let Err(e) = self.bridge.handle_rtcp(now, from, d) {
                        debug!(error = %e, "dropping RTCP packet");
                    }
                }
            }
            Step::Rtp(Err(_)) | Step::Rtcp(Err(_)) => {}
            Step::Updated(true) => self.apply_update(),
            Step::Timeout => {
                self.bridge.handle_timeout(now);
                self.publish_stats(false);
            }
        }
        true
    }

    /// Refreshes [`MediaHandle::stats`] at most every [`STATS_EVERY`]
    /// (always with `force`: when the task ends).
    fn publish_stats(&mut self, force: bool) {
        let now = StdInstant::now();
        if force || now.saturating_duration_since(self.stats.1) >= STATS_EVERY {
            self.stats.1 = now;
            self.stats.0.send_replace(MediaSnapshot {
                stats: self.bridge.stats(),
                rtmp_in: self.bridge.rtmp_in_codec(),
            });
        }
    }

    fn command(&mut self, now: StdInstant, cmd: MediaCommand) {
        match cmd {
            MediaCommand::Audio { timestamp_ms, body } => self.published(now, timestamp_ms, &body),
            MediaCommand::Subscribe { stream_id, queue } => {
                // An Opus player needs the OpusHead before any frame.
                if let Some(head) = self.bridge.rtmp_stream_header() {
                    let play = PlayAudio {
                        timestamp_ms: head.timestamp_ms,
                        body: head.body,
                    };
                    let _ = queue.try_send((stream_id, play));
                }
                self.subscribers.push(Subscriber { stream_id, queue });
            }
            MediaCommand::Dtmf {
                digits,
                duration_ms,
            } => match self.bridge.send_dtmf(now, &digits, duration_ms) {
                Ok(()) => debug!(%digits, "DTMF as RFC 4733 telephone-event"),
                Err(MediaError::NoTelephoneEvent) => {
                    let ev = MediaEvent::DtmfFallback {
                        digits,
                        duration_ms,
                    };
                    self.events.send(Inbound::Media(self.call_id.clone(), ev));
                }
                Err(e) => debug!(error = %e, "DTMF not sent"),
            },
        }
    }

    /// One published audio message, within the call's work budget: it is
    /// charged the media time of the RTP packets it produced.
    fn published(&mut self, now: StdInstant, timestamp_ms: u32, body: &[u8]) {
        if !self.budget.admit(now) {
            if self.budget.dropped() == 1 {
                info!("audio published faster than twice real time: dropping the excess");
            }
            return;
        }
        let before = self.bridge.stats().rtp_sent;
        if let Err(e) = self
            .bridge
            .handle_rtmp_audio(now, RtmpTimestamp(timestamp_ms), body)
        {
            debug!(error = %e, "dropping RTMP audio");
        }
        let packets = self.bridge.stats().rtp_sent.saturating_sub(before);
        let ms = u32::try_from(packets)
            .unwrap_or(u32::MAX)
            .saturating_mul(self.ptime_ms);
        self.budget.charge(ms);
    }

    /// Adopts the latest [`MediaHandle::update`]; a codec the bridge cannot
    /// start leaves the media as it was (logged).
    fn apply_update(&mut self) {
        let Some(negotiated) = *self.updates.borrow_and_update() else {
            return;
        };
        if self.sockets.is_none() {
            return; // the echo destination has no far end to renegotiate
        }
        self.ptime_ms = negotiated.ptime_ms;
        match self.bridge.update(StdInstant::now(), negotiated) {
            Ok(change) => info!(?change, "media renegotiated"),
            Err(e) => info!(error = %e, "renegotiated media refused; keeping the old"),
        }
    }

    /// Sends what the bridge produced: RTP/RTCP to the far end (or back
    /// into the bridge for the echo destination), audio to subscribers,
    /// events to the connection.
    async fn flush(&mut self) {
        // Bounded: a bridge produces a handful of packets per input.
        for _ in 0..256 {
            let Some(t) = self.bridge.poll_transmit() else {
                break;
            };
            match &self.sockets {
                Some(p) => {
                    let sock = match t.kind {
                        TransmitKind::Rtp => &p.rtp,
                        TransmitKind::Rtcp => &p.rtcp,
                    };
                    if let Err(e) = sock.send_to(&t.payload, t.dest).await {
                        debug!(error = %e, dest = %t.dest, "RTP send failed");
                    }
                }
                None => {
                    if t.kind == TransmitKind::Rtp {
                        let _ = self
                            .bridge
                            .handle_rtp(StdInstant::now(), t.dest, &t.payload);
                    }
                }
            }
        }
        while let Some(audio) = self.bridge.poll_rtmp_audio() {
            let play = PlayAudio {
                timestamp_ms: audio.timestamp_ms,
                body: audio.body,
            };
            self.subscribers
                .retain(|s| match s.queue.try_send((s.stream_id, play.clone())) {
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                });
        }
        while let Some(ev) = self.bridge.poll_event() {
            let out = match ev {
                BridgeEvent::RtpTimeout => Some(MediaEvent::RtpTimeout),
                BridgeEvent::Dtmf { digit, end: false } => Some(MediaEvent::Dtmf(digit)),
                BridgeEvent::RemoteLatched(addr) => {
                    debug!(%addr, "RTP latched");
                    None
                }
                BridgeEvent::RtmpCodecChanged { from, to } => {
                    info!(?from, ?to, "RTMP client audio codec");
                    None
                }
                _ => None,
            };
            if let Some(ev) = out {
                self.events.send(Inbound::Media(self.call_id.clone(), ev));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::session::FourCcInfo;

    #[test]
    fn opus_clients_get_opus_others_the_configured_codec() {
        let media = crate::config::Config::default().media;
        assert_eq!(downlink(&media, ClientCaps::default()), RtmpOut::Speex);
        let all = ClientCaps::with_opus(FourCcInfo::ALL);
        assert_eq!(downlink(&media, all), RtmpOut::Opus);
        let encode_only = ClientCaps::with_opus(FourCcInfo::from_bits(FourCcInfo::CAN_ENCODE));
        assert_eq!(downlink(&media, encode_only), RtmpOut::Speex);
    }

    fn mask(bits: u16) -> ClientCaps {
        ClientCaps::with_audio_codecs(AudioCodecs::from_bits(bits))
    }

    #[test]
    fn clients_without_speex_get_g711() {
        let mut media = crate::config::Config::default().media;
        let mulaw = RtmpOut::G711(G711Law::Pcmu);
        let alaw = RtmpOut::G711(G711Law::Pcma);
        assert_eq!(downlink(&media, mask(AudioCodecs::G711U)), mulaw);
        assert_eq!(downlink(&media, mask(0x0180)), mulaw, "µ-law first");
        assert_eq!(downlink(&media, mask(AudioCodecs::G711A)), alaw);
        // Speex in the mask, or nothing usable: the configured codec.
        assert_eq!(downlink(&media, mask(0x0DF7)), RtmpOut::Speex);
        assert_eq!(downlink(&media, mask(0x0900)), RtmpOut::Speex);
        assert_eq!(downlink(&media, mask(AudioCodecs::AAC)), RtmpOut::Speex);
        assert_eq!(downlink(&media, mask(0)), RtmpOut::Speex);
        media.rtmp_out_codec = RtmpOutCodec::Match;
        assert_eq!(downlink(&media, mask(AudioCodecs::G711U)), mulaw);
        assert_eq!(downlink(&media, mask(AudioCodecs::ALL)), RtmpOut::Match);
    }

    #[test]
    fn opus_wins_over_audio_codecs() {
        let media = crate::config::Config::default().media;
        let connect = crate::amf::Value::object_builder()
            .set("audioCodecs", 256.0)
            .set("fourCcList", crate::amf::Value::array(["Opus"]))
            .build();
        let caps = ClientCaps::from_connect(&connect);
        assert_eq!(downlink(&media, caps), RtmpOut::Opus);
    }

    /// Receives one RTP packet on `sock` within `ms`: (seq, ts, marker).
    async fn rtp_on(sock: &UdpSocket, ms: u64) -> Option<(u16, u32, bool)> {
        let mut buf = [0u8; 2048];
        let wait = std::time::Duration::from_millis(ms);
        let (n, _) = tokio::time::timeout(wait, sock.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        let p = crate::media::rtp::parse(&buf[..n]).ok()?;
        Some((p.seq, p.ts.0, p.marker))
    }

    #[tokio::test]
    async fn update_moves_holds_and_resumes_a_running_call() {
        let media = crate::config::Config::default().media;
        let ports = super::super::ports::PortAllocator::new([127, 0, 0, 1].into(), 47000, 47998)
            .allocate()
            .await
            .unwrap();
        let first = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let moved = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let at = |s: &UdpSocket| s.local_addr().unwrap();
        let unused = SocketAddr::from(([127, 0, 0, 1], 9));
        let mut n = Negotiated {
            codec: Codec::Pcmu,
            pt: 0,
            recv_pt: 0,
            dtmf_pt: None,
            recv_dtmf_pt: None,
            ptime_ms: 20,
            direction: Direction::SendRecv,
            remote_rtp: at(&first),
            remote_rtcp: unused,
            rtcp_mux: false,
            srtp: None,
        };
        let (events, _inbox) = super::super::connection::inbox::inbox();
        let env = TaskEnv {
            runtime: MediaRuntime::new(tokio::runtime::Handle::current(), 1),
            metrics: Arc::new(Metrics::new()),
        };
        let caps = ClientCaps::default();
        let h = spawn_rtp(&media, caps, "c1", n, ports, events, env).unwrap();
        let mut body = vec![0x82];
        body.extend([0xFFu8; 160]);
        let settle = || tokio::time::sleep(std::time::Duration::from_millis(50));

        h.send_audio(0, body.clone().into());
        let (seq, ts, _) = rtp_on(&first, 2000).await.expect("RTP to the SDP address");

        // A re-INVITE moves the far end: RTP follows, the sequence goes on.
        n.remote_rtp = at(&moved);
        h.update(n);
        settle().await;
        h.send_audio(20, body.clone().into());
        let (seq2, ts2, _) = rtp_on(&moved, 2000).await.expect("RTP to the new address");
        assert_eq!(seq2, seq.wrapping_add(1));
        assert_eq!(ts2, ts.wrapping_add(160));

        // Held (the far end sent a=sendonly): nothing goes out.
        n.direction = Direction::RecvOnly;
        h.update(n);
        settle().await;
        h.send_audio(40, body.clone().into());
        assert_eq!(rtp_on(&moved, 300).await, None);

        // Resumed: the next sequence number, a talkspurt.
        n.direction = Direction::SendRecv;
        h.update(n);
        settle().await;
        h.send_audio(1000, body.clone().into());
        let (seq3, ts3, marker) = rtp_on(&moved, 2000).await.expect("RTP after resume");
        assert_eq!(seq3, seq.wrapping_add(2));
        assert!(marker);
        assert!(ts3.wrapping_sub(ts2) >= 160 + 8 * 300, "held time skipped");
        h.stop.cancel();
    }

    /// The gateway's layout: ports bound on the I/O runtime, the task on
    /// the media runtime; the sockets move over, and the steps are timed.
    #[test]
    fn media_runs_on_its_own_runtime_with_sockets_moved_over() {
        let io = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let media_rt = super::super::media_runtime::build(1).unwrap();
        let runtime = MediaRuntime::new(media_rt.handle().clone(), 1);
        let busy = runtime.busy.clone();
        io.block_on(async {
            let ports =
                super::super::ports::PortAllocator::new([127, 0, 0, 1].into(), 47100, 47198)
                    .allocate()
                    .await
                    .unwrap();
            let far = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let n = Negotiated {
                codec: Codec::Pcmu,
                pt: 0,
                recv_pt: 0,
                dtmf_pt: None,
                recv_dtmf_pt: None,
                ptime_ms: 20,
                direction: Direction::SendRecv,
                remote_rtp: far.local_addr().unwrap(),
                remote_rtcp: SocketAddr::from(([127, 0, 0, 1], 9)),
                rtcp_mux: false,
                srtp: None,
            };
            let (events, _inbox) = super::super::connection::inbox::inbox();
            let env = TaskEnv {
                runtime,
                metrics: Arc::new(Metrics::new()),
            };
            let media = crate::config::Config::default().media;
            let h = spawn_rtp(&media, ClientCaps::default(), "c2", n, ports, events, env).unwrap();
            let mut body = vec![0x82];
            body.extend([0xFFu8; 160]);
            h.send_audio(0, body.into());
            assert!(
                rtp_on(&far, 2000).await.is_some(),
                "RTP from the media runtime"
            );
            h.stop.cancel();
        });
        assert!(busy.total_ns() > 0, "the media task's steps are timed");
        drop(io);
        media_rt.shutdown_timeout(std::time::Duration::from_secs(1));
    }
}
