//! Runs speech through one codec path as the bridge chains it, for PESQ
//! (`tests/peers/tools/pesq_path.py` drives it), and times the encoder
//! whose settings are under test.
//!
//! ```text
//! cargo run --release -p rtmp2sip-codecs --example pesq_chain -- \
//!     PATH QUALITY COMPLEXITY IN.raw OUT.raw
//! ```
//!
//! `IN.raw`: 16-bit little-endian mono PCM at 16000 Hz. `OUT.raw`: the same
//! format at the path's output rate. `QUALITY` is Speex quality 0..=10
//! (ignored by Opus); `COMPLEXITY` is Speex 1..=10 or Opus 0..=10. Paths:
//!
//! | PATH | chain | out Hz |
//! |---|---|---|
//! | `speex-wb` | Speex WB encode (QUALITY, COMPLEXITY) -> decode | 16000 |
//! | `pcmu-speex` | 16k -> 8k -> PCMU -> 8k -> 16k -> Speex WB (QUALITY, COMPLEXITY) -> decode: the transcoded call toward the RTMP client | 16000 |
//! | `pcmu-speex-nb` | 16k -> 8k -> PCMU -> 8k -> Speex NB (QUALITY, COMPLEXITY) -> Speex WB decode (a wideband decoder plays a narrowband frame as its low band, high band empty): the same call with narrowband frames toward the client | 16000 |
//! | `speex-nb` | 16k -> 8k -> Speex NB (QUALITY, COMPLEXITY) -> decode (speex/8000 toward SIP) | 8000 |
//! | `speex-pcmu` | Speex WB (QUALITY, COMPLEXITY: the client's encoder) -> WB decode -> 16k -> 8k -> PCMU -> decode: the transcoded call toward a PCMU far end | 8000 |
//! | `speex-pcmu-nbdec` | Speex WB (QUALITY, COMPLEXITY) -> Speex NB decode (the embedded narrowband part, high band skipped) -> PCMU -> decode: the same with a narrowband decoder | 8000 |
//! | `opus` | 16k -> 48k -> Opus (COMPLEXITY, 32 kbit/s, FEC, as SIP opus) -> decode -> 16k | 16000 |
//!
//! Prints one JSON object: `{"path": .., "quality": .., "complexity": ..,
//! "frames": .., "enc_us": ..}`, `enc_us` being the encoder's cost per 20 ms
//! frame in µs of this thread's CPU time (the least of three passes; build
//! in release).

use std::time::Duration;

use rtmp2sip_codecs::{
    AudioDecoder, AudioEncoder, G711Decoder, G711Encoder, G711Law, OpusDecoder, OpusEncoder,
    OpusEncoderConfig, Resampler, SpeexDecoder, SpeexEncoder, SpeexEncoderConfig, SpeexMode,
};

type Error = Box<dyn std::error::Error>;

/// Passes over the input; the cheapest gives `enc_us`.
const PASSES: usize = 3;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, quality, complexity, input, output] = args.as_slice() else {
        return Err("usage: pesq_chain PATH QUALITY COMPLEXITY IN.raw OUT.raw".into());
    };
    let quality: u8 = quality.parse()?;
    let complexity: u8 = complexity.parse()?;
    let pcm = read_raw(input)?;
    let mut best = Duration::MAX;
    let mut result = (Vec::new(), 0);
    for _ in 0..PASSES {
        let (out, frames, spent) = run(path, quality, complexity, &pcm)?;
        best = best.min(spent);
        result = (out, frames);
    }
    let (out, frames) = result;
    std::fs::write(
        output,
        out.iter()
            .flat_map(|s| s.to_le_bytes())
            .collect::<Vec<u8>>(),
    )?;
    let enc_us = best.as_secs_f64() * 1e6 / frames.max(1) as f64;
    println!(
        "{{\"path\": \"{path}\", \"quality\": {quality}, \"complexity\": {complexity}, \"frames\": {frames}, \"enc_us\": {enc_us:.2}}}"
    );
    Ok(())
}

fn read_raw(path: &str) -> Result<Vec<i16>, Error> {
    let bytes = std::fs::read(path)?;
    Ok(bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect())
}

