//! The gateway-wide registry of connections, their calls and their
//! registrations, for the status API (`/api/v1/...`, `http/api.rs`) and
//! call detail records (`cdr.rs`).
//!
//! Connection drivers update it when something changes (a connection
//! opens, connects or closes; a call starts, changes state, negotiates
//! media or ends; a registration changes): a few short critical sections
//! per call, never on the per-packet path. RTP counters come from the
//! media task's [`MediaSnapshot`] (refreshed about once a second) when the
//! API reads them.
//!
//! **Bound.** Entries exist only for open connections (`[limits]
//! max_connections`), their calls (`max_calls`) and their registrations
//! (4 per connection). Strings stored are the ones the connection already
//! holds (bounded by `[limits] max_message_size` and the SIP parser).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::cdr::{CdrRecord, CdrSender};
use super::connection::inbox::{Inbound, InboxSender};
use super::streams::MediaSnapshot;
use crate::sip::event::CallId;

/// Most time a call's record waits for its media task's final counters.
const FINAL_STATS_WAIT: Duration = Duration::from_secs(2);

/// How a connection reached the gateway.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    /// The connection's id (the `conn` of its log lines).
    pub id: u64,
    /// `rtmp`, `rtmps`, `ws` or `rtmpt`.
    pub transport: &'static str,
    /// The client's address.
    pub peer: SocketAddr,
}

/// Which way a call goes, as the API and CDRs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The client dialled out to SIP.
    Outbound,
    /// A SIP INVITE to a client.
    Inbound,
    /// The client dialled the built-in echo destination.
    Echo,
}

/// The state of a call, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallState {
    /// Dial placed, no answer yet (status 1 not yet seen).
    Dialing,
    /// An incoming call rings at the client.
    Ringing,
    /// Provisional responses (status 1): trying, ringing, early media.
    Early,
    /// Answered (status 2/4).
    Connected,
    /// Hanging up (status 3).
    Ending,
}

/// One call as the registry holds it.
#[derive(Debug)]
struct CallEntry {
    connection: u64,
    direction: Direction,
    state: CallState,
    from: Option<String>,
    to: Option<String>,
    /// The SIP side's codec (`PCMU/8000`...), once negotiated.
    sip_codec: Option<String>,
    /// What the gateway sends the client (`speex`, `opus`, ...).
    rtmp_out: Option<String>,
    /// The SRTP suite in force, if any.
    srtp: Option<&'static str>,
    start: SystemTime,
    answer: Option<SystemTime>,
    media: Option<watch::Receiver<MediaSnapshot>>,
    inbox: InboxSender,
}

/// One connection as the registry holds it.
#[derive(Debug)]
struct ConnEntry {
    origin: Origin,
    since: SystemTime,
    app: Option<String>,
    subject: Option<String>,
    /// AoR -> state (`registered`, `failed`, ...).
    registrations: Vec<(String, RegistrationView)>,
}

/// The registry; one per gateway.
#[derive(Debug, Default)]
pub struct Registry {
    calls: Mutex<HashMap<String, CallEntry>>,
    conns: Mutex<HashMap<u64, ConnEntry>>,
    cdr: Option<CdrSender>,
}

/// RTP counters of a call (JSON).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RtpView {
    /// RTP packets sent to the far end.
    pub packets_sent: u64,
    /// RTP packets accepted from the far end.
    pub packets_received: u64,
    /// Packets the jitter buffer declared lost.
    pub packets_lost: u64,
    /// `packets_lost / (packets_received + packets_lost)`, percent.
    pub loss_percent: f64,
    /// Interarrival jitter of the far end's RTP (RFC 3550 A.8), ms.
    pub jitter_ms: f64,
    /// Latest RTCP round trip (RFC 3550 section 6.4.1), ms, when known.
    pub rtt_ms: Option<f64>,
}

