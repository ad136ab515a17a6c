//! The tokio drivers: the only code that touches sockets, timers and the
//! clock. Each protocol core (RTMP session, call controller, media bridge)
//! is driven by one small task:
//!
//! - [`server`]: accepts RTMP connections on every `[rtmp] listen` address
//!   (and RTMPS on `[rtmp] tls_listen`, through [`tls`]),
//!   admits each against `[limits] max_connections` and
//!   `max_connections_per_ip` (an [`connection::admission::Admission`] the
//!   task holds until it ends), and spawns one [`connection`] task each;
//! - [`http`]: the `[http] listen` addresses: the web phone's files and
//!   RTMP over WebSocket (`GET /rtmp`), which ends in [`connection`] too,
//!   admitted the same way;
//! - [`connection`]: runs the handshake, then drives one `rtmp::Session` and
//!   one `call::Controller`, and starts calls through the SIP user agent;
//! - [`media_task`]: builds a call's `media::Bridge` and places it on a
//!   [`media_worker`] (`[media] workers` OS threads, each driving many
//!   calls' bridges between their RTP sockets and the RTMP streams bound
//!   to them in one tick loop); [`media_runtime`] holds the workers and
//!   the load sampler behind `[limits] media_max_load`.

pub mod cdr;
pub mod connection;
pub mod http;
pub mod locations;
pub mod media_runtime;
pub mod media_task;
pub mod media_worker;
pub mod metrics;
pub mod ports;
pub mod publisher;
pub mod registry;
pub mod reload;
pub mod server;
pub mod slots;
pub mod streams;
pub mod tls;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use thiserror::Error;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::config::{Config, LogConfig};
use crate::sip::ua::UserAgent;
use crate::sip::SipError;
use locations::Locations;
use ports::PortAllocator;
use streams::StreamRegistry;

/// How long shutdown waits for calls to end with BYE before closing anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(6);

/// Errors that stop the gateway.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The SIP user agent could not start (e.g. a `[sip]` transport could
    /// not be bound).
    #[error(transparent)]
    Sip(#[from] SipError),
    /// An RTMP listen address could not be bound.
    #[error("cannot listen for RTMP on {addr}: {source}")]
    RtmpBind {
        /// The `[rtmp]` address (`listen` or `tls_listen`).
        addr: std::net::SocketAddr,
        /// The bind error (address in use, permission, ...).
        source: std::io::Error,
    },
    /// An HTTP listen address could not be bound.
    #[error("cannot listen for HTTP on {addr}: {source}")]
    HttpBind {
        /// The `[http]` listen address.
        addr: std::net::SocketAddr,
        /// The bind error (address in use, permission, ...).
        source: std::io::Error,
    },
    /// A TLS certificate or key file cannot be used.
    #[error("TLS file {path}: {reason}")]
    Tls {
        /// The certificate or key file (PEM) as configured.
        path: std::path::PathBuf,
        /// Why it is unusable: unreadable, no certificate or key in it, or
        /// refused by rustls.
        reason: String,
    },
    /// `[auth]` cannot be used (checked at config load already).
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    /// `[cdr] path` cannot be opened for appending.
    #[error("cannot open [cdr] path: {0}")]
    Cdr(std::io::Error),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
}

/// Everything the driver tasks share.
pub struct Gateway {
    /// The configuration in force ([`Gateway::config`]): the start-up one,
    /// with the live keys of the last reload (`reload.rs`).
    config: ArcSwap<Config>,
    /// Bumped by each applied reload; connections compare it with theirs.
    generation: AtomicU64,
    /// Where reloads read the configuration, and the log filter they set.
    source: reload::ReloadSource,
    /// The SIP user agent: places, receives and ends the SIP side of calls.
    pub ua: Arc<UserAgent>,
    /// Stream names (`publish`/`play` of `ConnectStreams`) to call media.
    pub streams: StreamRegistry,
    /// RTP/RTCP port pairs from `[media] rtp_ports`.
    pub ports: PortAllocator,
    /// Request-URI user -> connection, for incoming calls.
    pub locations: Arc<Locations>,
    /// `[media] codecs`, parsed once: offered and answered in this order.
    pub codecs: Vec<crate::media::Codec>,
    /// One permit per concurrent call (`[limits] max_calls`, live).
    pub calls: slots::Slots,
    /// One permit per RTMP connection (`[limits] max_connections`, live).
    pub connections: slots::Slots,
    /// Open connections per address (`[limits] max_connections_per_ip`).
    pub per_address: Arc<connection::admission::PerAddress>,
    /// Chunk reassembly memory of all connections (`[limits] max_reassembly_bytes`).
    pub reassembly: crate::rtmp::chunk::ReassemblyBudget,
    /// Cancelled on SIGINT/SIGTERM: every connection ends its call and closes.
    pub shutdown: CancellationToken,
    /// The token verifier when `[auth] mode = "jwt"` ([`Gateway::auth`]).
    auth: ArcSwapOption<crate::auth::ClientAuth>,
    /// RTMPS handshakes (`[rtmp] tls_listen`): the certificate in force.
    pub rtmps: tls::LiveAcceptor,
    /// HTTPS handshakes (`[http] tls_cert`): the certificate in force.
    pub https: tls::LiveAcceptor,
    /// Calls per token subject (the `max_calls` claim).
    pub subject_calls: Arc<crate::auth::SubjectCalls>,
    /// Prometheus metrics and readiness (`GET /metrics`, `/readyz`).
    pub metrics: Arc<metrics::Metrics>,
    /// Connections, calls and registrations, for the status API and call
    /// detail records.
    pub registry: registry::Registry,
    /// When the gateway started.
    pub started: std::time::SystemTime,
    /// The media workers and the overload flag.
    pub media: media_runtime::MediaRuntime,
    /// Cancelled when the drain begins (before [`Gateway::shutdown`]).
    draining: CancellationToken,
    /// One reload at a time (SIGHUP and the HTTP API).
    reloading: std::sync::Mutex<()>,
    /// Connection ids for log spans.
    next_conn_id: std::sync::atomic::AtomicU64,
}

