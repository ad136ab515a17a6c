//! Nellymoser against ffmpeg (libavcodec), an outside peer, at 8000, 16000
//! and 44100 Hz:
//!
//! 1. ffmpeg encodes a 1 kHz tone and a vowel-like signal to FLV; our
//!    decoder must match ffmpeg's own decode of the same blocks.
//! 2. Our encoder's FLV, decoded by ffmpeg, must keep the tone (against a
//!    fitted sine) and code the vowel about as well as ffmpeg's encoder.
//!
//! Uses `$FFMPEG` or `/usr/bin/ffmpeg`; skipped with a note when it is
//! missing, except under CI, where that fails (tests/common/ffmpeg.rs).

mod common;
#[path = "common/ffmpeg.rs"]
mod ffmpeg;
#[path = "common/flv.rs"]
mod flv;

use std::f64::consts::TAU;
use std::path::Path;

use common::{db, snr_db};
use ffmpeg::{read_s16le, run, write_s16le, Scratch};
use rtmp2sip_codecs::nellymoser::{NELLY_BLOCK_BYTES, NELLY_BLOCK_SAMPLES};
use rtmp2sip_codecs::{AudioDecoder, AudioEncoder, NellymoserDecoder, NellymoserEncoder};

const RATES: [u32; 3] = [8000, 16000, 44100];
/// Encoder delay (ours and libavcodec's): half a block.
const DELAY: usize = 128;
/// Length of the test signals.
const SECONDS: f64 = 1.0;

/// 1 kHz at -10 dBFS.
fn tone(rate: u32) -> Vec<i16> {
    common::sine(1000.0, rate, 10000.0, (SECONDS * f64::from(rate)) as usize)
}

