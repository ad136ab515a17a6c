//! The Speex decoder, frame counter and header check never panic on
//! arbitrary bytes, and their outputs stay within their bounds.

use proptest::prelude::*;
use rtmp2sip_codecs::speex::MAX_FRAMES_PER_PAYLOAD;
use rtmp2sip_codecs::{
    is_speex_header_packet, speex_frame_count, AudioDecoder, AudioEncoder, SpeexDecoder,
    SpeexEncoder, SpeexEncoderConfig, SpeexMode,
};

fn check(decoder: &mut SpeexDecoder, payload: &[u8]) -> Result<(), TestCaseError> {
    let mode = decoder.mode();
    let mut out = Vec::new();
    match decoder.decode_frames(payload, &mut out) {
        Ok(frames) => {
            prop_assert!(frames <= MAX_FRAMES_PER_PAYLOAD);
            prop_assert_eq!(out.len(), frames * mode.frame_samples());
        }
        Err(_) => prop_assert!(out.is_empty()),
    }
    prop_assert!(speex_frame_count(payload, mode) <= MAX_FRAMES_PER_PAYLOAD);
    let _ = is_speex_header_packet(payload);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..600)) {
        for mode in [SpeexMode::Wideband, SpeexMode::Narrowband] {
            let mut decoder = SpeexDecoder::new(mode).unwrap();
            check(&mut decoder, &payload)?;
            // The state after garbage still decodes and conceals.
            check(&mut decoder, &payload)?;
            let mut out = Vec::new();
            decoder.conceal(mode.frame_samples(), &mut out);
            prop_assert_eq!(out.len(), mode.frame_samples());
        }
    }

    #[test]
    fn corrupted_real_packets_never_panic(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut encoder = SpeexEncoder::new(SpeexEncoderConfig::wideband()).unwrap();
        let pcm: Vec<i16> = (0..640).map(|i| ((i * 37 % 200) as i16 - 100) * 50).collect();
        let mut payload = Vec::new();
        encoder.encode_packet(&pcm, &mut payload).unwrap();
        for (at, value) in flips {
            let len = payload.len();
            if let Some(byte) = payload.get_mut(at % len) {
                *byte ^= value;
            }
        }
        payload.truncate(cut % (payload.len() + 1));
        let mut decoder = SpeexDecoder::new(SpeexMode::Wideband).unwrap();
        check(&mut decoder, &payload)?;
    }
}

#[test]
fn a_real_packet_still_decodes_after_garbage() {
    let mut encoder = SpeexEncoder::new(SpeexEncoderConfig::wideband()).unwrap();
    let mut payload = Vec::new();
    encoder.encode(&[100; 320], &mut payload).unwrap();
    let mut decoder = SpeexDecoder::new(SpeexMode::Wideband).unwrap();
    let mut out = Vec::new();
    let _ = decoder.decode(&[0xFF; 100], &mut out);
    out.clear();
    assert_eq!(decoder.decode_frames(&payload, &mut out), Ok(1));
    assert_eq!(out.len(), 320);
}
