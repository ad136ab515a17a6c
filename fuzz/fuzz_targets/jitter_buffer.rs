//! The jitter buffer under an arbitrary sequence of packets (any seq, ts,
//! marker, payload size, arrival time) and pulls: it never panics, never
//! holds more than its capacity (at most 512 packets), and a pull always
//! ends.
//!
//! Input: the first byte sets `jitter_ms` (20..=500 ms); then records of
//! 8 bytes `[op, seq_hi, seq_lo, ts x4, arg]`: op % 4 = 0 push (marker =
//! op bit 2, payload `arg` bytes), 1 poll every due frame, 2 advance the
//! clock by `arg` ms, 3 reset.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rtmp2sip::media::{JitterBuffer, JitterConfig, Playout, RtpTimestamp};

/// Capacity bound of the jitter buffer (media README).
const MAX_PACKETS: usize = 512;

fuzz_target!(|data: &[u8]| {
    let Some((&first, records)) = data.split_first() else {
        return;
    };
    let jitter_ms = 20 + u32::from(first) * 480 / 255;
    let mut jb = JitterBuffer::new(JitterConfig::from_jitter_ms(jitter_ms, 8000, 160));
    let payload = [0xD5u8; 255];
    let mut now = Instant::now();
    for r in records.chunks_exact(8) {
        let seq = u16::from_be_bytes([r[1], r[2]]);
        let ts = RtpTimestamp(u32::from_be_bytes([r[3], r[4], r[5], r[6]]));
        let arg = r[7];
        match r[0] % 4 {
            0 => jb.push(seq, ts, r[0] & 4 != 0, &payload[..usize::from(arg)], now),
            1 => {
                // Bounded: every poll either plays or skips a frame.
                for _ in 0..(2 * MAX_PACKETS) {
                    match jb.poll(now) {
                        Some(Playout::Frame { .. }) | Some(Playout::Lost { .. }) => {}
                        None => break,
                    }
                    let _ = jb.peek_next();
                }
            }
            2 => now += Duration::from_millis(u64::from(arg)),
            _ => jb.reset(),
        }
        assert!(jb.len() <= MAX_PACKETS, "{} packets held", jb.len());
        let _ = jb.poll_timeout();
    }
    let _ = jb.stats();
});