/// A vowel-like signal: a glottal-ish harmonic series (f0 gliding 110 to
/// 160 Hz) shaped by three formants (700, 1200, 2600 Hz), syllables of
/// 250 ms.
fn vowel(rate: u32) -> Vec<i16> {
    let len = (SECONDS * f64::from(rate)) as usize;
    let formants = [(700.0, 130.0), (1200.0, 70.0), (2600.0, 160.0)];
    let mut phase = 0.0;
    (0..len)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let f0 = 110.0 + 50.0 * t / SECONDS;
            phase += TAU * f0 / f64::from(rate);
            let mut s = 0.0;
            let mut h = 1.0;
            while h * f0 < f64::from(rate) / 2.0 && h < 40.0 {
                let f = h * f0;
                let gain: f64 = formants
                    .iter()
                    .map(|&(fc, bw)| 1.0 / (1.0 + ((f - fc) / bw).powi(2)))
                    .sum();
                s += gain * (h * phase).sin() / h.sqrt();
                h += 1.0;
            }
            let syllable = (TAU * 2.0 * t).sin().abs().sqrt();
            (6000.0 * s * syllable).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// ffmpeg encodes each `(rate, pcm)` to Nellymoser in FLV, in one run;
/// returns the FLV files.
fn ffmpeg_encode(
    ffmpeg: &Path,
    dir: &Scratch,
    name: &str,
    inputs: &[(u32, Vec<i16>)],
) -> Vec<Vec<u8>> {
    let mut args: Vec<String> = Vec::new();
    for (i, (rate, pcm)) in inputs.iter().enumerate() {
        let raw = dir.path(&format!("{name}-{i}.raw"));
        write_s16le(&raw, pcm);
        let rate = rate.to_string();
        args.extend(["-f", "s16le", "-ar", &rate, "-ac", "1", "-i", &raw].map(String::from));
    }
    let outputs: Vec<String> = (0..inputs.len())
        .map(|i| dir.path(&format!("{name}-{i}.flv")))
        .collect();
    for (i, out) in outputs.iter().enumerate() {
        args.extend(["-map".to_string(), format!("{i}:a")]);
        args.extend(["-c:a", "nellymoser", "-f", "flv", out].map(String::from));
    }
    run(ffmpeg, &args.iter().map(String::as_str).collect::<Vec<_>>());
    outputs.iter().map(|o| std::fs::read(o).unwrap()).collect()
}

/// ffmpeg decodes FLV files to 16-bit PCM, in one run.
fn ffmpeg_decode(ffmpeg: &Path, dir: &Scratch, name: &str, files: &[&[u8]]) -> Vec<Vec<i16>> {
    let mut args: Vec<String> = Vec::new();
    for (i, flv) in files.iter().enumerate() {
        let path = dir.path(&format!("{name}-{i}.flv"));
        std::fs::write(&path, flv).unwrap();
        args.extend(["-i".to_string(), path]);
    }
    let outputs: Vec<String> = (0..files.len())
        .map(|i| dir.path(&format!("{name}-{i}.pcm")))
        .collect();
    for (i, out) in outputs.iter().enumerate() {
        args.extend(["-map".to_string(), format!("{i}:a")]);
        args.extend(["-f", "s16le", "-ac", "1", out].map(String::from));
    }
    run(ffmpeg, &args.iter().map(String::as_str).collect::<Vec<_>>());
    outputs.iter().map(|o| read_s16le(o)).collect()
}

/// The Nellymoser blocks of an FLV file, with the FLV sound format.
fn nelly_blocks(flv: &[u8]) -> (u8, Vec<u8>) {
    let tags = flv::read_audio_tags(flv);
    assert!(!tags.is_empty());
    let format = tags[0].sound_header >> 4;
    let blocks: Vec<u8> = tags
        .iter()
        .flat_map(|t| t.payload.iter().copied())
        .collect();
    assert_eq!(blocks.len() % NELLY_BLOCK_BYTES, 0);
    (format, blocks)
}

fn our_decode(rate: u32, blocks: &[u8]) -> Vec<i16> {
    let mut decoder = NellymoserDecoder::new(rate).unwrap();
    let mut out = Vec::new();
    decoder.decode(blocks, &mut out).unwrap();
    out
}

fn our_encode(rate: u32, pcm: &[i16]) -> Vec<Vec<u8>> {
    let mut encoder = NellymoserEncoder::new(rate).unwrap();
    let mut padded = pcm.to_vec();
    padded.resize(
        pcm.len().div_ceil(NELLY_BLOCK_SAMPLES) * NELLY_BLOCK_SAMPLES + NELLY_BLOCK_SAMPLES,
        0,
    );
    padded
        .chunks_exact(NELLY_BLOCK_SAMPLES)
        .map(|frame| {
            let mut block = Vec::new();
            encoder.encode(frame, &mut block).unwrap();
            assert_eq!(block.len(), NELLY_BLOCK_BYTES);
            block
        })
        .collect()
}

/// FLV sound header for Nellymoser, mono 16-bit: format 5 at 8 kHz,
/// format 4 at 16 kHz, else format 6 with the rate bits (3 = 44 kHz).
fn sound_header(rate: u32) -> u8 {
    let (format, rate_bits) = match rate {
        8000 => (5, 0),
        16000 => (4, 0),
        11025 => (6, 1),
        22050 => (6, 2),
        _ => (6, 3),
    };
    format << 4 | rate_bits << 2 | 1 << 1
}

/// SNR in dB of `pcm` against the least-squares fit of a sine at `hz`
/// (with DC), and the fitted amplitude.
fn fitted_sine_snr(pcm: &[i16], hz: f64, rate: u32) -> (f64, f64) {
    let w = TAU * hz / f64::from(rate);
    // Normal equations of [sin, cos, 1].
    let mut ata = [[0.0f64; 3]; 3];
    let mut atb = [0.0f64; 3];
    for (i, &s) in pcm.iter().enumerate() {
        let row = [(w * i as f64).sin(), (w * i as f64).cos(), 1.0];
        for r in 0..3 {
            for c in 0..3 {
                ata[r][c] += row[r] * row[c];
            }
            atb[r] += row[r] * f64::from(s);
        }
    }
    let x = solve3(ata, atb);
    let (mut signal, mut noise) = (0.0, 0.0);
    for (i, &s) in pcm.iter().enumerate() {
        let fit = x[0] * (w * i as f64).sin() + x[1] * (w * i as f64).cos() + x[2];
        signal += fit * fit;
        noise += (f64::from(s) - fit).powi(2);
    }
    (db(signal / noise.max(1e-9)), x[0].hypot(x[1]))
}

fn solve3(mut a: [[f64; 3]; 3], mut b: [f64; 3]) -> [f64; 3] {
    for col in 0..3 {
        let pivot = (col..3)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap();
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col];
        for row in col + 1..3 {
            let f = a[row][col] / pivot_row[col];
            for (x, p) in a[row].iter_mut().zip(&pivot_row).skip(col) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; 3];
    for row in (0..3).rev() {
        let rest: f64 = (row + 1..3).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - rest) / a[row][row];
    }
    x
}

