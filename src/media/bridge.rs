//! The per-call media bridge (sans-IO): FLV audio from the RTMP client to
//! RTP toward the SIP peer, and RTP from the peer back to FLV audio.
//!
//! Two paths, chosen from the negotiated SIP codec:
//!
//! - **Passthrough** (`speex/16000`): the Speex payload of an RTMP message
//!   goes into one RTP packet unchanged, its timestamp advancing 320 ticks
//!   per frame (RFC 5574 §3.3; frames are counted with the codecs crate's
//!   bit walker, no decode). Back, each RTP payload becomes one RTMP
//!   message `0xB2 + payload`.
//! - **Transcode** (PCMU, PCMA, speex/8000): Speex WB decode -> resample
//!   16k->8k -> encode, one RTP packet per 20 ms; back, decode (or conceal
//!   a lost packet) -> resample 8k->16k -> Speex WB encode, one frame per
//!   RTMP message.
//!
//! RTP from the peer goes through [`RtpReceiver`] (latching, statistics)
//! and the [`JitterBuffer`]; telephone-events become [`MediaEvent::Dtmf`].
//! [`Bridge::send_dtmf`] sends digits as telephone-events (RFC 4733) in
//! the audio's SSRC and sequence space, holding audio back meanwhile.
//! RTMP output timestamps are ms since the bridge started, derived from
//! the RTP timeline and never decreasing. Output toward RTMP is bounded by
//! `rtmp_out_max_ms`: the oldest audio is dropped first.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::RngCore;
use rtmp2sip_codecs::{is_speex_header_packet, speex_frame_count, SpeexMode};

use crate::flv::{parse_audio, SoundFormat};
use crate::sip::sdp::{Codec, Negotiated};

use super::dtmf::{DtmfReceiver, TelephoneEvent};
use super::dtmf_send::DtmfSender;
use super::jitter::{JitterBuffer, JitterConfig, JitterStats, Playout};
use super::pipeline::{transcoders, ToRtmp, ToSip, RTMP_FRAME};
use super::receiver::RtpReceiver;
use super::rtcp::{RtcpSession, SenderInfo};
use super::rtp::RtpSender;
use super::timestamp::{ms_to_ticks, ticks_to_ms, RtpTimestamp};
use super::MediaError;

/// FLV audio header byte we send: Speex, "5.5 kHz" rate bits, 16-bit, mono
/// (Flash's convention; the real rate is 16 kHz).
pub const RTMP_SPEEX_HEADER: u8 = 0xB2;
/// Frame duration on both sides, in ms.
const FRAME_MS: u32 = 20;
/// A gap in RTMP timestamps above this starts a new talkspurt toward RTP.
const RTMP_GAP_MS: i64 = 60;

/// Per-call media settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeConfig {
    /// The SDP outcome: codec, payload types, remote addresses, direction.
    pub sip_codec: Negotiated,
    /// `[media] jitter_ms`: initial jitter buffer delay (see [`JitterConfig::from_jitter_ms`]).
    pub jitter_ms: u32,
    /// Speex encoder quality 0..=10 (Speex WB toward RTMP, NB toward SIP).
    pub speex_quality: u8,
    /// Most audio queued toward RTMP, in ms; older audio is dropped beyond.
    pub rtmp_out_max_ms: u32,
    /// `[media] rtp_timeout`: silence from the peer that raises
    /// [`MediaEvent::RtpTimeout`] (default 60 s).
    pub rtp_timeout: Duration,
    /// NTP timestamp (RFC 3550 §4) at the `now` given to [`Bridge::new`],
    /// e.g. `rtcp::ntp_from_system_time(SystemTime::now())`.
    pub ntp_at_start: u64,
}

/// Which socket a datagram goes out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransmitKind {
    /// The RTP socket.
    Rtp,
    /// The RTCP socket (RTP port + 1).
    Rtcp,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub dest: SocketAddr,
    /// Socket to send from.
    pub kind: TransmitKind,
    /// The datagram.
    pub payload: Vec<u8>,
}

/// An audio message for the RTMP client (message type 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpAudio {
    /// RTMP timestamp in ms since the bridge started.
    pub timestamp_ms: u32,
    /// FLV audio body: `0xB2` then Speex frame(s).
    pub body: Bytes,
}

