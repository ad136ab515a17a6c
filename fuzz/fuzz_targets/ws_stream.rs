//! Fuzz the RTMP-over-WebSocket byte stream (`runtime::http::ws_stream`)
//! and the `Origin` check (`runtime::http::origin`).
//!
//! Input: a script of WebSocket messages, each `op len payload[len]`
//! (op % 5: 0 binary, 1 text, 2 close, 3 ping, 4 pong), and read sizes
//! taken from the ops. The bytes read must be exactly the binary payloads
//! before the first text or close message; a text message must make the
//! stream send one close 1003. The whole input is also tried as an
//! `Origin` and a `Host` header value; the check must not panic.
#![no_main]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use axum::extract::ws::Message;
use bytes::Bytes;
use futures_util::{Sink, Stream};
use libfuzzer_sys::fuzz_target;
use rtmp2sip::config::OriginPolicy;
use rtmp2sip::runtime::http::origin;
use rtmp2sip::runtime::http::ws_stream::{WsByteStream, CLOSE_UNSUPPORTED_DATA};
use tokio::io::{AsyncRead, ReadBuf};

#[derive(Default)]
struct FakeWs {
    incoming: VecDeque<Message>,
    sent: Vec<Message>,
}

impl Stream for FakeWs {
    type Item = Result<Message, Infallible>;
    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.get_mut().incoming.pop_front().map(Ok))
    }
}

impl Sink<Message> for FakeWs {
    type Error = Infallible;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(self: Pin<&mut Self>, m: Message) -> Result<(), Infallible> {
        self.get_mut().sent.push(m);
        Ok(())
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mid = (0..=text.len() / 2)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let (a, b) = text.split_at(mid);
    for p in [
        OriginPolicy::SameOrigin,
        OriginPolicy::Any,
        OriginPolicy::List(vec![a.to_string()]),
    ] {
        let _ = origin::allowed(&p, Some(a), Some(b));
        let _ = origin::allowed(&p, Some(&text), None);
    }

    let mut fake = FakeWs::default();
    let mut expect = Vec::new();
    let mut ended = false;
    let mut texted = false;
    let mut reads = Vec::new();
    let mut i = 0;
    while i + 1 < data.len() {
        let (op, len) = (data[i] % 5, data[i + 1] as usize);
        let payload =
            Bytes::copy_from_slice(&data[(i + 2).min(data.len())..(i + 2 + len).min(data.len())]);
        i += 2 + len;
        reads.push(1 + (data.get(i).copied().unwrap_or(0) as usize));
        let m = match op {
            0 => {
                if !ended {
                    expect.extend_from_slice(&payload);
                }
                Message::Binary(payload)
            }
            1 => {
                texted |= !ended;
                ended = true;
                Message::Text(String::from_utf8_lossy(&payload).into_owned().into())
            }
            2 => {
                ended = true;
                Message::Close(None)
            }
            3 => Message::Ping(payload),
            _ => Message::Pong(payload),
        };
        fake.incoming.push_back(m);
    }

    let mut s = WsByteStream::new(fake);
    let mut cx = Context::from_waker(Waker::noop());
    let mut got = Vec::new();
    let mut k = 0;
    loop {
        let mut buf = vec![0u8; reads.get(k).copied().unwrap_or(64)];
        k += 1;
        let mut rb = ReadBuf::new(&mut buf);
        match Pin::new(&mut s).poll_read(&mut cx, &mut rb) {
            Poll::Ready(Ok(())) if rb.filled().is_empty() => break,
            Poll::Ready(Ok(())) => got.extend_from_slice(rb.filled()),
            Poll::Ready(Err(_)) | Poll::Pending => unreachable!("the fake never fails nor waits"),
        }
    }
    assert_eq!(got, expect);
    let sent = s.into_inner().sent;
    let closes: Vec<u16> = sent
        .iter()
        .filter_map(|m| match m {
            Message::Close(Some(f)) => Some(f.code),
            _ => None,
        })
        .collect();
    assert_eq!(
        closes,
        if texted {
            vec![CLOSE_UNSUPPORTED_DATA]
        } else {
            vec![]
        }
    );
});