impl Gateway {
    /// The configuration in force now (a live reload may replace it; hold
    /// the `Arc` only as long as one decision needs it).
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Bumped by every applied reload.
    pub fn config_generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The client token verifier in force (`[auth] mode = "jwt"`).
    pub fn auth(&self) -> Option<Arc<crate::auth::ClientAuth>> {
        self.auth.load_full()
    }

    /// True once SIGTERM/SIGINT started the drain: new calls get 503.
    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled()
    }

    /// A fresh connection id for logs.
    pub fn next_connection_id(&self) -> u64 {
        self.next_conn_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

/// Sets up tracing from `[log] level` (RUST_LOG overrides it) and
/// `[log] format` (text or one JSON object per line); returns the control
/// a live reload uses to change the level.
///
/// # Errors
/// The directive's parse error.
pub fn init_logging(cfg: &LogConfig) -> Result<reload::LogControl, String> {
    use tracing_subscriber::EnvFilter;
    let from_env = matches!(std::env::var("RUST_LOG"), Ok(s) if !s.is_empty());
    let filter = match std::env::var("RUST_LOG") {
        Ok(s) if !s.is_empty() => EnvFilter::try_new(s),
        _ => EnvFilter::try_new(&cfg.level),
    }
    .map_err(|e| e.to_string())?;
    // The reload handle's type names the formatter, so each format builds
    // its own subscriber.
    let set: Box<dyn Fn(&str) -> Result<(), String> + Send + Sync> = match cfg.format {
        crate::config::LogFormat::Text => {
            let builder = tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_env_filter(filter)
                .with_filter_reloading();
            let handle = builder.reload_handle();
            builder.try_init().map_err(|e| e.to_string())?;
            Box::new(move |level: &str| {
                let filter = EnvFilter::try_new(level).map_err(|e| e.to_string())?;
                handle.reload(filter).map_err(|e| e.to_string())
            })
        }
        crate::config::LogFormat::Json => {
            let builder = tracing_subscriber::fmt()
                .json()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_env_filter(filter)
                .with_filter_reloading();
            let handle = builder.reload_handle();
            builder.try_init().map_err(|e| e.to_string())?;
            Box::new(move |level: &str| {
                let filter = EnvFilter::try_new(level).map_err(|e| e.to_string())?;
                handle.reload(filter).map_err(|e| e.to_string())
            })
        }
    };
    Ok(reload::LogControl::new(from_env, set))
}

/// Runs the gateway until SIGINT or SIGTERM, then drains (`[limits]
/// drain_timeout_s`) and stops; SIGHUP reloads `source`'s file. The calls'
/// media run on `media` (the `[media] workers` threads,
/// [`media_runtime::build`]).
///
/// # Errors
/// [`RuntimeError`] when a listener cannot be bound at start-up.
pub async fn run(
    config: Config,
    media: media_worker::MediaWorkers,
    source: reload::ReloadSource,
) -> Result<(), RuntimeError> {
    let shutdown = CancellationToken::new();
    let auth = crate::auth::ClientAuth::new(&config.auth)?.map(Arc::new);
    let media = media_runtime::MediaRuntime::new(media);
    let metrics: Arc<metrics::Metrics> = Arc::default();
    let locations = Arc::new(Locations::with_load(media.load.clone(), metrics.clone()));
    let codecs =
        crate::sip::sdp::parse_codec_list(&config.media.codecs).map_err(SipError::Codecs)?;
    let rtmps = tls::LiveAcceptor::default();
    if let Some(a) = tls::rtmps_acceptor(&config)? {
        rtmps.set(a);
    }
    let https = tls::LiveAcceptor::default();
    if let Some(a) = tls::https_acceptor(&config)? {
        https.set(a);
    }
    let mut signals = Signals::new()?;
    let ua = UserAgent::start(
        config.sip.clone(),
        codecs.clone(),
        config.media.srtp,
        locations.clone(),
        shutdown.clone(),
    )
    .await?;
    let cdr = cdr::start(&config.cdr).map_err(RuntimeError::Cdr)?;
    let gw = Arc::new(Gateway {
        registry: registry::Registry::new(cdr),
        started: std::time::SystemTime::now(),
        ua: ua.clone(),
        locations,
        codecs,
        streams: StreamRegistry::default(),
        ports: PortAllocator::new(
            config.media.bind_address,
            config.media.rtp_ports.0,
            config.media.rtp_ports.1,
        ),
        calls: slots::Slots::new(config.limits.max_calls),
        connections: slots::Slots::new(config.limits.max_connections),
        per_address: Arc::default(),
        reassembly: crate::rtmp::chunk::ReassemblyBudget::new(config.limits.max_reassembly_bytes),
        shutdown: shutdown.clone(),
        draining: CancellationToken::new(),
        reloading: std::sync::Mutex::new(()),
        next_conn_id: std::sync::atomic::AtomicU64::new(1),
        auth: ArcSwapOption::new(auth),
        rtmps,
        https,
        subject_calls: Arc::default(),
        metrics,
        media,
        config: ArcSwap::from_pointee(config),
        generation: AtomicU64::new(0),
        source,
    });
    let limits = gw.clone();
    media_runtime::spawn_sampler(
        &gw.media,
        move || limits.config().limits.media_max_load.as_f64(),
        gw.metrics.clone(),
        shutdown.clone(),
    );
    let tracker = TaskTracker::new();
    server::listen_all(&gw, &tracker).await?;
    http::listen_all(&gw, &tracker).await?;
    gw.metrics.set_ready(true);
    loop {
        match signals.next().await {
            Signal::Hangup => {
                let _ = reload::reload(&gw);
            }
            Signal::Stop(name) => {
                info!("{name}: stopping");
                break;
            }
        }
    }
    drain(&gw, &mut signals).await;
    info!("shutting down: ending calls");
    shutdown.cancel();
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        info!("some connections did not close in time");
    }
    ua.stop();
    info!("stopped");
    Ok(())
}