/// Things the call controller should know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// No RTP from the peer for `rtp_timeout` (raised once per silence).
    RtpTimeout,
    /// RTP is now sent to this address (symmetric RTP, first packet of a source).
    RemoteLatched(SocketAddr),
    /// A DTMF digit from the peer (RFC 4733): `end` false at its start, true at its end.
    Dtmf {
        /// `0-9`, `*`, `#`, `A-D`.
        digit: char,
        /// Whether the digit ended.
        end: bool,
    },
    /// The peer sent an RTCP BYE.
    RemoteBye,
}

/// Counters for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BridgeStats {
    /// RTP packets sent.
    pub rtp_sent: u64,
    /// RTP packets accepted from the peer.
    pub rtp_received: u64,
    /// RTP datagrams refused (malformed, foreign SSRC, bad payload type).
    pub rtp_invalid: u64,
    /// RTMP audio messages taken from the client.
    pub rtmp_in: u64,
    /// RTMP audio messages refused (format, corrupt payload).
    pub rtmp_invalid: u64,
    /// RTMP audio messages produced.
    pub rtmp_out: u64,
    /// RTMP audio messages dropped because the output queue was full.
    pub rtmp_out_dropped: u64,
    /// Jitter buffer counters.
    pub jitter: JitterStats,
    /// Latest RTCP round trip.
    pub rtt: Option<Duration>,
}

/// The audio path.
enum Path {
    Passthrough,
    Transcode {
        to_sip: Box<ToSip>,
        to_rtmp: Box<ToRtmp>,
    },
}

/// Where RTP goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Remote {
    /// From SDP; the first packet of a source may move it.
    Signalled { rtp: SocketAddr, rtcp: SocketAddr },
    /// Learnt from the source address of received packets.
    Latched { rtp: SocketAddr, rtcp: SocketAddr },
}

impl Remote {
    fn rtp(self) -> SocketAddr {
        match self {
            Remote::Signalled { rtp, .. } | Remote::Latched { rtp, .. } => rtp,
        }
    }
    fn rtcp(self) -> SocketAddr {
        match self {
            Remote::Signalled { rtcp, .. } | Remote::Latched { rtcp, .. } => rtcp,
        }
    }
}

/// Maps the RTP timeline of played frames onto RTMP ms, never decreasing.
#[derive(Debug, Clone, Copy)]
enum OutClock {
    Unset,
    Running {
        anchor_ts: RtpTimestamp,
        anchor_ms: u32,
        /// The next ms the output may use.
        next_ms: u32,
    },
}

/// RTP inactivity watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inactivity {
    Watching { deadline: Instant },
    Fired,
}

/// The per-call media bridge.
pub struct Bridge {
    cfg: BridgeConfig,
    start: Instant,
    path: Path,
    sender: RtpSender,
    receiver: RtpReceiver,
    rtcp: RtcpSession,
    jitter: JitterBuffer,
    dtmf: DtmfReceiver,
    dtmf_tx: DtmfSender,
    /// The end of the last DTMF event: audio resumes no earlier.
    resume_ts: Option<RtpTimestamp>,
    remote: Remote,
    /// Expected RTMP timestamp of the next client message.
    rtmp_in_next_ms: Option<u32>,
    out_clock: OutClock,
    inactivity: Inactivity,
    transmits: VecDeque<Transmit>,
    rtmp_out: VecDeque<(RtmpAudio, u32)>,
    rtmp_out_ms: u32,
    events: VecDeque<MediaEvent>,
    stats: BridgeStats,
    scratch: Vec<u8>,
}

/// Largest RTP payload accepted from the peer, in bytes (bounds the jitter
/// buffer's memory: capacity x this).
const MAX_RTP_PAYLOAD: usize = 1500;

/// Bound on queued datagrams and events (each is drained every turn).
const MAX_QUEUE: usize = 256;

