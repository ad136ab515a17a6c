//! AMF 3 vectors built from the AMF 3 specification's grammar and examples.

use super::*;
use crate::amf::amf0::tests::hex;
use crate::amf::error::RefTable;

fn dec(pieces: &[&str]) -> Result<Value, AmfError> {
    let bytes = hex(pieces);
    let mut rest = bytes.as_slice();
    let value = decode_amf3(&mut rest);
    if value.is_ok() {
        assert!(rest.is_empty(), "trailing bytes after {pieces:?}");
    }
    value
}

fn enc(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_amf3(value, &mut out);
    out
}

#[test]
fn integers_and_doubles() {
    assert_eq!(dec(&["0400"]), Ok(Value::Number(0.0)));
    assert_eq!(dec(&["047f"]), Ok(Value::Number(127.0)));
    assert_eq!(dec(&["048100"]), Ok(Value::Number(128.0)));
    assert_eq!(dec(&["04ffffffff"]), Ok(Value::Number(-1.0)));
    assert_eq!(dec(&["04bfffffff"]), Ok(Value::Number(268_435_455.0)));
    assert_eq!(dec(&["04c0808000"]), Ok(Value::Number(-268_435_456.0)));
    assert_eq!(dec(&["053ff8000000000000"]), Ok(Value::Number(1.5)));
    assert_eq!(enc(&Value::Number(128.0)), hex(&["048100"]));
    assert_eq!(enc(&Value::Number(-1.0)), hex(&["04ffffffff"]));
    // Out of the 29-bit range, fractional, or -0: double-type.
    assert_eq!(enc(&Value::Number(268_435_456.0))[0], marker::DOUBLE);
    assert_eq!(enc(&Value::Number(-268_435_457.0))[0], marker::DOUBLE);
    assert_eq!(enc(&Value::Number(0.5))[0], marker::DOUBLE);
    assert_eq!(enc(&Value::Number(-0.0))[0], marker::DOUBLE);
    assert_eq!(enc(&Value::Number(f64::INFINITY))[0], marker::DOUBLE);
}

#[test]
fn simple_markers() {
    assert_eq!(dec(&["00"]), Ok(Value::Undefined));
    assert_eq!(dec(&["01"]), Ok(Value::Null));
    assert_eq!(dec(&["02"]), Ok(Value::Boolean(false)));
    assert_eq!(dec(&["03"]), Ok(Value::Boolean(true)));
    assert_eq!(enc(&Value::Unsupported), [marker::UNDEFINED]);
}

#[test]
fn strings_inline_and_by_reference() {
    assert_eq!(dec(&["060b68656c6c6f"]), Ok(Value::from("hello")));
    assert_eq!(dec(&["0601"]), Ok(Value::from("")));
    assert_eq!(enc(&Value::from("hello")), hex(&["060b68656c6c6f"]));
    // ["hi", "", "hi" by reference 0]; the empty string never enters the table.
    assert_eq!(
        dec(&["0907", "01", "06056869", "0601", "0600"]),
        Ok(Value::array(["hi", "", "hi"]))
    );
}

#[test]
fn object_with_string_reference_wikipedia_example() {
    // {name: "Mike", age: 30, alias: "Mike"}: "Mike" is string reference 1.
    let bytes = [
        "0a0b01",
        "096e616d65",
        "06094d696b65",
        "07616765",
        "041e",
        "0b616c696173",
        "0602",
        "01",
    ];
    let expected = Value::object_builder()
        .set("name", "Mike")
        .set("age", 30)
        .set("alias", "Mike")
        .build();
    assert_eq!(dec(&bytes), Ok(expected.clone()));
    // Our encoder writes strings inline instead of by reference.
    assert_eq!(decode_amf3(&mut enc(&expected).as_slice()), Ok(expected));
}

#[test]
fn typed_objects_and_traits_references() {
    // [Point{x: 1, y: 2}, Point{x: 3, y: 4}], the second by traits reference 0.
    let bytes = [
        "090501",
        "0a23",
        "0b506f696e74",
        "0378",
        "0379",
        "0401",
        "0402",
        "0a01",
        "0403",
        "0404",
    ];
    let p = |x: i32, y: i32| Value::typed_object("Point", [("x", x), ("y", y)]);
    assert_eq!(dec(&bytes), Ok(Value::array([p(1, 2), p(3, 4)])));
    assert_eq!(
        enc(&p(1, 2)),
        hex(&["0a23", "0b506f696e74", "0378", "0379", "0401", "0402"])
    );
}

#[test]
fn sealed_and_dynamic_members_together() {
    // Dynamic class "D" with sealed "a" and dynamic "b": header 0b11011 = 0x1b.
    let bytes = ["0a1b", "0344", "0361", "0401", "0362", "0402", "01"];
    assert_eq!(
        dec(&bytes),
        Ok(Value::typed_object("D", [("a", 1), ("b", 2)]))
    );
}

