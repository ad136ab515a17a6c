//! Fuzz Nellymoser decoding: any bytes, split into 64-byte blocks, at a
//! rate chosen by the first byte. No panic; whole payloads give 256
//! samples per block, others an error and no samples; concealment gives
//! exactly the samples asked for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmp2sip_codecs::nellymoser::{NELLY_BLOCK_BYTES, NELLY_BLOCK_SAMPLES, NELLY_SAMPLE_RATES};
use rtmp2sip_codecs::{AudioDecoder, NellymoserDecoder};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let rate = NELLY_SAMPLE_RATES[usize::from(selector) % NELLY_SAMPLE_RATES.len()];
    let mut decoder = NellymoserDecoder::new(rate).expect("supported rate");
    let mut pcm = Vec::new();
    for payload in rest.chunks(NELLY_BLOCK_BYTES * (usize::from(selector >> 4) + 1)) {
        let before = pcm.len();
        match decoder.decode(payload, &mut pcm) {
            Ok(()) => {
                assert_eq!(payload.len() % NELLY_BLOCK_BYTES, 0);
                assert_eq!(
                    pcm.len() - before,
                    payload.len() / NELLY_BLOCK_BYTES * NELLY_BLOCK_SAMPLES
                );
            }
            Err(_) => {
                assert_ne!(payload.len() % NELLY_BLOCK_BYTES, 0);
                assert_eq!(pcm.len(), before);
            }
        }
    }
    let before = pcm.len();
    decoder.conceal(300, &mut pcm);
    assert_eq!(pcm.len() - before, 300);
});