impl Bridge {
    /// A bridge for one call, started at `now`.
    ///
    /// Errors: [`MediaError::Config`] if the codec cannot carry audio
    /// (telephone-event), [`MediaError::Codec`] if a codec fails to start.
    pub fn new(
        cfg: BridgeConfig,
        now: Instant,
        rng: &mut impl RngCore,
    ) -> Result<Self, MediaError> {
        let n = &cfg.sip_codec;
        let path = match n.codec {
            Codec::Speex16k => Path::Passthrough,
            Codec::TelephoneEvent => {
                return Err(MediaError::Config("telephone-event is not an audio codec"))
            }
            codec => {
                let (to_sip, to_rtmp) = transcoders(codec, cfg.speex_quality)?;
                Path::Transcode {
                    to_sip: Box::new(to_sip),
                    to_rtmp: Box::new(to_rtmp),
                }
            }
        };
        let clock = n.clock_rate();
        let sender = RtpSender::new(rng);
        let rtcp = RtcpSession::new(sender.ssrc(), now, cfg.ntp_at_start, rng);
        let frame_ticks = ms_to_ticks(FRAME_MS, clock);
        Ok(Bridge {
            start: now,
            path,
            receiver: RtpReceiver::new(clock, now),
            rtcp,
            sender,
            jitter: JitterBuffer::new(JitterConfig::from_jitter_ms(
                cfg.jitter_ms,
                clock,
                frame_ticks,
            )),
            dtmf: DtmfReceiver::default(),
            dtmf_tx: DtmfSender::new(Codec::TelephoneEvent.clock_rate()),
            resume_ts: None,
            remote: Remote::Signalled {
                rtp: n.remote_rtp,
                rtcp: n.remote_rtcp,
            },
            rtmp_in_next_ms: None,
            out_clock: OutClock::Unset,
            inactivity: Inactivity::Watching {
                deadline: now + cfg.rtp_timeout,
            },
            transmits: VecDeque::new(),
            rtmp_out: VecDeque::new(),
            rtmp_out_ms: 0,
            events: VecDeque::new(),
            stats: BridgeStats::default(),
            scratch: Vec::with_capacity(1500),
            cfg,
        })
    }

    /// Sets the remote RTP/RTCP addresses (a new SDP answer or re-INVITE);
    /// symmetric latching starts again.
    pub fn set_remote(&mut self, rtp: SocketAddr, rtcp: SocketAddr) {
        self.remote = Remote::Signalled { rtp, rtcp };
    }

    /// Counters.
    pub fn stats(&self) -> BridgeStats {
        BridgeStats {
            jitter: self.jitter.stats(),
            rtt: self.rtcp.rtt(),
            ..self.stats
        }
    }

    // ---- RTMP -> SIP -------------------------------------------------

    /// An audio message body published by the RTMP client (FLV audio tag
    /// body: header byte + payload) with its RTMP timestamp in ms.
    ///
    /// Only the format nibble matters: Speex (11) with any rate bits. Speex
    /// header/comment packets and empty bodies are skipped.
    ///
    /// Errors (peer; nothing is sent): [`MediaError::MalformedAudio`],
    /// [`MediaError::UnsupportedRtmpFormat`], [`MediaError::Codec`];
    /// [`MediaError::Build`] for a payload too large for one RTP packet.
    ///
    /// While a DTMF event is being sent the audio is not sent but still
    /// advances the RTP timeline.
    pub fn handle_rtmp_audio(
        &mut self,
        now: Instant,
        timestamp_ms: u32,
        body: &[u8],
    ) -> Result<(), MediaError> {
        self.pump_dtmf(now);
        let result = self.rtmp_audio(timestamp_ms, body);
        match result {
            Ok(()) => self.stats.rtmp_in += 1,
            Err(_) => self.stats.rtmp_invalid += 1,
        }
        result
    }

