//! The registration core on a virtual clock: `t(s)` is `s` seconds after
//! the test's start; nothing sleeps.

use std::time::{Duration, Instant};

use super::*;

struct Clock(Instant);

impl Clock {
    fn t(&self, secs: f64) -> Instant {
        self.0 + Duration::from_secs_f64(secs)
    }
}

fn setup(expires: u32) -> (Clock, RegistrationCore) {
    let clock = Clock(Instant::now());
    let mut core = RegistrationCore::new(CoreConfig::new(expires, 7));
    core.start(clock.t(0.0)).unwrap();
    (clock, core)
}

fn events(core: &mut RegistrationCore) -> Vec<RegistrationEvent> {
    std::iter::from_fn(|| core.poll_event()).collect()
}

fn actions(core: &mut RegistrationCore) -> Vec<Action> {
    std::iter::from_fn(|| core.poll_action()).collect()
}

fn send(expires: u32) -> Vec<Action> {
    vec![Action::SendRegister { expires }]
}

fn registered(expires: u32) -> Vec<RegistrationEvent> {
    vec![RegistrationEvent::Registered { expires }]
}

/// Registers with `granted` at `t(at)`, from the start.
fn registered_at(at: f64, granted: u32) -> (Clock, RegistrationCore) {
    let (c, mut core) = setup(3600);
    assert_eq!(actions(&mut core), send(3600));
    core.on_response(c.t(at), 200, "OK", Some(granted), None)
        .unwrap();
    assert_eq!(events(&mut core), registered(granted));
    (c, core)
}

/// The retry delay of the single `Failed` event queued, checking its code.
fn failed_retry(core: &mut RegistrationCore, code: u16) -> Option<Duration> {
    match events(core).as_slice() {
        [RegistrationEvent::Failed {
            code: c, retry_in, ..
        }] => {
            assert_eq!(*c, code);
            *retry_in
        }
        other => panic!("expected one Failed {code}, got {other:?}"),
    }
}

#[test]
fn first_register_asks_configured_expires_and_reports_granted() {
    let (c, mut core) = setup(3600);
    assert_eq!(core.state_name(), "registering");
    assert!(core.awaiting_response());
    assert_eq!(actions(&mut core), send(3600));
    assert_eq!(core.poll_timeout(), Some(c.t(40.0)), "request watchdog");
    core.on_response(c.t(0.1), 200, "OK", Some(1800), None)
        .unwrap();
    assert_eq!(events(&mut core), registered(1800));
    assert_eq!(core.state_name(), "registered");
    assert_eq!(core.granted_expires(), Some(1800));
    assert!(core.has_binding() && !core.awaiting_response());
    assert_eq!(core.poll_timeout(), Some(c.t(0.1 + 1740.0)));
}

#[test]
fn missing_grant_means_the_requested_lifetime() {
    let (c, mut core) = setup(300);
    actions(&mut core);
    core.on_response(c.t(0.0), 200, "OK", None, None).unwrap();
    assert_eq!(events(&mut core), registered(300));
    assert_eq!(core.poll_timeout(), Some(c.t(240.0)));
}

#[test]
fn refresh_goes_out_at_the_rule_and_not_before() {
    let (c, mut core) = registered_at(1.0, 10);
    assert_eq!(core.poll_timeout(), Some(c.t(6.0)), "half of 10 s");
    core.handle_timeout(c.t(5.999));
    assert!(actions(&mut core).is_empty() && events(&mut core).is_empty());
    core.handle_timeout(c.t(6.0));
    assert_eq!(
        actions(&mut core),
        send(3600),
        "a refresh asks the configured value again"
    );
    assert!(
        core.has_binding(),
        "the binding lives on during the refresh"
    );
    core.on_response(c.t(6.2), 200, "OK", Some(10), None)
        .unwrap();
    assert_eq!(events(&mut core), registered(10));
    assert_eq!(core.poll_timeout(), Some(c.t(11.2)));
}

#[test]
fn long_grant_refreshes_sixty_seconds_early() {
    let (c, mut core) = registered_at(0.0, 3600);
    assert_eq!(core.poll_timeout(), Some(c.t(3540.0)));
    core.handle_timeout(c.t(3540.0));
    assert_eq!(actions(&mut core), send(3600));
}