/// Mean distance in dB between the band energies (1/3-octave bands from
/// 100 Hz to 5 kHz, 20 ms frames) of two signals, frames with signal only.
fn spectral_distance_db(reference: &[i16], output: &[i16], rate: u32) -> f64 {
    let frame = rate as usize / 50;
    let mut edges = vec![100.0f64];
    let top = (f64::from(rate) / 2.0).min(5000.0);
    while edges.last().unwrap() * 1.26 < top {
        let next = edges.last().unwrap() * 1.26;
        edges.push(next);
    }
    let band_energy = |x: &[i16], lo: f64, hi: f64| -> f64 {
        let mut e = 0.0;
        let mut f = lo;
        while f < hi {
            e += common::goertzel(x, f, rate);
            f += 50.0;
        }
        e + 1e-3
    };
    let (mut total, mut count) = (0.0, 0);
    for (r, o) in reference
        .chunks_exact(frame)
        .zip(output.chunks_exact(frame))
    {
        if common::energy(r) < 1e4 {
            continue;
        }
        for pair in edges.windows(2) {
            let er = band_energy(r, pair[0], pair[1]);
            if er < 1.0 {
                continue;
            }
            total += (db(er) - db(band_energy(o, pair[0], pair[1]))).abs();
            count += 1;
        }
    }
    total / f64::from(count.max(1))
}

/// The test signal of one rate: the tone, 50 ms of silence, the vowel.
fn signal(rate: u32) -> Vec<i16> {
    let mut pcm = tone(rate);
    pcm.resize(pcm.len() + rate as usize / 20, 0);
    pcm.extend(vowel(rate));
    pcm
}

#[test]
fn our_decoder_matches_ffmpeg_on_ffmpeg_streams() {
    let Some(ffmpeg) = ffmpeg::ffmpeg() else {
        return;
    };
    let dir = Scratch::new("nelly-decode");
    let inputs: Vec<(u32, Vec<i16>)> = RATES.iter().map(|&r| (r, signal(r))).collect();
    let files = ffmpeg_encode(&ffmpeg, &dir, "ffmpeg", &inputs);
    let references = ffmpeg_decode(
        &ffmpeg,
        &dir,
        "copy",
        &files.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    );
    for ((rate, flv), theirs) in RATES.into_iter().zip(&files).zip(&references) {
        let (format, blocks) = nelly_blocks(flv);
        assert_eq!(format, sound_header(rate) >> 4, "{rate}: FLV sound format");
        let ours = our_decode(rate, &blocks);
        assert_eq!(ours.len(), theirs.len(), "{rate}: sample count");
        assert_eq!(
            ours.len(),
            blocks.len() / NELLY_BLOCK_BYTES * NELLY_BLOCK_SAMPLES
        );
        let vowel_start = tone(rate).len() + rate as usize / 20 + DELAY;
        for (name, range) in [("tone", 0..vowel_start), ("vowel", vowel_start..ours.len())] {
            let (ours, theirs) = (&ours[range.clone()], &theirs[range]);
            let snr = snr_db(theirs, ours);
            let max_diff = ours
                .iter()
                .zip(theirs)
                .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
                .max()
                .unwrap_or(0);
            eprintln!(
                "{name} at {rate} Hz, ffmpeg-encoded: our decode vs libavcodec's: SNR {snr:.1} dB, \
                 largest sample difference {max_diff}"
            );
            assert!(snr >= 30.0, "{name} at {rate}: {snr:.1} dB");
        }
    }
}