    fn rtmp_audio(&mut self, timestamp_ms: u32, body: &[u8]) -> Result<(), MediaError> {
        let (header, payload) =
            parse_audio(body).map_err(|_| MediaError::MalformedAudio("empty FLV audio body"))?;
        if header.format != SoundFormat::Speex {
            return Err(MediaError::UnsupportedRtmpFormat(header.format.bits()));
        }
        if payload.is_empty() || is_speex_header_packet(payload) {
            return Ok(());
        }
        self.follow_rtmp_clock(timestamp_ms);
        self.resume_after_dtmf();
        let pt = self.cfg.sip_codec.pt;
        let held = self.dtmf_tx.is_playing();
        let mut packets = Vec::new();
        let frames = match &mut self.path {
            Path::Passthrough => {
                let frames = speex_frame_count(payload, SpeexMode::Wideband);
                if frames > 0 {
                    let ticks = u32::try_from(frames * RTMP_FRAME).unwrap_or(0);
                    packets.extend(audio_or_skip(&mut self.sender, held, pt, ticks, payload)?);
                }
                frames
            }
            Path::Transcode { to_sip, .. } => {
                let frames = to_sip.push_speex(payload)?;
                loop {
                    self.scratch.clear();
                    let Some(samples) = to_sip.next_frame(&mut self.scratch)? else {
                        break;
                    };
                    let ticks = u32::try_from(samples).unwrap_or(0);
                    let sender = &mut self.sender;
                    packets.extend(audio_or_skip(sender, held, pt, ticks, &self.scratch)?);
                }
                frames
            }
        };
        for packet in packets {
            self.send_rtp(packet);
        }
        let duration = u32::try_from(frames).unwrap_or(0).saturating_mul(FRAME_MS);
        self.rtmp_in_next_ms = Some(timestamp_ms.wrapping_add(duration));
        Ok(())
    }

    /// A gap in the client's timestamps (mute, DTX) advances the RTP
    /// timeline by the gap and marks a new talkspurt.
    fn follow_rtmp_clock(&mut self, timestamp_ms: u32) {
        let Some(expected) = self.rtmp_in_next_ms else {
            return;
        };
        let gap = i64::from(timestamp_ms.wrapping_sub(expected) as i32);
        if gap > RTMP_GAP_MS {
            let ticks = ms_to_ticks(gap.min(60_000) as u32, self.cfg.sip_codec.clock_rate());
            self.sender.skip(ticks);
        }
    }

    /// After a DTMF event, audio restarts as a new talkspurt at the later
    /// of its own timeline (held-back frames and RTMP gaps advanced it) and
    /// the event's end, so neither overlaps nor counts the event twice.
    fn resume_after_dtmf(&mut self) {
        if self.dtmf_tx.is_playing() {
            return;
        }
        if let Some(end) = self.resume_ts.take() {
            let behind = end.delta(self.sender.next_timestamp());
            self.sender.skip(u32::try_from(behind).unwrap_or(0));
        }
    }

    fn may_send(&self) -> bool {
        let rtp = self.remote.rtp();
        self.cfg.sip_codec.direction.has_send() && !rtp.ip().is_unspecified() && rtp.port() != 0
    }

    fn send_rtp(&mut self, packet: Vec<u8>) {
        if self.may_send() {
            push_bounded(
                &mut self.transmits,
                Transmit {
                    dest: self.remote.rtp(),
                    kind: TransmitKind::Rtp,
                    payload: packet,
                },
            );
            self.stats.rtp_sent += 1;
        }
    }

    // ---- DTMF toward SIP (RFC 4733) -----------------------------------

    /// Queues `digits` to send as RFC 4733 telephone-events, each lasting
    /// `duration_ms` (clamped to 40..=2000 ms; callers default to
    /// [`super::dtmf_send::DEFAULT_DURATION_MS`] = 160), 60 ms apart.
    ///
    /// The first packet goes out now; the rest on [`Bridge::handle_timeout`]
    /// every 20 ms. Events use the audio's SSRC and sequence numbers, and
    /// the audio's next timestamp as their start (RFC 4733 §2.1, §2.5.1);
    /// audio toward SIP is held back while an event plays and resumes
    /// after it on a timeline at least as far as the event's end.
    ///
    /// Only when the telephone-event clock (8000 Hz) equals the audio
    /// clock, i.e. PCMU, PCMA and speex/8000: for speex/16000 events would
    /// need their own clock in the audio's SSRC (RFC 4733 §2.1 forbids it).
    ///
    /// Errors (nothing queued): [`MediaError::NoTelephoneEvent`] when the
    /// peer did not negotiate telephone-event or the clocks differ (send
    /// SIP INFO instead); [`MediaError::InvalidDtmf`] for a character not in
    /// `0-9 * # A-D` (case-insensitive); [`MediaError::DtmfQueueFull`] if
    /// more than 32 digits would wait.
    pub fn send_dtmf(
        &mut self,
        now: Instant,
        digits: &str,
        duration_ms: u32,
    ) -> Result<(), MediaError> {
        let n = &self.cfg.sip_codec;
        if n.dtmf_pt.is_none() || n.clock_rate() != Codec::TelephoneEvent.clock_rate() {
            return Err(MediaError::NoTelephoneEvent);
        }
        self.dtmf_tx.queue(now, digits, duration_ms)?;
        self.pump_dtmf(now);
        Ok(())
    }

