//! Fuzz what the gateway reads from a far end's in-dialog requests before
//! it acts on them: a REFER's Refer-To URI with its embedded `Replaces`
//! (RFC 3891, attended transfer) and a target-refresh Contact (RFC 3261
//! §12.2). Any bytes are refused or give values the gateway may put into
//! its own requests: a rebuilt `Replaces` that is printable ASCII, within
//! its bound and a fixed point of the parser, and a `sip:`/`sips:` target
//! URI without spaces or control bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmp2sip::sip::call::replaces::{parse_replaces, split_refer_uri, MAX_REPLACES};
use rtmp2sip::sip::call::target::contact_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok((base, replaces)) = split_refer_uri(&text) {
        assert!(!base.contains('?'), "{base:?}");
        if let Some(r) = replaces {
            let wire = r.to_string();
            assert!(wire.len() <= MAX_REPLACES + ";early-only".len(), "{wire:?}");
            assert!(wire.bytes().all(|b| b.is_ascii_graphic()), "{wire:?}");
            assert_eq!(parse_replaces(&wire).as_ref(), Ok(&r), "{wire:?}");
        }
    }
    for name in ["Contact", "m"] {
        let headers = vec![(name.to_string(), text.to_string())];
        if let Ok(Some(uri)) = contact_target(&headers) {
            assert!(uri.bytes().all(|b| b.is_ascii_graphic()), "{uri:?}");
            let scheme = uri.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
            assert!(matches!(scheme.as_deref(), Some("sip" | "sips")), "{uri:?}");
        }
    }
});
