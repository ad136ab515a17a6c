//! Fuzz G.711 decoding and re-encoding: no panic, one sample per byte, and
//! decode -> encode is the identity except µ-law negative zero.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmp2sip_codecs::{AudioDecoder, AudioEncoder, G711Decoder, G711Encoder, G711Law};

fuzz_target!(|data: &[u8]| {
    for law in [G711Law::Pcmu, G711Law::Pcma] {
        let mut decoder = G711Decoder::new(law);
        let mut pcm = Vec::new();
        if decoder.decode(data, &mut pcm).is_err() {
            return;
        }
        assert_eq!(pcm.len(), data.len());
        let mut again = Vec::new();
        if G711Encoder::new(law).encode(&pcm, &mut again).is_err() {
            return;
        }
        for (a, b) in data.iter().zip(&again) {
            assert!(a == b || (law == G711Law::Pcmu && *a == 0x7F && *b == 0xFF));
        }
        decoder.conceal(160, &mut pcm);
    }
});
