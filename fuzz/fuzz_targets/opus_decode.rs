//! Fuzz the Opus decoder: arbitrary packets, concealment and FEC recovery
//! interleaved as the input says, at every output rate. No panic; a decoded
//! packet stays within 120 ms; concealment and FEC append exactly what was
//! asked, and nothing on error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmp2sip_codecs::opus::SUPPORTED_RATES;
use rtmp2sip_codecs::{AudioDecoder, OpusDecoder};

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let rate = SUPPORTED_RATES[usize::from(first) % SUPPORTED_RATES.len()];
    let Ok(mut decoder) = OpusDecoder::new(rate) else {
        return;
    };
    let max = decoder.max_packet_samples();
    let mut out = Vec::new();
    // Each step: an op byte, a length byte, then (for decode and FEC) a
    // packet of that many bytes.
    while let [op, len, tail @ ..] = rest {
        let len = usize::from(*len);
        let packet = tail.get(..len).unwrap_or(tail);
        // Up to 160 ms of loss, in 2.5 ms steps or not.
        let samples = usize::from(*op >> 2) * rate as usize / 400;
        match op & 3 {
            0 | 1 => {
                if decoder.decode(packet, &mut out).is_ok() {
                    assert!(out.len() <= max);
                } else {
                    assert!(out.is_empty());
                }
                rest = tail.get(packet.len()..).unwrap_or(&[]);
            }
            2 => {
                match decoder.decode_fec(packet, samples + len % 3, &mut out) {
                    Ok(()) => assert_eq!(out.len(), samples + len % 3),
                    Err(_) => assert!(out.is_empty()),
                }
                rest = tail.get(packet.len()..).unwrap_or(&[]);
            }
            _ => {
                decoder.conceal(samples + len % 3, &mut out);
                assert_eq!(out.len(), samples + len % 3);
                rest = tail;
            }
        }
        out.clear();
    }
});
