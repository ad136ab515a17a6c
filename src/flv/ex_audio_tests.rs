use super::*;
use proptest::prelude::*;

/// A family-0 mono OpusHead: pre-skip 312, 48 kHz, gain 0.
const HEAD: [u8; 19] = [
    b'O', b'p', b'u', b's', b'H', b'e', b'a', b'd', 1, 1, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0,
];

fn with(prefix: &[u8], body: &[u8]) -> Vec<u8> {
    [prefix, body].concat()
}

#[test]
fn sequence_start_carries_opus_head() {
    let msg = with(&[0x90, b'O', b'p', b'u', b's'], &HEAD);
    let head = OpusHead {
        channels: 1,
        pre_skip: 312,
        input_rate_hz: 48_000,
        output_gain: 0,
    };
    assert_eq!(parse_ex_audio(&msg), Ok(ExAudio::SequenceStart(head)));
    let mut out = BytesMut::new();
    write_opus_sequence_start(&head, &mut out);
    assert_eq!(&out[..], &msg[..]);
    assert!(is_ex_audio(&msg));
}

#[test]
fn coded_frames_and_sequence_end() {
    let msg = [0x91, b'O', b'p', b'u', b's', 0x78, 1, 2, 3];
    assert_eq!(
        parse_ex_audio(&msg),
        Ok(ExAudio::CodedFrames(&[0x78, 1, 2, 3]))
    );
    let mut out = BytesMut::new();
    write_opus_coded_frames(&[0x78, 1, 2, 3], &mut out);
    assert_eq!(&out[..], &msg[..]);
    let end = [0x92, b'O', b'p', b'u', b's'];
    assert_eq!(parse_ex_audio(&end), Ok(ExAudio::SequenceEnd));
    out.clear();
    write_opus_sequence_end(&mut out);
    assert_eq!(&out[..], &end[..]);
}

#[test]
fn multitrack_one_track_zero() {
    let msg = [0x95, 0x01, b'O', b'p', b'u', b's', 0, 0xFC, 9];
    assert_eq!(parse_ex_audio(&msg), Ok(ExAudio::CodedFrames(&[0xFC, 9])));
    let start = with(&[0x95, 0x00, b'O', b'p', b'u', b's', 0], &HEAD);
    assert!(matches!(
        parse_ex_audio(&start),
        Ok(ExAudio::SequenceStart(_))
    ));
    let track1 = [0x95, 0x01, b'O', b'p', b'u', b's', 1, 0xFC];
    assert_eq!(parse_ex_audio(&track1), Err(FlvError::UnsupportedTrack(1)));
    let many = [0x95, 0x11, b'O', b'p', b'u', b's', 0, 0, 0, 1, 0xFC];
    assert_eq!(
        parse_ex_audio(&many),
        Err(FlvError::UnsupportedMultitrack(1))
    );
    let nested = [0x95, 0x05, b'O', b'p', b'u', b's', 0];
    assert_eq!(
        parse_ex_audio(&nested),
        Err(FlvError::UnsupportedPacketType(5))
    );
}

#[test]
fn mod_ex_is_skipped() {
    // ModEx, 3 bytes of TimestampOffsetNano, then type 0 << 4 | CodedFrames.
    let msg = [0x97, 2, 0, 0, 7, 0x01, b'O', b'p', b'u', b's', 0xF8];
    assert_eq!(parse_ex_audio(&msg), Ok(ExAudio::CodedFrames(&[0xF8])));
    // Size byte 0xFF: the size - 1 follows as u16 BE (here 300 bytes).
    let mut long = vec![0x97, 0xFF, 0x01, 0x2B];
    long.extend_from_slice(&[0; 300]);
    long.extend_from_slice(&[0x01, b'O', b'p', b'u', b's', 0xF8]);
    assert_eq!(parse_ex_audio(&long), Ok(ExAudio::CodedFrames(&[0xF8])));
    let short = [0x97, 5, 0, 0];
    assert_eq!(parse_ex_audio(&short), Err(FlvError::Truncated));
    let endless = [0x97, 0, 0, 7, 0, 0, 7, 0, 0, 7, 0, 0, 7, 0, 0, 7];
    assert_eq!(
        parse_ex_audio(&endless),
        Err(FlvError::UnsupportedPacketType(7))
    );
}

#[test]
fn other_codecs_and_types_are_refused() {
    let aac = [0x91, b'm', b'p', b'4', b'a', 1];
    assert_eq!(
        parse_ex_audio(&aac),
        Err(FlvError::UnsupportedFourCc(FourCc(*b"mp4a")))
    );
    assert!(FlvError::UnsupportedFourCc(FourCc(*b"mp4a"))
        .to_string()
        .contains("mp4a"));
    let multichannel = [0x94, b'O', b'p', b'u', b's', 0, 1];
    assert_eq!(
        parse_ex_audio(&multichannel),
        Err(FlvError::UnsupportedPacketType(4))
    );
    assert_eq!(parse_ex_audio(&[0x91, b'O']), Err(FlvError::Truncated));
    assert_eq!(parse_ex_audio(&[0xB2, 1]), Err(FlvError::NotExHeader(11)));
    assert_eq!(parse_ex_audio(&[]), Err(FlvError::Empty));
    assert_eq!(
        format!("{:?}", FourCc([0, 1, 2, 3])),
        "FourCc([00, 01, 02, 03])"
    );
}

#[test]
fn bad_opus_heads() {
    let mut head = HEAD;
    head[9] = 3;
    assert!(OpusHead::parse(&head).is_err(), "3 channels");
    head = HEAD;
    head[18] = 1;
    assert!(OpusHead::parse(&head).is_err(), "family 1");
    head = HEAD;
    head[0] = b'X';
    assert!(OpusHead::parse(&head).is_err());
    head = HEAD;
    head[8] = 0x10;
    assert!(OpusHead::parse(&head).is_err(), "major version 1");
    assert!(OpusHead::parse(&HEAD[..18]).is_err());
    let mut out = BytesMut::new();
    OpusHead::mono(312).write(&mut out);
    assert_eq!(&out[..], &HEAD[..]);
}

proptest! {
    #[test]
    fn parse_never_panics(data in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut data = data;
        if let Some(b) = data.first_mut() {
            *b = 0x90 | (*b & 0x0F);
        }
        if let Ok(ExAudio::CodedFrames(p)) = parse_ex_audio(&data) {
            prop_assert!(data.ends_with(p));
        }
    }
}
