//! The per-call media bridge (sans-IO): FLV audio from the RTMP client to
//! RTP toward the SIP peer, and RTP from the peer back to FLV audio.
//!
//! The client's codec (Speex, Nellymoser at any Flash rate, G.711) is read
//! from the format nibble of each message; the first message chooses the
//! decoder and a switch mid-call rebuilds it ([`MediaEvent::RtmpCodecChanged`]).
//! Each direction is passthrough where both sides carry the same codec
//! (Speex WB and speex/16000; G.711 of one law), else decode -> resample
//! -> encode (see `pipeline/` and this folder's README for the
//! matrix). Toward the client the codec is Speex WB, with
//! [`RtmpOut::Match`] the codec and rate it publishes, with
//! [`RtmpOut::Opus`] E-RTMP Opus, with [`RtmpOut::G711`] G.711 of one law
//! from the first message.
//!
//! RTP from the peer is first checked against the latching rule
//! ([`Latch`], `[media] latching`: only the SDP's source, never moved
//! mid-call), then its payload type, then goes through [`RtpReceiver`]
//! (SSRC, statistics) and the [`JitterBuffer`]; telephone-events become
//! [`MediaEvent::Dtmf`]. With rtcp-mux (RFC 5761) RTCP shares the RTP
//! socket both ways.
//! [`Bridge::send_dtmf`] sends digits as telephone-events (RFC 4733) in
//! the audio's SSRC and sequence space, holding audio back meanwhile.
//!
//! Time is counted in samples on both sides (`clock.rs`): the RTP
//! timestamp advances by the audio actually sent (`samples x clock /
//! rate`), gaps in the client's timestamps skip ahead on RTP, and RTMP
//! output timestamps are ms since the bridge started, mapped from the RTP
//! timeline and never decreasing. Output toward RTMP is bounded by
//! `rtmp_out_max_ms`: the oldest audio is dropped first.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use crate::flv::OpusHead;
use crate::media::codec::Codec;
use crate::time::RtmpTimestamp;

use super::clock::{RtmpInClock, RtmpOutClock};
use super::dtmf::{DtmfReceiver, TelephoneEvent};
use super::dtmf_send::DtmfSender;
use super::jitter::{JitterBuffer, JitterConfig, Playout};
use super::latch::Latch;
use super::pipeline::{
    opus_sequence_start, CodecFactory, RealCodecs, RtmpBody, RtmpCodec, RtmpOut, RtmpPayload,
    ToRtmp, ToSip,
};
use super::receiver::RtpReceiver;
use super::rtcp::{RtcpSession, SenderInfo};
use super::rtp::{self, RtpSender};
use super::srtp::SrtpSession;
use super::timestamp::{ms_to_ticks, RtpTimestamp};
use super::MediaError;

pub use super::bridge_types::{
    BridgeConfig, BridgeStats, MediaEvent, RtmpAudio, Transmit, TransmitKind,
};
pub use super::pipeline::RTMP_SPEEX_HEADER;
pub use update::MediaChange;

#[path = "bridge_update.rs"]
mod update;

/// Frame duration we send on RTP, in ms.
const FRAME_MS: u32 = 20;
/// Largest RTMP audio payload taken, in bytes (Speex's own limit; 0.5 s of
/// G.711, 64 Nellymoser blocks).
pub const MAX_RTMP_PAYLOAD: usize = 4096;
/// Largest RTP payload accepted from the peer, in bytes (bounds the jitter
/// buffer's memory: capacity x this).
const MAX_RTP_PAYLOAD: usize = 1500;
/// Bound on queued datagrams and events (each is drained every turn).
const MAX_QUEUE: usize = 256;
/// Transcoded output continues its run of samples unless the RTP timeline
/// is this far (ms) ahead of it: buffering between codecs lags the output
/// by less than a message.
const TRANSCODE_SLACK_MS: u32 = 60;

/// What the client has published so far.
enum Publisher {
    /// No audio yet.
    Silent,
    /// Publishing in this half's codec.
    Publishing(Box<ToSip>),
}

/// RTP inactivity watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inactivity {
    Watching {
        deadline: Instant,
    },
    Fired,
    /// On hold (any direction but sendrecv): silence is expected.
    Suspended,
}

