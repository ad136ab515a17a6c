//! Fuzz the Nellymoser encoder: bytes as 16-bit little-endian PCM, encoded
//! 256 samples at a time and decoded again. No panic, 64 bytes per block,
//! 256 samples back per block.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmp2sip_codecs::nellymoser::{NELLY_BLOCK_BYTES, NELLY_BLOCK_SAMPLES};
use rtmp2sip_codecs::{AudioDecoder, AudioEncoder, NellymoserDecoder, NellymoserEncoder};

fuzz_target!(|data: &[u8]| {
    let pcm: Vec<i16> = data
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let mut encoder = NellymoserEncoder::new(16000).expect("supported rate");
    let mut decoder = NellymoserDecoder::new(16000).expect("supported rate");
    let mut payload = Vec::new();
    for frame in pcm.chunks_exact(NELLY_BLOCK_SAMPLES) {
        encoder.encode(frame, &mut payload).expect("one frame");
    }
    let blocks = pcm.len() / NELLY_BLOCK_SAMPLES;
    assert_eq!(payload.len(), blocks * NELLY_BLOCK_BYTES);
    let mut out = Vec::new();
    decoder.decode(&payload, &mut out).expect("whole blocks");
    assert_eq!(out.len(), blocks * NELLY_BLOCK_SAMPLES);
    let partial = pcm.chunks_exact(NELLY_BLOCK_SAMPLES).remainder();
    if !partial.is_empty() {
        assert!(encoder.encode(partial, &mut payload).is_err());
    }
});
