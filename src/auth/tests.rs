//! `ClientAuth::verify`: one test per claim rule, on a fixed clock.

use std::time::Duration;

use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;
use crate::call::uri::DialUri;
use crate::config::KeyBytes;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_800_000_000;

fn config(issuer: Option<&str>, audience: Option<&str>) -> AuthConfig {
    AuthConfig {
        mode: AuthMode::Jwt,
        algorithm: JwtAlgorithm::HS256,
        key: Some(test_key(SECRET)),
        issuer: issuer.map(str::to_string),
        audience: audience.map(str::to_string),
        leeway: Duration::from_secs(30),
    }
}

fn test_key(bytes: &[u8]) -> KeyBytes {
    KeyBytes::new(bytes.to_vec())
}

fn auth() -> ClientAuth {
    ClientAuth::new(&config(None, None)).unwrap().unwrap()
}

fn mint(claims: Value, secret: &[u8]) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn good() -> Value {
    json!({"sub": "alice", "exp": NOW + 60})
}

fn with(mut base: Value, key: &str, v: Value) -> Value {
    base[key] = v;
    base
}

fn verify(a: &ClientAuth, claims: Value) -> Result<Identity, AuthError> {
    a.verify(&mint(claims, SECRET), Duration::from_secs(NOW))
}

fn claim_of(r: Result<Identity, AuthError>) -> &'static str {
    match r {
        Err(AuthError::Claim { claim, .. }) => claim,
        other => panic!("expected a claim error, got {other:?}"),
    }
}

#[test]
fn mode_none_has_no_verifier() {
    assert!(ClientAuth::new(&AuthConfig::default()).unwrap().is_none());
}

#[test]
fn good_token_gives_identity_with_defaults() {
    let id = verify(&auth(), good()).unwrap();
    assert_eq!(id.subject, "alice");
    assert_eq!(id.dial, None);
    assert!(!id.register);
    assert_eq!(id.max_calls, None);
}

#[test]
fn exp_is_required_and_checked_with_leeway() {
    let a = auth();
    assert_eq!(claim_of(verify(&a, json!({"sub": "alice"}))), "exp");
    assert_eq!(
        verify(&a, with(good(), "exp", json!(NOW - 31))),
        Err(AuthError::Expired)
    );
    assert!(verify(&a, with(good(), "exp", json!(NOW - 29))).is_ok());
    assert_eq!(
        claim_of(verify(&a, with(good(), "exp", json!("soon")))),
        "exp"
    );
}

#[test]
fn nbf_in_the_future_is_refused() {
    let a = auth();
    assert_eq!(
        verify(&a, with(good(), "nbf", json!(NOW + 31))),
        Err(AuthError::NotYetValid)
    );
    assert!(verify(&a, with(good(), "nbf", json!(NOW + 29))).is_ok());
}

