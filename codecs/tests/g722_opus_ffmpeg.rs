//! G.722 and Opus against ffmpeg (an independent implementation): each side
//! encodes a 1 kHz tone that the other decodes. Opus travels in Ogg
//! (RFC 7845) through the minimal muxer/demuxer of `common/ogg.rs`.

mod common;
#[path = "common/ffmpeg.rs"]
mod ffmpeg;
#[path = "common/ogg.rs"]
mod ogg;
#[path = "common/tone_fit.rs"]
mod tone_fit;

use common::{sine, snr_db};
use ffmpeg::{read_s16le, run, write_s16le, Scratch};
use rtmp2sip_codecs::{
    AudioDecoder, AudioEncoder, G722Decoder, G722Encoder, OpusDecoder, OpusEncoder,
    OpusEncoderConfig,
};
use tone_fit::fit_tone;

/// Two seconds of a 1 kHz tone at `rate`, amplitude 10000.
fn tone(rate: u32) -> Vec<i16> {
    sine(1000.0, rate, 10000.0, rate as usize * 2)
}

/// SNR (dB) of the fitted 1 kHz tone over `pcm[skip..]`, and its amplitude.
fn tone_quality(pcm: &[i16], rate: u32, skip: usize) -> (f64, f64) {
    let fit = fit_tone(&pcm[skip..], 1000.0, rate);
    (fit.snr_db, fit.amplitude)
}

#[test]
fn ogg_crc_and_round_trip() {
    // CRC-32/POSIX without its final inversion.
    assert_eq!(ogg::ogg_crc(b"123456789"), !0x765E_7680);
    let packets: Vec<Vec<u8>> = (0..120u16)
        .map(|i| vec![i as u8; usize::from(i) * 7])
        .collect();
    let file = ogg::mux_ogg_opus(&packets, 960, 312, 48000);
    let back = ogg::demux_ogg(&file);
    assert_eq!(ogg::opus_pre_skip(&back[0]), 312);
    assert!(back[1].starts_with(b"OpusTags"));
    assert_eq!(&back[2..], &packets[..]);
}

#[test]
fn g722_from_ffmpeg_decodes_like_ffmpeg() {
    let Some(ffmpeg) = ffmpeg::ffmpeg() else {
        return;
    };
    let dir = Scratch::new("g722-in");
    let (raw, coded, reference) = (dir.path("in.raw"), dir.path("in.g722"), dir.path("ref.raw"));
    write_s16le(&raw, &tone(16000));
    let pcm_in = ["-f", "s16le", "-ar", "16000", "-ac", "1", "-i"];
    run(
        &ffmpeg,
        &[&pcm_in[..], &[&raw, "-c:a", "g722", "-f", "g722", &coded]].concat(),
    );
    run(
        &ffmpeg,
        &[
            "-f", "g722", "-i", &coded, "-f", "s16le", "-ac", "1", &reference,
        ],
    );
    let bytes = std::fs::read(&coded).unwrap();
    let theirs = read_s16le(&reference);
    let mut decoder = G722Decoder::new().unwrap();
    let mut ours = Vec::new();
    for payload in bytes.chunks(160) {
        decoder.decode(payload, &mut ours).unwrap();
    }
    assert_eq!(ours.len(), bytes.len() * 2);
    assert_eq!(ours.len(), theirs.len());
    let agreement = snr_db(&theirs, &ours);
    let (snr, amplitude) = tone_quality(&ours, 16000, 1600);
    eprintln!("G.722 ffmpeg -> us: {agreement:.1} dB vs ffmpeg's decode, tone {snr:.1} dB");
    assert!(agreement >= 40.0, "{agreement:.1} dB");
    assert!(snr >= 35.0, "{snr:.1} dB");
    assert!((amplitude / 10000.0 - 1.0).abs() < 0.1, "{amplitude}");
}

#[test]
fn g722_from_us_decodes_in_ffmpeg() {
    let Some(ffmpeg) = ffmpeg::ffmpeg() else {
        return;
    };
    let dir = Scratch::new("g722-out");
    let (coded, decoded) = (dir.path("out.g722"), dir.path("out.raw"));
    let pcm = tone(16000);
    let mut encoder = G722Encoder::new().unwrap();
    let mut bytes = Vec::new();
    for frame in pcm.chunks(encoder.frame_samples()) {
        encoder.encode(frame, &mut bytes).unwrap();
    }
    assert_eq!(bytes.len(), pcm.len() / 2);
    std::fs::write(&coded, &bytes).unwrap();
    run(
        &ffmpeg,
        &[
            "-f", "g722", "-i", &coded, "-f", "s16le", "-ac", "1", &decoded,
        ],
    );
    let theirs = read_s16le(&decoded);
    assert_eq!(theirs.len(), pcm.len());
    let (snr, amplitude) = tone_quality(&theirs, 16000, 1600);
    eprintln!("G.722 us -> ffmpeg: tone {snr:.1} dB");
    assert!(snr >= 35.0, "{snr:.1} dB");
    assert!((amplitude / 10000.0 - 1.0).abs() < 0.1, "{amplitude}");
}

