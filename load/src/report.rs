//! The run's figures, as one JSON object (`--json`) or text.
//!
//! Gateway CPU over the window: `% of one core = cpu_s / window_s * 100`;
//! `µs per call per 20 ms = cpu_s * 1e6 / calls / (window_s / 0.020)`
//! (one 20 ms frame pair: one frame each way). Call setups: see
//! [`crate::setup_rate`]. RSS: `per connection =
//! (connected - idle) / connections`, `per call = (window end - connected)
//! / calls`.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{json, Value};

use crate::measure::{JITTER_RANGE_MS, RTT_RANGE_MS};
use crate::run::RunResult;
use crate::setup_rate::setup_cost;
use crate::stats::{percentile, Histogram};

/// Builds the JSON report (every field present; unknown figures are null).
pub fn to_json(r: &RunResult) -> Value {
    let o = &r.opts;
    let up: Vec<_> = r.outcomes.iter().filter(|c| c.up).collect();
    let failed = r
        .outcomes
        .iter()
        .filter(|c| c.failure.is_some() && !c.up)
        .count()
        + (o.calls - r.outcomes.len());
    let dropped = up.iter().filter(|c| c.failure.is_some()).count();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for c in &r.outcomes {
        if let Some(f) = &c.failure {
            *reasons.entry(f.clone()).or_default() += 1;
        }
    }
    let setup: Vec<f64> = r.outcomes.iter().filter_map(|c| c.setup_ms).collect();
    let dial: Vec<f64> = r.outcomes.iter().filter_map(|c| c.dial_ms).collect();
    let mut jitter = Histogram::new(JITTER_RANGE_MS);
    let mut rtt = Histogram::new(RTT_RANGE_MS);
    let (mut sent_us, mut recv_us, mut gaps, mut msgs, mut bad) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for c in &up {
        let m = &c.meter;
        jitter.merge_shifted(&m.jitter, m.jitter_min_bin());
        rtt.merge_shifted(&m.rtt, 0);
        sent_us += m.sent_us;
        recv_us += m.received_us;
        gaps += m.gaps;
        msgs += m.messages;
        bad += m.undecodable;
    }
    let window = r.gw_window.map(|(a, b)| (a.at, b.at));
    let clusters = gap_clusters(up.iter().map(|c| c.meter.gap_at.as_slice()), window);
    let window_s = r
        .gw_window
        .map(|(a, b)| (b.at - a.at).as_secs_f64())
        .or_else(|| r.self_window.map(|(a, b)| (b.at - a.at).as_secs_f64()));
    let calls_up = r.up_at_window.max(1) as f64;
    let gateway = r.gw_window.map(|(a, b)| {
        let w = (b.at - a.at).as_secs_f64().max(1e-3);
        let cpu = b.cpu_s - a.cpu_s;
        let idle = r.gw_idle.map(|s| s.rss_kib);
        let conn = r.gw_connected.map(|s| s.rss_kib);
        let per_conn = idle.zip(conn).map(|(i, c)| {
            (c as f64 - i as f64) / r.connected_before_dial.max(1) as f64
        });
        let per_call = conn.map(|c| (b.rss_kib as f64 - c as f64) / calls_up);
        json!({
            "cpu_percent": round2(cpu / w * 100.0),
            "us_per_call_per_20ms": round2(cpu * 1e6 / calls_up / (w / 0.020)),
            "calls_per_core": if cpu > 0.0 { json!(round2(calls_up * w / cpu)) } else { Value::Null },
            "rss_kib": b.rss_kib,
            "rss_idle_kib": idle,
            "rss_per_connection_kib": per_conn.map(round2),
            "rss_per_call_kib": per_call.map(round2),
        })
    });
    let media_cpu_per_call_s = r
        .gw_window
        .map(|(a, b)| (b.cpu_s - a.cpu_s) / (b.at - a.at).as_secs_f64().max(1e-3) / calls_up);
    let setups = r
        .dial_phase
        .zip(media_cpu_per_call_s)
        .and_then(|(p, m)| setup_cost(&p, m))
        .map(|c| {
            json!({
                "phase_s": round2(c.phase_s),
                "achieved_per_s": round2(c.achieved_per_s),
                "cpu_ms_per_setup": round4(c.cpu_ms_per_setup),
                "setups_per_core_s": c.setups_per_core_s.map(round2),
            })
        });
    let generator_cpu = r
        .self_window
        .map(|(a, b)| round2((b.cpu_s - a.cpu_s) / (b.at - a.at).as_secs_f64().max(1e-3) * 100.0));
    let frames_expected = sent_us / 20_000;
    let frames_received = recv_us / 20_000;
    json!({
        "codec": o.codec.name(),
        "dial": o.dial,
        "calls_attempted": o.calls,
        "calls_connected": up.len(),
        "calls_failed": failed,
        "calls_dropped": dropped,
        "failures": reasons,
        "window_s": window_s.map(round2),
        "setup_ms": pct(&setup),
        "dial_ms": pct(&dial),
        "frames_expected": frames_expected,
        "frames_received": frames_received,
        "frames_received_ratio": if frames_expected > 0 {
            json!(round4(frames_received as f64 / frames_expected as f64))
        } else { Value::Null },
        "messages_received": msgs,
        "messages_undecodable": bad,
        "gaps_over_60ms": gaps,
        "gap_clusters": clusters,
        "delay_variation_ms": hist_pct(&jitter),
        "round_trip_ms": hist_pct(&rtt),
        "gateway": gateway,
        "setups": setups,
        "generator_cpu_percent": generator_cpu,
    })
}

