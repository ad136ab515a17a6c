//! Call detail records (`[cdr] path`): one JSON object per ended call, one
//! per line, appended to a file or written to standard output.
//!
//! Records are built when a call ends (by the registry, `registry.rs`)
//! and handed to a writer thread through a bounded channel (`[cdr]
//! queue`): a call never waits for the disk. When the writer falls behind,
//! further records are dropped and counted ([`CdrSender::dropped`]); a
//! write error is logged and the record lost.
//!
//! Each record carries an estimate of the call's quality on its SIP leg:
//! the E-model's transmission rating R and the MOS it maps to (see
//! [`r_factor`] and [`mos`]).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tracing::warn;

use super::registry::{rfc3339, CodecsView, Direction, RtmpParty, RtpView, SipParty};
use super::streams::MediaSnapshot;
use crate::config::{CdrConfig, CdrSink};

/// One call detail record (one JSON line).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CdrRecord {
    /// The SIP Call-ID (or the echo call's generated id).
    pub call_id: String,
    /// `outbound`, `inbound` or `echo`.
    pub direction: Direction,
    /// The RTMP party: app and token subject.
    pub rtmp: RtmpParty,
    /// The SIP party: From and To URIs.
    pub sip: SipParty,
    /// When the call started (dial or INVITE), RFC 3339 UTC.
    pub start_time: String,
    /// When it was answered, RFC 3339 UTC; `null` if never.
    pub answer_time: Option<String>,
    /// When it ended, RFC 3339 UTC.
    pub end_time: String,
    /// `end_time - start_time`, s (ms precision).
    pub duration_s: f64,
    /// `end_time - answer_time`, s; 0 when never answered.
    pub billable_s: f64,
    /// Codecs both sides.
    pub codecs: CodecsView,
    /// The SIP code of the final `Sono.Call.Status` (200 for a normal
    /// hangup, 486, 487, 408...).
    pub sip_code: Option<u16>,
    /// Its reason (`Remote hangup`, `Hung up by the operator`, ...).
    pub reason: Option<String>,
    /// RTP counters of the SIP leg.
    pub rtp: RtpView,
    /// E-model transmission rating R, 0..=93.2 ([`r_factor`]); `null`
    /// when no RTP was received.
    pub r_factor: Option<f64>,
    /// MOS-CQE estimate from R, 1.0..=4.5 ([`mos`]); `null` when no RTP
    /// was received.
    pub mos: Option<f64>,
}

impl CdrRecord {
    /// A record; `times` is (start, answer, end).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        call_id: &str,
        direction: Direction,
        rtmp: RtmpParty,
        sip: SipParty,
        times: (SystemTime, Option<SystemTime>, SystemTime),
        codecs: CodecsView,
        sip_code: Option<u16>,
        reason: Option<String>,
        media: &MediaSnapshot,
    ) -> Self {
        let (start, answer, end) = times;
        let span = |from: SystemTime| round3(end.duration_since(from).unwrap_or_default());
        let rtp = RtpView::from_snapshot(media);
        let (r_factor, mos) = if rtp.packets_received == 0 {
            (None, None)
        } else {
            let delay_ms = rtp.rtt_ms.map_or(0.0, |r| r / 2.0) + 2.0 * rtp.jitter_ms;
            let r = r_factor(delay_ms, rtp.loss_percent);
            (Some(round1(r)), Some(round2(mos(r))))
        };
        Self {
            call_id: call_id.to_string(),
            direction,
            rtmp,
            sip,
            start_time: rfc3339(start),
            answer_time: answer.map(rfc3339),
            end_time: rfc3339(end),
            duration_s: span(start),
            billable_s: answer.map_or(0.0, span),
            codecs,
            sip_code,
            reason,
            rtp,
            r_factor,
            mos,
        }
    }
}

