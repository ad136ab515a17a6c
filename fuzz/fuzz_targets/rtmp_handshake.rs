//! Feeds arbitrary bytes to the server handshake (and, as S0S1S2, to the
//! test client). Checks: no panic, at most one S0S1S2 reply, and bytes
//! after C2 are left for the chunk reader.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rand::rngs::mock::StepRng;
use rtmp2sip::rtmp::handshake::client::{ClientHandshake, ClientMode};
use rtmp2sip::rtmp::handshake::ServerHandshake;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(split).max(1);
    let mut rng = StepRng::new(1, 7);

    let mut server = ServerHandshake::new(0);
    let mut input = BytesMut::new();
    let mut out = BytesMut::new();
    let mut fed = 0usize;
    for piece in rest.chunks(step) {
        input.extend_from_slice(piece);
        fed += piece.len();
        if server.receive(&mut input, &mut rng, &mut out).is_err() {
            break;
        }
        assert!(out.len() == 0 || out.len() == 1 + 2 * 1536);
        if server.is_done() {
            assert_eq!(input.len(), fed - 2 * 1536 - 1);
        }
    }

    let mut sink = BytesMut::new();
    let mut client = ClientHandshake::start(ClientMode::Plain, &mut rng, &mut sink);
    let mut input = BytesMut::from(rest);
    let _ = client.receive(&mut input, &mut rng, &mut sink);
});