/// How often the drain looks at the number of calls.
const DRAIN_POLL: Duration = Duration::from_millis(100);

/// Graceful drain: new calls are refused (dial: `Sono.Call.Failed` 503,
/// INVITE: 503, `/readyz`: 503) while the running ones go on, until none
/// is left, `[limits] drain_timeout_s` passes, or a second stop signal
/// comes. SIGHUP still reloads meanwhile.
async fn drain(gw: &Gateway, signals: &mut Signals) {
    gw.draining.cancel();
    gw.locations.start_draining();
    gw.metrics.set_ready(false);
    let limit = gw.config().limits.drain_timeout;
    let calls = gw.calls.in_use();
    if calls == 0 || limit.is_zero() {
        return;
    }
    info!(
        calls,
        timeout_s = limit.as_secs(),
        "draining: new calls refused, waiting for the running calls to end"
    );
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(DRAIN_POLL) => {
                let calls = gw.calls.in_use();
                if calls == 0 {
                    info!("drained: no call left");
                    return;
                }
                if tokio::time::Instant::now() >= deadline {
                    info!(calls, "drain timeout: hanging up the remaining calls");
                    return;
                }
            }
            signal = signals.next() => match signal {
                Signal::Hangup => {
                    let _ = reload::reload(gw);
                }
                Signal::Stop(name) => {
                    info!(calls = gw.calls.in_use(), "{name} again: hanging up the remaining calls now");
                    return;
                }
            }
        }
    }
}

/// A signal the gateway acts on.
enum Signal {
    /// SIGHUP: reload the configuration.
    Hangup,
    /// SIGTERM or SIGINT (named): drain and stop.
    Stop(&'static str),
}

/// SIGTERM, SIGINT and SIGHUP, installed once at start-up.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Self, RuntimeError> {
        use tokio::signal::unix::{signal, SignalKind};
        let install = |kind| signal(kind).map_err(RuntimeError::Signals);
        Ok(Self {
            term: install(SignalKind::terminate())?,
            int: install(SignalKind::interrupt())?,
            hup: install(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.term.recv() => Signal::Stop("SIGTERM"),
            _ = self.int.recv() => Signal::Stop("SIGINT"),
            _ = self.hup.recv() => Signal::Hangup,
        }
    }
}
