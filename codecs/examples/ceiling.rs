//! The C ceiling: what the codec libraries cost per 20 ms frame on this
//! machine, timed directly (no bridge, no runtime), so load figures can be
//! read as a ratio to what a core could do.
//!
//! ```text
//! cargo run --release -p rtmp2sip-codecs --example ceiling -- --json
//! cargo run --release -p rtmp2sip-codecs --example ceiling -- --speex-complexity-narrowband 3
//! ```
//!
//! The transcoded pair (Speex WB <-> PCMU) is timed as the gateway runs it
//! by default (`speex_mode_narrowband = "narrowband"`: no resampler):
//! toward the client, PCMU decode and a Speex *narrowband* encode at
//! `[media] speex_quality_narrowband` and `speex_complexity_narrowband`;
//! toward SIP, a Speex narrowband decoder playing the client's wideband
//! frames' narrowband part, and PCMU encode. Beside it: the pair with wideband frames toward the client
//! (`speex_mode_narrowband = "wideband"`: resample 8k->16k and a WB encode
//! at the narrowband complexity) and with the WB encoder at `[media]
//! speex_complexity` (what a G.722, Opus or speex/16000 far end gets).
//! `--speex-complexity-narrowband N`, `--speex-quality-narrowband N` and
//! `--speex-complexity N` time other values.
//!
//! Without `--json` it prints one `name value` line per figure. With
//! `--json` it prints one JSON object whose fields (`scripts/bench-load.sh`
//! reads them; keep the names) are, in µs per 20 ms frame unless noted:
//!
//! | field | what |
//! |---|---|
//! | `speex_complexity_narrowband` | the complexity of `speex_nb_enc_us` and `speex_wb_enc_us` (no unit; `[media] speex_complexity_narrowband`'s default unless `--speex-complexity-narrowband`) |
//! | `speex_quality_narrowband` | the quality of `speex_nb_enc_us` (no unit; `[media] speex_quality_narrowband`'s default unless `--speex-quality-narrowband`) |
//! | `speex_nb_enc_us` | libspeex 1.2.1 (the system library, Debian's SSE build) narrowband encode at `speex_quality_narrowband` and `speex_complexity_narrowband`: the transcoded Speex WB <-> PCMU path's encoder toward the client |
//! | `speex_wb_enc_us` | libspeex wideband encode, quality 8, at `speex_complexity_narrowband`: that encoder at `speex_mode_narrowband = "wideband"` (`scripts/bench_load.py` takes the first `speex`..`wb`..`enc` field: keep this one first among them) |
//! | `speex_complexity` | the complexity of `speex_wb_enc_wideband_us` (no unit; `[media] speex_complexity`'s default unless `--speex-complexity`) |
//! | `speex_wb_enc_wideband_us` | the same encoder at `speex_complexity`: toward a client whose far end is wideband (G.722, Opus, speex/16000) |
//! | `speex_wb_enc_c2_us`, `speex_wb_enc_c4_us` | the same at complexity 2 (libspeex's default) and 4 |
//! | `speex_wb_dec_us` | libspeex wideband decode of a quality 8 frame |
//! | `speex_nb_dec_of_wb_us` | libspeex narrowband decode of the same wideband frame (its narrowband part; the high band skipped) |
//! | `resample_16k_8k_us`, `resample_8k_16k_us` | speexdsp C resampler, quality 3 |
//! | `opus_enc_48k_us`, `opus_dec_48k_us` | libopus mono VoIP at 48 kHz, complexity 5, 32 kbit/s, FEC |
//! | `opus_enc_16k_us`, `opus_dec_16k_us` | the same at 16 kHz |
//! | `pcmu_enc_us`, `pcmu_dec_us` | G.711 µ-law (ours) |
//! | `udp_pair_us` | one 200-byte datagram sent and received on loopback (two syscalls): the RTP side of a frame pair (RTP out, RTP back) |
//! | `tcp_pair_us` | 200 bytes written to and read from a connected loopback TCP socket (two syscalls): the RTMP side of a frame pair (a message in, a message out) |
//! | `io_pair_us` | `udp_pair_us` + `tcp_pair_us`: the socket work one frame pair costs at the least, whatever the codecs |
//! | `passthrough_calls_per_core` | 20000 / `io_pair_us` (no unit) |
//! | `transcoded_codec_us` | sum for one Speex WB <-> PCMU frame pair as the gateway's defaults run it: Speex NB decode of the WB frame (`speex_nb_dec_of_wb_us`) + PCMU encode, PCMU decode + Speex NB encode (`speex_nb_enc_us`) |
//! | `transcoded_pair_us` | `transcoded_codec_us` + `io_pair_us` |
//! | `transcoded_calls_per_core` | 20000 / `transcoded_pair_us` (no unit) |
//! | `transcoded_wbframes_codec_us`, `transcoded_wbframes_pair_us`, `transcoded_wbframes_calls_per_core` | the same three at `speex_mode_narrowband = "wideband"` (the pair's cost before that key): Speex WB decode + resample 16k->8k + PCMU encode, PCMU decode + resample 8k->16k + `speex_wb_enc_us` |
//! | `transcoded_wideband_codec_us`, `transcoded_wideband_pair_us`, `transcoded_wideband_calls_per_core` | the same with the WB encoder at `speex_complexity` (`speex_wb_enc_wideband_us`): the pair's cost before `speex_complexity_narrowband` |
//!
//! Each figure is this thread's CPU time (not wall time: preemption by
//! other load is not counted), the cheapest of several batches after a
//! warm-up. The input
//! is a speech-like signal (harmonics of a gliding pitch plus noise): the
//! Speex encoder's search costs differ between tones, speech and silence.

