//! Fuzz the dial URI parser and the `[policy]` matcher: any bytes either are
//! refused or give a URI whose wire form (the INVITE's Request-URI and To)
//! is the canonical form the policy saw plus only the allowed parameters,
//! printable ASCII, and a fixed point of the parser (the far end reads what
//! the policy checked). The same bytes as a registrar and as a policy
//! pattern (a client's token may carry patterns) must not panic either.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rtmp2sip::call::policy::DialPolicy;
use rtmp2sip::call::uri::DialUri;

fn policy() -> &'static DialPolicy {
    static P: OnceLock<DialPolicy> = OnceLock::new();
    P.get_or_init(|| {
        let patterns = [
            "sip:echo@*",
            "sip:*@127.0.0.1",
            "sip:+1555???????@*.trunk.example:5060",
            "sip:1??@[2001:db8::1]",
            "sips:*@*.tls.example",
        ];
        DialPolicy::parse(&patterns.map(String::from)).expect("fixed policy")
    })
}

const PARAMS: [&str; 8] = [
    "",
    ";user=phone",
    ";transport=UDP",
    ";transport=TCP",
    ";transport=TLS",
    ";transport=UDP;user=phone",
    ";transport=TCP;user=phone",
    ";transport=TLS;user=phone",
];

fn check(uri: &DialUri) {
    let wire = uri.wire();
    assert!(wire.bytes().all(|b| b.is_ascii_graphic()), "{wire:?}");
    let params = wire
        .strip_prefix(uri.canonical())
        .unwrap_or_else(|| panic!("{wire:?} does not start with {:?}", uri.canonical()));
    assert!(PARAMS.contains(&params), "{wire:?}");
    let again = DialUri::parse(&wire).unwrap_or_else(|e| panic!("{wire:?}: {e}"));
    assert_eq!(&again, uri);
    assert_eq!(policy().allows(&again), policy().allows(uri));
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(uri) = DialUri::parse(&text) {
        check(&uri);
    }
    if let Ok(uri) = DialUri::parse_registrar(&text) {
        check(&uri);
        assert!(uri.user().is_none());
    }
    if let Ok(p) = DialPolicy::parse(&[text.into_owned()]) {
        for uri in [
            "sip:echo@x",
            "sip:bob@127.0.0.1:5060",
            "sip:[::1]",
            "sips:bob@a.tls.example",
        ] {
            let _ = p.allows(&DialUri::parse(uri).expect("fixed URI"));
        }
    }
});