    /// Sends the telephone-event packets due at `now`.
    fn pump_dtmf(&mut self, now: Instant) {
        let Some(pt) = self.cfg.sip_codec.dtmf_pt else {
            return;
        };
        while let Some(p) = self.dtmf_tx.poll(now, self.sender.next_timestamp()) {
            if let Ok(packet) = self.sender.packet(pt, p.ts, p.marker, &p.event.to_bytes()) {
                self.send_rtp(packet);
            }
            if p.last {
                self.resume_ts = Some(p.end_ts());
            }
        }
    }

    // ---- SIP -> RTMP -------------------------------------------------

    /// An RTP datagram from the peer, with its source address.
    ///
    /// Errors (peer; the packet is dropped): [`MediaError::MalformedRtp`],
    /// [`MediaError::ForeignSsrc`], [`MediaError::SequenceJump`],
    /// [`MediaError::UnexpectedPayloadType`], [`MediaError::MalformedAudio`].
    pub fn handle_rtp(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), MediaError> {
        let result = self.rtp(now, from, datagram);
        if result.is_err() {
            self.stats.rtp_invalid += 1;
        }
        result
    }

    fn rtp(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) -> Result<(), MediaError> {
        let n = self.cfg.sip_codec;
        let got = self.receiver.receive(now, datagram)?;
        let p = got.packet;
        let is_dtmf = Some(p.pt) == n.recv_dtmf_pt || Some(p.pt) == n.dtmf_pt;
        let is_audio = p.pt == n.recv_pt || p.pt == n.pt;
        if !is_dtmf && !is_audio {
            return Err(MediaError::UnexpectedPayloadType(p.pt));
        }
        if p.payload.len() > MAX_RTP_PAYLOAD {
            return Err(MediaError::MalformedRtp(format!(
                "{}-byte payload",
                p.payload.len()
            )));
        }
        self.stats.rtp_received += 1;
        self.inactivity = Inactivity::Watching {
            deadline: now + self.cfg.rtp_timeout,
        };
        if got.resync {
            self.jitter.reset();
            self.latch(from);
        }
        if is_dtmf {
            let event = TelephoneEvent::parse(p.payload)?;
            for d in self.dtmf.receive(p.ts, event) {
                push_bounded(
                    &mut self.events,
                    MediaEvent::Dtmf {
                        digit: d.digit,
                        end: d.end,
                    },
                );
            }
            return Ok(());
        }
        self.jitter.push(p.seq, p.ts, p.marker, p.payload, now);
        self.drain_jitter(now);
        Ok(())
    }

    /// Symmetric RTP: send where the source sends from.
    fn latch(&mut self, from: SocketAddr) {
        if self.remote
            == (Remote::Latched {
                rtp: from,
                rtcp: self.remote.rtcp(),
            })
        {
            return;
        }
        let rtcp = match self.remote {
            Remote::Signalled { rtp, rtcp } if rtp == from => rtcp,
            _ => SocketAddr::new(from.ip(), from.port().saturating_add(1)),
        };
        self.remote = Remote::Latched { rtp: from, rtcp };
        push_bounded(&mut self.events, MediaEvent::RemoteLatched(from));
    }

    /// Plays out every frame due at `now`.
    fn drain_jitter(&mut self, now: Instant) {
        let now_ms = self.elapsed_ms(now);
        while let Some(playout) = self.jitter.poll(now) {
            match (&mut self.path, playout) {
                (Path::Passthrough, Playout::Frame { ts, payload, .. }) => {
                    let frames = speex_frame_count(&payload, SpeexMode::Wideband).max(1);
                    self.emit_passthrough(ts, &payload, frames, now_ms);
                }
                (Path::Passthrough, Playout::Lost { .. }) => {}
                (Path::Transcode { to_rtmp, .. }, Playout::Frame { ts, payload, .. }) => {
                    if to_rtmp.push_payload(&payload).is_err() {
                        self.stats.rtp_invalid += 1;
                    }
                    self.emit_transcoded(ts, now_ms);
                }
                (Path::Transcode { to_rtmp, .. }, Playout::Lost { ts, ticks }) => {
                    to_rtmp.conceal(ticks as usize);
                    self.emit_transcoded(ts, now_ms);
                }
            }
        }
    }

