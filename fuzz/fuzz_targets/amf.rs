//! Fuzz the AMF decoders: AMF 0 bodies, AMF 3 command bodies (RTMP message
//! type 0x11) and single AMF 3 values. None may panic, and whatever decodes
//! must survive encode -> decode unchanged (compared as bytes, so NaN works),
//! unless the expanded re-encoding trips a limit that references avoided.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmp2sip::amf::{
    decode_amf0_all, decode_amf3, decode_amf3_command_body, encode_amf0_all, encode_amf3, AmfError,
    Value,
};

/// Limit errors an expanded (reference-free) re-encoding may legitimately hit.
fn is_limit(e: &AmfError) -> bool {
    matches!(
        e,
        AmfError::TooManyItems { .. }
            | AmfError::TotalBytesExceeded { .. }
            | AmfError::TooManyReferences { .. }
    )
}

fn check_amf0(values: &[Value]) {
    let bytes = encode_amf0_all(values);
    match decode_amf0_all(&bytes) {
        Ok(again) => assert_eq!(encode_amf0_all(&again), bytes),
        Err(e) => assert!(is_limit(&e), "re-decode failed: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(values) = decode_amf0_all(data) {
        check_amf0(&values);
    }
    if let Ok(values) = decode_amf3_command_body(data) {
        check_amf0(&values);
    }
    let mut rest = data;
    if let Ok(value) = decode_amf3(&mut rest) {
        assert!(rest.len() < data.len());
        let mut bytes = Vec::new();
        encode_amf3(&value, &mut bytes);
        match decode_amf3(&mut bytes.as_slice()) {
            Ok(again) => {
                let mut twice = Vec::new();
                encode_amf3(&again, &mut twice);
                assert_eq!(twice, bytes);
            }
            Err(e) => assert!(is_limit(&e), "re-decode failed: {e}"),
        }
    }
});
