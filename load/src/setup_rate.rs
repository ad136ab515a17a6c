//! Call setups per core-second (issue 10's "≥ 300 call setups per second
//! on one core"), from the gateway's CPU over the dial phase.
//!
//! The dial phase runs from the first dial permit to the moment every call
//! is up (or the setup timeout). Calls already up keep the gateway's media
//! busy during it, so their media cost, measured in the steady window that
//! follows, is taken out:
//!
//! ```text
//! setup CPU = CPU(dial phase) - media CPU per call-second x call-seconds up in the phase
//! setups per core-second = calls set up / setup CPU
//! ```
//!
//! `/proc` CPU time has a 10 ms resolution (USER_HZ 100): dial a few
//! hundred calls for a figure good to a few per cent.

use crate::procstat::Sample;

/// The gateway around the dial phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DialPhase {
    /// Before the first dial.
    pub before: Sample,
    /// Once every call was up (the steady window's start).
    pub after: Sample,
    /// Calls up at the end of the phase.
    pub calls_up: usize,
    /// Sum over those calls of the time each was up within the phase, s.
    pub call_s_up: f64,
}

/// What setting calls up cost the gateway.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SetupCost {
    /// Length of the dial phase, s.
    pub phase_s: f64,
    /// Calls up per second of the dial phase (bounded by `--ramp`).
    pub achieved_per_s: f64,
    /// Gateway CPU per call set up, ms (media of calls already up removed).
    pub cpu_ms_per_setup: f64,
    /// Call setups one core could do per second at that cost.
    pub setups_per_core_s: Option<f64>,
}

/// The cost of the phase; `media_cpu_per_call_s` is the gateway's CPU per
/// call per second of the steady window (s/s). `None` without calls up.
pub fn setup_cost(phase: &DialPhase, media_cpu_per_call_s: f64) -> Option<SetupCost> {
    if phase.calls_up == 0 {
        return None;
    }
    let phase_s = (phase.after.at - phase.before.at).as_secs_f64().max(1e-3);
    let cpu = phase.after.cpu_s - phase.before.cpu_s;
    let media = media_cpu_per_call_s.max(0.0) * phase.call_s_up.max(0.0);
    let setup_cpu = (cpu - media).max(0.0);
    let n = phase.calls_up as f64;
    Some(SetupCost {
        phase_s,
        achieved_per_s: n / phase_s,
        cpu_ms_per_setup: setup_cpu * 1e3 / n,
        setups_per_core_s: (setup_cpu > 0.0).then(|| n / setup_cpu),
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn s(at: Instant, cpu_s: f64) -> Sample {
        Sample {
            at,
            cpu_s,
            rss_kib: 0,
        }
    }

    #[test]
    fn media_of_calls_already_up_is_taken_out() {
        let t0 = Instant::now();
        // 200 calls in 1 s; the gateway spent 0.9 s of CPU; calls were up
        // 100 call-seconds in all, at 4 ms of media CPU per call-second.
        let phase = DialPhase {
            before: s(t0, 10.0),
            after: s(t0 + Duration::from_secs(1), 10.9),
            calls_up: 200,
            call_s_up: 100.0,
        };
        let c = setup_cost(&phase, 0.004).unwrap();
        assert!((c.cpu_ms_per_setup - 2.5).abs() < 1e-9, "{c:?}");
        assert!((c.setups_per_core_s.unwrap() - 400.0).abs() < 1e-6);
        assert!((c.achieved_per_s - 200.0).abs() < 1e-9);
    }

    #[test]
    fn no_calls_no_figure_and_no_negative_cost() {
        let t0 = Instant::now();
        let mut phase = DialPhase {
            before: s(t0, 1.0),
            after: s(t0 + Duration::from_secs(1), 1.0),
            calls_up: 0,
            call_s_up: 0.0,
        };
        assert_eq!(setup_cost(&phase, 0.01), None);
        phase.calls_up = 10;
        phase.call_s_up = 5.0;
        let c = setup_cost(&phase, 0.01).unwrap();
        assert_eq!(c.cpu_ms_per_setup, 0.0);
        assert_eq!(c.setups_per_core_s, None);
    }
}