fn pct(v: &[f64]) -> Value {
    json!({
        "p50": percentile(v, 50.0).map(round2),
        "p99": percentile(v, 99.0).map(round2),
        "n": v.len(),
    })
}

/// Width of a gap-cluster slot, ms.
const GAP_SLOT_MS: u128 = 100;

/// How the calls' gaps line up in time: `calls_with_gaps`, `slots` (the
/// 100 ms slots holding any gap, counted from the first gap),
/// `max_calls_in_a_slot` (most calls with a gap in one slot) and
/// `in_window` (the gaps inside the steady window `window`, the rest
/// being during the ramps; null without a window). A stall
/// shared by every call (the gateway's worker or the generator stopped)
/// shows as few slots each holding most calls; calls falling behind on
/// their own as many slots of one call each.
fn gap_clusters<'a>(
    calls: impl Iterator<Item = &'a [Instant]>,
    window: Option<(Instant, Instant)>,
) -> Value {
    let calls: Vec<&[Instant]> = calls.filter(|g| !g.is_empty()).collect();
    let in_window = window.map(|(a, b)| {
        calls
            .iter()
            .flat_map(|g| g.iter())
            .filter(|&&t| (a..=b).contains(&t))
            .count()
    });
    let Some(t0) = calls.iter().flat_map(|g| g.iter()).min().copied() else {
        return json!({"calls_with_gaps": 0, "slots": 0, "max_calls_in_a_slot": 0,
                      "in_window": in_window});
    };
    let mut per_slot: BTreeMap<u128, usize> = BTreeMap::new();
    for gaps in &calls {
        let mut slots: Vec<u128> = gaps
            .iter()
            .map(|t| t.saturating_duration_since(t0).as_millis() / GAP_SLOT_MS)
            .collect();
        slots.dedup();
        for s in slots {
            *per_slot.entry(s).or_default() += 1;
        }
    }
    json!({
        "calls_with_gaps": calls.len(),
        "slots": per_slot.len(),
        "max_calls_in_a_slot": per_slot.values().max().copied().unwrap_or(0),
        "in_window": in_window,
    })
}

