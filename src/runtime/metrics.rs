//! Prometheus metrics (text exposition, OpenMetrics 1.0) and readiness.
//!
//! One [`Metrics`] per gateway, built at start-up and shared through
//! [`super::Gateway::metrics`]; the drivers record events where they
//! happen (connection start/end, call start/end, media task end, dial and
//! connection refusals, registrations). The sans-IO cores never see it.
//! Rendered by `GET /metrics` on the HTTP listener (`runtime::http`).
//!
//! Label values are small closed sets (`&'static str`), never client
//! strings, so the series count is bounded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::media::delay_hist::DelayHistogram;
use crate::media::BridgeStats;

/// The byte transport an RTMP connection arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnTransport {
    /// Plain TCP (`[rtmp] listen`).
    Rtmp,
    /// TLS (`[rtmp] tls_listen`).
    Rtmps,
    /// WebSocket (`GET /rtmp` on `[http] listen`).
    Ws,
    /// RTMPT (HTTP `POST`s on `[http] listen`).
    Rtmpt,
}

impl ConnTransport {
    /// The `transport` label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Rtmp => "rtmp",
            Self::Rtmps => "rtmps",
            Self::Ws => "ws",
            Self::Rtmpt => "rtmpt",
        }
    }
}

/// Who started a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDirection {
    /// `dial` from an RTMP client.
    Outbound,
    /// An INVITE from the SIP side.
    Inbound,
}

impl CallDirection {
    /// The `direction` label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Outbound => "outbound",
            Self::Inbound => "inbound",
        }
    }
}

/// Who put a call on hold or resumed it (`Sono.Call.Hold`'s `by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldSide {
    /// The RTMP client's `hold()` / `unhold()` (our re-INVITE).
    Local,
    /// The far end's re-INVITE or UPDATE.
    Remote,
}

impl HoldSide {
    /// The `side` label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Remote => "remote",
        }
    }
}

/// Whether the gateway sent or received a SIP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SipDirection {
    /// Sent by the gateway (answers to incoming INVITEs).
    Sent,
    /// Received by the gateway (responses to its INVITEs).
    Received,
}

impl SipDirection {
    /// The `direction` label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Received => "received",
        }
    }
}

/// The `class` label of a SIP status code (RFC 3261 section 7.2):
/// `1xx`..`6xx`, `None` outside 100..=699.
pub fn status_class(code: u16) -> Option<&'static str> {
    Some(match code {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        600..=699 => "6xx",
        _ => return None,
    })
}