use std::f64::consts::TAU;
use std::hint::black_box;
use std::net::UdpSocket;
use std::time::Duration;

use rtmp2sip_codecs::{
    AudioDecoder, AudioEncoder, G711Decoder, G711Encoder, G711Law, OpusDecoder, OpusEncoder,
    OpusEncoderConfig, Resampler, SpeexDecoder, SpeexEncoder, SpeexEncoderConfig, SpeexMode,
};

type Error = Box<dyn std::error::Error>;

/// `[media] speex_complexity`'s default (`src/config/media.rs`); the
/// codecs crate is a leaf and cannot read it from there.
const DEFAULT_SPEEX_COMPLEXITY: u8 = 3;
/// `[media] speex_complexity_narrowband`'s default (the same source).
const DEFAULT_SPEEX_COMPLEXITY_NARROWBAND: u8 = 1;
/// `[media] speex_quality_narrowband`'s default (the same source).
const DEFAULT_SPEEX_QUALITY_NARROWBAND: u8 = 10;
/// Frames timed per batch.
const BATCH: usize = 200;
/// Batches timed; the cheapest counts.
const BATCHES: usize = 5;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let complexity = Complexity {
        narrowband: option(
            &args,
            "--speex-complexity-narrowband",
            DEFAULT_SPEEX_COMPLEXITY_NARROWBAND,
        )?,
        wideband: option(&args, "--speex-complexity", DEFAULT_SPEEX_COMPLEXITY)?,
        quality_narrowband: option(
            &args,
            "--speex-quality-narrowband",
            DEFAULT_SPEEX_QUALITY_NARROWBAND,
        )?,
    };
    let figures = measure(complexity)?;
    if json {
        let body: Vec<String> = figures
            .iter()
            .map(|(k, v)| format!("\"{k}\": {v:.3}"))
            .collect();
        println!("{{ {} }}", body.join(", "));
    } else {
        for (k, v) in &figures {
            println!("{k:28} {v:10.3}");
        }
    }
    Ok(())
}

/// The Speex encoders' settings timed (complexity 1..=10, quality 0..=10).
#[derive(Clone, Copy)]
struct Complexity {
    /// `[media] speex_complexity_narrowband`: the transcoded PCMU pair's.
    narrowband: u8,
    /// `[media] speex_complexity`: wideband far ends'.
    wideband: u8,
    /// `[media] speex_quality_narrowband`: the NB encoder's quality.
    quality_narrowband: u8,
}

/// The value after `name` in `args`, or `default` without one.
fn option(args: &[String], name: &str, default: u8) -> Result<u8, Error> {
    match args.iter().position(|a| a == name) {
        Some(i) => Ok(args
            .get(i + 1)
            .ok_or(format!("{name} needs a value"))?
            .parse()?),
        None => Ok(default),
    }
}