/// The per-call media bridge.
pub struct Bridge {
    cfg: BridgeConfig,
    factory: &'static dyn CodecFactory,
    start: Instant,
    publisher: Publisher,
    to_rtmp: ToRtmp,
    sender: RtpSender,
    receiver: RtpReceiver,
    rtcp: RtcpSession,
    jitter: JitterBuffer,
    dtmf: DtmfReceiver,
    dtmf_tx: DtmfSender,
    /// The end of the last DTMF event: audio resumes no earlier.
    resume_ts: Option<RtpTimestamp>,
    /// When sending was put on hold ([`Bridge::update`]), if it is.
    send_paused_at: Option<Instant>,
    /// Which source media is taken from and where it goes.
    latch: Latch,
    /// SRTP/SRTCP contexts when the call negotiated SDES keys.
    srtp: Option<SrtpSession>,
    /// The OpusHead of the client's E-RTMP Opus SequenceStart, if any
    /// (its channels and pre-skip; libopus decodes either channel count
    /// to mono, and a live stream's 6.5 ms pre-skip is not cut).
    opus_head: Option<OpusHead>,
    in_clock: RtmpInClock,
    out_clock: RtmpOutClock,
    inactivity: Inactivity,
    /// Draws a new SSRC, sequence number and timestamp when the RTP clock
    /// rate changes ([`Bridge::update`], RFC 7160 §4.1).
    rng: StdRng,
    transmits: VecDeque<Transmit>,
    rtmp_out: VecDeque<(RtmpAudio, u32)>,
    rtmp_out_ms: u32,
    events: VecDeque<MediaEvent>,
    stats: BridgeStats,
    switch_limit: super::pipeline::switch_limit::SwitchLimit,
    /// Reused buffers: an encoded payload, RTP packets of one message,
    /// RTMP bodies of one played packet.
    scratch: Vec<u8>,
    packets: Vec<Vec<u8>>,
    bodies: Vec<RtmpBody>,
}