#[test]
fn object_references_copy_values() {
    // [o, o] with o = {a: true}; the array is object 0, o is object 1.
    let bytes = ["090501", "0a0b01", "0361", "03", "01", "0a02"];
    let o = Value::object([("a", true)]);
    assert_eq!(dec(&bytes), Ok(Value::array([o.clone(), o])));
}

#[test]
fn replayed_references_do_not_grow_tables() {
    // [o, o, "x"] with o = {a: "x"}; strings "a" = 0, "x" = 1.
    let base = ["090701", "0a0b01", "0361", "060378", "01", "0a02"];
    let o = Value::object([("a", "x")]);
    let mut ok = base.to_vec();
    ok.push("0602");
    assert_eq!(dec(&ok), Ok(Value::array([o.clone(), o, Value::from("x")])));
    let mut bad = base.to_vec();
    bad.push("0604");
    assert_eq!(
        dec(&bad),
        Err(AmfError::BadReference {
            table: RefTable::String,
            index: 2
        })
    );
}

#[test]
fn arrays_dense_associative_and_mixed() {
    assert_eq!(dec(&["090501", "0401", "0402"]), Ok(Value::array([1, 2])));
    assert_eq!(
        dec(&["0901", "036b", "060376", "01"]),
        Ok(Value::ecma_array([("k", "v")]))
    );
    assert_eq!(
        dec(&["0903", "036b", "03", "01", "01"]),
        Ok(Value::MixedArray {
            dense: vec![Value::Null],
            assoc: vec![("k".into(), Value::Boolean(true))],
        })
    );
    assert_eq!(dec(&["0901", "01"]), Ok(Value::StrictArray(vec![])));
    assert_eq!(enc(&Value::array([1, 2])), hex(&["090501", "0401", "0402"]));
    assert_eq!(
        enc(&Value::ecma_array([("k", "v")])),
        hex(&["0901", "036b", "060376", "01"])
    );
}

#[test]
fn dates_xml_and_byte_arrays() {
    assert_eq!(
        dec(&["0801", "427349690d000000"]),
        Ok(Value::Date {
            ms: 1_325_376_000_000.0,
            tz: 0
        })
    );
    // [date, date by reference 1]
    assert_eq!(
        dec(&["090501", "0801", "0000000000000000", "0802"]),
        Ok(Value::array([
            Value::Date { ms: 0.0, tz: 0 },
            Value::Date { ms: 0.0, tz: 0 }
        ]))
    );
    assert_eq!(
        dec(&["0709", "3c612f3e"]),
        Ok(Value::XmlDocument("<a/>".into()))
    );
    assert_eq!(dec(&["0b09", "3c612f3e"]), Ok(Value::Xml("<a/>".into())));
    assert_eq!(
        dec(&["0c07", "010203"]),
        Ok(Value::ByteArray(vec![1, 2, 3]))
    );
    assert_eq!(
        enc(&Value::ByteArray(vec![1, 2, 3])),
        hex(&["0c07", "010203"])
    );
    assert_eq!(enc(&Value::Xml("<a/>".into())), hex(&["0b09", "3c612f3e"]));
}

#[test]
fn vectors() {
    assert_eq!(
        dec(&["0d05", "00", "ffffffff", "00000001"]),
        Ok(Value::VectorInt {
            fixed: false,
            items: vec![-1, 1]
        })
    );
    assert_eq!(
        dec(&["0e03", "01", "ffffffff"]),
        Ok(Value::VectorUint {
            fixed: true,
            items: vec![u32::MAX]
        })
    );
    assert_eq!(
        dec(&["0f03", "00", "3ff8000000000000"]),
        Ok(Value::VectorDouble {
            fixed: false,
            items: vec![1.5]
        })
    );
    let objects = Value::VectorObject {
        fixed: false,
        class: "*".into(),
        items: vec![Value::from("a"), Value::Null],
    };
    assert_eq!(
        dec(&["1005", "00", "032a", "060361", "01"]),
        Ok(objects.clone())
    );
    assert_eq!(enc(&objects), hex(&["1005", "00", "032a", "060361", "01"]));
}

#[test]
fn dictionaries() {
    let dict = Value::Dictionary {
        weak_keys: false,
        entries: vec![
            (Value::from("k"), Value::Number(5.0)),
            (Value::object([("o", 1)]), Value::Null),
        ],
    };
    let bytes = [
        "1105", "00", "06036b", "0405", "0a0b01", "036f", "0401", "01", "01",
    ];
    assert_eq!(dec(&bytes), Ok(dict.clone()));
    assert_eq!(enc(&dict), hex(&bytes));
}

