//! RTMPT: request paths (`/send/<id>/<seq>` ...) parsed and fed, with
//! server writes, reads, abandons and clock steps, into the sans-IO session
//! core. Invariants: no panic, requests in flight within the window, queued
//! client bytes within `max_inbound`, server bytes within `max_outbound`.
//!
//! Input: a list of ops. Op byte % 7: 0 = a path (next byte: length, then
//! that many bytes; a `send` carries the next byte's count of bytes),
//! 1 = server write (next byte: length), 2 = read, 3 = clock step (next
//! byte: seconds), 4 = take the answer of seq (next byte), 5 = abandon seq
//! (next byte), 6 = the server side ends.
#![no_main]

use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rtmp2sip::runtime::http::rtmpt::core::{Core, Limits, Request};
use rtmp2sip::runtime::http::rtmpt::path::{self, Command};

const LIMITS: Limits = Limits {
    window: 8,
    max_inbound: 2048,
    max_outbound: 1024,
    idle_timeout: Duration::from_secs(30),
};

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut now = t0;
    let mut core = Core::new(LIMITS, now);
    let mut it = data.iter().copied();
    while let Some(op) = it.next() {
        let arg = it.next().unwrap_or(0);
        match op % 7 {
            0 => {
                let raw: Vec<u8> = it.by_ref().take(arg as usize).collect();
                let text = String::from_utf8_lossy(&raw);
                let req = match path::parse(&text) {
                    Ok(Command::Send(_, seq)) => {
                        let n = it.next().unwrap_or(1).max(1) as usize;
                        Some((seq, Request::Send(Bytes::from(vec![0x42; n * 4]))))
                    }
                    Ok(Command::Idle(_, seq)) => Some((seq, Request::Idle)),
                    Ok(Command::Close(_, seq)) => Some((seq, Request::Close)),
                    Ok(Command::Open) | Err(_) => None,
                };
                if let Some((seq, req)) = req {
                    let _ = core.request(seq, req, now);
                }
            }
            1 => {
                let _ = core.write(&vec![0x17; arg as usize * 8]);
            }
            2 => {
                let mut buf = [0u8; 512];
                let _ = core.read(&mut buf);
            }
            3 => {
                now += Duration::from_secs(u64::from(arg));
                let _ = core.expire(now);
            }
            4 => {
                if let Some(answer) = core.take_response(u64::from(arg)) {
                    assert!(!answer.is_empty() && answer.len() <= 1 + LIMITS.max_outbound);
                }
            }
            5 => core.abandon(u64::from(arg)),
            _ => core.server_done(),
        }
        assert!(core.in_flight() as u64 <= LIMITS.window);
    }
});
