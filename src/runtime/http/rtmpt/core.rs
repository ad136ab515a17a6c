//! The sans-IO core of one RTMPT session: request ordering by `<seq>`,
//! the byte queues both ways, the polling-interval byte and expiry.
//!
//! Fed requests (`request(seq, Request, now)`) and the RTMP connection's
//! output (`write`), polled for responses (`take_response(seq)`), client
//! bytes (`read`) and its deadline (`deadline`, `expire(now)`). No clock,
//! no I/O: the driver (`session.rs`) owns the mutex, wakers and timers.
//!
//! Ordering: clients pipeline requests, and separate TCP connections may
//! deliver them out of order. The first request after `/open/1` fixes the
//! base (ffmpeg counts from 0, librtmp from 2); request `seq` is applied
//! only after `seq - 1`. At most [`Limits::window`] requests wait or hold
//! an unread answer; a `seq` outside `next .. next + window` or seen
//! before is refused.
//!
//! Polling interval (the first byte of every `send`/`idle` answer): 1
//! after an exchange that carried bytes; after 10 answers in a row with no
//! bytes either way it doubles, up to 32 (Red5's back-off); 0 once the
//! server side has ended and its last bytes are out (the client should
//! close). `/close` is answered with the single byte 0.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::path::Seq;

/// Interval byte of a fresh session and after traffic.
pub const INTERVAL_MIN: u8 = 1;
/// Largest interval byte the back-off reaches.
pub const INTERVAL_MAX: u8 = 32;
/// Empty answers in a row before the interval doubles.
pub const EMPTY_POLLS_BEFORE_BACKOFF: u32 = 10;

/// Bounds of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most requests in flight (waiting for their turn or for their answer
    /// to be taken).
    pub window: u64,
    /// Most client bytes queued for the RTMP connection (bytes).
    pub max_inbound: usize,
    /// Most server bytes queued for the client (bytes); `write` takes no
    /// more (back-pressure on the RTMP connection).
    pub max_outbound: usize,
    /// A session with no accepted request for this long expires.
    pub idle_timeout: Duration,
}

/// One request's command (the path) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `/send`: client bytes (non-empty).
    Send(Bytes),
    /// `/idle`: a poll.
    Idle,
    /// `/close`: the client ends the session.
    Close,
}

/// Why a request is refused. The session is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtmptError {
    /// The request's `<seq>` was applied or is queued already (a replay).
    #[error("sequence number {seq} was already used")]
    Duplicate {
        /// The path's `<seq>`.
        seq: Seq,
    },
    /// The request's `<seq>` is not in `next .. next + window`
    /// ([`Limits::window`]).
    #[error("sequence number {seq} is outside the window from {next}")]
    OutOfWindow {
        /// The path's `<seq>`.
        seq: Seq,
        /// The `<seq>` the session applies next.
        next: Seq,
    },
    /// A `/send` body would queue more than [`Limits::max_inbound`] bytes
    /// for the RTMP connection.
    #[error("too many client bytes queued")]
    InboundFull,
    /// The session is [`Phase::Closed`] or [`Phase::Expired`]; no request
    /// or write is taken any more.
    #[error("the session has ended")]
    Ended,
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Both sides live: requests and server bytes flow.
    Open,
    /// The RTMP connection ended; its last bytes may still be queued.
    ServerDone,
    /// The client sent `/close`, or was told (interval 0) the server is done.
    Closed,
    /// No request within the idle timeout.
    Expired,
}

/// The polling-interval back-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Backoff {
    interval: u8,
    empty: u32,
}

impl Backoff {
    fn new() -> Self {
        Self {
            interval: INTERVAL_MIN,
            empty: 0,
        }
    }

    /// The interval byte of an answer; `traffic`: bytes went either way.
    fn answer(&mut self, traffic: bool) -> u8 {
        if traffic {
            *self = Self::new();
        } else {
            self.empty += 1;
            if self.empty >= EMPTY_POLLS_BEFORE_BACKOFF {
                self.empty = 0;
                self.interval = self.interval.saturating_mul(2).min(INTERVAL_MAX);
            }
        }
        self.interval
    }
}

