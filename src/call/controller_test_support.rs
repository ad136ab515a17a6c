//! What the controller's scenario tests share (`controller_tests.rs`,
//! `controller_transfer_tests.rs`): a controller with a test policy, its
//! outputs drained, and the Call-ID of a dial.

use super::*;

/// A controller allowing `sip:echo@*` and `sip:*@127.0.0.1`, 60 s ring
/// timeout, seeded 7.
pub(super) fn controller() -> Controller {
    Controller::new(
        ControllerConfig {
            policy: DialPolicy::parse(&["sip:echo@*".into(), "sip:*@127.0.0.1".into()]).unwrap(),
            echo_user: "echo".into(),
            ring_timeout: Duration::from_secs(60),
        },
        7,
    )
}

/// Every output queued now.
pub(super) fn drain(c: &mut Controller) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

/// The `(status, sip_code)` of each `Sono.Call.Status` output.
pub(super) fn statuses(out: &[Output]) -> Vec<(u8, Option<u16>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Status(s) => Some((s.status as u8, s.sip_code)),
            _ => None,
        })
        .collect()
}

/// The Call-ID of the `Invite` among `out`, if any.
pub(super) fn invite_id(out: &[Output]) -> Option<String> {
    out.iter().find_map(|o| match o {
        Output::Invite { call_id, .. } => Some(call_id.clone()),
        _ => None,
    })
}

/// Dials `sip:bob@127.0.0.1:5090` at `now`; returns the INVITE's Call-ID.
pub(super) fn dial_bob(c: &mut Controller, now: Instant) -> String {
    c.handle_dial(now, 2.0, Some("sip:bob@127.0.0.1:5090"), true);
    invite_id(&drain(c)).unwrap()
}