#[test]
fn externalizable_objects() {
    // flex.messaging.io.ArrayCollection wrapping [1].
    let class = "flex.messaging.io.ArrayCollection";
    let mut bytes = vec![marker::OBJECT, 0x07, ((class.len() << 1) | 1) as u8];
    bytes.extend_from_slice(class.as_bytes());
    bytes.extend_from_slice(&[0x09, 0x03, 0x01, 0x04, 0x01]);
    assert_eq!(decode_amf3(&mut bytes.as_slice()), Ok(Value::array([1])));
    assert_eq!(
        dec(&["0a07", "07612e42", "00"]),
        Err(AmfError::UnsupportedExternalizable("a.B".into()))
    );
}

#[test]
fn empty_member_names_force_sealed_encoding() {
    let v = Value::Object(vec![(String::new(), Value::Null)]);
    assert_eq!(enc(&v), hex(&["0a13", "01", "01", "01"]));
    assert_eq!(decode_amf3(&mut enc(&v).as_slice()), Ok(v));
    assert_eq!(
        enc(&Value::object([("a", 1)])),
        hex(&["0a0b01", "0361", "0401", "01"])
    );
}

#[test]
fn bad_and_circular_references() {
    let bad = |table, index| Err(AmfError::BadReference { table, index });
    assert_eq!(dec(&["0600"]), bad(RefTable::String, 0));
    assert_eq!(dec(&["0a00"]), bad(RefTable::Object, 0));
    assert_eq!(dec(&["0a01"]), bad(RefTable::Traits, 0));
    assert_eq!(dec(&["0c02"]), bad(RefTable::Object, 1));
    assert_eq!(
        dec(&["090301", "0900"]),
        Err(AmfError::CircularReference { index: 0 })
    );
}

#[test]
fn unknown_markers_and_utf8() {
    assert_eq!(dec(&["12"]), Err(AmfError::UnknownMarker(0x12)));
    assert_eq!(dec(&["ff"]), Err(AmfError::UnknownMarker(0xFF)));
    assert_eq!(dec(&["0605c328"]), Err(AmfError::InvalidUtf8));
}

#[test]
fn huge_counts_fail_before_allocating() {
    assert_eq!(dec(&["0dffffffff", "00"]), Err(AmfError::UnexpectedEof));
    assert_eq!(dec(&["09ffffffff", "01"]), Err(AmfError::UnexpectedEof));
    assert_eq!(dec(&["11ffffffff", "00"]), Err(AmfError::UnexpectedEof));
    assert_eq!(dec(&["0affffffff"]), Err(AmfError::UnexpectedEof));
    assert_eq!(
        dec(&["0cffffffff"]),
        Err(AmfError::StringTooLong {
            len: 0x0FFF_FFFF,
            max: 1 << 20
        })
    );
}

fn nested_arrays(levels: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for _ in 0..levels {
        bytes.extend_from_slice(&[marker::ARRAY, 0x03, 0x01]);
    }
    bytes.push(marker::NULL);
    bytes
}

#[test]
fn depth_limit() {
    assert!(decode_amf3(&mut nested_arrays(32).as_slice()).is_ok());
    assert_eq!(
        decode_amf3(&mut nested_arrays(33).as_slice()),
        Err(AmfError::DepthExceeded { max: 32 })
    );
    assert_eq!(
        decode_amf3(&mut nested_arrays(50_000).as_slice()),
        Err(AmfError::DepthExceeded { max: 32 })
    );
}

#[test]
fn string_reference_amplification_is_bounded() {
    let big = "x".repeat(600_000);
    let mut items = vec![Value::from(big.as_str())];
    items.extend(std::iter::repeat_n(Value::Null, 100));
    let mut bytes = enc(&Value::StrictArray(items));
    // Replace the 100 nulls by references to string 0.
    bytes.truncate(bytes.len() - 100);
    for _ in 0..100 {
        bytes.extend_from_slice(&[marker::STRING, 0x00]);
    }
    assert_eq!(
        decode_amf3(&mut bytes.as_slice()),
        Err(AmfError::TotalBytesExceeded { max: 16 << 20 })
    );
}

#[test]
fn every_truncation_is_an_error() {
    let vectors: [&[&str]; 6] = [
        &[
            "0a0b01",
            "096e616d65",
            "06094d696b65",
            "07616765",
            "041e",
            "0b616c696173",
            "0602",
            "01",
        ],
        &[
            "090501",
            "0a23",
            "0b506f696e74",
            "0378",
            "0379",
            "0401",
            "0402",
            "0a01",
            "0403",
            "0404",
        ],
        &[
            "1105", "00", "06036b", "0405", "0a0b01", "036f", "0401", "01", "01",
        ],
        &["0d05", "00", "ffffffff", "00000001"],
        &["0801", "427349690d000000"],
        &["04c0808000"],
    ];
    for pieces in vectors {
        let bytes = hex(pieces);
        assert!(decode_amf3(&mut bytes.as_slice()).is_ok());
        for cut in 0..bytes.len() {
            assert!(
                decode_amf3(&mut &bytes[..cut]).is_err(),
                "{pieces:?} cut at {cut}"
            );
        }
    }
}