#[test]
fn ffmpeg_decodes_our_stream_as_well_as_its_own() {
    let Some(ffmpeg) = ffmpeg::ffmpeg() else {
        return;
    };
    let dir = Scratch::new("nelly-encode");
    let inputs: Vec<(u32, Vec<i16>)> = RATES.iter().map(|&r| (r, signal(r))).collect();
    let theirs_flv = ffmpeg_encode(&ffmpeg, &dir, "ffmpeg", &inputs);
    let ours_flv: Vec<Vec<u8>> = inputs
        .iter()
        .map(|(rate, pcm)| {
            let ms = NELLY_BLOCK_SAMPLES as f64 * 1000.0 / f64::from(*rate);
            flv::write_audio_flv(sound_header(*rate), &our_encode(*rate, pcm), ms)
        })
        .collect();
    let all: Vec<&[u8]> = ours_flv
        .iter()
        .chain(&theirs_flv)
        .map(Vec::as_slice)
        .collect();
    let decoded = ffmpeg_decode(&ffmpeg, &dir, "decode", &all);
    let (ours, theirs) = decoded.split_at(RATES.len());
    for (i, rate) in RATES.into_iter().enumerate() {
        let pcm = &inputs[i].1;
        let tone_len = tone(rate).len();
        let vowel_start = tone_len + rate as usize / 20;
        let blocks = pcm.len().div_ceil(NELLY_BLOCK_SAMPLES) + 1;
        assert_eq!(ours[i].len(), blocks * NELLY_BLOCK_SAMPLES);
        // Tone: skip the first block, stop at its end.
        let steady = &ours[i][DELAY + NELLY_BLOCK_SAMPLES..DELAY + tone_len];
        let (snr, amplitude) = fitted_sine_snr(steady, 1000.0, rate);
        let aligned = snr_db(&pcm[NELLY_BLOCK_SAMPLES..tone_len], steady);
        let theirs_steady = &theirs[i][DELAY + NELLY_BLOCK_SAMPLES..DELAY + tone_len];
        let (snr_theirs, _) = fitted_sine_snr(theirs_steady, 1000.0, rate);
        eprintln!(
            "tone at {rate} Hz, libavcodec's decode: our encode {snr:.1} dB against a fitted sine \
             (amplitude {amplitude:.0} of 10000), {aligned:.1} dB against the input; \
             libavcodec's encode {snr_theirs:.1} dB against a fitted sine"
        );
        assert!(snr >= 20.0, "tone at {rate}: {snr:.1} dB");
        assert!(
            db(amplitude / 10000.0).abs() < 2.0,
            "{rate}: amplitude {amplitude:.0}"
        );
        // Vowel: ours against libavcodec's encoder, both decoded by libavcodec.
        let reference = &pcm[vowel_start..];
        let out = |x: &[i16]| x[DELAY + vowel_start..DELAY + pcm.len()].to_vec();
        let (ours_v, theirs_v) = (out(&ours[i]), out(&theirs[i]));
        let snr_ours = snr_db(reference, &ours_v);
        let snr_theirs = snr_db(reference, &theirs_v);
        let sd_ours = spectral_distance_db(reference, &ours_v, rate);
        let sd_theirs = spectral_distance_db(reference, &theirs_v, rate);
        eprintln!(
            "vowel at {rate} Hz, libavcodec's decode: our encode SNR {snr_ours:.1} dB, spectral \
             distance {sd_ours:.2} dB; libavcodec's encode SNR {snr_theirs:.1} dB, spectral distance \
             {sd_theirs:.2} dB"
        );
        assert!(
            snr_ours >= snr_theirs - 2.0,
            "{rate}: SNR {snr_ours:.1} vs {snr_theirs:.1}"
        );
        assert!(
            sd_ours <= sd_theirs + 1.0,
            "{rate}: distance {sd_ours:.2} vs {sd_theirs:.2}"
        );
    }
}