    /// The RTMP ms for a frame at `ts`, keeping the output monotonic.
    fn out_ms(&mut self, ts: RtpTimestamp, now_ms: u32) -> u32 {
        let clock = self.cfg.sip_codec.clock_rate();
        match self.out_clock {
            OutClock::Running {
                anchor_ts,
                anchor_ms,
                next_ms,
            } => {
                let delta = ts.delta(anchor_ts);
                let ms = anchor_ms
                    .wrapping_add(ticks_to_ms(u64::from(delta.unsigned_abs()), clock) as u32);
                let ahead = ms.wrapping_sub(next_ms) as i32;
                if delta >= 0 && (0..=60_000).contains(&ahead) {
                    return ms;
                }
                // A new timeline (resync): continue from where output is.
                self.out_clock = OutClock::Running {
                    anchor_ts: ts,
                    anchor_ms: next_ms,
                    next_ms,
                };
                next_ms
            }
            OutClock::Unset => {
                self.out_clock = OutClock::Running {
                    anchor_ts: ts,
                    anchor_ms: now_ms,
                    next_ms: now_ms,
                };
                now_ms
            }
        }
    }

    fn advance_out_clock(&mut self, ms: u32) {
        if let OutClock::Running { next_ms, .. } = &mut self.out_clock {
            *next_ms = ms;
        }
    }

    fn emit_passthrough(&mut self, ts: RtpTimestamp, payload: &[u8], frames: usize, now_ms: u32) {
        let ms = self.out_ms(ts, now_ms);
        let duration = u32::try_from(frames).unwrap_or(1).saturating_mul(FRAME_MS);
        self.advance_out_clock(ms.wrapping_add(duration));
        let mut body = Vec::with_capacity(1 + payload.len());
        body.push(RTMP_SPEEX_HEADER);
        body.extend_from_slice(payload);
        self.queue_rtmp(
            RtmpAudio {
                timestamp_ms: ms,
                body: Bytes::from(body),
            },
            duration,
        );
    }

    fn emit_transcoded(&mut self, ts: RtpTimestamp, now_ms: u32) {
        let Path::Transcode { to_rtmp, .. } = &mut self.path else {
            return;
        };
        // Each frame is encoded straight after its FLV header byte.
        let mut bodies = Vec::new();
        loop {
            let mut body = vec![RTMP_SPEEX_HEADER];
            match to_rtmp.next_frame(&mut body) {
                Ok(true) => bodies.push(body),
                Ok(false) | Err(_) => break,
            }
        }
        if bodies.is_empty() {
            return;
        }
        let mut ms = self.out_ms(ts, now_ms);
        if let OutClock::Running { next_ms, .. } = self.out_clock {
            // Transcoded frames follow each other exactly.
            if (ms.wrapping_sub(next_ms) as i32) < i32::try_from(2 * FRAME_MS).unwrap_or(40) {
                ms = next_ms;
            }
        }
        for body in bodies {
            self.queue_rtmp(
                RtmpAudio {
                    timestamp_ms: ms,
                    body: Bytes::from(body),
                },
                FRAME_MS,
            );
            ms = ms.wrapping_add(FRAME_MS);
            self.advance_out_clock(ms);
        }
    }

    /// Queues audio for RTMP, dropping the oldest beyond `rtmp_out_max_ms`.
    fn queue_rtmp(&mut self, audio: RtmpAudio, duration_ms: u32) {
        self.rtmp_out.push_back((audio, duration_ms));
        self.rtmp_out_ms = self.rtmp_out_ms.saturating_add(duration_ms);
        self.stats.rtmp_out += 1;
        while self.rtmp_out_ms > self.cfg.rtmp_out_max_ms && self.rtmp_out.len() > 1 {
            if let Some((_, d)) = self.rtmp_out.pop_front() {
                self.rtmp_out_ms = self.rtmp_out_ms.saturating_sub(d);
                self.stats.rtmp_out_dropped += 1;
            }
        }
    }