impl RtpView {
    /// The view of a media snapshot.
    pub fn from_snapshot(s: &MediaSnapshot) -> Self {
        let b = &s.stats;
        let lost = b.jitter.lost;
        let total = b.rtp_received.saturating_add(lost);
        let loss_percent = if total == 0 {
            0.0
        } else {
            lost as f64 * 100.0 / total as f64
        };
        Self {
            packets_sent: b.rtp_sent,
            packets_received: b.rtp_received,
            packets_lost: lost,
            loss_percent,
            jitter_ms: ms(b.jitter_rx),
            rtt_ms: b.rtt.map(ms),
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The codecs of a call (JSON).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CodecsView {
    /// The SIP side's codec, e.g. `PCMU/8000`.
    pub sip: Option<String>,
    /// What the client publishes, e.g. `speex`, once it sent audio.
    pub rtmp_in: Option<String>,
    /// What the gateway plays to the client, e.g. `speex`.
    pub rtmp_out: Option<String>,
    /// `passthrough` when the client's audio goes to SIP as is, else
    /// `transcode`; `None` before media.
    pub path: Option<&'static str>,
    /// The SRTP crypto suite (RFC 4568 name, e.g.
    /// `AES_CM_128_HMAC_SHA1_80`) when the SIP side runs SRTP; `None`
    /// for plain RTP. Never a key.
    pub srtp: Option<&'static str>,
}

/// A call (JSON): `GET /api/v1/calls`, `/api/v1/calls/{call_id}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CallView {
    /// The SIP Call-ID (or the echo call's generated id).
    pub call_id: String,
    /// The connection holding the call.
    pub connection: u64,
    /// `outbound`, `inbound` or `echo`.
    pub direction: Direction,
    /// `dialing`, `ringing`, `early`, `connected` or `ending`.
    pub state: CallState,
    /// The RTMP side: the connection's app and token subject.
    pub rtmp: RtmpParty,
    /// The SIP side: From and To URIs.
    pub sip: SipParty,
    /// Codecs both sides.
    pub codecs: CodecsView,
    /// RTP counters, once media runs.
    pub rtp: Option<RtpView>,
    /// RFC 3339 UTC.
    pub start_time: String,
    /// RFC 3339 UTC, once answered.
    pub answer_time: Option<String>,
    /// Seconds since the start.
    pub duration_s: f64,
}

/// The RTMP party of a call (JSON).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RtmpParty {
    /// The `connect` app (without its query).
    pub app: Option<String>,
    /// The token subject (`[auth] mode = "jwt"`).
    pub subject: Option<String>,
}

/// The SIP party of a call (JSON).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SipParty {
    /// The From URI.
    pub from: Option<String>,
    /// The To URI (the dialled target for outbound calls).
    pub to: Option<String>,
}

/// A connection (JSON): `GET /api/v1/connections`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConnectionView {
    /// The connection's id (the `conn` of its log lines).
    pub id: u64,
    /// `rtmp`, `rtmps`, `ws` or `rtmpt`.
    pub transport: &'static str,
    /// The client's IP:port.
    pub remote: String,
    /// The `connect` app, once connected.
    pub app: Option<String>,
    /// The token subject, if any.
    pub subject: Option<String>,
    /// RFC 3339 UTC.
    pub since: String,
    /// The call it holds, if any.
    pub call_id: Option<String>,
}

/// A registration (JSON): `GET /api/v1/registrations`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RegistrationView {
    /// The address of record.
    pub aor: String,
    /// The connection holding it.
    pub connection: u64,
    /// `registered`, `failed`, `expired` or `unregistered`.
    pub state: &'static str,
    /// Granted lifetime, s (when registered).
    pub expires_s: Option<u32>,
    /// SIP code of the last failure.
    pub code: Option<u16>,
    /// Reason of the last failure.
    pub reason: Option<String>,
}

/// RFC 3339 UTC with millisecond precision, e.g. `2026-12-03T14:35:09.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86400) as i64, secs % 86400);
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's `civil_from_days` algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A call starting, as the connection driver knows it at `BindCall`.
#[derive(Debug)]
pub struct NewCall {
    /// The call's id.
    pub call_id: CallId,
    /// The connection holding it.
    pub connection: u64,
    /// Which way it goes.
    pub direction: Direction,
    /// From URI, when known (incoming calls).
    pub from: Option<String>,
    /// To URI, when known (incoming calls).
    pub to: Option<String>,
    /// Where an operator hangup goes.
    pub inbox: InboxSender,
}