/// Every figure, in output order.
fn measure(complexity: Complexity) -> Result<Vec<(&'static str, f64)>, Error> {
    let wide = speech_like(16000);
    let narrow = speech_like(8000);
    let full = speech_like(48000);
    let speex_enc = |c| -> Result<f64, Error> {
        let mut enc = SpeexEncoder::new(SpeexEncoderConfig {
            complexity: c,
            ..SpeexEncoderConfig::wideband()
        })?;
        time_encoder(&mut enc, &wide)
    };
    let mut nb_enc = SpeexEncoder::new(SpeexEncoderConfig {
        quality: complexity.quality_narrowband,
        complexity: complexity.narrowband,
        ..SpeexEncoderConfig::narrowband()
    })?;
    let mut f = vec![
        (
            "speex_complexity_narrowband",
            f64::from(complexity.narrowband),
        ),
        (
            "speex_quality_narrowband",
            f64::from(complexity.quality_narrowband),
        ),
        ("speex_nb_enc_us", time_encoder(&mut nb_enc, &narrow)?),
        ("speex_wb_enc_us", speex_enc(complexity.narrowband)?),
        ("speex_complexity", f64::from(complexity.wideband)),
        ("speex_wb_enc_wideband_us", speex_enc(complexity.wideband)?),
        ("speex_wb_enc_c2_us", speex_enc(2)?),
        ("speex_wb_enc_c4_us", speex_enc(4)?),
    ];
    let mut enc = SpeexEncoder::new(SpeexEncoderConfig::wideband())?;
    let mut dec = SpeexDecoder::new(SpeexMode::Wideband)?;
    f.push(("speex_wb_dec_us", time_decoder(&mut enc, &mut dec, &wide)?));
    let mut enc = SpeexEncoder::new(SpeexEncoderConfig::wideband())?;
    let mut dec = SpeexDecoder::new(SpeexMode::Narrowband)?;
    f.push((
        "speex_nb_dec_of_wb_us",
        time_decoder(&mut enc, &mut dec, &wide)?,
    ));
    f.push(("resample_16k_8k_us", time_resampler(16000, 8000, &wide)?));
    f.push(("resample_8k_16k_us", time_resampler(8000, 16000, &narrow)?));
    for (rate, pcm, enc_name, dec_name) in [
        (48000, &full, "opus_enc_48k_us", "opus_dec_48k_us"),
        (16000, &wide, "opus_enc_16k_us", "opus_dec_16k_us"),
    ] {
        let config = OpusEncoderConfig {
            sample_rate: rate,
            complexity: 5,
            bitrate: Some(32_000),
            fec: true,
            packet_loss_percent: 10,
        };
        f.push((enc_name, time_encoder(&mut OpusEncoder::new(config)?, pcm)?));
        let mut enc = OpusEncoder::new(config)?;
        let mut dec = OpusDecoder::new(rate)?;
        f.push((dec_name, time_decoder(&mut enc, &mut dec, pcm)?));
    }
    f.push((
        "pcmu_enc_us",
        time_encoder(&mut G711Encoder::new(G711Law::Pcmu), &narrow)?,
    ));
    let mut enc = G711Encoder::new(G711Law::Pcmu);
    let mut dec = G711Decoder::new(G711Law::Pcmu);
    f.push(("pcmu_dec_us", time_decoder(&mut enc, &mut dec, &narrow)?));
    f.push(("udp_pair_us", time_udp()?));
    f.push(("tcp_pair_us", time_tcp()?));
    let get = |name: &str| f.iter().find(|(k, _)| *k == name).map_or(0.0, |(_, v)| *v);
    let sum = |names: &[&str]| names.iter().map(|n| get(n)).sum::<f64>();
    // Narrowband mode: no resampler either way.
    let codec = sum(&[
        "speex_nb_dec_of_wb_us",
        "pcmu_enc_us",
        "pcmu_dec_us",
        "speex_nb_enc_us",
    ]);
    // Wideband mode: Speex WB decode, 16k->8k, PCMU encode toward SIP;
    // PCMU decode, 8k->16k and the WB encoder toward the client.
    let wideband_with = |encoder: &str| {
        sum(&[
            "speex_wb_dec_us",
            "resample_16k_8k_us",
            "pcmu_enc_us",
            "pcmu_dec_us",
            "resample_8k_16k_us",
            encoder,
        ])
    };
    let codec_wbframes = wideband_with("speex_wb_enc_us");
    let codec_wideband = wideband_with("speex_wb_enc_wideband_us");
    let io = get("udp_pair_us") + get("tcp_pair_us");
    f.push(("io_pair_us", io));
    f.push((
        "passthrough_calls_per_core",
        20_000.0 / io.max(f64::MIN_POSITIVE),
    ));
    for (codec_name, pair_name, calls_name, codec) in [
        (
            "transcoded_codec_us",
            "transcoded_pair_us",
            "transcoded_calls_per_core",
            codec,
        ),
        (
            "transcoded_wbframes_codec_us",
            "transcoded_wbframes_pair_us",
            "transcoded_wbframes_calls_per_core",
            codec_wbframes,
        ),
        (
            "transcoded_wideband_codec_us",
            "transcoded_wideband_pair_us",
            "transcoded_wideband_calls_per_core",
            codec_wideband,
        ),
    ] {
        let pair = codec + io;
        f.push((codec_name, codec));
        f.push((pair_name, pair));
        f.push((calls_name, 20_000.0 / pair.max(f64::MIN_POSITIVE)));
    }
    Ok(f)
}

