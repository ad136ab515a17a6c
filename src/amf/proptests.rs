//! Property tests: encode-then-decode round trips for generated values, and
//! decoders that never panic on arbitrary, truncated or mutated input.

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

/// Finite or infinite numbers (NaN has no equality; tested separately).
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<i32>().prop_map(f64::from),
        any::<f64>().prop_filter("NaN never compares equal", |n| !n.is_nan()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    ".{0,12}"
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_é]{1,6}"
}

/// Leaves whose AMF 3 encoding decodes to the same value.
fn amf3_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Undefined),
        Just(Value::Null),
        any::<bool>().prop_map(Value::Boolean),
        number().prop_map(Value::Number),
        text().prop_map(Value::String),
        text().prop_map(Value::XmlDocument),
        amf3_only_leaf(),
        number().prop_map(|ms| Value::Date { ms, tz: 0 }),
    ]
}

/// Leaves only AMF 3 can carry (AMF 0 switches to AMF 3 for them).
fn amf3_only_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        text().prop_map(Value::Xml),
        vec(any::<u8>(), 0..16).prop_map(Value::ByteArray),
        (any::<bool>(), vec(any::<i32>(), 0..6))
            .prop_map(|(fixed, items)| Value::VectorInt { fixed, items }),
        (any::<bool>(), vec(any::<u32>(), 0..6))
            .prop_map(|(fixed, items)| Value::VectorUint { fixed, items }),
        (any::<bool>(), vec(number(), 0..6))
            .prop_map(|(fixed, items)| Value::VectorDouble { fixed, items }),
    ]
}

/// Containers only AMF 3 can carry, with AMF 3-faithful children.
fn amf3_only_container(inner: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    prop_oneof![
        (vec(inner.clone(), 1..4), vec((name(), inner.clone()), 1..4))
            .prop_map(|(dense, assoc)| Value::MixedArray { dense, assoc }),
        (any::<bool>(), name(), vec(inner.clone(), 0..4)).prop_map(|(fixed, class, items)| {
            Value::VectorObject {
                fixed,
                class,
                items,
            }
        }),
        (any::<bool>(), vec((inner.clone(), inner), 0..4))
            .prop_map(|(weak_keys, entries)| Value::Dictionary { weak_keys, entries }),
    ]
}

/// Values whose AMF 3 encoding decodes to the same value.
fn amf3_value() -> BoxedStrategy<Value> {
    amf3_leaf()
        .prop_recursive(4, 48, 5, |inner| {
            prop_oneof![
                vec((text(), inner.clone()), 0..5).prop_map(Value::Object),
                (name(), vec((text(), inner.clone()), 0..5))
                    .prop_map(|(class, props)| Value::TypedObject { class, props }),
                vec(inner.clone(), 0..5).prop_map(Value::StrictArray),
                vec((name(), inner.clone()), 1..5).prop_map(Value::EcmaArray),
                amf3_only_container(inner.boxed()),
            ]
        })
        .boxed()
}

/// Values whose AMF 0 encoding decodes to the same value: every AMF 0
/// type, plus AMF 3-only values (sent via 0x11) with AMF 3-faithful children.
fn amf0_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        Just(Value::Undefined),
        Just(Value::Unsupported),
        any::<bool>().prop_map(Value::Boolean),
        number().prop_map(Value::Number),
        text().prop_map(Value::String),
        text().prop_map(Value::XmlDocument),
        (number(), any::<i16>()).prop_map(|(ms, tz)| Value::Date { ms, tz }),
        amf3_only_leaf(),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            vec((text(), inner.clone()), 0..5).prop_map(Value::Object),
            (text(), vec((text(), inner.clone()), 0..5))
                .prop_map(|(class, props)| Value::TypedObject { class, props }),
            vec((text(), inner.clone()), 0..5).prop_map(Value::EcmaArray),
            vec(inner, 0..5).prop_map(Value::StrictArray),
            amf3_only_container(amf3_value()),
        ]
    })
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn amf0_round_trip(value in amf0_value()) {
        let mut bytes = Vec::new();
        encode_amf0(&value, &mut bytes);
        let mut rest = bytes.as_slice();
        prop_assert_eq!(decode_amf0(&mut rest), Ok(value));
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn amf0_body_round_trip(values in vec(amf0_value(), 0..5)) {
        let bytes = encode_amf0_all(&values);
        prop_assert_eq!(decode_amf0_all(&bytes), Ok(values));
    }

    #[test]
    fn amf3_round_trip(value in amf3_value()) {
        let mut bytes = Vec::new();
        encode_amf3(&value, &mut bytes);
        let mut rest = bytes.as_slice();
        prop_assert_eq!(decode_amf3(&mut rest), Ok(value));
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn amf3_command_body_round_trip(values in vec(amf3_value(), 0..5)) {
        let bytes = encode_amf3_command_body(&values);
        prop_assert_eq!(decode_amf3_command_body(&bytes), Ok(values));
    }

    #[test]
    fn truncated_encodings_are_errors(value in amf0_value()) {
        let mut bytes = Vec::new();
        encode_amf0(&value, &mut bytes);
        for cut in 0..bytes.len() {
            prop_assert!(decode_amf0(&mut &bytes[..cut]).is_err());
        }
        let mut bytes3 = Vec::new();
        encode_amf3(&value, &mut bytes3);
        for cut in 0..bytes3.len() {
            prop_assert!(decode_amf3(&mut &bytes3[..cut]).is_err());
        }
    }

    #[test]
    fn mutated_encodings_never_panic(
        value in amf0_value(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = Vec::new();
        encode_amf0(&value, &mut bytes);
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = decode_amf0_all(&bytes);
        let _ = decode_amf3(&mut bytes.as_slice());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        let _ = decode_amf0_all(&bytes);
        let _ = decode_amf3_command_body(&bytes);
        let _ = decode_amf3(&mut bytes.as_slice());
    }
}
