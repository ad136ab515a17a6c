//! The tokio driver of one load connection: carries out the [`Client`]
//! core's I/O, paces the published audio in real time and feeds the
//! [`CallMeter`]. No protocol logic here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::{interval, MissedTickBehavior};

use crate::args::Options;
use crate::client::{Client, Event};
use crate::codec::FrameLoop;
use crate::measure::CallMeter;

/// Progress of connection `index`, for the coordinator's phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// `connect` succeeded.
    Connected(usize),
    /// Status 4 came and both streams exist: media flows.
    Up(usize),
    /// The connection or call failed.
    Failed(usize),
}

/// What every connection shares.
pub struct Shared {
    /// The run's options.
    pub opts: Options,
    /// One permit per dial the coordinator allows (the dial ramp).
    pub dial_gate: Semaphore,
    /// Where progress goes.
    pub progress: mpsc::UnboundedSender<Progress>,
    /// The encoded signal every connection publishes.
    pub frames: FrameLoop,
}

/// How one connection's call went.
pub struct Outcome {
    /// Why it failed, if it did.
    pub failure: Option<String>,
    /// TCP connect start to `connect`'s `_result`, plus `dial` to status 4
    /// (the wait between the two ramps left out), ms.
    pub setup_ms: Option<f64>,
    /// `dial` sent to status 4, ms.
    pub dial_ms: Option<f64>,
    /// Whether media flowed (status 4 and both streams).
    pub up: bool,
    /// The media measurements.
    pub meter: CallMeter,
}

/// Runs connection `index` until `stop` turns true or it fails.
pub async fn run(index: usize, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) -> Outcome {
    let mut out = Outcome {
        failure: None,
        setup_ms: None,
        dial_ms: None,
        up: false,
        meter: CallMeter::new(),
    };
    if let Err(e) = drive(index, &shared, &mut stop, &mut out).await {
        out.failure = Some(e);
        let _ = shared.progress.send(Progress::Failed(index));
    }
    out
}

/// Per-connection driver state.
struct Conn {
    client: Client,
    wr: OwnedWriteHalf,
    rng: StdRng,
    started: Instant,
    connected: bool,
    /// TCP connect start to `connect`'s `_result`.
    connect_time: Option<Duration>,
    dialed_at: Option<Instant>,
    media: Option<Media>,
}

/// The publishing clock of a call whose streams exist.
struct Media {
    /// Next frame of the shared cycle.
    next: usize,
    frame_us: u64,
    sent_us: u64,
}

async fn drive(
    index: usize,
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
    out: &mut Outcome,
) -> Result<(), String> {
    let opts = &shared.opts;
    let started = Instant::now();
    let stream = tokio::time::timeout(opts.setup_timeout, TcpStream::connect(opts.rtmp))
        .await
        .map_err(|_| "TCP connect timeout".to_owned())?
        .map_err(|e| format!("TCP connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut rd, wr) = stream.into_split();
    let mut rng = StdRng::from_entropy();
    let tc_url = format!("rtmp://{}/{}", opts.rtmp, opts.app);
    let client = Client::new(&opts.app, &tc_url, opts.codec.is_ertmp(), &mut rng);
    let mut c = Conn {
        client,
        wr,
        rng,
        started,
        connected: false,
        connect_time: None,
        dialed_at: None,
        media: None,
    };
    let mut ticker = interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut buf = BytesMut::with_capacity(16 * 1024);
    c.flush().await?;
    loop {
        tokio::select! {
            r = rd.read_buf(&mut buf) => {
                let n = r.map_err(|e| format!("read: {e}"))?;
                if n == 0 {
                    return Err("closed by the gateway".into());
                }
                let now = Instant::now();
                c.client.handle_bytes(now, &buf, &mut c.rng).map_err(|e| e.to_string())?;
                buf.clear();
                c.events(index, shared, out, &mut ticker)?;
            }
            permit = shared.dial_gate.acquire(), if c.connected && c.dialed_at.is_none() => {
                if let Ok(p) = permit {
                    p.forget();
                }
                c.client.dial(&opts.dial).map_err(|e| e.to_string())?;
                c.dialed_at = Some(Instant::now());
            }
            _ = ticker.tick(), if c.media.is_some() => c.publish(&shared.frames, out)?,
            _ = stop.changed() => {
                let _ = c.client.hangup();
                let _ = c.flush().await;
                return Ok(());
            }
        }
        c.flush().await?;
    }
}

impl Conn {
    async fn flush(&mut self) -> Result<(), String> {
        let tx = self.client.transmit();
        if tx.is_empty() {
            return Ok(());
        }
        let bytes = tx.split().freeze();
        self.wr
            .write_all(&bytes)
            .await
            .map_err(|e| format!("write: {e}"))
    }

    /// Publishes the next frame with its media timestamp.
    fn publish(&mut self, frames: &FrameLoop, out: &mut Outcome) -> Result<(), String> {
        let Some(m) = &mut self.media else {
            return Ok(());
        };
        let Some((body, burst_at_us)) = frames.frames.get(m.next % frames.frames.len().max(1))
        else {
            return Ok(());
        };
        m.next = m.next.wrapping_add(1);
        let ts_ms = (m.sent_us / 1000) as u32;
        m.sent_us += m.frame_us;
        self.client
            .send_audio(ts_ms, body.clone())
            .map_err(|e| e.to_string())?;
        out.meter.on_sent(Instant::now(), m.frame_us, *burst_at_us);
        Ok(())
    }

    /// Handles the core's events.
    fn events(
        &mut self,
        index: usize,
        shared: &Shared,
        out: &mut Outcome,
        ticker: &mut tokio::time::Interval,
    ) -> Result<(), String> {
        while let Some(ev) = self.client.poll_event() {
            match ev {
                Event::Connected { at } => {
                    self.connected = true;
                    self.connect_time = Some(at.saturating_duration_since(self.started));
                    let _ = shared.progress.send(Progress::Connected(index));
                }
                Event::DialRejected { reason } => return Err(format!("dial: {reason}")),
                Event::CallStatus { at, code: 4, .. } => {
                    // The wait between the connect and dial ramps is not setup time.
                    let dial = self.dialed_at.map(|d| at.saturating_duration_since(d));
                    out.dial_ms = dial.map(ms);
                    out.setup_ms = dial.zip(self.connect_time).map(|(d, c)| ms(d + c));
                }
                Event::CallStatus {
                    code: 0, detail, ..
                } if self.dialed_at.is_some() => {
                    return Err(format!("call ended: {detail}"));
                }
                Event::CallStatus { .. } => {}
                Event::StreamsReady { .. } => {
                    let codec = shared.frames.codec;
                    if let Some(p) = &shared.frames.preamble {
                        self.client
                            .send_audio(0, p.clone())
                            .map_err(|e| e.to_string())?;
                    }
                    self.media = Some(Media {
                        next: 0,
                        frame_us: codec.frame_us(),
                        sent_us: 0,
                    });
                    *ticker = interval(Duration::from_micros(codec.frame_us()));
                    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
                    out.up = true;
                    let _ = shared.progress.send(Progress::Up(index));
                }
                Event::Audio {
                    at,
                    timestamp,
                    body,
                } => out.meter.on_audio(at, timestamp, &body),
            }
        }
        Ok(())
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