/// 1 s of a voiced-speech stand-in at `rate`: ten harmonics of a pitch
/// gliding 120..220 Hz with a 1/k tilt, plus deterministic noise.
fn speech_like(rate: u32) -> Vec<i16> {
    let mut phase = 0.0f64;
    let mut noise = 0x1234_5678u32;
    (0..rate as usize)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            phase += TAU * (120.0 + 100.0 * t) / f64::from(rate);
            let voiced: f64 = (1..=10).map(|k| (phase * k as f64).sin() / k as f64).sum();
            noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let white = f64::from(noise >> 16) / 32768.0 - 1.0;
            (voiced * 6000.0 + white * 500.0).round() as i16
        })
        .collect()
}

/// Cheapest batch mean of `step(frame index)`, in µs, after a warm-up.
fn cheapest(mut step: impl FnMut(usize) -> Result<(), Error>) -> Result<f64, Error> {
    for i in 0..BATCH {
        step(i)?;
    }
    let mut best = f64::MAX;
    for _ in 0..BATCHES {
        let start = cpu_now();
        for i in 0..BATCH {
            step(i)?;
        }
        let spent = cpu_now().saturating_sub(start);
        best = best.min(spent.as_secs_f64() * 1e6 / BATCH as f64);
    }
    Ok(best)
}

/// The `i`-th 20 ms frame of `pcm`, cycling.
fn frame(pcm: &[i16], len: usize, i: usize) -> &[i16] {
    let frames = (pcm.len() / len).max(1);
    let start = (i % frames) * len;
    &pcm[start..start + len]
}

fn time_encoder(enc: &mut dyn AudioEncoder, pcm: &[i16]) -> Result<f64, Error> {
    let len = enc.frame_samples();
    let mut payload = Vec::with_capacity(4096);
    cheapest(|i| {
        payload.clear();
        enc.encode(black_box(frame(pcm, len, i)), &mut payload)?;
        Ok(())
    })
}

fn time_decoder(
    enc: &mut dyn AudioEncoder,
    dec: &mut dyn AudioDecoder,
    pcm: &[i16],
) -> Result<f64, Error> {
    let len = enc.frame_samples();
    let mut payloads = Vec::new();
    for i in 0..pcm.len() / len {
        let mut payload = Vec::new();
        enc.encode(frame(pcm, len, i), &mut payload)?;
        payloads.push(payload);
    }
    let mut out = Vec::with_capacity(len * 2);
    cheapest(|i| {
        out.clear();
        dec.decode(black_box(&payloads[i % payloads.len()]), &mut out)?;
        Ok(())
    })
}

fn time_resampler(from: u32, to: u32, pcm: &[i16]) -> Result<f64, Error> {
    let mut r = Resampler::voip(from, to)?;
    let len = from as usize / 50;
    let mut out = Vec::with_capacity(to as usize / 50 + 16);
    cheapest(|i| {
        out.clear();
        r.process(black_box(frame(pcm, len, i)), &mut out);
        Ok(())
    })
}

/// One loopback datagram out and back in: the syscalls a relayed RTP
/// packet costs at the least.
fn time_udp() -> Result<f64, Error> {
    let a = UdpSocket::bind("127.0.0.1:0")?;
    let b = UdpSocket::bind("127.0.0.1:0")?;
    a.connect(b.local_addr()?)?;
    let packet = [0x80u8; 200];
    let mut buf = [0u8; 2048];
    cheapest(|_| {
        a.send(black_box(&packet))?;
        b.recv(&mut buf)?;
        Ok(())
    })
}

/// 200 bytes through a connected loopback TCP socket, written on one end
/// and read on the other: an RTMP audio message in and one out. On
/// loopback the writer's syscall also delivers the segment to the reader's
/// socket (and acknowledges it), as the gateway's does toward a client.
fn time_tcp() -> Result<f64, Error> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let mut a = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (mut b, _) = listener.accept()?;
    a.set_nodelay(true)?;
    let message = [0x08u8; 200];
    let mut buf = [0u8; 2048];
    cheapest(|_| {
        a.write_all(black_box(&message))?;
        b.read_exact(&mut buf[..message.len()])?;
        Ok(())
    })
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
