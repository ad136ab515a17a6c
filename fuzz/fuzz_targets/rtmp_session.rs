//! Fuzzes the RTMP session (NetConnection/NetStream over the chunk stream):
//! arbitrary post-handshake bytes, split at an arbitrary point, must give
//! events or an error, never a panic, and bounded output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmp2sip::amf;
use rtmp2sip::rtmp::chunk::ChunkLimits;
use rtmp2sip::rtmp::session::{Session, SessionConfig};

fuzz_target!(|data: &[u8]| {
    let mut s = Session::new(SessionConfig {
        app: None,
        chunk_size: 4096,
        window_ack_size: 2_500_000,
        limits: ChunkLimits {
            max_message_size: 65536,
            max_chunk_streams: 16,
        },
        limits_before_connect: ChunkLimits {
            max_message_size: 8192,
            max_chunk_streams: 8,
        },
        budget: None,
        max_streams: 16,
        amf_limits: amf::Limits::default(),
    });
    let split = data.first().map(|b| usize::from(*b)).unwrap_or(0).min(data.len());
    let (a, b) = data.split_at(split);
    for part in [a, b] {
        if s.handle_input(part).is_err() {
            break;
        }
        while s.poll_event().is_some() {}
        let _ = s.take_output();
    }
});