/// Encodes a tone at `rate` with our encoder into an Ogg Opus file, has
/// ffmpeg decode it at 48 kHz, and returns the tone SNR and the length.
fn opus_to_ffmpeg(rate: u32, bitrate: Option<u32>) -> (f64, usize) {
    let ffmpeg = ffmpeg::ffmpeg().expect("checked by the caller");
    let dir = Scratch::new(&format!("opus-out-{rate}"));
    let (file, decoded) = (dir.path("out.opus"), dir.path("out.raw"));
    let pcm = tone(rate);
    let mut encoder = OpusEncoder::new(OpusEncoderConfig {
        sample_rate: rate,
        bitrate,
        ..OpusEncoderConfig::default()
    })
    .unwrap();
    // RFC 7845 section 4.2: pre-skip is the encoder delay, in 48 kHz samples.
    let pre_skip = encoder.lookahead() * 48000 / rate as usize;
    let packets: Vec<Vec<u8>> = pcm
        .chunks_exact(encoder.frame_samples())
        .map(|frame| {
            let mut packet = Vec::new();
            encoder.encode(frame, &mut packet).unwrap();
            packet
        })
        .collect();
    let bytes = ogg::mux_ogg_opus(&packets, 960, pre_skip as u16, rate);
    std::fs::write(&file, bytes).unwrap();
    run(
        &ffmpeg,
        &[
            "-i", &file, "-f", "s16le", "-ar", "48000", "-ac", "1", &decoded,
        ],
    );
    let theirs = read_s16le(&decoded);
    (tone_quality(&theirs, 48000, 4800).0, theirs.len())
}

#[test]
fn opus_from_us_decodes_in_ffmpeg() {
    if ffmpeg::ffmpeg().is_none() {
        return;
    }
    let (snr, len) = opus_to_ffmpeg(48000, None);
    eprintln!("Opus 48 kHz us -> ffmpeg: tone {snr:.1} dB, {len} samples");
    assert!(snr >= 20.0, "{snr:.1} dB");
    // Two seconds less the pre-skip that ffmpeg trims (within a frame).
    assert!(len.abs_diff(96000 - 312) <= 960, "{len}");
    let (snr, len) = opus_to_ffmpeg(16000, Some(32000));
    eprintln!("Opus 16 kHz us -> ffmpeg: tone {snr:.1} dB, {len} samples");
    assert!(snr >= 15.0, "{snr:.1} dB");
    assert!(len.abs_diff(96000 - 312) <= 960, "{len}");
}

#[test]
fn opus_from_ffmpeg_decodes_in_us() {
    let Some(ffmpeg) = ffmpeg::ffmpeg() else {
        return;
    };
    let dir = Scratch::new("opus-in");
    let (raw, file, reference) = (dir.path("in.raw"), dir.path("in.ogg"), dir.path("ref.raw"));
    write_s16le(&raw, &tone(48000));
    let libopus = ffmpeg::has_encoder(&ffmpeg, "libopus");
    let codec: &[&str] = if libopus {
        &["-c:a", "libopus", "-b:a", "48k", "-application", "voip"]
    } else {
        &["-c:a", "opus", "-strict", "-2", "-b:a", "48k"]
    };
    let pcm_in = ["-f", "s16le", "-ar", "48000", "-ac", "1", "-i"];
    run(
        &ffmpeg,
        &[&pcm_in[..], &[&raw], codec, &["-f", "ogg", &file]].concat(),
    );
    // ffmpeg's own decode through libopus (its native decoder resamples
    // SILK frames differently), as the reference.
    let decoder: &[&str] = if libopus { &["-c:a", "libopus"] } else { &[] };
    let pcm_out = ["-f", "s16le", "-ar", "48000", "-ac", "1"];
    run(
        &ffmpeg,
        &[decoder, &["-i", &file], &pcm_out[..], &[&reference]].concat(),
    );
    let theirs = read_s16le(&reference);
    assert_eq!(theirs.len(), 96000);

    let packets = ogg::demux_ogg(&std::fs::read(&file).unwrap());
    let pre_skip = ogg::opus_pre_skip(&packets[0]);
    assert!(packets[1].starts_with(b"OpusTags"));
    for rate in [48000, 16000] {
        let mut decoder = OpusDecoder::new(rate).unwrap();
        let mut ours = Vec::new();
        for packet in &packets[2..] {
            decoder.decode(packet, &mut ours).unwrap();
        }
        // Whole 20 ms packets covering two seconds plus the pre-skip.
        let frames = ours.len() / (rate as usize / 50);
        assert!((100..=102).contains(&frames), "{rate} Hz: {frames} frames");
        // Drop the pre-skip and the padding after the two seconds of tone,
        // as ffmpeg does by the granule positions.
        let skip = pre_skip * rate as usize / 48000;
        let ours = &ours[skip..skip + 2 * rate as usize];
        if rate == 48000 && libopus {
            let agreement = snr_db(&theirs, ours);
            eprintln!("Opus ffmpeg -> us: {agreement:.1} dB vs ffmpeg's libopus decode");
            assert!(agreement >= 60.0, "{agreement:.1} dB");
        }
        // libopus starts this tone in SILK and moves to CELT at about
        // 0.4 s; measure the steady part.
        let (snr, amplitude) = tone_quality(ours, rate, rate as usize / 2);
        eprintln!("Opus ffmpeg -> us at {rate} Hz: tone {snr:.1} dB");
        assert!(snr >= 20.0, "{rate} Hz: {snr:.1} dB");
        assert!(
            (amplitude / 10000.0 - 1.0).abs() < 0.1,
            "{rate} Hz: {amplitude}"
        );
    }
}
