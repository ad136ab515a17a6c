//! Fuzz the G.722 decoder: payloads of arbitrary bytes and concealment
//! requests, interleaved as the input says. No panic; two samples per byte;
//! concealment appends exactly what was asked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmp2sip_codecs::{AudioDecoder, G722Decoder};

fuzz_target!(|data: &[u8]| {
    let Ok(mut decoder) = G722Decoder::new() else {
        return;
    };
    let mut out = Vec::new();
    let mut rest = data;
    // Each step: an op byte, a length byte, then (for decode) that many bytes.
    while let [op, len, tail @ ..] = rest {
        let len = usize::from(*len);
        let before = out.len();
        if op & 1 == 0 {
            let payload = tail.get(..len).unwrap_or(tail);
            decoder
                .decode(payload, &mut out)
                .expect("any G.722 bytes decode");
            assert_eq!(out.len() - before, payload.len() * 2);
            rest = tail.get(payload.len()..).unwrap_or(&[]);
        } else {
            decoder.conceal(len * 4, &mut out);
            assert_eq!(out.len() - before, len * 4);
            rest = tail;
        }
        out.clear();
    }
});