#[test]
fn bad_signature_wrong_algorithm_and_garbage() {
    let a = auth();
    let t = mint(good(), b"another secret, 32 bytes long!!!");
    assert_eq!(
        a.verify(&t, Duration::from_secs(NOW)),
        Err(AuthError::BadSignature)
    );
    let hs384 = encode(
        &Header::new(jsonwebtoken::Algorithm::HS384),
        &good(),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert_eq!(
        a.verify(&hs384, Duration::from_secs(NOW)),
        Err(AuthError::WrongAlgorithm {
            got: "HS384".into(),
            want: "HS256"
        })
    );
    // alg "none" (RFC 7519 §6) is never accepted, and the reason says why.
    let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.";
    let e = a.verify(none, Duration::from_secs(NOW)).unwrap_err();
    assert!(e.to_string().contains("`none`"), "{e}");
    assert!(matches!(
        a.verify("not.a.token", Duration::from_secs(NOW)),
        Err(AuthError::Malformed(_))
    ));
    assert_eq!(
        a.verify("", Duration::from_secs(NOW)),
        Err(AuthError::NoToken)
    );
    let long = "a".repeat(MAX_TOKEN_LEN + 1);
    assert!(matches!(
        a.verify(&long, Duration::from_secs(NOW)),
        Err(AuthError::TooLong(_))
    ));
}

#[test]
fn issuer_and_audience() {
    let a = ClientAuth::new(&config(Some("site"), Some("gw")))
        .unwrap()
        .unwrap();
    let ok = with(
        with(good(), "iss", json!("site")),
        "aud",
        json!(["x", "gw"]),
    );
    assert!(verify(&a, ok.clone()).is_ok());
    assert_eq!(
        claim_of(verify(&a, with(ok.clone(), "iss", json!("evil")))),
        "iss"
    );
    assert_eq!(
        claim_of(verify(&a, with(ok.clone(), "aud", json!("other")))),
        "aud"
    );
    assert_eq!(
        claim_of(verify(&a, with(good(), "aud", json!("gw")))),
        "iss"
    );
    assert!(verify(&a, with(ok, "aud", json!("gw"))).is_ok());
}

#[test]
fn sub_is_a_sip_user_part() {
    let a = auth();
    assert_eq!(claim_of(verify(&a, json!({"exp": NOW + 60}))), "sub");
    for bad in [
        "",
        "a b",
        "a\r\nb",
        "a@b",
        "a;b",
        "a%40b",
        "é",
        "x\"y",
        &"a".repeat(65),
    ] {
        assert_eq!(
            claim_of(verify(&a, with(good(), "sub", json!(bad)))),
            "sub",
            "{bad:?}"
        );
    }
    assert_eq!(claim_of(verify(&a, with(good(), "sub", json!(7)))), "sub");
    assert!(verify(&a, with(good(), "sub", json!("+1555.x_y-z!"))).is_ok());
}

#[test]
fn dial_claim_is_parsed_as_policy() {
    let a = auth();
    let id = verify(&a, with(good(), "dial", json!(["sip:*@pbx.example.com"]))).unwrap();
    let p = id.dial.unwrap();
    assert!(p.allows(&DialUri::parse("sip:bob@pbx.example.com").unwrap()));
    assert!(!p.allows(&DialUri::parse("sip:bob@evil.example.com").unwrap()));
    let one = verify(&a, with(good(), "dial", json!("sip:echo@*"))).unwrap();
    assert!(one.dial.is_some());
    let none = verify(&a, with(good(), "dial", json!([]))).unwrap();
    assert!(none.dial.unwrap().is_empty());
    assert_eq!(
        claim_of(verify(&a, with(good(), "dial", json!(["sip:*@10.*"])))),
        "dial"
    );
    assert_eq!(
        claim_of(verify(&a, with(good(), "dial", json!([1])))),
        "dial"
    );
    assert_eq!(
        claim_of(verify(&a, with(good(), "dial", json!(vec!["*"; 257])))),
        "dial"
    );
}

#[test]
fn register_and_max_calls() {
    let a = auth();
    let id = verify(
        &a,
        with(with(good(), "register", json!(true)), "max_calls", json!(2)),
    )
    .unwrap();
    assert!(id.register);
    assert_eq!(id.max_calls, Some(2));
    assert_eq!(
        claim_of(verify(&a, with(good(), "register", json!("yes")))),
        "register"
    );
    for bad in [json!(-1), json!(1.5), json!(1001), json!("2")] {
        assert_eq!(
            claim_of(verify(&a, with(good(), "max_calls", bad))),
            "max_calls"
        );
    }
}

#[test]
fn errors_never_echo_the_token() {
    let a = auth();
    let t = mint(with(good(), "sub", json!("a b")), SECRET);
    let e = a
        .verify(&t, Duration::from_secs(NOW))
        .unwrap_err()
        .to_string();
    assert!(!e.contains(&t[..20]), "{e}");
    assert!(!format!("{a:?}").contains("0123456789abcdef"));
}

#[test]
fn token_is_found_in_args_then_tc_url_then_app() {
    assert_eq!(
        token_from_connect(Some("T"), Some("rtmp://h/a?token=U"), "a"),
        Some("T")
    );
    assert_eq!(
        token_from_connect(None, Some("rtmp://h/a?x=1&token=U#f"), "a"),
        Some("U")
    );
    assert_eq!(token_from_connect(Some(""), None, "a?token=V"), Some("V"));
    assert_eq!(
        token_from_connect(None, Some("rtmp://h/a?token="), "a"),
        None
    );
    assert_eq!(token_from_connect(None, None, "a"), None);
    assert_eq!(strip_query("phone?token=secret"), "phone");
}

#[test]
fn bad_pem_is_a_key_error() {
    let mut c = config(None, None);
    c.algorithm = JwtAlgorithm::ES256;
    assert!(matches!(ClientAuth::new(&c), Err(AuthError::Key(_))));
}
