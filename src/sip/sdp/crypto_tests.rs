//! `a=crypto` parsing, printing and the offer/answer choice (RFC 4568).

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;

const KEY80: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

#[test]
fn parses_and_prints_round_trip() {
    let value = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY80}");
    let attr = CryptoAttr::parse(&value).unwrap();
    assert_eq!(attr.tag, 1);
    assert_eq!(attr.key.suite(), SrtpSuite::AesCm128HmacSha1_80);
    assert_eq!(attr.to_value(), value);
    let mut rng = StdRng::seed_from_u64(1);
    for suite in SrtpSuite::ALL {
        let attr = CryptoAttr {
            tag: 123456789,
            key: SrtpKey::generate(suite, &mut rng),
        };
        assert_eq!(CryptoAttr::parse(&attr.to_value()), Ok(attr), "{suite}");
    }
}

#[test]
fn lifetime_is_accepted_when_long_mki_and_short_lifetimes_are_not() {
    let ok = |kp: &str| CryptoAttr::parse(&format!("1 AES_CM_128_HMAC_SHA1_32 inline:{KEY80}{kp}"));
    assert!(ok("|2^31").is_ok());
    assert!(ok("|2^48").is_ok());
    assert!(ok("|2147483648").is_ok());
    assert_eq!(ok("|2^20"), Err(CryptoError::KeyParams));
    assert_eq!(ok("|1000"), Err(CryptoError::KeyParams));
    assert_eq!(ok("|1:4"), Err(CryptoError::KeyParams));
    assert_eq!(ok("|2^31|1:4"), Err(CryptoError::KeyParams));
    assert_eq!(ok("|2^99"), Err(CryptoError::KeyParams));
    assert_eq!(ok("|x"), Err(CryptoError::KeyParams));
}

#[test]
fn bad_lines_are_refused() {
    let cases = [
        ("", CryptoError::Malformed),
        ("1", CryptoError::Malformed),
        ("1 AES_CM_128_HMAC_SHA1_80", CryptoError::Malformed),
        (
            "x AES_CM_128_HMAC_SHA1_80 inline:AAAA",
            CryptoError::Malformed,
        ),
        (
            "1234567890 AES_CM_128_HMAC_SHA1_80 inline:AAAA",
            CryptoError::Malformed,
        ),
        (
            "1 F8_128_HMAC_SHA1_80 inline:AAAA",
            CryptoError::UnknownSuite,
        ),
        (
            "1 aes_cm_128_hmac_sha1_80 inline:AAAA",
            CryptoError::UnknownSuite,
        ),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:AAAA", CryptoError::BadKey),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:!!!!", CryptoError::BadKey),
        ("1 AES_CM_128_HMAC_SHA1_80 key:AAAA", CryptoError::Malformed),
    ];
    for (value, err) in cases {
        assert_eq!(CryptoAttr::parse(value), Err(err), "{value:?}");
    }
    // A GCM key is 28 bytes: the 30-byte AES-CM key does not fit it.
    let gcm = format!("1 AEAD_AES_128_GCM inline:{KEY80}");
    assert_eq!(CryptoAttr::parse(&gcm), Err(CryptoError::BadKey));
    let two = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY80};inline:{KEY80}");
    assert_eq!(CryptoAttr::parse(&two), Err(CryptoError::BadKey));
    for param in ["KDR=1", "UNENCRYPTED_SRTP", "FEC_ORDER=FEC_SRTP", "WSH=64"] {
        let v = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY80} {param}");
        assert_eq!(CryptoAttr::parse(&v), Err(CryptoError::SessionParam));
    }
    let long = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{}", "A".repeat(10_000));
    assert_eq!(CryptoAttr::parse(&long), Err(CryptoError::BadKey));
}

#[test]
fn offer_lines_have_fresh_keys_and_keep_the_line_in_force() {
    let mut rng = StdRng::seed_from_u64(2);
    let a = offer_lines(&mut rng, None);
    let b = offer_lines(&mut rng, None);
    assert_eq!(
        a.iter().map(|l| (l.tag, l.key.suite())).collect::<Vec<_>>(),
        vec![
            (1, SrtpSuite::AesCm128HmacSha1_80),
            (2, SrtpSuite::AesCm128HmacSha1_32)
        ]
    );
    assert_ne!(a[0].key, b[0].key, "a fresh key per offer");
    let keep = CryptoAttr {
        tag: 1,
        key: b[1].key,
    };
    let c = offer_lines(&mut rng, Some(keep));
    assert_eq!(c[0], keep);
    assert_eq!(c[1].tag, 2);
    assert_eq!(c[1].key.suite(), SrtpSuite::AesCm128HmacSha1_80);
}

#[test]
fn answer_picks_an_offered_tag_and_the_offerer_checks_it() {
    let mut rng = StdRng::seed_from_u64(3);
    let offered = offer_lines(&mut rng, None);
    let (line, keys) = answer_line(&offered, None, &mut rng).unwrap();
    assert_eq!(line.tag, offered[0].tag);
    assert_eq!(keys.remote, offered[0].key);
    assert_ne!(keys.local, offered[0].key);
    // The offerer's view is the mirror image.
    let theirs = answered_params(&offered, &[line]).unwrap();
    assert_eq!((theirs.local, theirs.remote), (keys.remote, keys.local));
    // A tag we never offered, or a suite that differs: no keys.
    let wrong_tag = CryptoAttr { tag: 9, ..line };
    assert_eq!(answered_params(&offered, &[wrong_tag]), None);
    let wrong_suite = CryptoAttr {
        tag: 2,
        key: line.key,
    };
    assert_eq!(answered_params(&offered, &[wrong_suite]), None);
    assert_eq!(answer_line(&[], None, &mut rng), None);
    // A re-offer with the same remote key keeps our key (RFC 4568 §7.1.4).
    let (again, kept) = answer_line(&offered, Some(keys), &mut rng).unwrap();
    assert_eq!(kept, keys);
    assert_eq!(again.key, keys.local);
    let fresh = offer_lines(&mut rng, None);
    let (_, rekeyed) = answer_line(&fresh, Some(keys), &mut rng).unwrap();
    assert_ne!(rekeyed.local, keys.local);
}

proptest::proptest! {
    #[test]
    fn any_value_parses_or_is_refused_and_round_trips(v in "\\PC{0,120}") {
        if let Ok(attr) = CryptoAttr::parse(&v) {
            proptest::prop_assert_eq!(CryptoAttr::parse(&attr.to_value()), Ok(attr));
        }
    }

    #[test]
    fn mutated_good_lines_never_panic(pos in 0usize..80, byte in 0u8..128) {
        let mut v = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY80}|2^31").into_bytes();
        let at = pos % v.len();
        v[at] = byte;
        if let Ok(s) = std::str::from_utf8(&v) {
            let _ = CryptoAttr::parse(s);
        }
    }
}
