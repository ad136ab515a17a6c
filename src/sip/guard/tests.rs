use std::time::Duration;

use super::*;
use crate::config::Config;

fn cfg(trusted: &[&str]) -> SipConfig {
    let mut c = Config::default().sip;
    c.trusted = trusted.iter().map(|t| t.parse().unwrap()).collect();
    c
}

fn guard(trusted: &[&str]) -> SipGuard {
    let c = cfg(trusted);
    let ranges = std::sync::Arc::new(crate::sip::trust::TrustedRanges::new(c.trusted.clone()));
    SipGuard::new(&c, ranges, "192.0.2.1:5060".parse().unwrap())
}

fn invite(via_params: &str) -> Request {
    let text = format!(
        "INVITE sip:bob@192.0.2.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bK1{via_params}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:bob@192.0.2.1>\r\n\
         Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    );
    match SipMessage::try_from(text.as_bytes()).unwrap() {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => unreachable!(),
    }
}

fn src(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn top_via(v: &Verdict) -> String {
    match v {
        Verdict::Pass(r) => r.via_header().unwrap().value().to_string(),
        other => panic!("not passed: {other:?}"),
    }
}

#[test]
fn spoofed_received_is_replaced_by_the_real_source() {
    let g = guard(&["10.0.0.0/8"]);
    let now = Instant::now();
    for params in [
        ";received=10.0.0.1",
        ";RECEIVED=10.0.0.1",
        ";received=10.0.0.1;rport=5060",
    ] {
        let v = g.inspect(now, invite(params), src("203.0.113.9:5060"));
        match v {
            Verdict::Answer(r, Refused::Untrusted) => assert_eq!(r.status_code.code(), 403),
            other => panic!("{params}: {other:?}"),
        }
    }
    let g = guard(&[]);
    let via = top_via(&g.inspect(
        now,
        invite(";received=10.0.0.1;rport"),
        src("203.0.113.9:5070"),
    ));
    assert!(via.contains("received=203.0.113.9"), "{via}");
    assert!(via.contains("rport=5070"), "{via}");
    assert!(!via.contains("10.0.0.1"), "{via}");
    let via = top_via(&g.inspect(now, invite(""), src("203.0.113.9:5060")));
    assert!(
        via.contains("received=203.0.113.9") && !via.contains("rport"),
        "{via}"
    );
}

#[test]
fn trusted_sources_pass() {
    let g = guard(&["10.0.0.0/8"]);
    let v = g.inspect(Instant::now(), invite(""), src("10.1.2.3:5060"));
    assert!(matches!(v, Verdict::Pass(_)), "{v:?}");
}

#[test]
fn refusals_stay_within_their_budget() {
    let g = guard(&["10.0.0.0/8"]);
    let t0 = Instant::now();
    let mut answered = 0;
    for i in 0..40 {
        let now = t0 + Duration::from_millis(i);
        if let Verdict::Answer(..) = g.inspect(now, invite(""), src("203.0.113.9:5060")) {
            answered += 1;
        }
    }
    assert_eq!(answered, 5, "refusals_burst");
    let later = t0 + Duration::from_secs(2);
    assert!(matches!(
        g.inspect(later, invite(""), src("203.0.113.9:5060")),
        Verdict::Answer(..)
    ));
}

#[test]
fn requests_over_budget_are_dropped() {
    let g = guard(&[]);
    let t0 = Instant::now();
    let passed = (0..100)
        .filter(|_| {
            matches!(
                g.inspect(t0, invite(""), src("203.0.113.9:5060")),
                Verdict::Pass(_)
            )
        })
        .count();
    assert_eq!(passed, 50, "requests_burst");
    assert!(matches!(
        g.inspect(t0, invite(""), src("203.0.113.10:5060")),
        Verdict::Pass(_)
    ));
}

#[test]
fn insane_requests_are_answered_400_acks_dropped() {
    let g = guard(&[]);
    let now = Instant::now();
    let mut r = invite("");
    r.headers
        .retain(|h| !matches!(h, rsipstack::sip::Header::CallId(_)));
    match g.inspect(now, r.clone(), src("203.0.113.9:5060")) {
        Verdict::Answer(resp, Refused::Insane(_)) => assert_eq!(resp.status_code.code(), 400),
        other => panic!("{other:?}"),
    }
    r.method = Method::Ack;
    assert!(matches!(
        g.inspect(now, r, src("203.0.113.9:5060")),
        Verdict::Drop(Dropped::InsaneAck(_))
    ));
}

#[test]
fn in_dialog_invites_are_not_screened_here() {
    let g = guard(&["10.0.0.0/8"]);
    let mut r = invite("");
    for h in r.headers.iter_mut() {
        if let rsipstack::sip::Header::To(to) = h {
            *to = "<sip:bob@192.0.2.1>;tag=abc".to_string().into();
        }
    }
    assert!(matches!(
        g.inspect(Instant::now(), r, src("203.0.113.9:5060")),
        Verdict::Pass(_)
    ));
}