impl Registry {
    /// A registry writing call detail records to `cdr`, if any.
    pub fn new(cdr: Option<CdrSender>) -> Self {
        Self {
            cdr,
            ..Self::default()
        }
    }

    fn with_calls<R>(&self, f: impl FnOnce(&mut HashMap<String, CallEntry>) -> R) -> Option<R> {
        self.calls.lock().ok().map(|mut g| f(&mut g))
    }

    fn with_conns<R>(&self, f: impl FnOnce(&mut HashMap<u64, ConnEntry>) -> R) -> Option<R> {
        self.conns.lock().ok().map(|mut g| f(&mut g))
    }

    // ---- connections ----------------------------------------------------

    /// A connection opened.
    pub fn open_connection(&self, origin: Origin) {
        self.with_conns(|c| {
            c.insert(
                origin.id,
                ConnEntry {
                    origin,
                    since: SystemTime::now(),
                    app: None,
                    subject: None,
                    registrations: Vec::new(),
                },
            )
        });
    }

    /// The connection's `connect` succeeded.
    pub fn connected(&self, id: u64, app: &str, subject: Option<&str>) {
        self.with_conns(|c| {
            if let Some(e) = c.get_mut(&id) {
                e.app = Some(app.to_string());
                e.subject = subject.map(str::to_string);
            }
        });
    }

    /// A registration of connection `id` changed.
    pub fn registration(&self, id: u64, view: RegistrationView) {
        self.with_conns(|c| {
            if let Some(e) = c.get_mut(&id) {
                e.registrations.retain(|(aor, _)| *aor != view.aor);
                if view.state != "unregistered" {
                    e.registrations.push((view.aor.clone(), view));
                }
            }
        });
    }

    /// Connection `id` released every registration (`unregister()`).
    pub fn clear_registrations(&self, id: u64) {
        self.with_conns(|c| {
            if let Some(e) = c.get_mut(&id) {
                e.registrations.clear();
            }
        });
    }

