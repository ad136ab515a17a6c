//! A call's media: builds its sans-IO `media::Bridge` (the downlink codec
//! chosen from the client's `connect`, [`downlink`]) and places it on a
//! media worker ([`super::media_worker`]), which drives it between the
//! call's RTP/RTCP sockets and the RTMP streams bound to it, together
//! with many other calls, in its tick loop.
//!
//! Audio published by a client arrives as
//! [`MediaCommand::Audio`](super::streams::MediaCommand::Audio) on the
//! handle's bounded queue (taken with `try_recv` each tick); audio for
//! clients leaves through each subscriber's bounded queue, and is
//! dropped for a subscriber whose queue is full, so a slow client never
//! delays the others or builds up latency.
//!
//! Every datagram goes to the bridge with its source address: the bridge
//! drops what `[media] latching` does not accept before parsing it, and
//! with rtcp-mux (RFC 5761) demultiplexes RTCP arriving on the RTP socket
//! and sends its own RTCP from it. Published audio passes a per-call
//! [`WorkBudget`](crate::media::budget::WorkBudget): beyond twice real
//! time (after a burst) messages are dropped before decoding, counted in
//! `rtmp2sip_media_budget_dropped_total`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant as StdInstant;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::connection::inbox::InboxSender;
use super::media_runtime::MediaRuntime;
use super::media_worker::{CallEnds, CallMedia, PlaceError};
use super::metrics::Metrics;
use super::ports::PortPair;
use super::streams::{update_channel, MediaHandle, MediaSnapshot};
use crate::config::{Latching, MediaConfig, RtmpOutCodec};
use crate::media::bridge::{Bridge, BridgeConfig};
use crate::media::codec::{Codec, Direction, Negotiated};
use crate::media::{LatchMode, MediaError, RtmpOut};
use crate::rtmp::session::{AudioCodecs, ClientCaps};
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
pub(crate) const INBOUND_DEPTH: usize = 256;