/// One RTMPT session's state.
#[derive(Debug)]
pub struct Core {
    limits: Limits,
    /// The next sequence number to apply; `None` before the first request.
    next: Option<Seq>,
    /// Requests waiting for their predecessors.
    held: BTreeMap<Seq, Request>,
    /// Answers not yet taken by their request's handler.
    ready: BTreeMap<Seq, Bytes>,
    /// Client bytes in held `send`s (counted against `max_inbound`).
    held_bytes: usize,
    inbound: BytesMut,
    outbound: BytesMut,
    backoff: Backoff,
    last_active: Instant,
    phase: Phase,
}

impl Core {
    /// A session opened at `now`.
    pub fn new(limits: Limits, now: Instant) -> Self {
        Self {
            limits,
            next: None,
            held: BTreeMap::new(),
            ready: BTreeMap::new(),
            held_bytes: 0,
            inbound: BytesMut::new(),
            outbound: BytesMut::new(),
            backoff: Backoff::new(),
            last_active: now,
            phase: Phase::Open,
        }
    }

    /// Where the session is now (changed by requests, `server_done` and
    /// `expire`).
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Accepts request `seq` at `now`, and applies every request that is now
    /// in order; their answers wait in [`Core::take_response`].
    ///
    /// # Errors
    /// [`RtmptError`]: ended session, reused or out-of-window `seq`, or
    /// more than `max_inbound` client bytes queued.
    pub fn request(&mut self, seq: Seq, req: Request, now: Instant) -> Result<(), RtmptError> {
        if matches!(self.phase, Phase::Closed | Phase::Expired) {
            return Err(RtmptError::Ended);
        }
        let next = *self.next.get_or_insert(seq);
        if seq < next || self.held.contains_key(&seq) || self.ready.contains_key(&seq) {
            return Err(RtmptError::Duplicate { seq });
        }
        let in_flight = (self.held.len() + self.ready.len()) as u64;
        if seq - next >= self.limits.window || in_flight >= self.limits.window {
            return Err(RtmptError::OutOfWindow { seq, next });
        }
        if let Request::Send(b) = &req {
            let queued = self.inbound.len() + self.held_bytes + b.len();
            if queued > self.limits.max_inbound {
                return Err(RtmptError::InboundFull);
            }
            self.held_bytes += b.len();
        }
        self.held.insert(seq, req);
        self.last_active = now;
        self.apply_in_order();
        Ok(())
    }

    fn apply_in_order(&mut self) {
        while let Some(next) = self.next {
            let Some(req) = self.held.remove(&next) else {
                return;
            };
            let answer = self.apply(req);
            self.ready.insert(next, answer);
            self.next = Some(next + 1);
        }
    }

    fn apply(&mut self, req: Request) -> Bytes {
        let sent = match req {
            Request::Close => {
                self.phase = Phase::Closed;
                return Bytes::from_static(&[0]);
            }
            Request::Idle => false,
            Request::Send(b) => {
                self.held_bytes -= b.len();
                self.inbound.extend_from_slice(&b);
                !b.is_empty()
            }
        };
        if matches!(self.phase, Phase::Closed | Phase::Expired) {
            return Bytes::from_static(&[0]);
        }
        let body = self.outbound.split().freeze();
        let interval = if self.phase == Phase::ServerDone {
            self.phase = Phase::Closed;
            0
        } else {
            self.backoff.answer(sent || !body.is_empty())
        };
        let mut out = BytesMut::with_capacity(1 + body.len());
        out.extend_from_slice(&[interval]);
        out.extend_from_slice(&body);
        out.freeze()
    }

    /// The answer to request `seq` (interval byte + server bytes, or `0x00`
    /// for `/close`), once it has been applied; taken once.
    pub fn take_response(&mut self, seq: Seq) -> Option<Bytes> {
        self.ready.remove(&seq)
    }

    /// Forgets request `seq` (its handler gave up). An answer already made
    /// is lost with its bytes: the client's stream is then broken, as it
    /// would be over TCP.
    pub fn abandon(&mut self, seq: Seq) {
        if let Some(Request::Send(b)) = self.held.remove(&seq) {
            self.held_bytes -= b.len();
        }
        self.ready.remove(&seq);
    }