    // ---- RTCP and timers ---------------------------------------------

    /// An RTCP datagram from the peer.
    ///
    /// Errors: [`MediaError::MalformedRtcp`] (peer).
    pub fn handle_rtcp(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), MediaError> {
        let got = self.rtcp.handle(now, datagram)?;
        if let Remote::Latched { rtp, rtcp } = self.remote {
            if rtcp != from && rtp.ip() == from.ip() {
                self.remote = Remote::Latched { rtp, rtcp: from };
            }
        }
        if got.bye {
            push_bounded(&mut self.events, MediaEvent::RemoteBye);
        }
        Ok(())
    }

    /// Runs timers due at `now`: playout, DTMF packets, RTCP reports, RTP
    /// inactivity.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.drain_jitter(now);
        self.pump_dtmf(now);
        let info = self.sender_info();
        let reception = if self.receiver.ssrc().is_some() {
            self.receiver.report()
        } else {
            None
        };
        if let Some(report) = self.rtcp.poll_report(now, info, reception) {
            self.send_rtcp(report);
        }
        if let Inactivity::Watching { deadline } = self.inactivity {
            if now >= deadline {
                self.inactivity = Inactivity::Fired;
                push_bounded(&mut self.events, MediaEvent::RtpTimeout);
            }
        }
    }

    fn sender_info(&self) -> Option<SenderInfo> {
        (self.sender.packets_sent() > 0).then(|| SenderInfo {
            rtp_timestamp: self.sender.next_timestamp(),
            packet_count: self.sender.packets_sent(),
            octet_count: self.sender.octets_sent(),
        })
    }

    fn send_rtcp(&mut self, packet: Vec<u8>) {
        let dest = self.remote.rtcp();
        if !dest.ip().is_unspecified() && dest.port() != 0 {
            push_bounded(
                &mut self.transmits,
                Transmit {
                    dest,
                    kind: TransmitKind::Rtcp,
                    payload: packet,
                },
            );
        }
    }

    /// Ends the session: queues an RTCP BYE (RFC 3550 §6.6).
    pub fn close(&mut self, now: Instant) {
        let info = self.sender_info();
        let reception = self.receiver.report();
        if let Some(bye) = self.rtcp.close(now, info, reception) {
            self.send_rtcp(bye);
        }
    }

    /// The earliest time [`Bridge::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let inactivity = match self.inactivity {
            Inactivity::Watching { deadline } => Some(deadline),
            Inactivity::Fired => None,
        };
        [
            self.jitter.poll_timeout(),
            self.rtcp.poll_timeout(),
            self.dtmf_tx.poll_timeout(),
            inactivity,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next audio message for the RTMP client.
    pub fn poll_rtmp_audio(&mut self) -> Option<RtmpAudio> {
        let (audio, d) = self.rtmp_out.pop_front()?;
        self.rtmp_out_ms = self.rtmp_out_ms.saturating_sub(d);
        Some(audio)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// Ms since the bridge started (for the first RTMP timestamp).
    fn elapsed_ms(&self, now: Instant) -> u32 {
        now.saturating_duration_since(self.start).as_millis() as u32
    }
}

/// The next audio packet, or `None` with the timeline advanced by
/// `ticks` when audio is held back (a DTMF event is playing).
fn audio_or_skip(
    sender: &mut RtpSender,
    held: bool,
    pt: u8,
    ticks: u32,
    payload: &[u8],
) -> Result<Option<Vec<u8>>, MediaError> {
    if held {
        sender.skip(ticks);
        return Ok(None);
    }
    sender.audio(pt, ticks, payload).map(Some)
}

/// Pushes onto a queue, dropping the oldest entry beyond [`MAX_QUEUE`].
fn push_bounded<T>(queue: &mut VecDeque<T>, item: T) {
    if queue.len() >= MAX_QUEUE {
        queue.pop_front();
    }
    queue.push_back(item);
}

#[cfg(test)]
#[path = "bridge_tests.rs"]
mod tests;