fn hist_pct(h: &Histogram) -> Value {
    json!({
        "p50": h.percentile(50.0),
        "p99": h.percentile(99.0),
        "n": h.count(),
    })
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn round4(v: f64) -> f64 {
    (v * 10000.0).round() / 10000.0
}

/// Human-readable text of the JSON report.
pub fn to_text(j: &Value) -> String {
    let g = |path: &[&str]| -> String {
        let mut v = j;
        for p in path {
            v = &v[*p];
        }
        match v {
            Value::Null => "-".into(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    };
    let mut s = String::new();
    s += &format!(
        "codec {} dial {}: calls attempted {} connected {} failed {} dropped {}\n",
        g(&["codec"]),
        g(&["dial"]),
        g(&["calls_attempted"]),
        g(&["calls_connected"]),
        g(&["calls_failed"]),
        g(&["calls_dropped"])
    );
    if j["failures"].as_object().is_some_and(|m| !m.is_empty()) {
        s += &format!("failures: {}\n", j["failures"]);
    }
    s += &format!(
        "setup (TCP connect -> connect result + dial -> status 4) p50 {} p99 {} ms; dial -> status 4 p50 {} p99 {} ms\n",
        g(&["setup_ms", "p50"]),
        g(&["setup_ms", "p99"]),
        g(&["dial_ms", "p50"]),
        g(&["dial_ms", "p99"])
    );
    s += &format!(
        "frames (20 ms) received {} of {} expected ({}); gaps > 60 ms {} ({} calls, in {} 100 ms slots, \
         at most {} calls in one; {} in the window); undecodable {}\n",
        g(&["frames_received"]),
        g(&["frames_expected"]),
        g(&["frames_received_ratio"]),
        g(&["gaps_over_60ms"]),
        g(&["gap_clusters", "calls_with_gaps"]),
        g(&["gap_clusters", "slots"]),
        g(&["gap_clusters", "max_calls_in_a_slot"]),
        g(&["gap_clusters", "in_window"]),
        g(&["messages_undecodable"])
    );
    s += &format!(
        "delay variation p50 {} p99 {} ms; round trip (tone bursts, n {}) p50 {} p99 {} ms\n",
        g(&["delay_variation_ms", "p50"]),
        g(&["delay_variation_ms", "p99"]),
        g(&["round_trip_ms", "n"]),
        g(&["round_trip_ms", "p50"]),
        g(&["round_trip_ms", "p99"])
    );
    s += &format!(
        "gateway over {} s: CPU {} % of a core, {} µs per call per 20 ms, {} calls per core; \
         RSS {} KiB ({} per connection, {} per call)\n",
        g(&["window_s"]),
        g(&["gateway", "cpu_percent"]),
        g(&["gateway", "us_per_call_per_20ms"]),
        g(&["gateway", "calls_per_core"]),
        g(&["gateway", "rss_kib"]),
        g(&["gateway", "rss_per_connection_kib"]),
        g(&["gateway", "rss_per_call_kib"])
    );
    s += &format!(
        "call setups: {} per s over {} s, {} ms of gateway CPU each (media of calls already up removed): {} per core-second\n",
        g(&["setups", "achieved_per_s"]),
        g(&["setups", "phase_s"]),
        g(&["setups", "cpu_ms_per_setup"]),
        g(&["setups", "setups_per_core_s"])
    );
    s += &format!(
        "generator CPU {} % of a core\n",
        g(&["generator_cpu_percent"])
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Options;
    use crate::conn::Outcome;
    use crate::measure::CallMeter;
    use crate::procstat::Sample;
    use std::time::{Duration, Instant};

    #[test]
    fn json_has_every_field_and_gateway_figures() {
        let t0 = Instant::now();
        let mut meter = CallMeter::new();
        meter.on_sent(t0, 1_000_000, None);
        let outcomes = vec![
            Outcome {
                failure: None,
                setup_ms: Some(3.0),
                dial_ms: Some(2.0),
                up: true,
                meter,
            },
            Outcome {
                failure: Some("dial: Sono.Call.Failed".into()),
                setup_ms: None,
                dial_ms: None,
                up: false,
                meter: CallMeter::new(),
            },
        ];
        let s = |at: Instant, cpu_s: f64, rss_kib: u64| Sample { at, cpu_s, rss_kib };
        let r = RunResult {
            opts: Options {
                calls: 2,
                ..Options::default()
            },
            outcomes,
            gw_idle: Some(s(t0, 0.0, 1000)),
            gw_connected: Some(s(t0, 0.0, 1100)),
            gw_window: Some((s(t0, 1.0, 1100), s(t0 + Duration::from_secs(10), 2.0, 1300))),
            self_window: Some((s(t0, 0.0, 1), s(t0 + Duration::from_secs(10), 0.5, 1))),
            up_at_window: 1,
            connected_before_dial: 2,
            dial_phase: Some(crate::setup_rate::DialPhase {
                before: s(t0, 0.0, 1100),
                after: s(t0 + Duration::from_millis(500), 0.02, 1100),
                calls_up: 1,
                call_s_up: 0.0,
            }),
        };
        let j = to_json(&r);
        assert_eq!(j["calls_connected"], 1);
        assert_eq!(j["calls_failed"], 1);
        assert_eq!(j["frames_expected"], 50);
        assert_eq!(j["gateway"]["cpu_percent"], 10.0);
        // 1 s of CPU over 500 frame periods for 1 call: 2000 µs.
        assert_eq!(j["gateway"]["us_per_call_per_20ms"], 2000.0);
        assert_eq!(j["gateway"]["rss_per_connection_kib"], 50.0);
        assert_eq!(j["gateway"]["rss_per_call_kib"], 200.0);
        assert_eq!(j["generator_cpu_percent"], 5.0);
        assert_eq!(j["setups"]["cpu_ms_per_setup"], 20.0);
        assert_eq!(j["setups"]["setups_per_core_s"], 50.0);
        let text = to_text(&j);
        assert!(text.contains("connected 1 failed 1"), "{text}");
    }
}

#[cfg(test)]
mod gap_cluster_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_shared_stall_is_one_slot_of_every_call_and_lone_gaps_are_spread() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        // Three calls stalled together around 1 s (within one slot), one
        // of them also alone at 5 s.
        let a = [ms(1000), ms(5000)];
        let b = [ms(1010)];
        let c = [ms(1050)];
        let none: [Instant; 0] = [];
        let window = Some((ms(900), ms(2000)));
        let j = gap_clusters([&a[..], &b[..], &c[..], &none[..]].into_iter(), window);
        assert_eq!(j["calls_with_gaps"], 3);
        assert_eq!(j["in_window"], 3, "the 5 s gap is after the window");
        assert_eq!(j["slots"], 2);
        assert_eq!(j["max_calls_in_a_slot"], 3);
        // One call's two gaps in one slot count it once there.
        let d = [ms(0), ms(20)];
        let j = gap_clusters([&d[..]].into_iter(), None);
        assert!(j["in_window"].is_null());
        assert_eq!(
            (j["slots"].as_u64(), j["max_calls_in_a_slot"].as_u64()),
            (Some(1), Some(1))
        );
        let j = gap_clusters([&none[..]].into_iter(), window);
        assert_eq!(j["calls_with_gaps"], 0);
    }
}