/// Where a call's media runs and what it reports to.
#[derive(Debug, Clone)]
pub struct TaskEnv {
    /// The media workers and the overload flag.
    pub runtime: MediaRuntime,
    /// Receives the call's bridge counters once, when the task ends.
    pub metrics: Arc<Metrics>,
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
        speex_mode_narrowband: media.speex_mode_narrowband,
        speex_quality_narrowband: media.speex_quality_narrowband,
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
/// [`SpawnError`] when the bridge cannot be built for the negotiated
/// codec, or the call cannot be placed on a media worker.
pub fn spawn_rtp(
    media: &MediaConfig,
    caps: ClientCaps,
    call_id: &str,
    negotiated: Negotiated,
    ports: PortPair,
    events: InboxSender,
    env: TaskEnv,
) -> Result<MediaHandle, SpawnError> {
    let mut bridge = Bridge::new(
        bridge_config(media, negotiated, downlink(media, caps)),
        StdInstant::now(),
        &mut rand::rngs::OsRng,
    )?;
    if !negotiated.is_hold() {
        bridge.set_remote(negotiated.remote_rtp, negotiated.remote_rtcp);
    }
    let ptime_ms = negotiated.ptime_ms;
    spawn_task(call_id, bridge, ptime_ms, Some(ports), events, env)
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
/// [`SpawnError`] when the bridge cannot be built or placed.
pub fn spawn_echo(
    media: &MediaConfig,
    caps: ClientCaps,
    call_id: &str,
    events: InboxSender,
    env: TaskEnv,
) -> Result<MediaHandle, SpawnError> {
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
    spawn_task(call_id, bridge, 20, None, events, env)
}

/// Why a call's media could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The bridge cannot be built for the negotiated codec.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The RTP sockets cannot be handed to a media worker.
    #[error("cannot move the RTP sockets to a media worker: {0}")]
    Sockets(std::io::Error),
    /// Every media worker's queue of new calls is full.
    #[error(transparent)]
    Busy(#[from] PlaceError),
}

/// Builds the call's media around `bridge` (SIP packet time `ptime_ms`,
/// ms) and places it on the least loaded media worker; `ports` (`None`
/// for the echo destination) leave the tokio reactor for the worker's
/// poller.
fn spawn_task(
    call_id: &str,
    bridge: Bridge,
    ptime_ms: u32,
    ports: Option<PortPair>,
    events: InboxSender,
    env: TaskEnv,
) -> Result<MediaHandle, SpawnError> {
    let ports = ports
        .map(PortPair::into_std)
        .transpose()
        .map_err(SpawnError::Sockets)?;
    let (handle, ends) = new_handle(call_id, events, env.metrics);
    let call = CallMedia::new(call_id, bridge, ptime_ms, ports, ends, StdInstant::now());
    env.runtime.pool.place(call)?;
    debug!(%call_id, "media placed on a worker");
    Ok(handle)
}

/// A fresh handle and the ends a worker keeps.
fn new_handle(
    call_id: &str,
    events: InboxSender,
    metrics: Arc<Metrics>,
) -> (MediaHandle, CallEnds) {
    let (tx, rx) = mpsc::channel(INBOUND_DEPTH);
    let (updates, updates_rx) = update_channel();
    let (stats_tx, stats) = watch::channel(MediaSnapshot::default());
    let stop = CancellationToken::new();
    let handle = MediaHandle {
        call_id: call_id.to_string(),
        tx,
        stop: stop.clone(),
        updates,
        publisher: Default::default(),
        stats,
    };
    let ends = CallEnds {
        commands: rx,
        updates: updates_rx,
        stats: stats_tx,
        stop,
        events,
        metrics,
    };
    (handle, ends)
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

    use crate::runtime::connection::inbox::{inbox, Inbound};
    use crate::runtime::media_worker::MediaWorkers;
    use crate::runtime::streams::PlayAudio;
    use tokio::net::UdpSocket;

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

    fn pcmu_to(remote_rtp: SocketAddr) -> Negotiated {
        Negotiated {
            codec: Codec::Pcmu,
            pt: 0,
            recv_pt: 0,
            dtmf_pt: None,
            recv_dtmf_pt: None,
            ptime_ms: 20,
            direction: Direction::SendRecv,
            remote_rtp,
            remote_rtcp: SocketAddr::from(([127, 0, 0, 1], 9)),
            rtcp_mux: false,
            srtp: None,
        }
    }

    fn env(workers: u32) -> (TaskEnv, MediaWorkers) {
        let pool = MediaWorkers::start(workers, std::time::Duration::from_millis(10)).unwrap();
        let env = TaskEnv {
            runtime: MediaRuntime::new(pool.clone()),
            metrics: Arc::new(Metrics::new()),
        };
        (env, pool)
    }

    fn pcmu_body() -> bytes::Bytes {
        let mut body = vec![0x82];
        body.extend([0xFFu8; 160]);
        body.into()
    }

    /// Waits up to 2 s for the media's `Ended` event.
    async fn ended(inbox: &mut crate::runtime::connection::inbox::Inbox, id: &str) -> bool {
        let wait = std::time::Duration::from_secs(2);
        tokio::time::timeout(wait, async {
            while let Some(m) = inbox.recv().await {
                if let Inbound::Media(c, MediaEvent::Ended) = m {
                    if c == id {
                        return true;
                    }
                }
            }
            false
        })
        .await
        .unwrap_or(false)
    }

    #[test]
    fn a_held_worker_thread_shows_as_late_ticks() {
        let (env, pool) = env(1);
        let tracker = tokio_util::task::TaskTracker::new();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let media = crate::config::Config::default().media;
        let ms = std::time::Duration::from_millis;
        pool.spawn_connection(&tracker, async move {
            let ports =
                super::super::ports::PortAllocator::new([127, 0, 0, 1].into(), 46400, 46498)
                    .allocate()
                    .await
                    .unwrap();
            let far = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let (events, _inbox) = inbox();
            let n = pcmu_to(far.local_addr().unwrap());
            let h = spawn_rtp(&media, ClientCaps::default(), "c8", n, ports, events, env).unwrap();
            // The worker ticks the call, then a connection on its
            // thread holds the thread for 80 ms (10 ms ticks).
            tokio::time::sleep(ms(100)).await;
            std::thread::sleep(ms(80));
            tokio::time::sleep(ms(100)).await;
            drop(h);
            done_tx.send(()).unwrap();
        });
        done_rx.recv_timeout(ms(3000)).unwrap();
        // A stopping worker merges what it counted.
        pool.shutdown(ms(2000));
        let h = pool.take_tick_lateness();
        assert!(h.count() >= 10, "ticks counted: {h:?}");
        let over_50ms: u64 = h
            .buckets_seconds()
            .filter(|&(bound, _)| bound > 0.05)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(over_50ms, 1, "one tick waited for the held thread: {h:?}");
        assert_eq!(pool.take_tick_lateness().count(), 0, "taken");
    }

    #[test]
    fn a_connections_call_goes_to_the_connections_worker() {
        let (env, pool) = env(2);
        let tracker = tokio_util::task::TaskTracker::new();
        // The first connection takes worker 0 and waits; the second
        // (worker 1, the one with fewer connections) places a call.
        let (hold_tx, hold_rx) = tokio::sync::oneshot::channel::<()>();
        pool.spawn_connection(&tracker, async move {
            let _ = hold_rx.await;
        });
        let (placed_tx, placed_rx) = std::sync::mpsc::channel();
        let media = crate::config::Config::default().media;
        pool.spawn_connection(&tracker, async move {
            let ports =
                super::super::ports::PortAllocator::new([127, 0, 0, 1].into(), 46300, 46398)
                    .allocate()
                    .await
                    .unwrap();
            let far = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let (events, _inbox) = inbox();
            let n = pcmu_to(far.local_addr().unwrap());
            let caps = ClientCaps::default();
            let h = spawn_rtp(&media, caps, "c9", n, ports, events, env).unwrap();
            placed_tx.send(()).unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            drop(h);
        });
        placed_rx
            .recv_timeout(std::time::Duration::from_secs(2))
            .unwrap();
        let calls: Vec<usize> = pool.counters().iter().map(|c| c.calls).collect();
        assert_eq!(calls, [0, 1], "the call is on its connection's worker");
        drop(hold_tx);
        pool.shutdown(std::time::Duration::from_secs(2));
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
        let mut n = pcmu_to(at(&first));
        let (events, mut inbox) = inbox();
        let (env, pool) = env(1);
        let caps = ClientCaps::default();
        let h = spawn_rtp(&media, caps, "c1", n, ports, events, env).unwrap();
        let body = pcmu_body();
        let settle = || tokio::time::sleep(std::time::Duration::from_millis(50));

        h.send_audio(0, body.clone());
        let (seq, ts, _) = rtp_on(&first, 2000).await.expect("RTP to the SDP address");

        // A re-INVITE moves the far end: RTP follows, the sequence goes on.
        n.remote_rtp = at(&moved);
        h.update(n);
        settle().await;
        h.send_audio(20, body.clone());
        let (seq2, ts2, _) = rtp_on(&moved, 2000).await.expect("RTP to the new address");
        assert_eq!(seq2, seq.wrapping_add(1));
        assert_eq!(ts2, ts.wrapping_add(160));

        // Held (the far end sent a=sendonly): nothing goes out.
        n.direction = Direction::RecvOnly;
        h.update(n);
        settle().await;
        h.send_audio(40, body.clone());
        assert_eq!(rtp_on(&moved, 300).await, None);

        // Resumed: the next sequence number, a talkspurt.
        n.direction = Direction::SendRecv;
        h.update(n);
        settle().await;
        h.send_audio(1000, body.clone());
        let (seq3, ts3, marker) = rtp_on(&moved, 2000).await.expect("RTP after resume");
        assert_eq!(seq3, seq.wrapping_add(2));
        assert!(marker);
        assert!(ts3.wrapping_sub(ts2) >= 160 + 8 * 300, "held time skipped");
        h.stop.cancel();
        assert!(
            ended(&mut inbox, "c1").await,
            "the connection hears the end"
        );
        assert_eq!(pool.counters()[0].calls, 0);
        pool.shutdown(std::time::Duration::from_secs(1));
    }

    /// The gateway's layout: ports bound on the I/O runtime, the call on a
    /// media worker thread; the sockets move over (RTP in both
    /// directions), and the worker counts its CPU time and ticks.
    #[test]
    fn media_runs_on_a_worker_with_sockets_moved_over() {
        let io = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (env, pool) = env(1);
        io.block_on(async {
            let ports =
                super::super::ports::PortAllocator::new([127, 0, 0, 1].into(), 47100, 47198)
                    .allocate()
                    .await
                    .unwrap();
            let ours = SocketAddr::from(([127, 0, 0, 1], ports.rtp_port()));
            let far = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let (events, _inbox) = inbox();
            let media = crate::config::Config::default().media;
            let n = pcmu_to(far.local_addr().unwrap());
            let h = spawn_rtp(&media, ClientCaps::default(), "c2", n, ports, events, env).unwrap();
            let (q, mut played) = mpsc::channel::<(u32, PlayAudio)>(64);
            h.subscribe(7, q);
            h.send_audio(0, pcmu_body());
            assert!(rtp_on(&far, 2000).await.is_some(), "RTP from the worker");
            // The far end's RTP reaches the subscriber through the jitter buffer.
            for i in 0..20u16 {
                let mut pkt = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
                pkt[2..4].copy_from_slice(&(100 + i).to_be_bytes());
                pkt[4..8].copy_from_slice(&(u32::from(i) * 160).to_be_bytes());
                pkt.extend([0xFFu8; 160]);
                far.send_to(&pkt, ours).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            let wait = std::time::Duration::from_secs(2);
            let (stream, _) = tokio::time::timeout(wait, played.recv())
                .await
                .expect("audio toward the client")
                .unwrap();
            assert_eq!(stream, 7);
            h.stop.cancel();
        });
        let c = pool.counters()[0];
        assert!(c.ticks > 10, "{c:?}");
        assert!(c.cpu_ns > 0, "the worker's CPU time is counted: {c:?}");
        pool.shutdown(std::time::Duration::from_secs(1));
    }

    /// A datagram flood on one call's port does not hold up another call
    /// on the same worker: at most 64 datagrams a socket a tick are read.
    #[tokio::test]
    async fn a_flooded_call_does_not_stall_its_worker() {
        let media = crate::config::Config::default().media;
        let (env, pool) = env(1);
        let alloc = super::super::ports::PortAllocator::new([127, 0, 0, 1].into(), 47200, 47298);
        let (pa, pb) = (
            alloc.allocate().await.unwrap(),
            alloc.allocate().await.unwrap(),
        );
        let flooded = SocketAddr::from(([127, 0, 0, 1], pa.rtp_port()));
        let far = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (events, _inbox) = inbox();
        let n = pcmu_to(far.local_addr().unwrap());
        let caps = ClientCaps::default();
        let a = spawn_rtp(&media, caps, "a", n, pa, events.clone(), env.clone()).unwrap();
        let b = spawn_rtp(&media, caps, "b", n, pb, events, env).unwrap();
        let attacker = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        attacker.set_nonblocking(true).unwrap();
        let junk = [0x80u8; 172];
        for _ in 0..20_000 {
            let _ = attacker.send_to(&junk, flooded);
        }
        b.send_audio(0, pcmu_body());
        let t = std::time::Instant::now();
        assert!(rtp_on(&far, 2000).await.is_some(), "the other call's RTP");
        assert!(
            t.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            t.elapsed()
        );
        a.stop.cancel();
        b.stop.cancel();
        pool.shutdown(std::time::Duration::from_secs(1));
    }

    /// Many calls on few workers: spread evenly, each ends on its own, and
    /// stopping the pool ends what is left.
    #[tokio::test]
    async fn calls_are_spread_over_workers_and_end_with_the_pool() {
        let media = crate::config::Config::default().media;
        let (env, pool) = env(2);
        let (events, mut inbox) = inbox();
        let mut handles = Vec::new();
        for i in 0..6 {
            let id = format!("e{i}");
            let h = spawn_echo(
                &media,
                ClientCaps::default(),
                &id,
                events.clone(),
                env.clone(),
            );
            handles.push(h.unwrap());
        }
        let calls: Vec<usize> = pool.counters().iter().map(|c| c.calls).collect();
        assert_eq!(calls, [3, 3]);
        // The echo destination plays back what is published.
        let (q, mut played) = mpsc::channel::<(u32, PlayAudio)>(64);
        handles[0].subscribe(1, q);
        for i in 0..10 {
            handles[0].send_audio(i * 20, pcmu_body());
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let wait = std::time::Duration::from_secs(2);
        assert!(
            tokio::time::timeout(wait, played.recv()).await.is_ok(),
            "echo"
        );
        handles[0].stop.cancel();
        assert!(ended(&mut inbox, "e0").await);
        pool.shutdown(std::time::Duration::from_secs(2));
        let mut rest = 0;
        while let Ok(Some(m)) =
            tokio::time::timeout(std::time::Duration::from_millis(200), inbox.recv()).await
        {
            rest += usize::from(matches!(m, Inbound::Media(_, MediaEvent::Ended)));
        }
        assert_eq!(rest, 5, "the pool's stop ends every call");
        assert!(pool.counters().iter().all(|c| c.calls == 0));
        // A stopped pool places nothing.
        let late = spawn_echo(&media, ClientCaps::default(), "late", events, env);
        assert!(matches!(late, Err(SpawnError::Busy(_))));
    }
}
