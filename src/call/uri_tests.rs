use super::*;
use proptest::prelude::*;

fn ok(s: &str) -> DialUri {
    DialUri::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn err(s: &str) -> DialUriError {
    DialUri::parse(s).expect_err(s)
}

#[test]
fn canonical_forms() {
    let d = ok("sip:bob@127.0.0.1:5090");
    assert_eq!(d.canonical(), "sip:bob@127.0.0.1:5090");
    assert_eq!(d.user(), Some("bob"));
    assert_eq!(d.port(), Some(5090));
    let d = ok("SIP:Bob@Example.COM;transport=udp");
    assert_eq!(d.canonical(), "sip:Bob@example.com");
    assert_eq!(d.wire(), "sip:Bob@example.com;transport=UDP");
    let d = ok("alice@10.1.2.3");
    assert_eq!(d.canonical(), "sip:alice@10.1.2.3");
    let d = ok("sip:example.com");
    assert_eq!((d.user(), d.canonical()), (None, "sip:example.com"));
    let d = ok("sip:%2B1%20555@[2001:DB8::1]:05060");
    assert_eq!(d.user(), Some("+1 555"));
    assert_eq!(d.canonical(), "sip:+1%20555@[2001:db8::1]:5060");
    let d = ok("sip:+15551234;isub=1@gw.example;user=phone;transport=TCP");
    assert_eq!(
        d.wire(),
        "sip:+15551234;isub=1@gw.example;transport=TCP;user=phone"
    );
}

#[test]
fn other_parameters_are_dropped() {
    let d = ok("sip:bob@h.example;maddr=10.0.0.1;lr;x=1;transport=sctp;user=ip;ttl=1");
    assert_eq!(d.wire(), "sip:bob@h.example");
    assert_eq!(d.transport(), None);
    let d = ok("sip:bob@h.example;transport=tls;transport=udp");
    assert_eq!(d.wire(), "sip:bob@h.example;transport=TLS");
}

#[test]
fn refusals() {
    assert_eq!(err("  "), DialUriError::Missing);
    assert_eq!(err(""), DialUriError::Missing);
    assert_eq!(err("tel:+15551234"), DialUriError::Scheme);
    assert_eq!(
        err("sips:bob@example.com;transport=udp"),
        DialUriError::SecureUdp
    );
    assert_eq!(err("http://x"), DialUriError::Scheme);
    assert_eq!(err("127.0.0.1:5060"), DialUriError::Scheme);
    assert_eq!(err(&"a".repeat(2000)), DialUriError::TooLong);
    assert_eq!(err(" sip:bob@x"), DialUriError::BadByte(0));
    assert_eq!(err("sip:bob@x\t"), DialUriError::BadByte(9));
    assert_eq!(err("sip:b\0b@x"), DialUriError::BadByte(5));
    assert_eq!(err("sip:bób@x"), DialUriError::BadByte(5));
    assert_eq!(err("sip:bob@x?X-Injected=1"), DialUriError::Headers);
    assert_eq!(err("sip:bob@x;a?b"), DialUriError::Headers);
    assert_eq!(err("sip:x@evil;p=@127.0.0.1"), DialUriError::ExtraAt);
    assert_eq!(err("sip:@x"), DialUriError::EmptyUser);
    assert_eq!(err("sip:bob:pw@x"), DialUriError::Password);
    assert_eq!(err("sip:b<o>b@x"), DialUriError::UserChar('<'));
    assert_eq!(err("sip:b%4@x"), DialUriError::BadEscape);
    assert_eq!(err("sip:b%0d%0aX:y@x"), DialUriError::EscapedControl);
    assert_eq!(err("sip:bob@"), DialUriError::NoHost);
    assert_eq!(err("sip:bob@:5060"), DialUriError::NoHost);
    assert!(matches!(err("sip:bob@127.1"), DialUriError::BadHost(_)));
    assert!(matches!(err("sip:bob@::1"), DialUriError::BadHost(_)));
    assert!(matches!(err("sip:bob@a_b"), DialUriError::BadHost(_)));
    assert_eq!(err("sip:bob@x:0"), DialUriError::BadPort);
    assert_eq!(err("sip:bob@x:65536"), DialUriError::BadPort);
    assert_eq!(err("sip:bob@x:"), DialUriError::BadPort);
    assert_eq!(err("sip:bob@x;"), DialUriError::BadParam);
    assert_eq!(err("sip:bob@x;a=b=c"), DialUriError::BadParam);
    assert_eq!(err("sip:bob@x;a=\"b\""), DialUriError::BadParam);
}

#[test]
fn crlf_injection_is_refused() {
    let e = err("sip:bob@127.0.0.1:5099;x=1\r\nX-Injected: yes");
    assert_eq!(e, DialUriError::BadByte(26));
    assert!(e.to_string().contains("control character"), "{e}");
}

#[test]
fn param_trick_does_not_reach_policy() {
    // The text contains "@127.0.0.1" but the host would be 10.0.0.1.
    if let Ok(d) = DialUri::parse("sip:x@10.0.0.1;p=@127.0.0.1") {
        assert!(!d.canonical().contains("127.0.0.1"), "{}", d.canonical());
    }
    let d = ok("sip:x@10.0.0.1;p=127.0.0.1");
    assert_eq!(d.wire(), "sip:x@10.0.0.1");
}

#[test]
fn with_user_keeps_host_port_and_params() {
    let r = ok("sip:ignored@Reg.Example:5080;transport=tcp");
    let aor = r.with_user(Some("alice")).unwrap();
    assert_eq!(aor.wire(), "sip:alice@reg.example:5080;transport=TCP");
    assert_eq!(
        r.with_user(None).unwrap().wire(),
        "sip:reg.example:5080;transport=TCP"
    );
    assert!(r.with_user(Some("a b")).is_err());
    assert!(r.with_user(Some("")).is_err());
}

#[test]
fn registrar_forms() {
    let r = |s: &str| DialUri::parse_registrar(s).map(|u| u.wire());
    assert_eq!(r("Example.com").unwrap(), "sip:example.com");
    assert_eq!(r("127.0.0.2:5070").unwrap(), "sip:127.0.0.2:5070");
    assert_eq!(r("[::1]:5070").unwrap(), "sip:[::1]:5070");
    assert_eq!(
        r("sip:bob@example.com:5080").unwrap(),
        "sip:example.com:5080"
    );
    assert_eq!(
        r("sip:example.com;transport=tcp").unwrap(),
        "sip:example.com;transport=TCP"
    );
    assert_eq!(r("sips:example.com"), Err(DialUriError::Scheme));
    assert_eq!(r("tel:+1555"), Err(DialUriError::Scheme));
    assert_eq!(r(""), Err(DialUriError::Missing));
    assert_eq!(r("exa mple.com"), Err(DialUriError::BadByte(3)));
    assert_eq!(r("example.com?X=1"), Err(DialUriError::Headers));
    assert_eq!(r("example.com:0"), Err(DialUriError::BadPort));
    assert!(r("127.0.0.1.evil.invalid").is_ok());
}

/// Text that looks like a SIP URI often enough to reach `Ok` (and
/// everything around it).
fn uri_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("sip:".to_string()),
        Just("SIP:".to_string()),
        Just("@".to_string()),
        Just(":".to_string()),
        Just(";".to_string()),
        Just("=".to_string()),
        Just("?".to_string()),
        Just("%".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\r\n".to_string()),
        Just("transport=udp".to_string()),
        Just("user=phone".to_string()),
        Just("127.0.0.1".to_string()),
        Just("::1".to_string()),
        "[a-zA-Z0-9.+*%-]{1,8}",
        "[ -~]{1,3}",
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

fn check_any(s: &str) {
    let Ok(d) = DialUri::parse(s) else {
        return;
    };
    let wire = d.wire();
    assert!(
        wire.bytes().all(|b| b.is_ascii_graphic()),
        "{s:?} -> {wire:?}"
    );
    assert!(wire.starts_with(d.canonical()), "{s:?} -> {wire:?}");
    let params = &wire[d.canonical().len()..];
    assert!(
        ["", ";transport=UDP", ";transport=TCP", ";transport=TLS"]
            .iter()
            .any(|t| params == *t || params == format!("{t};user=phone")),
        "{s:?} -> {wire:?}"
    );
    let to = d.request_uri().to_header();
    assert_eq!(to, format!("<{wire}>"));
    // The canonical form is a fixed point: the far end reads what the
    // policy saw.
    assert_eq!(DialUri::parse(&wire).as_ref(), Ok(&d), "{s:?} -> {wire:?}");
    let reparsed = crate::sip::request_uri::reread(&wire);
    assert_eq!(
        reparsed.as_deref(),
        Some(wire.as_str()),
        "rsipstack reads the wire form"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_string_is_refused_or_canonical(s in any::<String>()) {
        check_any(&s);
    }

    #[test]
    fn uri_like_string_is_refused_or_canonical(s in uri_like()) {
        check_any(&s);
    }
}

#[test]
fn users_sip_parsers_misread_are_refused() {
    // Found by `uri_like_string_is_refused_or_canonical`: rsipstack reads
    // "sip:;@[::1]" as an empty host and "sip:a?b@h" as headers.
    for s in [
        ";@[::1]",
        "sip:;a@h",
        "sip:%3Ba@h",
        "sip:a?b@h",
        "sip:a%3Fb@h",
        "sip:?@h",
    ] {
        assert_eq!(DialUri::parse(s), Err(DialUriError::AmbiguousUser), "{s}");
        check_any(s);
    }
    assert!(DialUri::parse("sip:+15551234;isub=1@gw.example").is_ok());
}

#[test]
fn canonical_form_longer_than_the_limit_is_refused() {
    // Found by the dial_uri fuzz target: 1024 bytes without a scheme
    // became 1028 on the wire, which the far end's parse refuses.
    let bare = format!("{}@h.example", "a".repeat(MAX_URI_LEN - 10));
    assert_eq!(bare.len(), MAX_URI_LEN);
    assert_eq!(DialUri::parse(&bare), Err(DialUriError::TooLong));
    check_any(&bare);
    let fits = format!("{}@h.example", "a".repeat(MAX_URI_LEN - 14));
    assert_eq!(
        DialUri::parse(&fits).map(|d| d.wire().len()),
        Ok(MAX_URI_LEN)
    );
}

#[test]
fn sips_is_kept_and_reached_over_tls() {
    let d = ok("SIPS:Bob@Example.COM:5061");
    assert!(d.is_secure());
    assert_eq!(d.canonical(), "sips:Bob@example.com:5061");
    assert_eq!(d.wire(), "sips:Bob@example.com:5061");
    // TLS anyway: a transport parameter on sips: is dropped (RFC 5630 §3.2).
    let t = ok("sips:bob@example.com;transport=tls");
    assert_eq!(t.wire(), "sips:bob@example.com");
    assert_eq!(t.transport(), None);
    assert!(!ok("sip:bob@example.com").is_secure());
    assert!(ok("sips:bob@example.com")
        .with_user(Some("alice"))
        .unwrap()
        .is_secure());
    assert_ne!(ok("sips:bob@example.com"), ok("sip:bob@example.com"));
}