fn round3(d: Duration) -> f64 {
    d.as_millis() as f64 / 1000.0
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The E-model's default basic signal-to-noise rating with every other
/// parameter at its default (ITU-T G.107 (06/2015) section 7.7, Table 3:
/// R = Ro - Is - Id - Ie,eff + A = 93.2 with defaults).
pub const R_DEFAULT: f64 = 93.2;

/// G.711's packet-loss robustness factor with packet loss concealment
/// (ITU-T G.113 Appendix I, Table I.3: Bpl = 25.1; Ie = 0).
pub const BPL_G711: f64 = 25.1;

/// The E-model rating R for a one-way mouth-to-ear delay of `delay_ms`
/// and random packet loss of `loss_percent`, everything else at G.107's
/// defaults (a simplification, as in Cole and Rosenbluth, "Voice over IP
/// Performance Monitoring", ACM SIGCOMM CCR 31(2), 2001):
///
/// ```text
/// R      = 93.2 - Id - Ie_eff
/// Id     = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)     (d in ms, H the step function)
/// Ie_eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl)             (G.107 eq. 7-29, BurstR = 1)
/// ```
///
/// with Ie = 0 and Bpl = 25.1 (G.711 with PLC, G.113 Appendix I) for every
/// codec. `d` is half the RTCP round trip (0 when unknown) plus twice the
/// interarrival jitter (what a jitter buffer adds). Clamped to 0..=93.2.
pub fn r_factor(delay_ms: f64, loss_percent: f64) -> f64 {
    let d = delay_ms.max(0.0);
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let ppl = loss_percent.clamp(0.0, 100.0);
    let ie_eff = 95.0 * ppl / (ppl + BPL_G711);
    (R_DEFAULT - id - ie_eff).clamp(0.0, R_DEFAULT)
}

/// The MOS-CQE estimate for rating `r` (ITU-T G.107 (06/2015) Annex B,
/// eq. B-4): 1 for R < 0, 4.5 for R > 100, else
/// `1 + 0.035 R + R (R - 60) (100 - R) 7e-6`.
pub fn mos(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7.0e-6
    }
}

/// The sending side of the record queue; cheap to clone.
#[derive(Debug, Clone)]
pub struct CdrSender {
    tx: mpsc::Sender<CdrRecord>,
    dropped: Arc<AtomicU64>,
}

impl CdrSender {
    /// Queues `rec` for the writer; dropped (and counted) when the queue
    /// is full or the writer has gone.
    pub fn send(&self, rec: CdrRecord) {
        if self.tx.try_send(rec).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                warn!(dropped = n, "call detail record dropped: [cdr] queue full");
            }
        }
    }

    /// Records dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Opens `[cdr] path` and starts the writer thread; `None` when records
/// are off.
///
/// # Errors
/// The file cannot be opened for appending.
pub fn start(cfg: &CdrConfig) -> std::io::Result<Option<CdrSender>> {
    let Some(sink) = &cfg.sink else {
        return Ok(None);
    };
    let out: Box<dyn Write + Send> = match sink {
        CdrSink::Stdout => Box::new(std::io::stdout()),
        CdrSink::File(p) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        ),
    };
    let (tx, rx) = mpsc::channel(cfg.queue);
    std::thread::Builder::new()
        .name("rtmp2sip-cdr".into())
        .spawn(move || write_loop(rx, out))?;
    Ok(Some(CdrSender {
        tx,
        dropped: Arc::default(),
    }))
}

/// Writes records as they come, one line each, flushed per record, until
/// every sender is gone.
fn write_loop(mut rx: mpsc::Receiver<CdrRecord>, mut out: Box<dyn Write + Send>) {
    while let Some(rec) = rx.blocking_recv() {
        if let Err(e) = write_line(&mut out, &rec) {
            warn!(error = %e, call_id = ?rec.call_id, "cannot write a call detail record");
        }
    }
}