#[test]
fn interval_too_brief_retries_at_once_with_min_expires() {
    let (c, mut core) = setup(30);
    assert_eq!(actions(&mut core), send(30));
    core.on_response(c.t(0.1), 423, "Interval Too Brief", None, Some(60))
        .unwrap();
    assert!(events(&mut core).is_empty(), "423 is handled silently");
    assert_eq!(actions(&mut core), send(60));
    assert_eq!(core.requested_expires(), 60);
    core.on_response(c.t(0.2), 200, "OK", Some(60), None)
        .unwrap();
    assert_eq!(events(&mut core), registered(60));
    core.handle_timeout(c.t(30.2));
    assert_eq!(
        actions(&mut core),
        send(60),
        "refreshes keep the raised value"
    );
}

#[test]
fn interval_too_brief_without_usable_min_expires_stops() {
    for min in [None, Some(30), Some(10)] {
        let (c, mut core) = setup(30);
        actions(&mut core);
        core.on_response(c.t(0.1), 423, "Interval Too Brief", None, min)
            .unwrap();
        assert_eq!(failed_retry(&mut core, 423), None, "min {min:?}");
        assert!(core.is_done() && core.poll_timeout().is_none());
    }
}

#[test]
fn interval_too_brief_is_followed_a_bounded_number_of_times() {
    let (c, mut core) = setup(10);
    actions(&mut core);
    for k in 0..MAX_INTERVAL_RETRIES {
        let min = 20 + u32::from(k);
        core.on_response(c.t(0.1), 423, "Interval Too Brief", None, Some(min))
            .unwrap();
        assert_eq!(actions(&mut core), send(min));
    }
    core.on_response(c.t(0.2), 423, "Interval Too Brief", None, Some(100))
        .unwrap();
    assert_eq!(failed_retry(&mut core, 423), None);
    assert!(core.is_done());
}

#[test]
fn server_errors_back_off_doubling_with_jitter_up_to_the_cap() {
    let (c, mut core) = setup(3600);
    actions(&mut core);
    let mut now = 0.0;
    let mut delays = vec![];
    for _ in 0..12 {
        core.on_response(c.t(now), 503, "Service Unavailable", None, None)
            .unwrap();
        let d = failed_retry(&mut core, 503).expect("transient failures retry");
        assert_eq!(core.state_name(), "backoff");
        assert_eq!(core.poll_timeout(), Some(c.t(now) + d));
        now += d.as_secs_f64();
        core.handle_timeout(c.t(now) - Duration::from_millis(1));
        assert!(actions(&mut core).is_empty(), "no retry before the delay");
        core.handle_timeout(c.t(now));
        assert_eq!(actions(&mut core), send(3600));
        delays.push(d);
    }
    for (k, d) in delays.iter().enumerate() {
        let full = Duration::from_secs(2u64 << k).min(Duration::from_secs(300));
        assert!(
            *d <= full && *d >= full.mul_f64(0.75),
            "failure {}: {d:?} vs {full:?}",
            k + 1
        );
    }
    assert!(
        delays.windows(2).take(7).all(|w| w[1] > w[0]),
        "grows: {delays:?}"
    );
    assert!(delays[9..].iter().all(|d| *d <= Duration::from_secs(300)));
    let distinct: std::collections::HashSet<_> = delays[9..].iter().collect();
    assert!(
        distinct.len() > 1,
        "jitter varies capped delays: {delays:?}"
    );
}

#[test]
fn request_timeout_and_5xx_and_480_are_transient() {
    for code in [408, 480, 500, 502, 503, 504, 599] {
        let (c, mut core) = setup(60);
        actions(&mut core);
        core.on_response(c.t(0.0), code, "x", None, None).unwrap();
        assert!(failed_retry(&mut core, code).is_some(), "{code}");
    }
}