    /// The connection closed: it and any call it still holds are gone
    /// (a left-over call gets its record).
    pub fn close_connection(&self, id: u64) {
        self.with_conns(|c| c.remove(&id));
        let left: Vec<String> = self
            .with_calls(|c| {
                c.iter()
                    .filter(|(_, e)| e.connection == id)
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        for call_id in left {
            self.end_call(&call_id, None, Some("Connection closed"));
        }
    }

    // ---- calls ------------------------------------------------------------

    /// A call started (the connection bound its slots).
    pub fn start_call(&self, c: NewCall) {
        self.with_calls(|m| {
            m.insert(
                c.call_id.as_str().to_string(),
                CallEntry {
                    connection: c.connection,
                    direction: c.direction,
                    state: match c.direction {
                        Direction::Inbound => CallState::Ringing,
                        _ => CallState::Dialing,
                    },
                    from: c.from,
                    to: c.to,
                    sip_codec: None,
                    srtp: None,
                    rtmp_out: None,
                    start: SystemTime::now(),
                    answer: None,
                    media: None,
                    inbox: c.inbox,
                },
            )
        });
    }

    /// The outbound call's parties, once the INVITE goes out.
    pub fn dialled(&self, call_id: &str, from: Option<String>, to: String) {
        self.with_calls(|m| {
            if let Some(e) = m.get_mut(call_id) {
                e.from = from;
                e.to = Some(to);
            }
        });
    }

    /// The far end transferred call `old` (RFC 3515): its record is
    /// written (200 `Transferred`) and the client's new call `new` starts
    /// as an outbound call of the same connection.
    pub fn transferred(&self, old: &str, new: &str, inbox: InboxSender) {
        let connection = self
            .with_calls(|m| m.get(old).map(|e| e.connection))
            .flatten();
        self.end_call(old, Some(200), Some("Transferred"));
        if let Some(connection) = connection {
            self.start_call(NewCall {
                call_id: CallId::new(new),
                connection,
                direction: Direction::Outbound,
                from: None,
                to: None,
                inbox,
            });
        }
    }

    /// The call's state changed; `answered` marks the answer time.
    pub fn set_state(&self, call_id: &str, state: CallState) {
        self.with_calls(|m| {
            if let Some(e) = m.get_mut(call_id) {
                if state == CallState::Connected && e.answer.is_none() {
                    e.answer = Some(SystemTime::now());
                }
                e.state = state;
            }
        });
    }

    /// The call's media (re)started: its codecs and counters.
    pub fn media(
        &self,
        call_id: &str,
        sip_codec: String,
        rtmp_out: String,
        stats: Option<watch::Receiver<MediaSnapshot>>,
    ) {
        self.with_calls(|m| {
            if let Some(e) = m.get_mut(call_id) {
                e.sip_codec = Some(sip_codec);
                e.rtmp_out = Some(rtmp_out);
                if stats.is_some() {
                    e.media = stats;
                }
            }
        });
    }

    /// The call's SRTP suite (RFC 4568 name) now in force, or `None` for
    /// plain RTP (set with the media, and on each renegotiation).
    pub fn srtp(&self, call_id: &str, suite: Option<&'static str>) {
        self.with_calls(|m| {
            if let Some(e) = m.get_mut(call_id) {
                e.srtp = suite;
            }
        });
    }

    /// The call ended: it leaves the registry and, with `[cdr] path`, its
    /// record is queued for the writer.
    pub fn end_call(&self, call_id: &str, sip_code: Option<u16>, reason: Option<&str>) {
        let Some(Some(entry)) = self.with_calls(|m| m.remove(call_id)) else {
            return;
        };
        let Some(cdr) = self.cdr.clone() else {
            return;
        };
        let (app, subject) = self.conn_party(entry.connection);
        let end = SystemTime::now();
        let call_id = call_id.to_string();
        let reason = reason.map(str::to_string);
        let media = entry.media.clone();
        let record = move |snapshot: MediaSnapshot| {
            let codecs = codecs(&entry, &snapshot);
            CdrRecord::new(
                &call_id,
                entry.direction,
                RtmpParty { app, subject },
                SipParty {
                    from: entry.from,
                    to: entry.to,
                },
                (entry.start, entry.answer, end),
                codecs,
                sip_code,
                reason,
                &snapshot,
            )
        };
        match (media, tokio::runtime::Handle::try_current()) {
            // The media task publishes its final counters as it ends,
            // just after the call's release: wait for them (bounded), off
            // the connection's path.
            (Some(mut rx), Ok(rt)) => {
                rt.spawn(async move {
                    let last = async { while rx.changed().await.is_ok() {} };
                    let _ = tokio::time::timeout(FINAL_STATS_WAIT, last).await;
                    let snapshot = *rx.borrow();
                    cdr.send(record(snapshot));
                });
            }
            (media, _) => {
                let snapshot = media.map_or(MediaSnapshot::default(), |r| *r.borrow());
                cdr.send(record(snapshot));
            }
        }
    }

    /// Call detail records dropped so far (`[cdr] queue` full).
    pub fn cdr_dropped(&self) -> u64 {
        self.cdr.as_ref().map_or(0, CdrSender::dropped)
    }

    /// Asks the connection holding `call_id` to hang it up (BYE or
    /// CANCEL at the far end, status 0 at the client). False when there is
    /// no such call or its connection is gone.
    pub fn hangup(&self, call_id: &str) -> bool {
        let inbox = self
            .with_calls(|m| m.get(call_id).map(|e| e.inbox.clone()))
            .flatten();
        inbox.is_some_and(|tx| tx.send(Inbound::OperatorHangup(CallId::new(call_id))))
    }

    fn conn_party(&self, id: u64) -> (Option<String>, Option<String>) {
        self.with_conns(|c| {
            c.get(&id)
                .map(|e| (e.app.clone(), e.subject.clone()))
                .unwrap_or_default()
        })
        .unwrap_or_default()
    }

    // ---- views ------------------------------------------------------------

    /// Every call, oldest first.
    pub fn calls(&self) -> Vec<CallView> {
        let now = SystemTime::now();
        let mut v: Vec<(SystemTime, CallView)> = self
            .with_calls(|m| {
                m.iter()
                    .map(|(id, e)| (e.start, self.view(id, e, now)))
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.call_id.cmp(&b.1.call_id)));
        v.into_iter().map(|(_, c)| c).collect()
    }

    /// One call.
    pub fn call(&self, call_id: &str) -> Option<CallView> {
        let now = SystemTime::now();
        self.with_calls(|m| m.get(call_id).map(|e| self.view(call_id, e, now)))
            .flatten()
    }

    fn view(&self, call_id: &str, e: &CallEntry, now: SystemTime) -> CallView {
        let snapshot = e.media.as_ref().map(|r| *r.borrow());
        let (app, subject) = self.conn_party(e.connection);
        CallView {
            call_id: call_id.to_string(),
            connection: e.connection,
            direction: e.direction,
            state: e.state,
            rtmp: RtmpParty { app, subject },
            sip: SipParty {
                from: e.from.clone(),
                to: e.to.clone(),
            },
            codecs: codecs(e, &snapshot.unwrap_or_default()),
            rtp: snapshot.as_ref().map(RtpView::from_snapshot),
            start_time: rfc3339(e.start),
            answer_time: e.answer.map(rfc3339),
            duration_s: secs(now.duration_since(e.start).unwrap_or_default()),
        }
    }

    /// Every connection, by id.
    pub fn connections(&self) -> Vec<ConnectionView> {
        let calls: HashMap<u64, String> = self
            .with_calls(|m| m.iter().map(|(id, e)| (e.connection, id.clone())).collect())
            .unwrap_or_default();
        let mut v: Vec<ConnectionView> = self
            .with_conns(|c| {
                c.values()
                    .map(|e| ConnectionView {
                        id: e.origin.id,
                        transport: e.origin.transport,
                        remote: e.origin.peer.to_string(),
                        app: e.app.clone(),
                        subject: e.subject.clone(),
                        since: rfc3339(e.since),
                        call_id: calls.get(&e.origin.id).cloned(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by_key(|c| c.id);
        v
    }

    /// Every registration, by connection and AoR.
    pub fn registrations(&self) -> Vec<RegistrationView> {
        let mut v: Vec<RegistrationView> = self
            .with_conns(|c| {
                c.values()
                    .flat_map(|e| e.registrations.iter().map(|(_, r)| r.clone()))
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by(|a, b| (a.connection, &a.aor).cmp(&(b.connection, &b.aor)));
        v
    }
}

/// Seconds, rounded to milliseconds.
fn secs(d: Duration) -> f64 {
    (d.as_millis() as f64) / 1000.0
}

fn codecs(e: &CallEntry, s: &MediaSnapshot) -> CodecsView {
    let rtmp_in = s.rtmp_in.map(rtmp_codec_name);
    let path = e.sip_codec.as_ref().map(|sip| {
        let same = |c: &Option<String>| c.as_deref().is_some_and(|c| same_codec(c, sip));
        if same(&rtmp_in) && same(&e.rtmp_out) {
            "passthrough"
        } else {
            "transcode"
        }
    });
    CodecsView {
        sip: e.sip_codec.clone(),
        rtmp_in,
        rtmp_out: e.rtmp_out.clone(),
        path,
        srtp: e.srtp,
    }
}

/// `pcmu` vs `PCMU/8000`: the same G.711 law.
fn same_codec(rtmp: &str, sip: &str) -> bool {
    let sip = sip.split('/').next().unwrap_or(sip);
    rtmp.eq_ignore_ascii_case(sip)
}

/// The API's name of what the gateway plays to a client: `speex`,
/// `match` (the client's own codec), `opus`, `pcmu`, `pcma`.
pub fn rtmp_out_name(o: crate::media::RtmpOut) -> String {
    use crate::media::RtmpOut;
    match o {
        RtmpOut::Speex => "speex".into(),
        RtmpOut::Match => "match".into(),
        RtmpOut::Opus => "opus".into(),
        RtmpOut::G711(rtmp2sip_codecs::G711Law::Pcmu) => "pcmu".into(),
        RtmpOut::G711(rtmp2sip_codecs::G711Law::Pcma) => "pcma".into(),
        #[allow(unreachable_patterns)]
        _ => "other".into(),
    }
}

/// The API's name of an RTMP codec: `speex`, `nellymoser`, `pcmu`,
/// `pcma`, `opus`.
pub fn rtmp_codec_name(c: crate::media::RtmpCodec) -> String {
    use crate::media::RtmpCodec;
    match c {
        RtmpCodec::Speex => "speex".into(),
        RtmpCodec::Nellymoser(_) => "nellymoser".into(),
        RtmpCodec::G711(rtmp2sip_codecs::G711Law::Pcmu) => "pcmu".into(),
        RtmpCodec::G711(rtmp2sip_codecs::G711Law::Pcma) => "pcma".into(),
        RtmpCodec::Opus => "opus".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::connection::inbox::inbox;

    fn origin(id: u64) -> Origin {
        Origin {
            id,
            transport: "rtmp",
            peer: "192.0.2.1:5000".parse().expect("addr"),
        }
    }

    #[test]
    fn rfc3339_in_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_772_509_123);
        assert_eq!(rfc3339(t), "2025-12-03T14:35:09.123Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[tokio::test]
    async fn a_call_lives_from_start_to_end_and_can_be_hung_up() {
        let r = Registry::default();
        r.open_connection(origin(7));
        r.connected(7, "phone", Some("alice"));
        let (tx, mut rx) = inbox();
        r.start_call(NewCall {
            call_id: CallId::new("c1"),
            connection: 7,
            direction: Direction::Outbound,
            from: None,
            to: None,
            inbox: tx,
        });
        r.dialled("c1", None, "sip:bob@example.com".into());
        r.set_state("c1", CallState::Connected);
        r.media("c1", "PCMU/8000".into(), "speex".into(), None);
        let v = r.call("c1").expect("the call");
        assert_eq!(v.state, CallState::Connected);
        assert_eq!(v.rtmp.subject.as_deref(), Some("alice"));
        assert_eq!(v.sip.to.as_deref(), Some("sip:bob@example.com"));
        assert_eq!(v.codecs.sip.as_deref(), Some("PCMU/8000"));
        assert_eq!(v.codecs.path, Some("transcode"));
        assert!(v.answer_time.is_some());
        assert_eq!(r.calls().len(), 1);
        assert_eq!(r.connections()[0].call_id.as_deref(), Some("c1"));

        assert!(r.hangup("c1"));
        assert!(!r.hangup("nope"));
        match rx.recv().await {
            Some(Inbound::OperatorHangup(id)) => assert_eq!(id.as_str(), "c1"),
            other => panic!("{other:?}"),
        }
        r.end_call("c1", Some(200), Some("Hung up by the operator"));
        assert!(r.call("c1").is_none());
        r.close_connection(7);
        assert!(r.connections().is_empty());
    }

    #[test]
    fn registrations_are_listed_until_unregistered() {
        let r = Registry::default();
        r.open_connection(origin(1));
        let reg = |state| RegistrationView {
            aor: "sip:u1@pbx".into(),
            connection: 1,
            state,
            expires_s: Some(300),
            code: None,
            reason: None,
        };
        r.registration(1, reg("registered"));
        r.registration(1, reg("registered"));
        assert_eq!(r.registrations().len(), 1);
        r.registration(1, reg("unregistered"));
        assert!(r.registrations().is_empty());
    }

    #[test]
    fn passthrough_when_both_sides_carry_the_sip_codec() {
        assert!(same_codec("pcmu", "PCMU/8000"));
        assert!(!same_codec("speex", "PCMU/8000"));
    }
}
