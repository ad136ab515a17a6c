//! Parses arbitrary bytes as an Enhanced RTMP v2 audio body (first nibble
//! forced to 9, the ExHeader) and classifies them the way the bridge does.
//! Checks: no panic; a CodedFrames payload is a suffix of the input; a
//! parsed OpusHead, and a CodedFrames/SequenceEnd written back, parse to
//! the same value.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rtmp2sip::flv::ex_audio::{
    write_opus_coded_frames, write_opus_sequence_end, write_opus_sequence_start,
};
use rtmp2sip::flv::{parse_ex_audio, ExAudio};

fuzz_target!(|data: &[u8]| {
    let mut body = data.to_vec();
    if let Some(b) = body.first_mut() {
        *b = 0x90 | (*b & 0x0F);
    }
    let mut out = BytesMut::new();
    match parse_ex_audio(&body) {
        Ok(ExAudio::SequenceStart(head)) => {
            write_opus_sequence_start(&head, &mut out);
            assert_eq!(parse_ex_audio(&out), Ok(ExAudio::SequenceStart(head)));
        }
        Ok(ExAudio::CodedFrames(packet)) => {
            assert!(body.ends_with(packet));
            write_opus_coded_frames(packet, &mut out);
            assert_eq!(parse_ex_audio(&out), Ok(ExAudio::CodedFrames(packet)));
        }
        Ok(ExAudio::SequenceEnd) => {
            write_opus_sequence_end(&mut out);
            assert_eq!(parse_ex_audio(&out), Ok(ExAudio::SequenceEnd));
        }
        Err(_) => {}
    }
});
