//! The driver of one RTMPT session: the [`Core`] behind a mutex, the RTMP
//! connection's side as a byte transport ([`RtmptStream`], `AsyncRead +
//! AsyncWrite`, so [`crate::runtime::connection::run`] runs unchanged), and
//! the HTTP handlers' side (`exchange`: apply a request, wait for its turn).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use super::core::{Core, Limits, Request, RtmptError};
use super::path::Seq;

#[derive(Debug)]
struct Inner {
    core: Core,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// What the handlers, the reaper and the stream share.
#[derive(Debug)]
pub struct Shared {
    inner: Mutex<Inner>,
    /// Signalled when answers are made or the session ends.
    changed: Notify,
}

/// Why an exchange got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeError {
    /// Refused by the core.
    Refused(RtmptError),
    /// The session ended (expired, closed) before the request's turn.
    Ended,
}

impl Shared {
    /// A session opened at `now`.
    pub fn new(limits: Limits, now: Instant) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                core: Core::new(limits, now),
                reader: None,
                writer: None,
            }),
            changed: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means a panic elsewhere; the data is plain.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake_all(&self, inner: &mut Inner) {
        if let Some(w) = inner.reader.take() {
            w.wake();
        }
        if let Some(w) = inner.writer.take() {
            w.wake();
        }
        self.changed.notify_waiters();
    }

    /// Applies request `seq` and waits until its answer is made (its
    /// predecessors have come) or the session ends. Cancel-safe: a dropped
    /// exchange abandons its request.
    pub async fn exchange(&self, seq: Seq, req: Request) -> Result<Bytes, ExchangeError> {
        {
            let mut inner = self.lock();
            inner
                .core
                .request(seq, req, Instant::now())
                .map_err(ExchangeError::Refused)?;
            self.wake_all(&mut inner);
        }
        let guard = Abandon { shared: self, seq };
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let outcome = {
                let mut inner = self.lock();
                match inner.core.take_response(seq) {
                    Some(answer) => Some(Ok(answer)),
                    None if inner.core.expire(Instant::now()) => Some(Err(ExchangeError::Ended)),
                    None => None,
                }
            };
            match outcome {
                Some(Ok(answer)) => {
                    std::mem::forget(guard);
                    return Ok(answer);
                }
                Some(Err(e)) => return Err(e),
                None => changed.await,
            }
        }
    }

    /// Expires the session at `now` if it is due; true when it has ended
    /// (closed or expired). Wakes everything waiting on it when it ends.
    pub fn expire(&self, now: Instant) -> bool {
        let mut inner = self.lock();
        let ended = inner.core.expire(now);
        if ended {
            self.wake_all(&mut inner);
        }
        ended
    }

    /// When the session expires unless a request comes.
    pub fn deadline(&self) -> Instant {
        self.lock().core.deadline()
    }

    /// A future ready when something changes (an answer, the end); `enable`
    /// it before checking the state so no change is missed.
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }
}

/// Abandons the request when its exchange is dropped before its answer.
struct Abandon<'a> {
    shared: &'a Shared,
    seq: Seq,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.core.abandon(self.seq);
        self.shared.wake_all(&mut inner);
    }
}

/// The RTMP connection's side of a session: reads the client's bytes,
/// writes the server's (back-pressured at the core's `max_outbound`).
/// Dropping or shutting it down tells the client the server is done.
#[derive(Debug)]
pub struct RtmptStream {
    shared: Arc<Shared>,
}

impl RtmptStream {
    /// The stream over a session's shared state (created with the session
    /// on `/open/1`); one per session.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn server_done(&self) {
        let mut inner = self.shared.lock();
        inner.core.server_done();
        self.shared.wake_all(&mut inner);
    }
}

impl Drop for RtmptStream {
    fn drop(&mut self) {
        self.server_done();
    }
}

impl AsyncRead for RtmptStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut inner = self.shared.lock();
        let n = inner.core.read(buf.initialize_unfilled());
        if n > 0 {
            buf.advance(n);
            return Poll::Ready(Ok(()));
        }
        if inner.core.read_ended() {
            return Poll::Ready(Ok(()));
        }
        inner.reader = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for RtmptStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut inner = self.shared.lock();
        match inner.core.write(data) {
            Err(e) => Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, e))),
            Ok(0) => {
                inner.writer = Some(cx.waker().clone());
                Poll::Pending
            }
            Ok(n) => Poll::Ready(Ok(n)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.server_done();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const LIMITS: Limits = Limits {
        window: 8,
        max_inbound: 1024,
        max_outbound: 4,
        idle_timeout: Duration::from_secs(30),
    };

    #[tokio::test]
    async fn bytes_flow_both_ways_through_the_stream() {
        let shared = Shared::new(LIMITS, Instant::now());
        let mut stream = RtmptStream::new(shared.clone());
        assert_eq!(shared.exchange(0, Request::Idle).await.unwrap()[..], [1]);
        let late = {
            let s = shared.clone();
            tokio::spawn(async move {
                s.exchange(2, Request::Send(Bytes::from_static(b"cd")))
                    .await
            })
        };
        tokio::task::yield_now().await;
        let first = shared
            .exchange(1, Request::Send(Bytes::from_static(b"ab")))
            .await;
        assert_eq!(first.unwrap()[..], [1]);
        assert_eq!(late.await.unwrap().unwrap()[..], [1]);
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"abcd");
        // back-pressure: 6 bytes need a poll in between
        let writer = tokio::spawn(async move {
            stream.write_all(b"012345").await.unwrap();
            stream
        });
        tokio::task::yield_now().await;
        assert_eq!(
            shared.exchange(3, Request::Idle).await.unwrap()[..],
            *b"\x010123"
        );
        let stream = writer.await.unwrap();
        drop(stream);
        assert_eq!(
            shared.exchange(4, Request::Idle).await.unwrap()[..],
            *b"\x0045"
        );
    }

    #[tokio::test]
    async fn a_dropped_exchange_is_abandoned() {
        let shared = Shared::new(LIMITS, Instant::now());
        shared.exchange(0, Request::Idle).await.unwrap();
        let waiting = shared.exchange(2, Request::Idle);
        assert!(tokio::time::timeout(Duration::from_millis(20), waiting)
            .await
            .is_err());
        assert_eq!(shared.lock().core.in_flight(), 0);
        shared.exchange(1, Request::Idle).await.unwrap();
        shared.exchange(2, Request::Idle).await.unwrap();
    }
}