fn write_line(out: &mut dyn Write, rec: &CdrRecord) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(rec).map_err(std::io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::bridge::BridgeStats;

    #[test]
    fn r_and_mos_follow_the_simplified_e_model() {
        assert!((r_factor(0.0, 0.0) - 93.2).abs() < 1e-9);
        assert!((mos(93.2) - 4.41).abs() < 0.01, "{}", mos(93.2));
        // 1 % loss: Ie_eff = 95 * 1 / 26.1 = 3.64.
        assert!((r_factor(0.0, 1.0) - 89.56).abs() < 0.01);
        // 200 ms: Id = 4.8 + 0.11 * 22.7 = 7.297.
        assert!((r_factor(200.0, 0.0) - 85.903).abs() < 0.01);
        assert_eq!(r_factor(2000.0, 100.0), 0.0);
        assert_eq!(mos(-5.0), 1.0);
        assert_eq!(mos(120.0), 4.5);
        // R = 50: 1 + 1.75 + 50 * -10 * 50 * 7e-6 = 2.575.
        assert!((mos(50.0) - 2.575).abs() < 1e-9);
        // Monotonic in loss and delay.
        assert!(r_factor(50.0, 5.0) < r_factor(50.0, 1.0));
        assert!(r_factor(300.0, 1.0) < r_factor(100.0, 1.0));
    }

    #[test]
    fn a_record_is_one_json_line_with_every_field() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_772_500);
        let answer = start + Duration::from_millis(1500);
        let end = start + Duration::from_millis(11_500);
        let mut stats = BridgeStats {
            rtp_sent: 500,
            rtp_received: 495,
            jitter_rx: Duration::from_millis(4),
            ..BridgeStats::default()
        };
        stats.jitter.lost = 5;
        let rec = CdrRecord::new(
            "abc@gw",
            Direction::Outbound,
            RtmpParty {
                app: Some("phone".into()),
                subject: Some("alice".into()),
            },
            SipParty {
                from: Some("sip:alice@gw".into()),
                to: Some("sip:bob@pbx".into()),
            },
            (start, Some(answer), end),
            CodecsView {
                sip: Some("PCMU/8000".into()),
                rtmp_in: Some("speex".into()),
                rtmp_out: Some("speex".into()),
                path: Some("transcode"),
                srtp: Some("AES_CM_128_HMAC_SHA1_80"),
            },
            Some(200),
            Some("Remote hangup".into()),
            &MediaSnapshot {
                stats,
                rtmp_in: None,
            },
        );
        let mut out = Vec::new();
        write_line(&mut out, &rec).expect("written");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(v["start_time"], "2025-12-03T14:35:00.000Z");
        assert_eq!(v["end_time"], "2025-12-03T14:35:11.500Z");
        assert_eq!(v["duration_s"], 11.5);
        assert_eq!(v["billable_s"], 10.0);
        assert_eq!(v["sip_code"], 200);
        assert_eq!(v["rtp"]["packets_lost"], 5);
        assert_eq!(v["rtp"]["loss_percent"], 1.0);
        assert_eq!(v["codecs"]["sip"], "PCMU/8000");
        assert_eq!(v["codecs"]["srtp"], "AES_CM_128_HMAC_SHA1_80");
        // d = 8 ms, 1 % loss: R = 93.2 - 0.192 - 3.640 = 89.4.
        assert_eq!(v["r_factor"], 89.4);
        assert!(v["mos"].as_f64().is_some_and(|m| (4.0..4.5).contains(&m)));
        for key in [
            "call_id",
            "direction",
            "rtmp",
            "sip",
            "answer_time",
            "reason",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let (tx, _rx) = mpsc::channel(1);
        let s = CdrSender {
            tx,
            dropped: Arc::default(),
        };
        let rec = || {
            CdrRecord::new(
                "c",
                Direction::Echo,
                RtmpParty::default(),
                SipParty::default(),
                (SystemTime::now(), None, SystemTime::now()),
                CodecsView::default(),
                None,
                None,
                &MediaSnapshot::default(),
            )
        };
        s.send(rec());
        s.send(rec());
        s.send(rec());
        assert_eq!(s.dropped(), 2);
    }
}
