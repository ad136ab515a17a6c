//! Fuzz the Digest challenge parser (a WWW-Authenticate / Proxy-Authenticate
//! value, RFC 7616 §3.3) and the trunk filter built on it: any bytes either
//! are refused or give a challenge with a realm and a nonce, bounded by the
//! input, without control characters other than tab; the trunk check and
//! the rsipstack respelling never panic, and an accepted challenge names the
//! trunk's realm and carries a qop.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmp2sip::config::SipAuth;
use rtmp2sip::sip::challenge::{DigestChallenge, MAX_CHALLENGE_LEN};
use rtmp2sip::sip::registration::challenge::adapt_challenge;
use rtmp2sip::sip::trunk::TrunkAuth;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(c) = DigestChallenge::parse(&text) {
        assert!(text.len() <= MAX_CHALLENGE_LEN);
        for s in [&c.realm, &c.nonce] {
            assert!(s.len() <= text.len());
            assert!(!s.chars().any(|ch| ch.is_control() && ch != '\t'), "{s:?}");
        }
    }
    let trunk = TrunkAuth::new(&SipAuth {
        username: "u".into(),
        password: "p".into(),
        realm: "trunk".into(),
        host: "127.0.0.1".into(),
        allow_rfc2069: false,
    });
    if let Ok(c) = trunk.check(&text) {
        assert_eq!(c.realm, "trunk");
        assert!(!c.qop.is_empty());
    }
    let _ = adapt_challenge(&text);
});
