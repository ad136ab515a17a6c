//! Fuzz client token checking (`[auth] mode = "jwt"`): the input is tried
//! as a whole compact token (`ClientAuth::verify`: size, base64url, JOSE
//! header, signature) and, when it is a JSON object, as the claims set
//! (`claims::check`: exp/nbf/iss/aud/sub/dial/register/max_calls). Neither
//! may panic, and an accepted identity must respect the claim rules.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rtmp2sip::auth::claims::{self, Rules, MAX_SUBJECT};
use rtmp2sip::auth::ClientAuth;
use rtmp2sip::config::{AuthConfig, AuthMode, KeyBytes};

const NOW: Duration = Duration::from_secs(1_800_000_000);

fn verifier() -> &'static ClientAuth {
    static V: OnceLock<ClientAuth> = OnceLock::new();
    V.get_or_init(|| {
        let cfg = AuthConfig {
            mode: AuthMode::Jwt,
            key: Some(KeyBytes::new(b"0123456789abcdef0123456789abcdef".to_vec())),
            issuer: Some("site".into()),
            ..AuthConfig::default()
        };
        match ClientAuth::new(&cfg) {
            Ok(Some(v)) => v,
            _ => unreachable!("a valid HS256 config"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        // Random bytes never carry a valid HMAC: any Ok would be a bypass.
        assert!(verifier().verify(text, NOW).is_err());
    }
    if let Ok(map) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(data) {
        let rules = Rules {
            issuer: None,
            audience: Some("gw"),
            leeway_s: 30,
        };
        if let Ok(id) = claims::check(&map, &rules, NOW.as_secs()) {
            assert!(!id.subject.is_empty() && id.subject.len() <= MAX_SUBJECT);
            assert!(id.subject.bytes().all(|b| b.is_ascii_graphic()));
            assert!(map.contains_key("exp"));
        }
    }
});
