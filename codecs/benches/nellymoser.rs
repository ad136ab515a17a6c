//! Cost of one 256-sample Nellymoser block (64 bytes), encode and decode,
//! at 8 kHz and 44.1 kHz (criterion).
//! Run with `cargo bench -p rtmp2sip-codecs --bench nellymoser`.
//!
//! Criterion measures wall-clock time, which a busy machine inflates. So
//! the group also runs each codec over 100 000 blocks and prints the user
//! CPU time per block (`/proc/self/stat`, Linux), measured the way
//! `ffmpeg -benchmark` measures libavcodec (utime;
//! scripts/bench-libavcodec-nellymoser.sh).

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rtmp2sip_codecs::nellymoser::{NELLY_BLOCK_BYTES, NELLY_BLOCK_SAMPLES};
use rtmp2sip_codecs::{AudioDecoder, AudioEncoder, NellymoserDecoder, NellymoserEncoder};

/// A vowel-like signal: 150 Hz fundamental with falling harmonics.
fn voice(rate: u32, len: usize) -> Vec<i16> {
    (0..len)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let s: f64 = (1..=20)
                .map(|h| (t * 150.0 * f64::from(h) * std::f64::consts::TAU).sin() / f64::from(h))
                .sum();
            (s * 4000.0) as i16
        })
        .collect()
}

/// User CPU time of this process so far (field 14 of `/proc/self/stat`,
/// in clock ticks of 10 ms), if the kernel tells.
fn user_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at 3.
    let after_name = stat.get(stat.rfind(')')? + 2..)?;
    let ticks: u64 = after_name.split_whitespace().nth(11)?.parse().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Runs `routine` `count` times; user CPU time per run, in µs.
fn user_time_per_run(count: u32, mut routine: impl FnMut()) -> Option<f64> {
    let start = user_cpu_time()?;
    for _ in 0..count {
        routine();
    }
    let spent = user_cpu_time()?.saturating_sub(start);
    Some(spent.as_secs_f64() * 1e6 / f64::from(count))
}

/// Prints the user CPU time per block of encoding and decoding.
fn cpu_time_per_block(_: &mut Criterion) {
    const BLOCKS: u32 = 100_000;
    for rate in [8000, 44100] {
        let pcm = voice(rate, 16 * NELLY_BLOCK_SAMPLES);
        let mut encoder = NellymoserEncoder::new(rate).expect("encoder");
        let mut frames = pcm.chunks_exact(NELLY_BLOCK_SAMPLES).cycle();
        let mut payload = Vec::with_capacity(NELLY_BLOCK_BYTES);
        let mut all = Vec::new();
        let encode = user_time_per_run(BLOCKS, || {
            payload.clear();
            let frame = frames.next().expect("frame");
            encoder
                .encode(black_box(frame), &mut payload)
                .expect("encode");
            if all.len() < 16 * NELLY_BLOCK_BYTES {
                all.extend_from_slice(&payload);
            }
        });
        let mut decoder = NellymoserDecoder::new(rate).expect("decoder");
        let mut blocks = all.chunks_exact(NELLY_BLOCK_BYTES).cycle();
        let mut out = Vec::with_capacity(NELLY_BLOCK_SAMPLES);
        let decode = user_time_per_run(BLOCKS, || {
            out.clear();
            let block = blocks.next().expect("block");
            decoder.decode(black_box(block), &mut out).expect("decode");
        });
        match (encode, decode) {
            (Some(e), Some(d)) => println!(
                "nellymoser {rate} Hz, user CPU time over {BLOCKS} blocks: \
                 encode {e:.2} µs/block, decode {d:.2} µs/block"
            ),
            _ => println!("nellymoser: no /proc/self/stat, CPU time not measured"),
        }
    }
}

fn nellymoser(c: &mut Criterion) {
    for rate in [8000, 44100] {
        let pcm = voice(rate, 16 * NELLY_BLOCK_SAMPLES);
        let mut encoder = NellymoserEncoder::new(rate).expect("encoder");
        let mut payload = Vec::with_capacity(16 * NELLY_BLOCK_BYTES);
        for frame in pcm.chunks_exact(NELLY_BLOCK_SAMPLES) {
            encoder.encode(frame, &mut payload).expect("encode");
        }
        let mut frames = pcm.chunks_exact(NELLY_BLOCK_SAMPLES).cycle();
        let mut block = Vec::with_capacity(NELLY_BLOCK_BYTES);
        c.bench_function(&format!("nellymoser_{rate}_encode_block"), |b| {
            b.iter(|| {
                block.clear();
                let frame = frames.next().expect("frame");
                encoder
                    .encode(black_box(frame), &mut block)
                    .expect("encode");
            })
        });
        let mut decoder = NellymoserDecoder::new(rate).expect("decoder");
        let mut blocks = payload.chunks_exact(NELLY_BLOCK_BYTES).cycle();
        let mut out = Vec::with_capacity(NELLY_BLOCK_SAMPLES);
        c.bench_function(&format!("nellymoser_{rate}_decode_block"), |b| {
            b.iter(|| {
                out.clear();
                let block = blocks.next().expect("block");
                decoder.decode(black_box(block), &mut out).expect("decode");
            })
        });
    }
}

criterion_group!(benches, nellymoser, cpu_time_per_block);
criterion_main!(benches);
