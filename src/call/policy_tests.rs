use super::*;

fn policy(p: &[&str]) -> DialPolicy {
    DialPolicy::parse(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn allows(p: &DialPolicy, uri: &str) -> bool {
    p.allows(&DialUri::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}")))
}

fn problem(p: &str) -> String {
    DialPolicy::parse(&[p.to_string()])
        .expect_err(p)
        .to_string()
}

#[test]
fn shipped_patterns() {
    let p = policy(&["sip:echo@*", "sip:*@127.0.0.1"]);
    assert!(allows(&p, "sip:echo@gateway"));
    assert!(allows(&p, "sip:echo@10.0.0.1:5070"));
    assert!(allows(&p, "sip:bob@127.0.0.1:5090"));
    assert!(allows(&p, "sip:bob@127.0.0.1"));
    assert!(allows(&p, "sip:127.0.0.1"));
    assert!(!allows(&p, "sip:bob@10.0.0.1"));
    assert!(!allows(&p, "sip:bob@192.168.1.1:5060"));
    assert!(!allows(&p, "sip:echo2@10.0.0.1"));
    assert!(!allows(&p, "sip:Echo@10.0.0.1"));
}

#[test]
fn host_is_matched_whole() {
    let p = policy(&["sip:*@127.0.0.1", "sip:*@gw.example.com"]);
    for uri in [
        "sip:x@127.0.0.1.evil.invalid",
        "sip:x@127.0.0.1.evil.invalid:5060",
        "sip:127.0.0.1@evil.invalid",
        "sip:x@gw.example.com.evil.invalid",
        "sip:x@evilgw.example.com",
        "sip:x@[::ffff:127.0.0.1]",
        "sip:x@127.0.0.2",
    ] {
        assert!(!allows(&p, uri), "{uri}");
    }
    assert!(allows(&p, "sip:x@GW.Example.COM:5080"));
    assert!(allows(&p, "sip:x@127.0.0.1;transport=tcp"));
}

#[test]
fn subdomain_wildcard_on_a_label_boundary_not_the_apex() {
    let p = policy(&["sip:*@*.example.com"]);
    assert!(allows(&p, "sip:a@pbx.example.com"));
    assert!(allows(&p, "sip:a@a.b.example.com"));
    assert!(!allows(&p, "sip:a@example.com"));
    assert!(!allows(&p, "sip:a@evilexample.com"));
    assert!(!allows(&p, "sip:a@example.com.evil"));
    assert!(!allows(&p, "sip:a@10.0.0.1"));
}

#[test]
fn port_only_where_the_pattern_names_one() {
    let p = policy(&["sip:*@pbx.example:5080"]);
    assert!(allows(&p, "sip:a@pbx.example:5080"));
    assert!(!allows(&p, "sip:a@pbx.example"));
    assert!(!allows(&p, "sip:a@pbx.example:5060"));
    let p = policy(&["sip:*@pbx.example"]);
    assert!(allows(&p, "sip:a@pbx.example"));
    assert!(allows(&p, "sip:a@pbx.example:1"));
}

#[test]
fn user_glob_over_the_user_only() {
    let p = policy(&["sip:+1555???????@trunk.example", "sip:1??@[2001:db8::1]"]);
    assert!(allows(&p, "sip:+15551234567@trunk.example"));
    assert!(allows(&p, "sip:%2B15551234567@trunk.example"));
    assert!(!allows(&p, "sip:+155512345678@trunk.example"));
    assert!(!allows(&p, "sip:+19001234567@trunk.example"));
    assert!(allows(&p, "sip:100@[2001:DB8:0::1]"));
    assert!(!allows(&p, "sip:1000@[2001:db8::1]"));
    let p = policy(&["sip:trunk.example"]);
    assert!(allows(&p, "sip:trunk.example"));
    assert!(!allows(&p, "sip:a@trunk.example"));
}

#[test]
fn star_alone_allows_everything_and_empty_nothing() {
    let p = policy(&["*"]);
    assert!(allows(&p, "sip:anyone@anywhere.example:1"));
    assert!(allows(&p, "sip:[::1]"));
    assert!(!policy(&[]).allows(&DialUri::parse("sip:echo@x").unwrap()));
    assert!(policy(&[]).is_empty());
}

#[test]
fn old_patterns_are_refused_with_the_new_form() {
    let e = problem("sip:*@127.0.0.1*");
    assert!(e.contains("\"sip:*@127.0.0.1\""), "{e}");
    assert!(e.contains("any port"), "{e}");
    let e = problem("sip:*@gw.example.com*");
    assert!(e.contains("\"sip:*@gw.example.com\""), "{e}");
}

#[test]
fn malformed_patterns() {
    for p in [
        "",
        " *",
        "**",
        "sips:*@x;transport=udp",
        "tel:+1*",
        "sip:*@x;transport=udp",
        "sip:*@x?h=1",
        "sip:a@b@c",
        "sip:@x",
        "sip:a b@x",
        "sip:*@10.0.*",
        "sip:*@*example.com",
        "sip:*@a.*.com",
        "sip:*@*.*.com",
        "sip:*@*.10.0.0.1",
        "sip:*@x:0",
        "sip:*@x:99999",
        "sip:*@",
        "sip:*@x\r\nX: y",
    ] {
        assert!(DialPolicy::parse(&[p.to_string()]).is_err(), "{p:?}");
    }
    let e = problem("sip:*@x\r\nX: y");
    assert!(!e.contains('\r') && !e.contains('\n'), "{e}");
    let many = vec!["*".to_string(); MAX_PATTERNS + 1];
    assert!(DialPolicy::parse(&many).is_err());
    assert!(DialPolicy::parse(&many[..MAX_PATTERNS]).is_ok());
}

#[test]
fn sips_targets_and_patterns() {
    // A sip: pattern admits the same destination over TLS.
    let p = policy(&["sip:*@pbx.example.com"]);
    assert!(allows(&p, "sips:bob@pbx.example.com"));
    assert!(!allows(&p, "sips:bob@evil.example.com"));
    // A sips: pattern requires TLS.
    let s = policy(&["sips:*@trunk.example.com"]);
    assert!(allows(&s, "sips:bob@trunk.example.com"));
    assert!(!allows(&s, "sip:bob@trunk.example.com"));
    assert!(!allows(&s, "sip:bob@trunk.example.com;transport=tls"));
    assert!(problem("tel:*").contains("sips:"));
}