/// Why a call ended: the `reason` label of `rtmp2sip_calls_ended_total`.
///
/// `normal` once the call was answered; before that the final SIP code
/// decides: 486/600/603 (busy, declined) `rejected`, 408/480/487
/// (timeout, unavailable, cancelled) `timeout`, anything else `failed`.
pub fn end_reason(answered: bool, sip_code: Option<u16>) -> &'static str {
    if answered {
        return "normal";
    }
    match sip_code {
        Some(486 | 600 | 603) => "rejected",
        Some(408 | 480 | 487) => "timeout",
        _ => "failed",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabel {
    transport: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabel {
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndedLabels {
    direction: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SipLabels {
    direction: &'static str,
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SideLabel {
    side: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HoldLabels {
    side: &'static str,
    to: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    what: &'static str,
    reason: &'static str,
}

/// Setup-time buckets in seconds (dial to answer).
const SETUP_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The gateway's metrics and readiness flag.
pub struct Metrics {
    registry: Registry,
    connections_active: Family<TransportLabel, Gauge>,
    connections_total: Family<TransportLabel, Counter>,
    calls_active: Family<DirectionLabel, Gauge>,
    calls_ended: Family<EndedLabels, Counter>,
    call_setup: Histogram,
    rtp_packets: Family<DirectionLabel, Counter>,
    rtp_foreign: Counter,
    srtp_auth_failures: Counter,
    rtmp_out_dropped: Counter,
    calls_held: Family<SideLabel, Gauge>,
    hold_transitions: Family<HoldLabels, Counter>,
    held_dropped: Family<SideLabel, Counter>,
    registrations_active: Gauge,
    refused: Family<RefusedLabels, Counter>,
    sip_responses: Family<SipLabels, Counter>,
    media_load: Gauge<f64, std::sync::atomic::AtomicU64>,
    media_budget_dropped: Counter,
    jitter_delay: DelayMetric,
    tick_lateness: DelayMetric,
    config_reloads: Family<ResultLabel, Counter>,
    ready: AtomicBool,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All series registered, not ready.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("rtmp2sip");
        let m = Self {
            connections_active: Family::default(),
            connections_total: Family::default(),
            calls_active: Family::default(),
            calls_ended: Family::default(),
            call_setup: Histogram::new(SETUP_BUCKETS),
            rtp_packets: Family::default(),
            rtp_foreign: Counter::default(),
            srtp_auth_failures: Counter::default(),
            rtmp_out_dropped: Counter::default(),
            calls_held: Family::default(),
            hold_transitions: Family::default(),
            held_dropped: Family::default(),
            registrations_active: Gauge::default(),
            refused: Family::default(),
            sip_responses: Family::default(),
            media_load: Gauge::default(),
            media_budget_dropped: Counter::default(),
            jitter_delay: DelayMetric::default(),
            tick_lateness: DelayMetric::default(),
            config_reloads: Family::default(),
            ready: AtomicBool::new(false),
            registry: Registry::default(),
        };
        // Counters get `_total` appended by the encoder.
        registry.register(
            "connections_active",
            "RTMP connections open, by transport",
            m.connections_active.clone(),
        );
        registry.register(
            "connections",
            "RTMP connections admitted, by transport",
            m.connections_total.clone(),
        );
        registry.register(
            "calls_active",
            "Calls in progress, by direction",
            m.calls_active.clone(),
        );
        registry.register(
            "calls_ended",
            "Calls ended, by direction and reason",
            m.calls_ended.clone(),
        );
        registry.register(
            "call_setup_seconds",
            "Seconds from dial to answer (status 2)",
            m.call_setup.clone(),
        );
        registry.register(
            "rtp_packets",
            "RTP packets sent and received, added at each call's end",
            m.rtp_packets.clone(),
        );
        registry.register(
            "rtp_foreign",
            "RTP datagrams from a source latching refused, added at each call's end",
            m.rtp_foreign.clone(),
        );
        registry.register(
            "srtp_auth_failures",
            "SRTP/SRTCP packets dropped (authentication failed, replayed, too short), added at each call's end",
            m.srtp_auth_failures.clone(),
        );
        registry.register(
            "rtmp_out_dropped",
            "Audio frames dropped toward slow RTMP clients, added at each call's end",
            m.rtmp_out_dropped.clone(),
        );
        registry.register(
            "calls_held",
            "Calls on hold now, by the side that put them on hold",
            m.calls_held.clone(),
        );
        registry.register(
            "hold_transitions",
            "Calls put on hold (to=held) and resumed (to=resumed), by the side that did it",
            m.hold_transitions.clone(),
        );
        registry.register(
            "held_dropped",
            "Audio not forwarded while on hold: RTMP messages not sent (side=rtmp) and RTP packets not played (side=rtp), added at each call's end",
            m.held_dropped.clone(),
        );
        registry.register(
            "registrations_active",
            "SIP registrations held for RTMP clients",
            m.registrations_active.clone(),
        );
        registry.register(
            "refused",
            "Dials and connections refused, by what and reason",
            m.refused.clone(),
        );
        registry.register(
            "sip_responses",
            "SIP responses to INVITEs sent and received, by class",
            m.sip_responses.clone(),
        );
        registry.register(
            "media_load",
            "Media workers' busy fraction over the last second (load shedding at [limits] media_max_load)",
            m.media_load.clone(),
        );
        registry.register(
            "media_budget_dropped",
            "RTMP audio messages dropped by the per-call work budget (published faster than twice real time), added at each call's end",
            m.media_budget_dropped.clone(),
        );
        registry.register(
            "jitter_delay_seconds",
            "Jitter buffer delay per played RTP packet, arrival to playout, added at each call's end",
            m.jitter_delay.clone(),
        );
        registry.register(
            "media_tick_lateness_seconds",
            "How late the media workers' ticks started, one count per tick that carried calls (a late tick delays the audio of all its worker's calls by that much)",
            m.tick_lateness.clone(),
        );
        registry.register(
            "config_reloads",
            "Configuration reloads (SIGHUP or the API), by result: ok or error (refused, old configuration kept)",
            m.config_reloads.clone(),
        );
        for result in ["ok", "error"] {
            let _ = m.config_reloads.get_or_create(&ResultLabel { result });
        }
        Self { registry, ..m }
    }

    /// The media workers' load, a fraction of their capacity.
    pub fn set_media_load(&self, load: f64) {
        self.media_load.set(load);
    }

    /// Adds media worker ticks' lateness ([`MediaWorkers::take_tick_lateness`](crate::runtime::media_worker::MediaWorkers::take_tick_lateness)).
    pub fn add_tick_lateness(&self, h: &DelayHistogram) {
        self.tick_lateness.add(h);
    }

    /// RTMP audio messages a call's work budget dropped.
    pub fn media_budget_dropped(&self, n: u64) {
        self.media_budget_dropped.inc_by(n);
    }

    /// A configuration reload ended: `ok` (applied) or `error` (refused).
    pub fn config_reload(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.config_reloads
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// The OpenMetrics text exposition of every series.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// A connection admitted on `transport`; the guard counts it open until dropped.
    pub fn connection(self: &std::sync::Arc<Self>, transport: ConnTransport) -> ConnectionGuard {
        let l = TransportLabel {
            transport: transport.label(),
        };
        self.connections_total.get_or_create(&l).inc();
        self.connections_active.get_or_create(&l).inc();
        ConnectionGuard {
            metrics: self.clone(),
            label: l,
        }
    }

    /// A call started; the guard counts it active and records its end.
    pub fn call(self: &std::sync::Arc<Self>, direction: CallDirection) -> CallGuard {
        let l = DirectionLabel {
            direction: direction.label(),
        };
        self.calls_active.get_or_create(&l).inc();
        CallGuard {
            metrics: self.clone(),
            direction,
            answered: false,
            sip_code: None,
            held_by: None,
        }
    }

    /// A dial or connection refused: `what` "dial"/"connect"/"connection",
    /// `reason` "policy", "rate", "capacity", "auth", "limits", "overload",
    /// "draining" (`what` "invite" for an incoming INVITE refused for
    /// overload or while draining).
    pub fn refused(&self, what: &'static str, reason: &'static str) {
        self.refused
            .get_or_create(&RefusedLabels { what, reason })
            .inc();
    }

    /// One call's media counters, added once when its media task ends.
    pub fn media_ended(&self, stats: &BridgeStats) {
        self.rtp_packets
            .get_or_create(&DirectionLabel { direction: "sent" })
            .inc_by(stats.rtp_sent);
        self.rtp_packets
            .get_or_create(&DirectionLabel {
                direction: "received",
            })
            .inc_by(stats.rtp_received);
        self.rtp_foreign.inc_by(stats.rtp_foreign);
        self.srtp_auth_failures.inc_by(stats.srtp_auth_failures);
        self.rtmp_out_dropped.inc_by(stats.rtmp_out_dropped);
        self.held_dropped
            .get_or_create(&SideLabel { side: "rtmp" })
            .inc_by(stats.rtmp_held);
        self.held_dropped
            .get_or_create(&SideLabel { side: "rtp" })
            .inc_by(stats.rtp_held);
        self.jitter_delay.add(&stats.jitter.delay);
    }

    /// A SIP response with status `code`; codes outside 100..=699 are not counted.
    pub fn sip_response(&self, direction: SipDirection, code: u16) {
        if let Some(class) = status_class(code) {
            self.sip_responses
                .get_or_create(&SipLabels {
                    direction: direction.label(),
                    class,
                })
                .inc();
        }
    }

    /// Registrations held changed by `delta`.
    pub fn registrations_changed(&self, delta: i64) {
        self.registrations_active.inc_by(delta);
    }

    /// Sets readiness (`GET /readyz`).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Whether listeners and the SIP transport are up and no shutdown began.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

/// A [`DelayHistogram`] exported as a Prometheus histogram:
/// `rtmp2sip_jitter_delay_seconds` (the calls' histograms summed) and
/// `rtmp2sip_media_tick_lateness_seconds` (the workers'). Whole
/// histograms are added at once, which `Histogram::observe` cannot do. Buckets are `media::delay_hist::BOUNDS_MS` in seconds, then +Inf.
#[derive(Debug, Clone, Default)]
struct DelayMetric(std::sync::Arc<std::sync::Mutex<DelayHistogram>>);

impl DelayMetric {
    fn add(&self, h: &DelayHistogram) {
        if let Ok(mut total) = self.0.lock() {
            total.merge(h);
        }
    }
}

impl prometheus_client::encoding::EncodeMetric for DelayMetric {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        let h = self.0.lock().map(|h| *h).unwrap_or_default();
        let buckets: Vec<(f64, u64)> = h.buckets_seconds().collect();
        let sum = h.sum_us as f64 / 1e6;
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            sum,
            h.count(),
            &buckets,
            None,
        )
    }

    fn metric_type(&self) -> prometheus_client::metrics::MetricType {
        prometheus_client::metrics::MetricType::Histogram
    }
}

/// Counts one open connection; dropping it closes it.
pub struct ConnectionGuard {
    metrics: std::sync::Arc<Metrics>,
    label: TransportLabel,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.metrics
            .connections_active
            .get_or_create(&self.label)
            .dec();
    }
}

/// Counts one active call; dropping it ends it with a reason.
pub struct CallGuard {
    metrics: std::sync::Arc<Metrics>,
    direction: CallDirection,
    answered: bool,
    sip_code: Option<u16>,
    /// Who put the call on hold, while it is.
    held_by: Option<HoldSide>,
}

impl CallGuard {
    /// The call went on hold (`held`) or resumed, by `side`: moves
    /// `calls_held` (a resume takes the call off the side that held it)
    /// and counts the transition. Repeating the current state changes
    /// nothing.
    pub fn hold(&mut self, held: bool, side: HoldSide) {
        let to = match (self.held_by, held) {
            (None, true) => {
                self.held_by = Some(side);
                self.held_gauge(side).inc();
                "held"
            }
            (Some(by), false) => {
                self.held_by = None;
                self.held_gauge(by).dec();
                "resumed"
            }
            _ => return,
        };
        self.metrics
            .hold_transitions
            .get_or_create(&HoldLabels {
                side: side.label(),
                to,
            })
            .inc();
    }

    fn held_gauge(&self, side: HoldSide) -> Gauge {
        self.metrics
            .calls_held
            .get_or_create(&SideLabel { side: side.label() })
            .clone()
    }

    /// The call was answered after `setup` (dial to status 2); once.
    pub fn answered(&mut self, setup: Duration) {
        if !self.answered {
            self.answered = true;
            if self.direction == CallDirection::Outbound {
                self.metrics.call_setup.observe(setup.as_secs_f64());
            }
        }
    }

    /// The last SIP status code seen for the call.
    pub fn sip_code(&mut self, code: u16) {
        self.sip_code = Some(code);
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if let Some(by) = self.held_by.take() {
            self.held_gauge(by).dec();
        }
        let direction = self.direction.label();
        self.metrics
            .calls_active
            .get_or_create(&DirectionLabel { direction })
            .dec();
        self.metrics
            .calls_ended
            .get_or_create(&EndedLabels {
                direction,
                reason: end_reason(self.answered, self.sip_code),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn labels_are_closed_lowercase_sets() {
        assert_eq!(ConnTransport::Rtmpt.label(), "rtmpt");
        assert_eq!(ConnTransport::Ws.label(), "ws");
        assert_eq!(CallDirection::Inbound.label(), "inbound");
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(100), Some("1xx"));
        assert_eq!(status_class(183), Some("1xx"));
        assert_eq!(status_class(200), Some("2xx"));
        assert_eq!(status_class(486), Some("4xx"));
        assert_eq!(status_class(699), Some("6xx"));
        assert_eq!(status_class(99), None);
        assert_eq!(status_class(700), None);
        assert_eq!(SipDirection::Sent.label(), "sent");
    }

    #[test]
    fn end_reasons() {
        assert_eq!(end_reason(true, Some(486)), "normal");
        assert_eq!(end_reason(false, Some(486)), "rejected");
        assert_eq!(end_reason(false, Some(603)), "rejected");
        assert_eq!(end_reason(false, Some(408)), "timeout");
        assert_eq!(end_reason(false, Some(503)), "failed");
        assert_eq!(end_reason(false, None), "failed");
    }

    #[test]
    fn call_guard_moves_counters() {
        let m = Arc::new(Metrics::new());
        {
            let mut c = m.call(CallDirection::Outbound);
            c.answered(Duration::from_millis(120));
            let text = m.render();
            assert!(text.contains("rtmp2sip_calls_active{direction=\"outbound\"} 1"));
            assert!(text.contains("rtmp2sip_call_setup_seconds_count 1"));
        }
        let _conn = m.connection(ConnTransport::Ws);
        let text = m.render();
        assert!(text.contains("rtmp2sip_calls_active{direction=\"outbound\"} 0"));
        assert!(
            text.contains("rtmp2sip_calls_ended_total{direction=\"outbound\",reason=\"normal\"} 1")
        );
        assert!(text.contains("rtmp2sip_connections_total{transport=\"ws\"} 1"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn hold_moves_the_held_gauge_and_counts_transitions() {
        let m = Arc::new(Metrics::new());
        let mut a = m.call(CallDirection::Outbound);
        let mut b = m.call(CallDirection::Inbound);
        a.hold(true, HoldSide::Remote);
        a.hold(true, HoldSide::Remote); // no flip: nothing counted
        b.hold(true, HoldSide::Local);
        let text = m.render();
        assert!(
            text.contains("rtmp2sip_calls_held{side=\"remote\"} 1"),
            "{text}"
        );
        assert!(text.contains("rtmp2sip_calls_held{side=\"local\"} 1"));
        assert!(text.contains("rtmp2sip_hold_transitions_total{side=\"remote\",to=\"held\"} 1"));
        // Held by the far end, resumed by our unhold(): off the remote gauge.
        a.hold(false, HoldSide::Local);
        a.hold(false, HoldSide::Local);
        let text = m.render();
        assert!(text.contains("rtmp2sip_calls_held{side=\"remote\"} 0"));
        assert!(text.contains("rtmp2sip_hold_transitions_total{side=\"local\",to=\"resumed\"} 1"));
        // A call that ends on hold leaves the gauge.
        drop(b);
        let text = m.render();
        assert!(text.contains("rtmp2sip_calls_held{side=\"local\"} 0"));
        assert!(text.contains("rtmp2sip_hold_transitions_total{side=\"local\",to=\"held\"} 1"));
        m.media_ended(&BridgeStats {
            rtmp_held: 5,
            rtp_held: 7,
            ..BridgeStats::default()
        });
        let text = m.render();
        assert!(text.contains("rtmp2sip_held_dropped_total{side=\"rtmp\"} 5"));
        assert!(text.contains("rtmp2sip_held_dropped_total{side=\"rtp\"} 7"));
        assert_eq!(HoldSide::Remote.label(), "remote");
    }

    #[test]
    fn tick_lateness_is_a_histogram_of_the_workers_ticks() {
        let m = Metrics::new();
        let text = m.render();
        assert!(
            text.contains("# TYPE rtmp2sip_media_tick_lateness_seconds histogram"),
            "{text}"
        );
        let mut h = DelayHistogram::default();
        for _ in 0..3 {
            h.record(Duration::ZERO);
        }
        h.record(Duration::from_millis(45));
        m.add_tick_lateness(&h);
        m.add_tick_lateness(&h);
        let text = m.render();
        assert!(
            text.contains("rtmp2sip_media_tick_lateness_seconds_count 8"),
            "{text}"
        );
        assert!(
            text.contains("rtmp2sip_media_tick_lateness_seconds_bucket{le=\"0.005\"} 6"),
            "{text}"
        );
        assert!(
            text.contains("rtmp2sip_media_tick_lateness_seconds_bucket{le=\"0.04\"} 6"),
            "{text}"
        );
        assert!(
            text.contains("rtmp2sip_media_tick_lateness_seconds_bucket{le=\"0.05\"} 8"),
            "{text}"
        );
    }

    #[test]
    fn jitter_delay_histogram_sums_the_calls() {
        let m = Metrics::new();
        let text = m.render();
        assert!(
            text.contains("# TYPE rtmp2sip_jitter_delay_seconds histogram"),
            "{text}"
        );
        assert!(text.contains("rtmp2sip_jitter_delay_seconds_count 0"));
        let mut a = BridgeStats::default();
        a.jitter.delay.record(Duration::from_millis(38));
        a.jitter.delay.record(Duration::from_millis(38));
        let mut b = BridgeStats::default();
        b.jitter.delay.record(Duration::from_millis(55));
        b.jitter.delay.record(Duration::from_millis(2000));
        m.media_ended(&a);
        m.media_ended(&b);
        let text = m.render();
        assert!(
            text.contains("rtmp2sip_jitter_delay_seconds_count 4"),
            "{text}"
        );
        assert!(
            text.contains("rtmp2sip_jitter_delay_seconds_sum 2.131"),
            "{text}"
        );
        // Cumulative buckets.
        assert!(text.contains("rtmp2sip_jitter_delay_seconds_bucket{le=\"0.035\"} 0"));
        assert!(text.contains("rtmp2sip_jitter_delay_seconds_bucket{le=\"0.04\"} 2"));
        assert!(text.contains("rtmp2sip_jitter_delay_seconds_bucket{le=\"0.06\"} 3"));
        assert!(text.contains("rtmp2sip_jitter_delay_seconds_bucket{le=\"1.0\"} 3"));
        assert!(text.contains("rtmp2sip_jitter_delay_seconds_bucket{le=\"+Inf\"} 4"));
    }
}
