//! Live reload and drain at the connection core: a new `[policy]
//! dial_allow` applies to the next dial of an open connection, and a
//! draining gateway refuses new calls with 503.

use super::*;

fn dial(uri: &str, txn: f64) -> Input {
    Input::Session(SessionEvent::Invoke(Invoke {
        name: "dial".into(),
        txn,
        object: Value::Null,
        args: vec![Value::String(uri.into())],
    }))
}

#[test]
fn a_reloaded_policy_applies_to_the_next_dial_and_not_to_the_running_call() {
    let mut r = Rig::new();
    let first = r.feed(dial("sip:bob@127.0.0.1", 1.0));
    assert!(first.iter().any(|e| e == "reserve"), "{first:?}");
    assert!(r.core.call().is_some(), "the first dial places a call");
    r.core
        .set_dial_policy(DialPolicy::parse(&["sip:echo@*".into()]).expect("policy"));
    assert!(r.core.call().is_some(), "the running call is untouched");
    // A second connection's view: a fresh core given the narrower policy.
    let mut other = Rig::new();
    other
        .core
        .set_dial_policy(DialPolicy::parse(&["sip:echo@*".into()]).expect("policy"));
    let refused = other.feed(dial("sip:bob@127.0.0.1", 2.0));
    assert!(
        refused.iter().any(|e| e == "error:Sono.Call.Forbidden"),
        "{refused:?}"
    );
    let echo = other.feed(dial("sip:echo@127.0.0.1", 3.0));
    assert!(!echo.iter().any(|e| e.starts_with("error:")), "{echo:?}");
}

#[test]
fn draining_refuses_dials_and_invites_with_503() {
    let mut r = Rig::new();
    r.core.handle(r.now, dial("sip:bob@127.0.0.1", 1.0));
    assert_eq!(r.core.poll_effect(), Some(Effect::ReserveCall));
    r.core.handle(r.now, Input::Reserved(Capacity::Draining));
    let mut effects = Vec::new();
    while let Some(e) = r.core.poll_effect() {
        effects.push(e);
    }
    assert!(effects.contains(&Effect::DropReservation), "{effects:?}");
    let error = effects.iter().find_map(|e| match e {
        Effect::ReplyError {
            code, description, ..
        } => Some((*code, description.clone())),
        _ => None,
    });
    let (code, description) = error.expect("an _error");
    assert_eq!(code, "Sono.Call.Failed");
    assert!(description.starts_with("503 "), "{description}");
    assert!(r.core.call().is_none());
    r.core.handle(r.now, incoming("z"));
    assert_eq!(r.core.poll_effect(), Some(Effect::ReserveCall));
    assert_eq!(
        r.feed(Input::Reserved(Capacity::Draining)),
        ["drop", "refuse:503"]
    );
}
