//! Speex round trips of a 1 kHz tone. Speex is not waveform-exact, so the
//! checks are spectral: the tone must dominate and keep its level.

mod common;

use common::{db, dominant_frequency, energy, goertzel, sine};
use rtmp2sip_codecs::{
    speex_frame_count, AudioDecoder, AudioEncoder, SpeexDecoder, SpeexEncoder, SpeexEncoderConfig,
    SpeexMode,
};

/// Encodes `pcm` in packets of `frames_per_packet` frames and decodes them.
fn round_trip(config: SpeexEncoderConfig, pcm: &[i16], frames_per_packet: usize) -> Vec<i16> {
    let mut encoder = SpeexEncoder::new(config).unwrap();
    let mut decoder = SpeexDecoder::new(config.mode).unwrap();
    let packet_len = encoder.frame_samples() * frames_per_packet;
    let mut out = Vec::new();
    for packet in pcm.chunks_exact(packet_len) {
        let mut payload = Vec::new();
        let frames = encoder.encode_packet(packet, &mut payload).unwrap();
        assert_eq!(frames, frames_per_packet);
        assert_eq!(speex_frame_count(&payload, config.mode), frames);
        let before = out.len();
        decoder.decode(&payload, &mut out).unwrap();
        assert_eq!(out.len() - before, packet_len);
    }
    out
}

/// `max_level_db`: largest level change allowed, in dB.
fn check_tone(config: SpeexEncoderConfig, frames_per_packet: usize, max_level_db: f64) {
    let rate = config.mode.sample_rate();
    let pcm = sine(1000.0, rate, 8000.0, rate as usize * 2);
    let out = round_trip(config, &pcm, frames_per_packet);
    assert_eq!(out.len(), pcm.len());
    // Skip the first 200 ms while the codec settles.
    let settled = &out[rate as usize / 5..];
    assert_eq!(
        dominant_frequency(settled, rate, 50.0),
        1000.0,
        "{config:?}"
    );
    let tone = goertzel(settled, 1000.0, rate);
    for other in [250.0, 500.0, 1500.0, 2000.0, 3000.0, 3500.0, 6000.0, 7000.0] {
        if other < f64::from(rate) / 2.0 {
            let ratio = db(tone / goertzel(settled, other, rate).max(1e-12));
            assert!(
                ratio >= 20.0,
                "{config:?}: 1 kHz vs {other} Hz: {ratio:.1} dB"
            );
        }
    }
    let level = db(energy(settled) / energy(&pcm[rate as usize / 5..]));
    assert!(
        level.abs() <= max_level_db,
        "{config:?}: level change {level:.1} dB"
    );
}

#[test]
fn wideband_tone_survives_one_frame_per_packet() {
    check_tone(SpeexEncoderConfig::wideband(), 1, 3.0);
}

#[test]
fn wideband_tone_survives_flash_packets_of_two_frames() {
    check_tone(SpeexEncoderConfig::wideband(), 2, 3.0);
}

#[test]
fn wideband_tone_survives_with_vad_and_dtx() {
    let config = SpeexEncoderConfig {
        vad: true,
        dtx: true,
        ..SpeexEncoderConfig::wideband()
    };
    // The VAD takes a steady tone for background noise and codes it at a
    // low rate: still a clean 1 kHz, but quieter.
    check_tone(config, 2, 12.0);
}

#[test]
fn narrowband_tone_survives() {
    check_tone(SpeexEncoderConfig::narrowband(), 1, 3.0);
}

#[test]
fn silence_with_dtx_gives_small_frames_and_stays_silent() {
    let config = SpeexEncoderConfig {
        vad: true,
        dtx: true,
        ..SpeexEncoderConfig::wideband()
    };
    let mut encoder = SpeexEncoder::new(config).unwrap();
    let mut decoder = SpeexDecoder::new(SpeexMode::Wideband).unwrap();
    let mut out = Vec::new();
    let mut last_len = 0;
    for _ in 0..50 {
        let mut payload = Vec::new();
        encoder.encode_packet(&[0; 640], &mut payload).unwrap();
        last_len = payload.len();
        assert_eq!(decoder.decode_frames(&payload, &mut out), Ok(2));
    }
    assert!(
        last_len <= 10,
        "DTX packet of two frames is {last_len} bytes"
    );
    assert!(energy(&out[16000..]) < 100.0);
}

#[test]
fn concealment_continues_the_tone_then_decays() {
    let config = SpeexEncoderConfig::wideband();
    let pcm = sine(1000.0, 16000, 8000.0, 16000);
    let mut encoder = SpeexEncoder::new(config).unwrap();
    let mut decoder = SpeexDecoder::new(SpeexMode::Wideband).unwrap();
    let mut out = Vec::new();
    for frame in pcm.chunks_exact(320) {
        let mut payload = Vec::new();
        encoder.encode(frame, &mut payload).unwrap();
        out.clear();
        decoder.decode(&payload, &mut out).unwrap();
    }
    let mut concealed = Vec::new();
    decoder.conceal(320, &mut concealed);
    assert_eq!(concealed.len(), 320);
    assert_eq!(dominant_frequency(&concealed, 16000, 50.0), 1000.0);
    // A long loss fades towards silence.
    let mut long = Vec::new();
    decoder.conceal(320 * 50, &mut long);
    assert!(energy(&long[320 * 45..]) < energy(&concealed) / 100.0);
}