/// One pass: (output PCM, frames encoded, time in the timed encoder).
fn run(
    path: &str,
    quality: u8,
    complexity: u8,
    pcm: &[i16],
) -> Result<(Vec<i16>, usize, Duration), Error> {
    let speex = |mode| {
        SpeexEncoder::new(SpeexEncoderConfig {
            mode,
            quality,
            complexity,
            ..SpeexEncoderConfig::wideband()
        })
    };
    Ok(match path {
        "speex-wb" => {
            let mut enc = speex(SpeexMode::Wideband)?;
            let mut dec = SpeexDecoder::new(SpeexMode::Wideband)?;
            through(&mut enc, &mut dec, pcm)?
        }
        "pcmu-speex" => {
            let narrow = resample(16000, 8000, pcm)?;
            let mut g711 = G711Encoder::new(G711Law::Pcmu);
            let mut g711_dec = G711Decoder::new(G711Law::Pcmu);
            let (far, _, _) = through(&mut g711, &mut g711_dec, &narrow)?;
            let wide = resample(8000, 16000, &far)?;
            let mut enc = speex(SpeexMode::Wideband)?;
            let mut dec = SpeexDecoder::new(SpeexMode::Wideband)?;
            through(&mut enc, &mut dec, &wide)?
        }
        "pcmu-speex-nb" => {
            let narrow = resample(16000, 8000, pcm)?;
            let mut g711 = G711Encoder::new(G711Law::Pcmu);
            let mut g711_dec = G711Decoder::new(G711Law::Pcmu);
            let (far, _, _) = through(&mut g711, &mut g711_dec, &narrow)?;
            let mut enc = speex(SpeexMode::Narrowband)?;
            let mut dec = SpeexDecoder::new(SpeexMode::Wideband)?;
            through(&mut enc, &mut dec, &far)?
        }
        "speex-nb" => {
            let narrow = resample(16000, 8000, pcm)?;
            let mut enc = speex(SpeexMode::Narrowband)?;
            let mut dec = SpeexDecoder::new(SpeexMode::Narrowband)?;
            through(&mut enc, &mut dec, &narrow)?
        }
        "speex-pcmu" | "speex-pcmu-nbdec" => {
            let mut enc = speex(SpeexMode::Wideband)?;
            let (narrow, frames, spent) = if path == "speex-pcmu" {
                let mut dec = SpeexDecoder::new(SpeexMode::Wideband)?;
                let (wide, frames, spent) = through(&mut enc, &mut dec, pcm)?;
                (resample(16000, 8000, &wide)?, frames, spent)
            } else {
                let mut dec = SpeexDecoder::new(SpeexMode::Narrowband)?;
                through(&mut enc, &mut dec, pcm)?
            };
            let mut g711 = G711Encoder::new(G711Law::Pcmu);
            let mut g711_dec = G711Decoder::new(G711Law::Pcmu);
            let (out, _, _) = through(&mut g711, &mut g711_dec, &narrow)?;
            (out, frames, spent)
        }
        "opus" => {
            let full = resample(16000, 48000, pcm)?;
            let mut enc = OpusEncoder::new(OpusEncoderConfig {
                sample_rate: 48000,
                complexity,
                bitrate: Some(32_000),
                fec: true,
                packet_loss_percent: 10,
            })?;
            let mut dec = OpusDecoder::new(48000)?;
            let (out, frames, spent) = through(&mut enc, &mut dec, &full)?;
            (resample(48000, 16000, &out)?, frames, spent)
        }
        other => return Err(format!("unknown path {other:?}").into()),
    })
}

/// Whole-stream resampling in 20 ms chunks.
fn resample(from: u32, to: u32, pcm: &[i16]) -> Result<Vec<i16>, Error> {
    let mut r = Resampler::voip(from, to)?;
    let mut out = Vec::with_capacity(pcm.len() * to as usize / from as usize + 16);
    for chunk in pcm.chunks(from as usize / 50) {
        r.process(chunk, &mut out);
    }
    Ok(out)
}

/// Encodes whole frames of `pcm` (the tail is dropped) and decodes each
/// payload; times the encoder only.
fn through(
    enc: &mut dyn AudioEncoder,
    dec: &mut dyn AudioDecoder,
    pcm: &[i16],
) -> Result<(Vec<i16>, usize, Duration), Error> {
    let frame = enc.frame_samples();
    let mut out = Vec::with_capacity(pcm.len());
    let mut payload = Vec::new();
    let mut spent = Duration::ZERO;
    let mut frames = 0;
    for chunk in pcm.chunks_exact(frame) {
        payload.clear();
        let start = cpu_now();
        enc.encode(chunk, &mut payload)?;
        spent += cpu_now().saturating_sub(start);
        dec.decode(&payload, &mut out)?;
        frames += 1;
    }
    Ok((out, frames, spent))
}

/// This thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so that time the
/// thread spends preempted by other load is not counted.
fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, exclusively borrowed timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}
