//! Session timers (RFC 4028): negotiation of `Session-Expires` /
//! `Min-SE` and the refresh and expiry deadlines.
//!
//! Who refreshes is named relative to the transaction that set it:
//! `refresher=uac` is the sender of that request, `uas` its answerer
//! (§4, §7.2, §9). The refresher re-INVITEs at half the interval (§7.2,
//! §9); the other side sends BYE when no refresh came by the expiry minus
//! min(32 s, interval / 3) (§10).

use std::time::{Duration, Instant};

use super::types::{header, lists_option, Header};

/// RFC 4028 §4: the smallest allowed interval, and our `Min-SE`, in seconds.
pub const MIN_SE_S: u32 = 90;

/// Who refreshes the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    /// We send the refreshing re-INVITEs.
    Us,
    /// The far end does; we watch for expiry.
    Them,
}

/// A `Session-Expires` value: the interval in seconds and the refresher
/// parameter as written (`uac` / `uas`), if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires {
    /// The interval, seconds.
    pub interval_s: u32,
    /// `Some(true)` for `refresher=uac`, `Some(false)` for `uas`.
    pub uac_refreshes: Option<bool>,
}

impl SessionExpires {
    /// Reads `Session-Expires` (or its compact form `x`) from `headers`.
    pub fn from_headers(headers: &[Header]) -> Option<Self> {
        let v = header(headers, "Session-Expires").or_else(|| header(headers, "x"))?;
        let mut parts = v.split(';');
        let interval_s = parts.next()?.trim().parse::<u32>().ok()?;
        let mut uac_refreshes = None;
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                if k.trim().eq_ignore_ascii_case("refresher") {
                    match v.trim().to_ascii_lowercase().as_str() {
                        "uac" => uac_refreshes = Some(true),
                        "uas" => uac_refreshes = Some(false),
                        _ => {}
                    }
                }
            }
        }
        Some(Self {
            interval_s,
            uac_refreshes,
        })
    }

    /// The header value: `1800;refresher=uac`.
    pub fn value(&self) -> String {
        match self.uac_refreshes {
            Some(true) => format!("{};refresher=uac", self.interval_s),
            Some(false) => format!("{};refresher=uas", self.interval_s),
            None => self.interval_s.to_string(),
        }
    }
}

/// `Min-SE` from `headers`, seconds.
pub fn min_se(headers: &[Header]) -> Option<u32> {
    header(headers, "Min-SE")?
        .split(';')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// A running session timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimer {
    /// The interval in force, seconds.
    pub interval_s: u32,
    /// Who refreshes.
    pub refresher: Refresher,
    /// When the interval last (re)started.
    pub since: Instant,
}

impl SessionTimer {
    /// When to act: our refresh at half the interval (§7.2), or our BYE at
    /// expiry minus min(32 s, interval / 3) (§10).
    pub fn deadline(&self) -> Instant {
        let interval = Duration::from_secs(u64::from(self.interval_s));
        match self.refresher {
            Refresher::Us => self.since + interval / 2,
            Refresher::Them => {
                let margin = Duration::from_secs(32).min(interval / 3);
                self.since + interval - margin
            }
        }
    }

    /// The timer a 2xx to a request WE sent sets (§7.2): none when the
    /// response has no `Session-Expires`.
    pub fn from_our_request(now: Instant, resp: &[Header]) -> Option<Self> {
        let se = SessionExpires::from_headers(resp)?;
        let refresher = match se.uac_refreshes {
            Some(false) => Refresher::Them,
            _ => Refresher::Us,
        };
        Some(Self {
            interval_s: se.interval_s.max(MIN_SE_S),
            refresher,
            since: now,
        })
    }
}

/// How we answer a request with respect to session timers (§9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Negotiation {
    /// No session timer for this request.
    None,
    /// Run this timer and put these headers in our 2xx.
    Timer(SessionTimer, Vec<Header>),
    /// The interval is below our `Min-SE`: 422 with this `Min-SE` (§5).
    TooSmall(u32),
}

/// Answers the session-timer part of a request the far end sent
/// (initial INVITE, re-INVITE or UPDATE). `ours_s` is our preferred
/// interval (`[sip] session_expires_s`).
pub fn negotiate_request(now: Instant, req: &[Header], ours_s: u32) -> Negotiation {
    let supported = lists_option(req, "Supported", "timer");
    match SessionExpires::from_headers(req) {
        Some(se) if se.interval_s < MIN_SE_S => Negotiation::TooSmall(MIN_SE_S),
        Some(se) => {
            // §9: a UAS may lower the interval, never below Min-SE.
            let floor = min_se(req).unwrap_or(MIN_SE_S).max(MIN_SE_S);
            let interval_s = se.interval_s.min(ours_s.max(floor));
            let uac_refreshes = match se.uac_refreshes {
                Some(x) => x,
                None => supported,
            };
            // Without `Supported: timer` the UAC cannot refresh (§9).
            let uac_refreshes = uac_refreshes && supported;
            timer_answer(now, interval_s, uac_refreshes, supported)
        }
        None if supported => timer_answer(now, ours_s.max(MIN_SE_S), true, true),
        None => Negotiation::None,
    }
}