#[test]
fn transport_error_is_a_503_and_success_resets_the_backoff() {
    let (c, mut core) = setup(60);
    actions(&mut core);
    core.on_transport_error(c.t(0.0), "connection refused")
        .unwrap();
    match events(&mut core).as_slice() {
        [RegistrationEvent::Failed {
            code: 503,
            reason,
            retry_in: Some(d),
        }] => {
            assert_eq!(reason, "connection refused");
            assert!(*d <= Duration::from_secs(2));
        }
        other => panic!("{other:?}"),
    }
    core.handle_timeout(c.t(2.0));
    actions(&mut core);
    core.on_transport_error(c.t(2.0), "again").unwrap();
    let second = failed_retry(&mut core, 503).unwrap();
    assert!(
        second >= Duration::from_secs(3),
        "second failure waits longer: {second:?}"
    );
    core.handle_timeout(c.t(6.0));
    actions(&mut core);
    core.on_response(c.t(6.0), 200, "OK", Some(10), None)
        .unwrap();
    assert_eq!(events(&mut core), registered(10));
    core.handle_timeout(c.t(11.0));
    assert_eq!(actions(&mut core), send(60));
    core.on_transport_error(c.t(11.0), "down").unwrap();
    let after = failed_retry(&mut core, 503).unwrap();
    assert!(
        after <= Duration::from_secs(2),
        "backoff restarted: {after:?}"
    );
}

#[test]
fn no_answer_within_the_request_timeout_counts_as_408() {
    let (c, mut core) = setup(60);
    actions(&mut core);
    core.handle_timeout(c.t(39.9));
    assert!(events(&mut core).is_empty());
    core.handle_timeout(c.t(40.0));
    assert!(failed_retry(&mut core, 408).is_some());
    assert!(
        !core.awaiting_response(),
        "the stale REGISTER must be dropped"
    );
    assert_eq!(
        core.on_response(c.t(41.0), 200, "OK", Some(60), None),
        Err(RegistrationError::NoRequestInFlight)
    );
}

#[test]
fn binding_expires_while_refreshes_fail_then_recovers() {
    let (c, mut core) = registered_at(0.0, 10);
    core.handle_timeout(c.t(5.0));
    assert_eq!(actions(&mut core), send(3600));
    core.on_response(c.t(5.0), 503, "Service Unavailable", None, None)
        .unwrap();
    let d1 = failed_retry(&mut core, 503).unwrap();
    let retry1 = 5.0 + d1.as_secs_f64();
    core.handle_timeout(c.t(retry1));
    actions(&mut core);
    core.on_response(c.t(retry1), 500, "Server Internal Error", None, None)
        .unwrap();
    let d2 = failed_retry(&mut core, 500).unwrap();
    let retry2 = retry1 + d2.as_secs_f64();
    assert!(
        retry2 > 10.0,
        "the second retry comes after expiry: {retry2}"
    );
    assert_eq!(
        core.poll_timeout(),
        Some(c.t(10.0)),
        "expiry is a timer of its own"
    );
    core.handle_timeout(c.t(10.0));
    assert_eq!(events(&mut core), vec![RegistrationEvent::Expired]);
    assert!(actions(&mut core).is_empty() && !core.has_binding());
    assert_eq!(core.poll_timeout(), Some(c.t(retry2)));
    core.handle_timeout(c.t(retry2));
    assert_eq!(actions(&mut core), send(3600));
    core.on_response(c.t(retry2), 200, "OK", Some(10), None)
        .unwrap();
    assert_eq!(events(&mut core), registered(10));
}

#[test]
fn expiry_during_an_unanswered_refresh_is_reported() {
    let (c, mut core) = registered_at(0.0, 10);
    core.handle_timeout(c.t(5.0));
    actions(&mut core);
    assert_eq!(core.poll_timeout(), Some(c.t(10.0)));
    core.handle_timeout(c.t(10.0));
    assert_eq!(events(&mut core), vec![RegistrationEvent::Expired]);
    assert!(core.awaiting_response(), "the refresh is still awaited");
    core.on_response(c.t(12.0), 200, "OK", Some(10), None)
        .unwrap();
    assert_eq!(events(&mut core), registered(10));
}

