//! Parses arbitrary bytes as an FLV audio tag body. Checks: no panic, and
//! a parsed body re-encodes to the same bytes.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rtmp2sip::flv::parse_audio_data;

fuzz_target!(|data: &[u8]| {
    if let Ok(audio) = parse_audio_data(data) {
        let mut out = BytesMut::new();
        audio
            .header
            .encode(audio.aac_packet_type, audio.payload, &mut out);
        assert_eq!(&out[..], data);
    }
});
