//! A WebSocket as a byte stream: the tunnel convention of websockify and
//! Ruffle's socketProxy. Binary messages carry the bytes, their boundaries
//! mean nothing; each `poll_write` sends one binary message. A text
//! message closes the WebSocket with 1003 (RFC 6455 section 7.4.1,
//! "unsupported data") and reads as end of stream; a close message or the
//! end of the socket reads as end of stream. Pings are answered by the
//! WebSocket layer (tungstenite) itself.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::extract::ws::{CloseFrame, Message};
use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Close code for a text message (RFC 6455 section 7.4.1).
pub const CLOSE_UNSUPPORTED_DATA: u16 = 1003;
/// Close code of a normal end (RFC 6455 section 7.4.1).
pub const CLOSE_NORMAL: u16 = 1000;
/// Most bytes one outgoing binary message carries.
const MAX_OUT_MESSAGE: usize = 64 * 1024;

/// Sending our close message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    Open,
    /// A close with this code is to be sent.
    Send(u16),
    /// Sent; flushing it.
    Flush,
    /// Sent and flushed (or the socket failed): nothing more goes out.
    Done,
}

/// `AsyncRead + AsyncWrite` over a WebSocket `S` (a `Stream` of received
/// messages and a `Sink` of messages to send, as `axum::extract::ws::WebSocket`).
#[derive(Debug)]
pub struct WsByteStream<S> {
    ws: S,
    /// The unread rest of the last binary message.
    pending: Bytes,
    /// No more input (close received, text refused or socket ended).
    eof: bool,
    closing: Closing,
}

impl<S> WsByteStream<S> {
    /// Wraps an upgraded WebSocket.
    pub fn new(ws: S) -> Self {
        Self {
            ws,
            pending: Bytes::new(),
            eof: false,
            closing: Closing::Open,
        }
    }

    /// The wrapped WebSocket.
    pub fn into_inner(self) -> S {
        self.ws
    }
}

fn io_err<E: Into<Box<dyn std::error::Error + Send + Sync>>>(e: E) -> io::Error {
    io::Error::other(e)
}

impl<S, E> WsByteStream<S>
where
    S: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// Drives our close message out; `Ready` when it is sent (or cannot be).
    fn poll_close_sent(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match self.closing {
                Closing::Open | Closing::Done => return Poll::Ready(()),
                Closing::Send(code) => {
                    let ws = Pin::new(&mut self.ws);
                    if ready!(ws.poll_ready(cx)).is_err() {
                        self.closing = Closing::Done;
                        continue;
                    }
                    let frame = CloseFrame {
                        code,
                        reason: "".into(),
                    };
                    let sent = Pin::new(&mut self.ws).start_send(Message::Close(Some(frame)));
                    self.closing = if sent.is_ok() {
                        Closing::Flush
                    } else {
                        Closing::Done
                    };
                }
                Closing::Flush => {
                    let _ = ready!(Pin::new(&mut self.ws).poll_flush(cx));
                    self.closing = Closing::Done;
                }
            }
        }
    }
}

impl<S, E> AsyncRead for WsByteStream<S>
where
    S: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                buf.put_slice(&this.pending[..n]);
                this.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                ready!(this.poll_close_sent(cx));
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(b))) => this.pending = b,
                Some(Ok(Message::Text(_))) => {
                    this.eof = true;
                    if this.closing == Closing::Open {
                        this.closing = Closing::Send(CLOSE_UNSUPPORTED_DATA);
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => this.eof = true,
                Some(Err(e)) => {
                    this.eof = true;
                    return Poll::Ready(Err(io_err(e)));
                }
            }
        }
    }
}

impl<S, E> AsyncWrite for WsByteStream<S>
where
    S: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.closing != Closing::Open {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        ready!(Pin::new(&mut this.ws).poll_ready(cx)).map_err(io_err)?;
        let n = buf.len().min(MAX_OUT_MESSAGE);
        let msg = Message::Binary(Bytes::copy_from_slice(&buf[..n]));
        Pin::new(&mut this.ws).start_send(msg).map_err(io_err)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().ws)
            .poll_flush(cx)
            .map_err(io_err)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.closing == Closing::Open {
            this.closing = Closing::Send(CLOSE_NORMAL);
        }
        ready!(this.poll_close_sent(cx));
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A WebSocket that yields `incoming` and records what is sent.
    #[derive(Default)]
    struct FakeWs {
        incoming: VecDeque<Message>,
        sent: Vec<Message>,
        flushes: usize,
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
            self.get_mut().flushes += 1;
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
    }

    fn ws(msgs: Vec<Message>) -> WsByteStream<FakeWs> {
        WsByteStream::new(FakeWs {
            incoming: msgs.into(),
            ..FakeWs::default()
        })
    }

    fn bin(b: &[u8]) -> Message {
        Message::Binary(Bytes::copy_from_slice(b))
    }

    fn close_code(m: &Message) -> Option<u16> {
        match m {
            Message::Close(Some(f)) => Some(f.code),
            _ => None,
        }
    }

    #[tokio::test]
    async fn message_boundaries_mean_nothing() {
        let mut s = ws(vec![
            bin(&[1, 2, 3]),
            Message::Ping(Bytes::new()),
            bin(&[]),
            bin(&[4, 5, 6, 7, 8]),
        ]);
        let mut small = [0u8; 2];
        assert_eq!(s.read(&mut small).await.unwrap(), 2);
        assert_eq!(small, [1, 2]);
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, [3, 4, 5, 6, 7, 8]);
    }

    #[tokio::test]
    async fn text_closes_with_1003_and_reads_as_end() {
        let mut s = ws(vec![bin(&[9]), Message::Text("hi".into()), bin(&[10])]);
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, [9], "nothing after the text message is read");
        assert!(
            s.write_all(&[1]).await.is_err(),
            "no writes after our close"
        );
        let fake = s.into_inner();
        assert_eq!(fake.sent.len(), 1);
        assert_eq!(close_code(&fake.sent[0]), Some(CLOSE_UNSUPPORTED_DATA));
        assert!(fake.flushes >= 1);
    }

    #[tokio::test]
    async fn close_message_reads_as_end_without_a_second_close() {
        let mut s = ws(vec![Message::Close(None), bin(&[1])]);
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        assert!(out.is_empty());
        assert!(s.into_inner().sent.is_empty());
    }

    #[tokio::test]
    async fn writes_are_binary_messages_of_at_most_64_kib() {
        let mut s = ws(vec![]);
        s.write_all(&vec![7u8; MAX_OUT_MESSAGE + 10]).await.unwrap();
        s.flush().await.unwrap();
        s.shutdown().await.unwrap();
        let fake = s.into_inner();
        let lens: Vec<usize> = fake
            .sent
            .iter()
            .filter_map(|m| match m {
                Message::Binary(b) => Some(b.len()),
                _ => None,
            })
            .collect();
        assert_eq!(lens, [MAX_OUT_MESSAGE, 10]);
        assert_eq!(fake.sent.last().and_then(close_code), Some(CLOSE_NORMAL));
    }
}