fn timer_answer(now: Instant, interval_s: u32, uac_refreshes: bool, require: bool) -> Negotiation {
    let se = SessionExpires {
        interval_s,
        uac_refreshes: Some(uac_refreshes),
    };
    let mut headers = vec![("Session-Expires".to_string(), se.value())];
    if require {
        headers.push(("Require".into(), "timer".into()));
    }
    let refresher = if uac_refreshes {
        Refresher::Them
    } else {
        Refresher::Us
    };
    Negotiation::Timer(
        SessionTimer {
            interval_s,
            refresher,
            since: now,
        },
        headers,
    )
}

/// The headers of a request we send: `Supported: timer`,
/// `Session-Expires` (without refresher: the answerer chooses, §7.1, or
/// `refresher=uac` when we refresh) and `Min-SE` when above 90.
pub fn request_headers(interval_s: u32, min_se_s: u32, we_refresh: bool) -> Vec<Header> {
    let se = SessionExpires {
        interval_s,
        uac_refreshes: we_refresh.then_some(true),
    };
    let mut h = vec![
        ("Supported".to_string(), "timer".to_string()),
        ("Session-Expires".to_string(), se.value()),
    ];
    if min_se_s > MIN_SE_S {
        h.push(("Min-SE".into(), min_se_s.to_string()));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<Header> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn parses_session_expires() {
        let se =
            SessionExpires::from_headers(&h(&[("session-expires", "90 ; Refresher=UAS")])).unwrap();
        assert_eq!(se.interval_s, 90);
        assert_eq!(se.uac_refreshes, Some(false));
        assert_eq!(se.value(), "90;refresher=uas");
        assert_eq!(SessionExpires::from_headers(&h(&[("x", "abc")])), None);
        assert_eq!(min_se(&h(&[("Min-SE", "120")])), Some(120));
    }

    #[test]
    fn deadlines_half_and_margin() {
        let t0 = Instant::now();
        let us = SessionTimer {
            interval_s: 90,
            refresher: Refresher::Us,
            since: t0,
        };
        assert_eq!(us.deadline(), t0 + Duration::from_secs(45));
        let them = SessionTimer {
            refresher: Refresher::Them,
            ..us
        };
        // 90 - min(32, 30)
        assert_eq!(them.deadline(), t0 + Duration::from_secs(60));
        let long = SessionTimer {
            interval_s: 1800,
            ..them
        };
        assert_eq!(long.deadline(), t0 + Duration::from_secs(1768));
    }

    #[test]
    fn negotiation_table() {
        let t0 = Instant::now();
        let cases: &[(&[(&str, &str)], Option<(u32, Refresher)>, bool)] = &[
            // (request headers, expected timer, too small)
            (&[], None, false),
            (
                &[("Supported", "timer")],
                Some((1800, Refresher::Them)),
                false,
            ),
            (
                &[("Supported", "100rel, timer"), ("Session-Expires", "120")],
                Some((120, Refresher::Them)),
                false,
            ),
            (
                &[
                    ("Supported", "timer"),
                    ("Session-Expires", "300;refresher=uas"),
                ],
                Some((300, Refresher::Us)),
                false,
            ),
            (
                &[("Session-Expires", "600")],
                Some((600, Refresher::Us)),
                false,
            ),
            (
                &[("Supported", "timer"), ("Session-Expires", "7200")],
                Some((1800, Refresher::Them)),
                false,
            ),
            (&[("Session-Expires", "30")], None, true),
        ];
        for (req, want, small) in cases {
            match negotiate_request(t0, &h(req), 1800) {
                Negotiation::Timer(t, headers) => {
                    assert_eq!(Some((t.interval_s, t.refresher)), *want, "{req:?}");
                    assert!(header(&headers, "Session-Expires").is_some());
                }
                Negotiation::None => assert!(want.is_none() && !small, "{req:?}"),
                Negotiation::TooSmall(m) => assert!(*small && m == 90, "{req:?}"),
            }
        }
    }

    #[test]
    fn our_request_and_response() {
        let t0 = Instant::now();
        let r = request_headers(1800, 90, false);
        assert_eq!(header(&r, "Session-Expires"), Some("1800"));
        assert!(header(&r, "Min-SE").is_none());
        let r = request_headers(300, 300, true);
        assert_eq!(header(&r, "Session-Expires"), Some("300;refresher=uac"));
        assert_eq!(header(&r, "Min-SE"), Some("300"));
        let t = SessionTimer::from_our_request(t0, &h(&[("Session-Expires", "90;refresher=uas")]))
            .unwrap();
        assert_eq!(t.refresher, Refresher::Them);
        let t = SessionTimer::from_our_request(t0, &h(&[("Session-Expires", "90")])).unwrap();
        assert_eq!(t.refresher, Refresher::Us);
        assert!(SessionTimer::from_our_request(t0, &[]).is_none());
    }
}
