//! Fuzz the Speex decoder, frame counter and header check with arbitrary
//! payloads: no panic, output bounded by the frame limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmp2sip_codecs::speex::MAX_FRAMES_PER_PAYLOAD;
use rtmp2sip_codecs::{is_speex_header_packet, speex_frame_count, SpeexDecoder, SpeexMode};

fuzz_target!(|data: &[u8]| {
    for mode in [SpeexMode::Wideband, SpeexMode::Narrowband] {
        let Ok(mut decoder) = SpeexDecoder::new(mode) else {
            return;
        };
        let mut out = Vec::new();
        if let Ok(frames) = decoder.decode_frames(data, &mut out) {
            assert!(frames <= MAX_FRAMES_PER_PAYLOAD);
            assert_eq!(out.len(), frames * mode.frame_samples());
        }
        assert!(speex_frame_count(data, mode) <= MAX_FRAMES_PER_PAYLOAD);
    }
    let _ = is_speex_header_packet(data);
});
