//! Table-driven tests of [`ApiCommand::from_invoke`]: every command with
//! good and bad arguments, and the `_error` code each refusal carries.

use super::*;

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn n(v: f64) -> Value {
    Value::Number(v)
}

fn uri(text: &str) -> DialUri {
    DialUri::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn good_arguments_give_typed_commands() {
    let digits = |d: &str| DtmfDigits::parse(d).expect("digits");
    let upstream = |auth: Option<&str>, name: Option<&str>| {
        RegisterTarget::Upstream(UpstreamRegister {
            user: "alice".into(),
            registrar: "127.0.0.1:5070".into(),
            password: "pw".into(),
            auth_user: auth.map(str::to_string),
            display_name: name.map(str::to_string),
        })
    };
    let cases: Vec<(&str, Vec<Value>, ApiCommand)> = vec![
        (
            "dial",
            vec![s("sip:bob@127.0.0.1")],
            ApiCommand::Dial {
                txn: 7.0,
                target: uri("sip:bob@127.0.0.1"),
            },
        ),
        (
            "dial",
            vec![s("bob@127.0.0.1"), s("extra")],
            ApiCommand::Dial {
                txn: 7.0,
                target: uri("sip:bob@127.0.0.1"),
            },
        ),
        ("hangup", vec![], ApiCommand::Hangup { txn: 7.0 }),
        (
            "hangup",
            vec![s("ignored")],
            ApiCommand::Hangup { txn: 7.0 },
        ),
        ("accept", vec![], ApiCommand::Accept { txn: 7.0 }),
        (
            "reject",
            vec![],
            ApiCommand::Reject {
                txn: 7.0,
                code: 603,
            },
        ),
        (
            "reject",
            vec![Value::Null],
            ApiCommand::Reject {
                txn: 7.0,
                code: 603,
            },
        ),
        (
            "reject",
            vec![n(486.0)],
            ApiCommand::Reject {
                txn: 7.0,
                code: 486,
            },
        ),
        (
            "reject",
            vec![n(699.0)],
            ApiCommand::Reject {
                txn: 7.0,
                code: 699,
            },
        ),
        (
            "reject",
            vec![n(400.0)],
            ApiCommand::Reject {
                txn: 7.0,
                code: 400,
            },
        ),
        (
            "sendDTMF",
            vec![s("12#*ad")],
            ApiCommand::SendDtmf {
                txn: 7.0,
                digits: digits("12#*AD"),
                duration_ms: 160,
            },
        ),
        (
            "sendDTMF",
            vec![s("5"), n(100.0)],
            ApiCommand::SendDtmf {
                txn: 7.0,
                digits: digits("5"),
                duration_ms: 100,
            },
        ),
        (
            "sendDTMF",
            vec![s("5"), n(1.0)],
            ApiCommand::SendDtmf {
                txn: 7.0,
                digits: digits("5"),
                duration_ms: 40,
            },
        ),
        (
            "sendDTMF",
            vec![s("5"), n(1e9)],
            ApiCommand::SendDtmf {
                txn: 7.0,
                digits: digits("5"),
                duration_ms: 2000,
            },
        ),
        (
            "sendDTMF",
            vec![s("5"), n(f64::NAN)],
            ApiCommand::SendDtmf {
                txn: 7.0,
                digits: digits("5"),
                duration_ms: 160,
            },
        ),
        (
            "sendDTMF",
            vec![s("5"), s("100")],
            ApiCommand::SendDtmf {
                txn: 7.0,
                digits: digits("5"),
                duration_ms: 160,
            },
        ),
        (
            "sendDTMF",
            vec![s(&"1".repeat(32))],
            ApiCommand::SendDtmf {
                txn: 7.0,
                digits: digits(&"1".repeat(32)),
                duration_ms: 160,
            },
        ),
        (
            "register",
            vec![],
            ApiCommand::Register {
                txn: 7.0,
                target: RegisterTarget::Local,
            },
        ),
        (
            "register",
            vec![s("  ")],
            ApiCommand::Register {
                txn: 7.0,
                target: RegisterTarget::Local,
            },
        ),
        (
            "register",
            vec![Value::Null],
            ApiCommand::Register {
                txn: 7.0,
                target: RegisterTarget::Local,
            },
        ),
        (
            "register",
            vec![s("alice"), s("127.0.0.1:5070"), s("pw")],
            ApiCommand::Register {
                txn: 7.0,
                target: upstream(None, None),
            },
        ),
        (
            "register",
            vec![
                s(" alice "),
                s("127.0.0.1:5070"),
                s("pw"),
                s("a1"),
                s("Alice"),
            ],
            ApiCommand::Register {
                txn: 7.0,
                target: upstream(Some("a1"), Some("Alice")),
            },
        ),
        (
            "register",
            vec![s("alice"), s("127.0.0.1:5070"), s("pw"), s(""), s("")],
            ApiCommand::Register {
                txn: 7.0,
                target: upstream(None, None),
            },
        ),
        ("unregister", vec![], ApiCommand::Unregister { txn: 7.0 }),
        ("hold", vec![], ApiCommand::Hold { txn: 7.0 }),
        ("unhold", vec![], ApiCommand::Unhold { txn: 7.0 }),
        (
            "transfer",
            vec![s("sip:carol@127.0.0.1:5080")],
            ApiCommand::Transfer {
                txn: 7.0,
                target: uri("sip:carol@127.0.0.1:5080"),
            },
        ),
    ];
    for (name, args, want) in cases {
        let got = ApiCommand::from_invoke(name, 7.0, &args);
        assert_eq!(got.as_ref(), Ok(&want), "{name}({args:?})");
        assert_eq!(want.txn(), 7.0);
        assert_eq!(want.name(), name);
    }
}

#[test]
fn bad_arguments_give_typed_errors_with_their_codes() {
    let cases: Vec<(&str, Vec<Value>, ApiError, &str)> = vec![
        ("dial", vec![], ApiError::DialNoUri, "Sono.Call.NoUri"),
        ("dial", vec![n(5.0)], ApiError::DialNoUri, "Sono.Call.NoUri"),
        ("dial", vec![s("")], ApiError::DialNoUri, "Sono.Call.NoUri"),
        (
            "dial",
            vec![s("tel:+123")],
            ApiError::DialBadUri(
                DialUri::parse("tel:+123")
                    .err()
                    .unwrap_or(DialUriError::Missing),
            ),
            "Sono.Call.NoUri",
        ),
        (
            "dial",
            vec![s("sip:a@b\r\nX: y")],
            ApiError::DialBadUri(
                DialUri::parse("sip:a@b\r\nX: y")
                    .err()
                    .unwrap_or(DialUriError::Missing),
            ),
            "Sono.Call.NoUri",
        ),
        (
            "reject",
            vec![n(200.0)],
            ApiError::RejectCode("200".into()),
            "Sono.Call.Failed",
        ),
        (
            "reject",
            vec![n(700.0)],
            ApiError::RejectCode("700".into()),
            "Sono.Call.Failed",
        ),
        (
            "reject",
            vec![n(486.5)],
            ApiError::RejectCode("486.5".into()),
            "Sono.Call.Failed",
        ),
        (
            "reject",
            vec![n(f64::NAN)],
            ApiError::RejectCode("NaN".into()),
            "Sono.Call.Failed",
        ),
        (
            "reject",
            vec![n(-1.0)],
            ApiError::RejectCode("-1".into()),
            "Sono.Call.Failed",
        ),
        (
            "reject",
            vec![s("486")],
            ApiError::RejectCode("a non-number".into()),
            "Sono.Call.Failed",
        ),
        ("sendDTMF", vec![], ApiError::DtmfEmpty, "Sono.Call.Failed"),
        (
            "sendDTMF",
            vec![s("")],
            ApiError::DtmfEmpty,
            "Sono.Call.Failed",
        ),
        (
            "sendDTMF",
            vec![n(5.0)],
            ApiError::DtmfEmpty,
            "Sono.Call.Failed",
        ),
        (
            "sendDTMF",
            vec![s(&"1".repeat(33))],
            ApiError::DtmfTooLong,
            "Sono.Call.Failed",
        ),
        (
            "sendDTMF",
            vec![s("12E")],
            ApiError::DtmfDigit('E'),
            "Sono.Call.Failed",
        ),
        (
            "sendDTMF",
            vec![s("1 2")],
            ApiError::DtmfDigit(' '),
            "Sono.Call.Failed",
        ),
        (
            "sendDTMF",
            vec![s("1é")],
            ApiError::DtmfDigit('é'),
            "Sono.Call.Failed",
        ),
        (
            "register",
            vec![s("alice")],
            ApiError::RegisterArgs,
            "Sono.Registration.Failed",
        ),
        (
            "register",
            vec![s("alice"), s(" ")],
            ApiError::RegisterArgs,
            "Sono.Registration.Failed",
        ),
        (
            "register",
            vec![s("alice"), n(1.0)],
            ApiError::RegisterArgs,
            "Sono.Registration.Failed",
        ),
        (
            "transfer",
            vec![],
            ApiError::TransferNoUri,
            "Sono.Call.NoUri",
        ),
        (
            "transfer",
            vec![s("tel:+15551234")],
            ApiError::TransferBadUri(
                DialUri::parse("tel:+15551234")
                    .err()
                    .unwrap_or(DialUriError::Missing),
            ),
            "Sono.Call.NoUri",
        ),
        (
            "Dial",
            vec![s("sip:bob@127.0.0.1")],
            ApiError::Unsupported("Dial".into()),
            "NetConnection.Call.Failed",
        ),
        (
            "bogus",
            vec![],
            ApiError::Unsupported("bogus".into()),
            "NetConnection.Call.Failed",
        ),
        (
            "",
            vec![],
            ApiError::Unsupported(String::new()),
            "NetConnection.Call.Failed",
        ),
    ];
    for (name, args, want, code) in cases {
        let got = ApiCommand::from_invoke(name, 3.0, &args);
        assert_eq!(got.as_ref().err(), Some(&want), "{name}({args:?})");
        assert_eq!(want.code(), code, "{want:?}");
        assert!(!want.to_string().is_empty());
    }
}

#[test]
fn descriptions_are_what_clients_read() {
    assert_eq!(ApiError::DialNoUri.to_string(), "dial needs a SIP URI");
    assert_eq!(
        ApiError::Unsupported("foo".into()).to_string(),
        "`foo` is not supported by this gateway"
    );
    assert_eq!(
        ApiError::DtmfTooLong.to_string(),
        "at most 32 digits per sendDTMF"
    );
    assert_eq!(
        ApiError::RejectCode("200".into()).to_string(),
        "reject needs a 4xx-6xx code, not 200"
    );
}

#[test]
fn the_password_is_never_shown() {
    let cmd = ApiCommand::from_invoke("register", 1.0, &[s("alice"), s("127.0.0.1"), s("s3cret")]);
    assert!(!format!("{cmd:?}").contains("s3cret"));
}