#[test]
fn wrong_password_fails_once_without_retry() {
    for code in [401, 403, 404, 407, 400, 302, 603] {
        let (c, mut core) = setup(3600);
        actions(&mut core);
        core.on_response(c.t(0.1), code, "Unauthorized", None, None)
            .unwrap();
        assert_eq!(failed_retry(&mut core, code), None, "{code}");
        assert!(core.is_done() && core.poll_timeout().is_none(), "{code}");
        core.handle_timeout(c.t(10_000.0));
        assert!(actions(&mut core).is_empty() && events(&mut core).is_empty());
    }
}

#[test]
fn rejected_refresh_stops_and_forgets_the_binding() {
    let (c, mut core) = registered_at(0.0, 10);
    core.handle_timeout(c.t(5.0));
    actions(&mut core);
    core.on_response(c.t(5.1), 403, "Forbidden", None, None)
        .unwrap();
    assert_eq!(failed_retry(&mut core, 403), None);
    assert!(core.is_done() && !core.has_binding());
    core.handle_timeout(c.t(10.0));
    assert!(events(&mut core).is_empty(), "no Expired after Done");
}

#[test]
fn zero_grant_is_a_transient_failure() {
    let (c, mut core) = setup(60);
    actions(&mut core);
    core.on_response(c.t(0.0), 200, "OK", Some(0), None)
        .unwrap();
    assert!(failed_retry(&mut core, 200).is_some());
    assert!(!core.has_binding());
}

#[test]
fn misuse_is_an_error_and_changes_nothing() {
    let (c, mut core) = registered_at(0.0, 60);
    assert_eq!(core.start(c.t(1.0)), Err(RegistrationError::AlreadyStarted));
    assert_eq!(
        core.on_response(c.t(1.0), 200, "OK", None, None),
        Err(RegistrationError::NoRequestInFlight)
    );
    assert_eq!(
        core.on_transport_error(c.t(1.0), "x"),
        Err(RegistrationError::NoRequestInFlight)
    );
    core.handle_timeout(c.t(30.0));
    actions(&mut core);
    assert_eq!(
        core.on_response(c.t(30.0), 180, "Ringing", None, None),
        Err(RegistrationError::NotFinal(180))
    );
    assert!(core.awaiting_response());
    assert!(events(&mut core).is_empty());
}

#[test]
fn unregister_when_idle_sends_nothing() {
    let clock = Clock(Instant::now());
    let mut core = RegistrationCore::new(CoreConfig::new(60, 1));
    assert_eq!(core.state_name(), "idle");
    assert_eq!(core.poll_timeout(), None);
    core.unregister(clock.t(0.0));
    assert!(actions(&mut core).is_empty());
    assert_eq!(events(&mut core), vec![RegistrationEvent::Unregistered]);
    assert!(core.is_done());
}

#[test]
fn unregister_while_registering_supersedes_the_register() {
    let (c, mut core) = setup(60);
    core.unregister(c.t(0.5));
    assert_eq!(
        actions(&mut core),
        send(0),
        "the queued REGISTER is replaced"
    );
    assert_eq!(core.state_name(), "unregistering");
    core.on_response(c.t(0.6), 200, "OK", Some(0), None)
        .unwrap();
    assert_eq!(events(&mut core), vec![RegistrationEvent::Unregistered]);
    assert!(core.is_done() && core.poll_timeout().is_none());
}

#[test]
fn unregister_when_registered_removes_the_binding() {
    let (c, mut core) = registered_at(0.0, 60);
    core.unregister(c.t(3.0));
    assert_eq!(actions(&mut core), send(0));
    assert_eq!(
        core.poll_timeout(),
        Some(c.t(7.0)),
        "bounded by the unregister timeout"
    );
    core.on_response(c.t(3.1), 200, "OK", None, None).unwrap();
    assert_eq!(events(&mut core), vec![RegistrationEvent::Unregistered]);
    assert!(!core.has_binding());
}