    /// Moves queued client bytes into `buf`; returns how many (0: none queued).
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.inbound.len());
        buf[..n].copy_from_slice(&self.inbound.split_to(n));
        n
    }

    /// No client bytes queued and none will come: the RTMP side reads EOF.
    pub fn read_ended(&self) -> bool {
        self.inbound.is_empty() && self.phase != Phase::Open
    }

    /// Queues server bytes for the client, as many as fit under
    /// `max_outbound`; returns how many (0: full, wait for a poll).
    ///
    /// # Errors
    /// [`RtmptError::Ended`] once the client side has closed or expired.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, RtmptError> {
        if matches!(self.phase, Phase::Closed | Phase::Expired) {
            return Err(RtmptError::Ended);
        }
        let room = self.limits.max_outbound.saturating_sub(self.outbound.len());
        let n = room.min(data.len());
        self.outbound.extend_from_slice(&data[..n]);
        Ok(n)
    }

    /// The RTMP connection has ended: the next answer carries its last
    /// bytes with interval 0.
    pub fn server_done(&mut self) {
        if self.phase == Phase::Open {
            self.phase = Phase::ServerDone;
        }
    }

    /// When the session expires unless a request comes.
    pub fn deadline(&self) -> Instant {
        self.last_active + self.limits.idle_timeout
    }

    /// Expires the session when `now` is past its deadline; true when it is
    /// (now or before) closed or expired, i.e. it can be forgotten.
    pub fn expire(&mut self, now: Instant) -> bool {
        if self.phase != Phase::Closed && now >= self.deadline() {
            self.phase = Phase::Expired;
            self.held.clear();
            self.held_bytes = 0;
        }
        matches!(self.phase, Phase::Closed | Phase::Expired)
    }

    /// Requests in flight (held or with an untaken answer).
    pub fn in_flight(&self) -> usize {
        self.held.len() + self.ready.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        window: 4,
        max_inbound: 100,
        max_outbound: 50,
        idle_timeout: Duration::from_secs(10),
    };

    fn send(b: &'static [u8]) -> Request {
        Request::Send(Bytes::from_static(b))
    }

    #[test]
    fn out_of_order_sends_are_applied_in_order() {
        let t0 = Instant::now();
        let mut c = Core::new(LIMITS, t0);
        c.request(0, send(b"a"), t0).unwrap();
        assert_eq!(c.take_response(0).unwrap()[..], [1]);
        c.request(2, send(b"c"), t0).unwrap();
        c.request(3, send(b"d"), t0).unwrap();
        assert_eq!(c.take_response(2), None, "held until 1 arrives");
        let mut buf = [0u8; 8];
        assert_eq!(c.read(&mut buf), 1);
        c.request(1, send(b"b"), t0).unwrap();
        assert_eq!(c.read(&mut buf), 3);
        assert_eq!(&buf[..3], b"bcd");
        for s in 1..=3 {
            assert!(c.take_response(s).is_some());
        }
    }

    #[test]
    fn first_request_sets_the_base_and_reuse_is_refused() {
        let t0 = Instant::now();
        let mut c = Core::new(LIMITS, t0);
        c.request(2, Request::Idle, t0).unwrap(); // librtmp counts from 2
        assert!(c.take_response(2).is_some());
        assert_eq!(
            c.request(2, Request::Idle, t0),
            Err(RtmptError::Duplicate { seq: 2 })
        );
        assert_eq!(
            c.request(1, Request::Idle, t0),
            Err(RtmptError::Duplicate { seq: 1 })
        );
    }

    #[test]
    fn the_reorder_window_is_bounded() {
        let t0 = Instant::now();
        let mut c = Core::new(LIMITS, t0);
        c.request(0, Request::Idle, t0).unwrap();
        assert_eq!(
            c.request(5, Request::Idle, t0),
            Err(RtmptError::OutOfWindow { seq: 5, next: 1 })
        );
        c.request(4, Request::Idle, t0).unwrap();
        c.request(3, Request::Idle, t0).unwrap();
        c.request(2, Request::Idle, t0).unwrap();
        assert_eq!(c.in_flight(), 4, "answer 0 untaken + 3 held");
        assert!(matches!(
            c.request(1, Request::Idle, t0),
            Err(RtmptError::OutOfWindow { .. })
        ));
        c.abandon(0);
        c.request(1, Request::Idle, t0).unwrap();
        assert_eq!(c.in_flight(), 4);
    }

    #[test]
    fn queues_are_bounded() {
        let t0 = Instant::now();
        let mut c = Core::new(LIMITS, t0);
        assert_eq!(c.write(&[7; 80]), Ok(50));
        assert_eq!(c.write(&[7; 1]), Ok(0), "full until a poll");
        c.request(0, Request::Idle, t0).unwrap();
        assert_eq!(c.take_response(0).unwrap().len(), 51);
        assert_eq!(c.write(&[7; 1]), Ok(1));
        c.request(1, Request::Send(Bytes::from(vec![1; 60])), t0)
            .unwrap();
        c.request(3, Request::Send(Bytes::from(vec![1; 40])), t0)
            .unwrap();
        assert_eq!(
            c.request(4, Request::Send(Bytes::from(vec![1; 1])), t0),
            Err(RtmptError::InboundFull)
        );
        c.abandon(3);
        c.request(4, Request::Send(Bytes::from(vec![1; 40])), t0)
            .unwrap();
    }

    #[test]
    fn the_interval_backs_off_on_empty_polls_and_resets_on_traffic() {
        let t0 = Instant::now();
        let mut c = Core::new(LIMITS, t0);
        let mut intervals = Vec::new();
        for s in 0..45 {
            c.request(s, Request::Idle, t0).unwrap();
            intervals.push(c.take_response(s).unwrap()[0]);
        }
        assert_eq!(intervals[..9], [1; 9]);
        assert_eq!(intervals[9], 2);
        assert_eq!(intervals[19], 4);
        assert_eq!(intervals[39], 16);
        assert_eq!(*intervals.last().unwrap(), 16);
        let mut more = Vec::new();
        for s in 45..100 {
            c.request(s, Request::Idle, t0).unwrap();
            more.push(c.take_response(s).unwrap()[0]);
        }
        assert_eq!(*more.last().unwrap(), INTERVAL_MAX, "capped at 32");
        c.write(b"x").unwrap();
        c.request(100, Request::Idle, t0).unwrap();
        assert_eq!(c.take_response(100).unwrap()[..], [1, b'x']);
    }

    #[test]
    fn server_end_answers_interval_zero_with_the_last_bytes() {
        let t0 = Instant::now();
        let mut c = Core::new(LIMITS, t0);
        c.write(b"bye").unwrap();
        c.server_done();
        assert!(!c.expire(t0));
        c.request(0, Request::Idle, t0).unwrap();
        assert_eq!(c.take_response(0).unwrap()[..], [0, b'b', b'y', b'e']);
        assert!(c.expire(t0), "closed: forget it");
        assert_eq!(c.request(1, Request::Idle, t0), Err(RtmptError::Ended));
    }

    #[test]
    fn close_answers_zero_and_ends_reading() {
        let t0 = Instant::now();
        let mut c = Core::new(LIMITS, t0);
        c.request(0, send(b"ab"), t0).unwrap();
        c.request(1, Request::Close, t0).unwrap();
        assert_eq!(c.take_response(1).unwrap()[..], [0]);
        assert!(!c.read_ended(), "queued bytes first");
        let mut buf = [0u8; 4];
        assert_eq!(c.read(&mut buf), 2);
        assert!(c.read_ended());
        assert_eq!(c.write(b"x"), Err(RtmptError::Ended));
    }

    #[test]
    fn idle_sessions_expire_on_the_virtual_clock() {
        let t0 = Instant::now();
        let mut c = Core::new(LIMITS, t0);
        assert_eq!(c.deadline(), t0 + Duration::from_secs(10));
        let t5 = t0 + Duration::from_secs(5);
        c.request(0, Request::Idle, t5).unwrap();
        assert!(!c.expire(t0 + Duration::from_secs(14)));
        c.request(2, Request::Idle, t5).unwrap(); // held, never completed
        assert!(c.expire(t5 + Duration::from_secs(10)));
        assert_eq!(c.phase(), Phase::Expired);
        assert!(c.read_ended());
        assert_eq!(c.in_flight(), 1, "answer 0 untaken; held 2 dropped");
    }
}
