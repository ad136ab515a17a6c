//! Two chunk readers share a small reassembly budget and are fed arbitrary
//! bytes, alternating at arbitrary points. Checks: no panic, the budget
//! never holds more than its limit, and every byte comes back once both
//! readers are dropped.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rtmp2sip::rtmp::chunk::{ChunkLimits, ChunkReader, ReassemblyBudget};

const LIMITS: ChunkLimits = ChunkLimits {
    max_message_size: 16 * 1024,
    max_chunk_streams: 8,
};
const BUDGET: u64 = 20 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(split).max(1);
    let budget = ReassemblyBudget::new(BUDGET);
    let mut readers = [
        (ChunkReader::with_budget(LIMITS, budget.clone()), BytesMut::new(), true),
        (ChunkReader::with_budget(LIMITS, budget.clone()), BytesMut::new(), true),
    ];
    for (k, piece) in rest.chunks(step).enumerate() {
        let (reader, input, alive) = &mut readers[k % 2];
        if !*alive {
            continue;
        }
        input.extend_from_slice(piece);
        loop {
            match reader.read(input) {
                Ok(Some(m)) => assert!(m.payload.len() <= LIMITS.max_message_size as usize),
                Ok(None) => break,
                Err(_) => {
                    *alive = false;
                    break;
                }
            }
        }
        assert!(budget.used() <= BUDGET);
    }
    drop(readers);
    assert_eq!(budget.used(), 0);
});
