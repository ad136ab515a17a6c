//! G.711 round trips of real signals.

mod common;

use common::{aligned_snr_db, dominant_frequency, sine};
use proptest::prelude::*;
use rtmp2sip_codecs::{AudioDecoder, AudioEncoder, G711Decoder, G711Encoder, G711Law};

fn round_trip(law: G711Law, pcm: &[i16]) -> Vec<i16> {
    let mut encoder = G711Encoder::new(law);
    let mut decoder = G711Decoder::new(law);
    let mut out = Vec::new();
    for frame in pcm.chunks(encoder.frame_samples()) {
        let mut payload = Vec::new();
        encoder.encode(frame, &mut payload).unwrap();
        assert_eq!(payload.len(), frame.len());
        decoder.decode(&payload, &mut out).unwrap();
    }
    out
}

#[test]
fn tone_round_trip_snr_is_at_least_35_db() {
    for law in [G711Law::Pcmu, G711Law::Pcma] {
        for amplitude in [3000.0, 10000.0, 30000.0] {
            let pcm = sine(1000.0, 8000, amplitude, 8000);
            let out = round_trip(law, &pcm);
            assert_eq!(out.len(), pcm.len());
            let (snr, delay) = aligned_snr_db(&pcm, &out, 0);
            assert_eq!(delay, 0);
            assert!(snr >= 35.0, "{law:?} at {amplitude}: {snr:.1} dB");
            assert_eq!(dominant_frequency(&out, 8000, 50.0), 1000.0);
        }
    }
}

proptest! {
    #[test]
    fn re_encoding_a_decoded_signal_is_stable(pcm in proptest::collection::vec(any::<i16>(), 0..400)) {
        for law in [G711Law::Pcmu, G711Law::Pcma] {
            let mut encoder = G711Encoder::new(law);
            let mut first = Vec::new();
            encoder.encode(&pcm, &mut first).unwrap();
            let mut decoded = Vec::new();
            G711Decoder::new(law).decode(&first, &mut decoded).unwrap();
            let mut second = Vec::new();
            encoder.encode(&decoded, &mut second).unwrap();
            prop_assert_eq!(first.len(), pcm.len());
            // Equal except µ-law negative zero (0x7F) becoming 0xFF.
            for (a, b) in first.iter().zip(&second) {
                prop_assert!(a == b || (law == G711Law::Pcmu && *a == 0x7F && *b == 0xFF));
            }
        }
    }
}