#[test]
fn unregister_during_backoff_still_clears_what_may_exist() {
    let (c, mut core) = setup(60);
    actions(&mut core);
    core.on_response(c.t(0.0), 503, "Service Unavailable", None, None)
        .unwrap();
    events(&mut core);
    core.unregister(c.t(0.5));
    assert_eq!(actions(&mut core), send(0));
    core.on_transport_error(c.t(0.6), "unreachable").unwrap();
    assert_eq!(events(&mut core), vec![RegistrationEvent::Unregistered]);
}

#[test]
fn unregister_without_answer_ends_after_its_timeout() {
    let (c, mut core) = registered_at(0.0, 60);
    core.unregister(c.t(1.0));
    actions(&mut core);
    core.handle_timeout(c.t(4.9));
    assert!(events(&mut core).is_empty());
    core.handle_timeout(c.t(5.0));
    assert_eq!(events(&mut core), vec![RegistrationEvent::Unregistered]);
    assert!(core.is_done());
}

#[test]
fn unregister_twice_or_after_done_is_a_no_op() {
    let (c, mut core) = registered_at(0.0, 60);
    core.unregister(c.t(1.0));
    core.unregister(c.t(1.1));
    assert_eq!(actions(&mut core), send(0), "one Expires: 0 only");
    core.on_response(c.t(1.2), 200, "OK", None, None).unwrap();
    events(&mut core);
    core.unregister(c.t(2.0));
    assert!(actions(&mut core).is_empty() && events(&mut core).is_empty());
    let (c, mut core) = setup(60);
    actions(&mut core);
    core.on_response(c.t(0.0), 401, "Unauthorized", None, None)
        .unwrap();
    events(&mut core);
    core.unregister(c.t(1.0));
    assert!(actions(&mut core).is_empty() && events(&mut core).is_empty());
}

#[test]
fn a_rejected_unregister_still_ends_the_registration() {
    let (c, mut core) = registered_at(0.0, 60);
    core.unregister(c.t(1.0));
    actions(&mut core);
    core.on_response(c.t(1.1), 401, "Unauthorized", None, None)
        .unwrap();
    assert_eq!(events(&mut core), vec![RegistrationEvent::Unregistered]);
}

#[test]
fn no_expiry_event_once_unregistering() {
    let (c, mut core) = registered_at(0.0, 10);
    core.handle_timeout(c.t(5.0));
    actions(&mut core);
    core.unregister(c.t(9.0));
    actions(&mut core);
    core.handle_timeout(c.t(10.0));
    assert!(events(&mut core).is_empty());
}

/// Random inputs never panic, `Unregistered` is always the last event, and
/// an unregister always ends within its timeout.
#[test]
fn random_inputs_keep_the_invariants() {
    let mut rng = Jitter::new(99);
    for round in 0..300 {
        let (c, mut core) = setup(1 + (round % 120) as u32);
        let mut now = 0.0;
        let mut log = vec![];
        for _ in 0..60 {
            let r = rng.next_unit();
            now += rng.next_unit() * 20.0;
            let code = [200, 401, 403, 408, 423, 480, 500, 503][(r * 8.0) as usize];
            let grant = Some((rng.next_unit() * 100.0) as u32);
            let min = Some((rng.next_unit() * 200.0) as u32);
            match (rng.next_unit() * 5.0) as u32 {
                0 => {
                    let _ = core.on_response(c.t(now), code, "x", grant, min);
                }
                1 => {
                    let _ = core.on_transport_error(c.t(now), "x");
                }
                2 => core.unregister(c.t(now)),
                _ => {
                    if let Some(t) = core.poll_timeout() {
                        now = now.max((t - c.0).as_secs_f64());
                        core.handle_timeout(t);
                    }
                }
            }
            actions(&mut core);
            log.extend(events(&mut core));
            if !core.is_done() {
                assert!(
                    core.poll_timeout().is_some(),
                    "a live registration has a timer"
                );
            }
        }
        core.unregister(c.t(now));
        actions(&mut core);
        core.handle_timeout(c.t(now + 4.0));
        log.extend(events(&mut core));
        assert!(core.is_done());
        if let Some(pos) = log
            .iter()
            .position(|e| *e == RegistrationEvent::Unregistered)
        {
            assert_eq!(pos, log.len() - 1, "Unregistered is last: {log:?}");
        }
    }
}
