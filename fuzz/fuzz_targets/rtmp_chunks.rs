//! Feeds arbitrary bytes, split at arbitrary points, to the RTMP chunk
//! reader. Checks: no panic, payloads within the limit, and every message
//! read survives a ChunkWriter -> ChunkReader round trip unchanged.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rtmp2sip::rtmp::chunk::{ChunkLimits, ChunkReader, ChunkWriter};

const LIMITS: ChunkLimits = ChunkLimits {
    max_message_size: 64 * 1024,
    max_chunk_streams: 16,
};

fuzz_target!(|data: &[u8]| {
    // The first byte picks how the input is split into receives.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(split).max(1);
    let mut reader = ChunkReader::new(LIMITS);
    let mut input = BytesMut::new();
    let mut messages = Vec::new();
    'feed: for piece in rest.chunks(step) {
        input.extend_from_slice(piece);
        loop {
            match reader.read(&mut input) {
                Ok(Some(m)) => {
                    assert!(m.payload.len() <= LIMITS.max_message_size as usize);
                    let _ = m.control();
                    messages.push(m);
                }
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }
    assert!(reader.chunk_stream_count() <= LIMITS.max_chunk_streams);

    // Round trip what was read (Abort messages would discard nothing: the
    // writer never leaves a message half written).
    // The expects below are this target's assertions: a panic there is a
    // reader/writer bug for the fuzzer to report, not input handling.
    let mut writer = ChunkWriter::new();
    let mut wire = BytesMut::new();
    for m in &messages {
        writer
            .write(m, &mut wire)
            .expect("a message read is writable");
    }
    let mut again = ChunkReader::new(LIMITS);
    let mut reread = Vec::new();
    while let Some(m) = again.read(&mut wire).expect("our own chunks parse") {
        reread.push(m);
    }
    assert!(wire.is_empty());
    assert_eq!(reread, messages);
});