static REAL_CODECS: RealCodecs = RealCodecs;

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
        Self::with_factory(cfg, now, rng, &REAL_CODECS)
    }

    /// [`Bridge::new`] with codecs and resamplers from `factory` (tests
    /// substitute cheap ones where only timing matters).
    pub(crate) fn with_factory(
        cfg: BridgeConfig,
        now: Instant,
        rng: &mut impl RngCore,
        factory: &'static dyn CodecFactory,
    ) -> Result<Self, MediaError> {
        let n = &cfg.sip_codec;
        if !n.codec.is_audio() {
            return Err(MediaError::Config("telephone-event is not an audio codec"));
        }
        let out = cfg.rtmp_out.initial_codec();
        let to_rtmp = ToRtmp::new(n.codec, out, factory, cfg.encoder_settings())?;
        let clock = n.clock_rate();
        let sender = RtpSender::new(rng);
        let rtcp = RtcpSession::new(sender.ssrc(), now, cfg.ntp_at_start, rng);
        let frame_ticks = ms_to_ticks(FRAME_MS, clock);
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let srtp = n.srtp.map(SrtpSession::new).transpose()?;
        Ok(Bridge {
            srtp,
            rng: StdRng::from_seed(seed),
            factory,
            start: now,
            publisher: Publisher::Silent,
            to_rtmp,
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
            send_paused_at: None,
            latch: Latch::new(cfg.latching, n.remote_rtp, n.remote_rtcp, n.rtcp_mux),
            opus_head: None,
            in_clock: RtmpInClock::default(),
            out_clock: RtmpOutClock::new(clock),
            inactivity: if update::held(n) {
                Inactivity::Suspended
            } else {
                Inactivity::Watching {
                    deadline: now + cfg.rtp_timeout,
                }
            },
            transmits: VecDeque::new(),
            rtmp_out: VecDeque::new(),
            rtmp_out_ms: 0,
            events: VecDeque::new(),
            stats: BridgeStats::default(),
            switch_limit: Default::default(),
            scratch: Vec::with_capacity(1500),
            packets: Vec::new(),
            bodies: Vec::new(),
            cfg,
        })
    }

    /// Sets the remote RTP/RTCP addresses (a new SDP answer or re-INVITE);
    /// latching starts again under `[media] latching`.
    pub fn set_remote(&mut self, rtp: SocketAddr, rtcp: SocketAddr) {
        let n = &self.cfg.sip_codec;
        self.latch = Latch::new(self.cfg.latching, rtp, rtcp, n.rtcp_mux);
    }

    /// Counters.
    pub fn stats(&self) -> BridgeStats {
        BridgeStats {
            jitter: self.jitter.stats(),
            rtt: self.rtcp.rtt(),
            jitter_rx: self.receiver.jitter(),
            rtmp_in_gaps: self.in_clock.gaps(),
            ..self.stats
        }
    }

    /// The codec the client publishes, once it has sent audio.
    pub fn rtmp_in_codec(&self) -> Option<RtmpCodec> {
        match &self.publisher {
            Publisher::Silent => None,
            Publisher::Publishing(half) => Some(half.rtmp_codec()),
        }
    }

    /// The OpusHead the client sent in its E-RTMP SequenceStart.
    pub fn client_opus_head(&self) -> Option<OpusHead> {
        self.opus_head
    }

    /// What a player must receive before this bridge's audio: for Opus
    /// output the E-RTMP SequenceStart (OpusHead: mono, 48 kHz, pre-skip
    /// 312), stamped 0 ms; `None` for the legacy FLV codecs. The driver
    /// sends it to each player when it subscribes, so one that joins
    /// late gets it too.
    pub fn rtmp_stream_header(&self) -> Option<RtmpAudio> {
        (self.to_rtmp.out_codec() == RtmpCodec::Opus).then(|| RtmpAudio {
            timestamp_ms: 0,
            body: Bytes::from(opus_sequence_start().body),
        })
    }

    /// The codec sent to the client now.
    pub fn rtmp_out_codec(&self) -> RtmpCodec {
        self.to_rtmp.out_codec()
    }

    // ---- RTMP -> SIP -------------------------------------------------

    /// An audio message body published by the RTMP client (FLV audio tag
    /// body: header byte + payload) with its RTMP timestamp (ms, wrapping;
    /// the newtype of the leaf `crate::time`, which `rtmp` re-exports).
    ///
    /// The codec comes from the format nibble (and, for Nellymoser format
    /// 6, the rate bits): Speex (11), Nellymoser (4, 5, 6), G.711 A-law
    /// (7) and µ-law (8); Enhanced RTMP v2 (9) with FourCC `Opus`:
    /// CodedFrames carry one Opus packet, a SequenceStart's OpusHead is
    /// kept ([`Bridge::client_opus_head`]). Speex header/comment packets,
    /// E-RTMP SequenceEnd and empty bodies are skipped.
    ///
    /// Errors (peer; nothing is sent): [`MediaError::MalformedAudio`] (empty
    /// body, payload over [`MAX_RTMP_PAYLOAD`]), [`MediaError::ExAudio`]
    /// (E-RTMP other than Opus, bad OpusHead),
    /// [`MediaError::UnsupportedRtmpFormat`], [`MediaError::UnsupportedRtmpRate`],
    /// [`MediaError::Codec`] (audio decoded before the fault is sent);
    /// [`MediaError::Build`] for a payload too large for one RTP packet.
    ///
    /// While a DTMF event is being sent the audio is not sent but still
    /// advances the RTP timeline.
    pub fn handle_rtmp_audio(
        &mut self,
        now: Instant,
        timestamp: RtmpTimestamp,
        body: &[u8],
    ) -> Result<(), MediaError> {
        self.pump_dtmf(now);
        let result = match RtmpPayload::classify(body) {
            Ok(RtmpPayload::Audio { codec, .. })
                if !self.switch_limit.admit(now, self.rtmp_in_codec(), codec) =>
            {
                self.stats.rtmp_switch_dropped += 1;
                return Ok(());
            }
            Ok(classified) => self.rtmp_audio(timestamp.as_millis(), classified),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => self.stats.rtmp_in += 1,
            Err(_) => self.stats.rtmp_invalid += 1,
        }
        result
    }

    fn rtmp_audio(&mut self, timestamp_ms: u32, body: RtmpPayload<'_>) -> Result<(), MediaError> {
        let (codec, payload) = match body {
            RtmpPayload::Audio { codec, payload } => (codec, payload),
            RtmpPayload::OpusHead(head) => {
                self.opus_head = Some(head);
                return Ok(());
            }
            RtmpPayload::Skip => return Ok(()),
        };
        if payload.len() > MAX_RTMP_PAYLOAD {
            return Err(MediaError::MalformedAudio("RTMP audio payload too large"));
        }
        if !update::sends(&self.cfg.sip_codec) {
            // On hold (RFC 3264 §8.4): nothing goes out.
            self.stats.rtmp_held += 1;
            return Ok(());
        }
        self.follow_publisher(codec)?;
        if let Some(gap_ms) = self.in_clock.arrive(timestamp_ms, codec.audio_rate()) {
            let ticks = ms_to_ticks(gap_ms, self.cfg.sip_codec.clock_rate());
            self.sender.skip(ticks);
        }
        self.resume_after_dtmf();
        let Publisher::Publishing(to_sip) = &mut self.publisher else {
            return Ok(());
        };
        let pt = self.cfg.sip_codec.pt;
        let held = self.dtmf_tx.is_playing();
        let sender = &mut self.sender;
        let packets = &mut self.packets;
        let result = to_sip.push(payload, &mut self.scratch, &mut |payload, ticks| {
            if let Some(packet) = audio_or_skip(sender, held, pt, ticks, payload)? {
                packets.push(packet);
            }
            Ok(())
        });
        let mut packets = std::mem::take(&mut self.packets);
        for packet in packets.drain(..) {
            self.send_rtp(packet);
        }
        self.packets = packets;
        let samples = result?;
        self.in_clock.advance(samples);
        Ok(())
    }

    /// Builds the RTMP -> SIP half for the client's codec on its first
    /// audio or a switch, and with [`RtmpOut::Match`] the output half.
    fn follow_publisher(&mut self, codec: RtmpCodec) -> Result<(), MediaError> {
        let from = match &self.publisher {
            Publisher::Publishing(half) if half.rtmp_codec() == codec => return Ok(()),
            Publisher::Publishing(half) => Some(half.rtmp_codec()),
            Publisher::Silent => None,
        };
        let settings = self.cfg.encoder_settings();
        let sip = self.cfg.sip_codec.codec;
        let half = ToSip::new(codec, sip, self.factory, settings)?;
        self.publisher = Publisher::Publishing(Box::new(half));
        push_bounded(
            &mut self.events,
            MediaEvent::RtmpCodecChanged { from, to: codec },
        );
        let playable = codec != RtmpCodec::Opus;
        if self.cfg.rtmp_out == RtmpOut::Match && playable && self.to_rtmp.out_codec() != codec {
            // Keep the current output if the new one cannot start.
            if let Ok(to_rtmp) = ToRtmp::new(sip, codec, self.factory, settings) {
                self.to_rtmp = to_rtmp;
            }
        }
        Ok(())
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
        let rtp = self.latch.rtp_dest();
        update::sends(&self.cfg.sip_codec) && !rtp.ip().is_unspecified() && rtp.port() != 0
    }

    fn send_rtp(&mut self, packet: Vec<u8>) {
        if self.may_send() {
            let Some(packet) = self.protect(packet, TransmitKind::Rtp) else {
                return;
            };
            push_bounded(
                &mut self.transmits,
                Transmit {
                    dest: self.latch.rtp_dest(),
                    kind: TransmitKind::Rtp,
                    payload: packet,
                },
            );
            self.stats.rtp_sent += 1;
        }
    }

    /// `packet` as it goes on the wire: SRTP/SRTCP-protected when the
    /// call has keys (RFC 3711 §3.3, §3.4), else unchanged; `None` (the
    /// packet is dropped) if protection fails.
    fn protect(&mut self, packet: Vec<u8>, kind: TransmitKind) -> Option<Vec<u8>> {
        let Some(srtp) = self.srtp.as_mut() else {
            return Some(packet);
        };
        let protected = match kind {
            TransmitKind::Rtp => srtp.protect_rtp(&packet),
            TransmitKind::Rtcp => srtp.protect_rtcp(&packet),
        };
        protected.ok()
    }

    /// Whether the call runs SRTP.
    pub fn is_srtp(&self) -> bool {
        self.srtp.is_some()
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
    /// clock, i.e. PCMU, PCMA, G.722 and speex/8000: for speex/16000 and
    /// Opus, events would need their own clock in the audio's SSRC (RFC
    /// 4733 §2.1 forbids it).
    ///
    /// Errors (nothing queued): [`MediaError::NoTelephoneEvent`] when the
    /// peer did not negotiate telephone-event, the clocks differ, or our
    /// side does not send (on hold) (send SIP INFO instead); [`MediaError::InvalidDtmf`] for a character not in
    /// `0-9 * # A-D` (case-insensitive); [`MediaError::DtmfQueueFull`] if
    /// more than 32 digits would wait.
    pub fn send_dtmf(
        &mut self,
        now: Instant,
        digits: &str,
        duration_ms: u32,
    ) -> Result<(), MediaError> {
        let n = &self.cfg.sip_codec;
        if n.dtmf_pt.is_none()
            || n.clock_rate() != Codec::TelephoneEvent.clock_rate()
            || !update::sends(n)
        {
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
        let sending = update::sends(&self.cfg.sip_codec);
        while let Some(p) = self.dtmf_tx.poll(now, self.sender.next_timestamp()) {
            // On hold the event runs out unsent, using no sequence numbers.
            if sending {
                if let Ok(packet) = self.sender.packet(pt, p.ts, p.marker, &p.event.to_bytes()) {
                    self.send_rtp(packet);
                }
            }
            if p.last {
                self.resume_ts = Some(p.end_ts());
            }
        }
    }

    // ---- SIP -> RTMP -------------------------------------------------

    /// An RTP datagram from the peer, with its source address (with
    /// rtcp-mux, RTCP on the RTP port too: RFC 5761 §4 demultiplexing).
    ///
    /// The source is checked first ([`Latch::admit_rtp`]), then the
    /// payload type, and only then does the packet reach the receiver
    /// (SSRC, sequence) and the jitter buffer; the first valid packet
    /// latches its source.
    ///
    /// With SRTP the packet is authenticated and decrypted right after
    /// the source check: a packet that fails is counted in
    /// [`BridgeStats::srtp_auth_failures`] and never latches.
    ///
    /// Errors (peer; the packet is dropped): [`MediaError::ForeignSource`],
    /// [`MediaError::SrtpAuth`], [`MediaError::MalformedRtp`], [`MediaError::UnexpectedPayloadType`],
    /// [`MediaError::ForeignSsrc`], [`MediaError::SequenceJump`],
    /// [`MediaError::MalformedAudio`]; with rtcp-mux those of
    /// [`Bridge::handle_rtcp`].
    pub fn handle_rtp(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), MediaError> {
        if self.cfg.sip_codec.rtcp_mux && rtp::looks_like_rtcp(datagram) {
            return self.handle_rtcp(now, from, datagram);
        }
        if let Err(e) = self.latch.admit_rtp(from) {
            self.stats.rtp_foreign += 1;
            return Err(e);
        }
        let unprotected = self.srtp.as_mut().map(|s| s.unprotect_rtp(datagram));
        let plain = self.srtp_plain(unprotected)?;
        let datagram = plain.as_deref().unwrap_or(datagram);
        let result = self.rtp(now, from, datagram);
        if result.is_err() {
            self.stats.rtp_invalid += 1;
        }
        result
    }

    fn rtp(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) -> Result<(), MediaError> {
        let n = self.cfg.sip_codec;
        let p = rtp::parse(datagram)?;
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
        if !n.direction.has_recv() {
            // We do not receive (RFC 3264 §5.1): nothing is played.
            self.stats.rtp_held += 1;
            return Ok(());
        }
        let got = self.receiver.receive_packet(now, p)?;
        self.stats.rtp_received += 1;
        if self.inactivity != Inactivity::Suspended {
            self.inactivity = Inactivity::Watching {
                deadline: now + self.cfg.rtp_timeout,
            };
        }
        if let Some(addr) = self.latch.confirm_rtp(from) {
            push_bounded(&mut self.events, MediaEvent::RemoteLatched(addr));
        }
        if got.resync {
            self.jitter.reset();
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

    /// Plays out every frame due at `now`: decode (or conceal a lost one,
    /// from the next packet's FEC when it is there), and stamp each RTMP
    /// message on the output clock.
    fn drain_jitter(&mut self, now: Instant) {
        let now_ms = self.elapsed_ms(now);
        let mut bodies = std::mem::take(&mut self.bodies);
        while let Some(playout) = self.jitter.poll(now) {
            let mut emit = |b: RtmpBody| bodies.push(b);
            let ts = match playout {
                Playout::Frame { ts, payload, .. } => {
                    if self.to_rtmp.push(&payload, &mut emit).is_err() {
                        self.stats.rtp_invalid += 1;
                    }
                    ts
                }
                Playout::Lost { ts, ticks } => {
                    let next = self.jitter.peek_next();
                    self.to_rtmp.conceal(ticks, next, &mut emit);
                    ts
                }
            };
            let hint = self.out_clock.rtp_ms(ts, now_ms);
            let slack = if self.to_rtmp.is_passthrough() {
                0
            } else {
                TRANSCODE_SLACK_MS
            };
            let rate = self.to_rtmp.out_codec().audio_rate();
            for b in bodies.drain(..) {
                let ms = self.out_clock.stamp(hint, b.samples, rate, slack);
                let duration = (b.samples as u64 * 1000 / u64::from(rate.max(1))) as u32;
                let audio = RtmpAudio {
                    timestamp_ms: ms,
                    body: Bytes::from(b.body),
                };
                self.queue_rtmp(audio, duration);
            }
        }
        self.bodies = bodies;
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

    /// The plain packet of an SRTP unprotect `result` (`None` without
    /// SRTP: the datagram is used as it came); an authentication or replay
    /// failure is counted and refused.
    fn srtp_plain(
        &mut self,
        result: Option<Result<Vec<u8>, super::srtp::Unprotect>>,
    ) -> Result<Option<Vec<u8>>, MediaError> {
        match result {
            None => Ok(None),
            Some(Ok(p)) => Ok(Some(p)),
            Some(Err(_)) => {
                self.stats.srtp_auth_failures += 1;
                Err(MediaError::SrtpAuth)
            }
        }
    }

    /// An RTCP datagram from the peer, with its source address.
    ///
    /// Only from the latched IP (before latching: the SDP's IP, see
    /// [`Latch::admit_rtcp`]), checked before parsing.
    ///
    /// With SRTP, SRTCP is authenticated and decrypted after the source
    /// check (RFC 3711 §3.4).
    ///
    /// Errors (peer; dropped): [`MediaError::ForeignSource`],
    /// [`MediaError::SrtpAuth`], [`MediaError::MalformedRtcp`].
    pub fn handle_rtcp(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), MediaError> {
        let mut latch = self.latch;
        if let Err(e) = latch.admit_rtcp(from) {
            self.stats.rtcp_foreign += 1;
            return Err(e);
        }
        let unprotected = self.srtp.as_mut().map(|s| s.unprotect_rtcp(datagram));
        let plain = self.srtp_plain(unprotected)?;
        let datagram = plain.as_deref().unwrap_or(datagram);
        let got = self.rtcp.handle(now, datagram)?;
        self.latch = latch;
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

    /// Queues an RTCP packet: out of the RTP socket with rtcp-mux.
    fn send_rtcp(&mut self, packet: Vec<u8>) {
        let dest = self.latch.rtcp_dest();
        let kind = if self.cfg.sip_codec.rtcp_mux {
            TransmitKind::Rtp
        } else {
            TransmitKind::Rtcp
        };
        if !dest.ip().is_unspecified() && dest.port() != 0 {
            let Some(packet) = self.protect(packet, TransmitKind::Rtcp) else {
                return;
            };
            push_bounded(
                &mut self.transmits,
                Transmit {
                    dest,
                    kind,
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
            Inactivity::Fired | Inactivity::Suspended => None,
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
