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
//! - [`media_task`]: one per call, drives a `media::Bridge` between the
//!   call's RTP sockets and the RTMP streams bound to it, on the media
//!   runtime ([`media_runtime`]: `[media] workers` threads of their own,
//!   and the load sampler behind `[limits] media_max_load`).

pub mod cdr;
pub mod connection;
pub mod http;
pub mod locations;
pub mod media_runtime;
pub mod media_task;
pub mod metrics;
pub mod ports;
pub mod publisher;
pub mod registry;
pub mod server;
pub mod streams;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::call::policy::DialPolicy;
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
    /// The validated configuration the gateway was started with.
    pub config: Config,
    /// The SIP user agent: places, receives and ends the SIP side of calls.
    pub ua: Arc<UserAgent>,
    /// Stream names (`publish`/`play` of `ConnectStreams`) to call media.
    pub streams: StreamRegistry,
    /// RTP/RTCP port pairs from `[media] rtp_ports`.
    pub ports: PortAllocator,
    /// `[policy] dial_allow`: the dial targets any client may reach.
    pub policy: DialPolicy,
    /// Request-URI user -> connection, for incoming calls.
    pub locations: Arc<Locations>,
    /// `[media] codecs`, parsed once: offered and answered in this order.
    pub codecs: Vec<crate::media::Codec>,
    /// One permit per concurrent call (`[limits] max_calls`).
    pub calls: Arc<Semaphore>,
    /// One permit per RTMP connection (`[limits] max_connections`).
    pub connections: Arc<Semaphore>,
    /// Open connections per address (`[limits] max_connections_per_ip`).
    pub per_address: Arc<connection::admission::PerAddress>,
    /// Chunk reassembly memory of all connections (`[limits] max_reassembly_bytes`).
    pub reassembly: crate::rtmp::chunk::ReassemblyBudget,
    /// Cancelled on SIGINT/SIGTERM: every connection ends its call and closes.
    pub shutdown: CancellationToken,
    /// The token verifier when `[auth] mode = "jwt"`.
    pub auth: Option<Arc<crate::auth::ClientAuth>>,
    /// Calls per token subject (the `max_calls` claim).
    pub subject_calls: Arc<crate::auth::SubjectCalls>,
    /// Prometheus metrics and readiness (`GET /metrics`, `/readyz`).
    pub metrics: Arc<metrics::Metrics>,
    /// Connections, calls and registrations, for the status API and call
    /// detail records.
    pub registry: registry::Registry,
    /// When the gateway started.
    pub started: std::time::SystemTime,
    /// The media runtime, its busy clock and the overload flag.
    pub media: media_runtime::MediaRuntime,
    /// Connection ids for log spans.
    next_conn_id: std::sync::atomic::AtomicU64,
}

impl Gateway {
    /// A fresh connection id for logs.
    pub fn next_connection_id(&self) -> u64 {
        self.next_conn_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

/// Sets up tracing from `[log] level` (RUST_LOG overrides it) and
/// `[log] format` (text or one JSON object per line).
///
/// # Errors
/// The directive's parse error.
pub fn init_logging(cfg: &LogConfig) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(s) if !s.is_empty() => EnvFilter::try_new(s),
        _ => EnvFilter::try_new(&cfg.level),
    }
    .map_err(|e| e.to_string())?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cfg.format {
        crate::config::LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        crate::config::LogFormat::Json => builder.json().with_ansi(false).try_init(),
    }
    .map_err(|e| e.to_string())
}

/// Runs the gateway until SIGINT or SIGTERM, with the calls' media on
/// `media` (a runtime of `[media] workers` threads, [`media_runtime::build`]).
///
/// # Errors
/// [`RuntimeError`] when a listener cannot be bound at start-up.
pub async fn run(config: Config, media: tokio::runtime::Handle) -> Result<(), RuntimeError> {
    let shutdown = CancellationToken::new();
    let auth = crate::auth::ClientAuth::new(&config.auth)?.map(Arc::new);
    let media = media_runtime::MediaRuntime::new(media, config.media.workers);
    let metrics: Arc<metrics::Metrics> = Arc::default();
    let locations = Arc::new(Locations::with_load(media.load.clone(), metrics.clone()));
    let codecs =
        crate::sip::sdp::parse_codec_list(&config.media.codecs).map_err(SipError::Codecs)?;
    let ua = UserAgent::start(
        config.sip.clone(),
        codecs.clone(),
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
        policy: config.policy.dial_allow.clone(),
        calls: Arc::new(Semaphore::new(config.limits.max_calls as usize)),
        connections: Arc::new(Semaphore::new(config.limits.max_connections as usize)),
        per_address: Arc::default(),
        reassembly: crate::rtmp::chunk::ReassemblyBudget::new(config.limits.max_reassembly_bytes),
        shutdown: shutdown.clone(),
        next_conn_id: std::sync::atomic::AtomicU64::new(1),
        auth,
        subject_calls: Arc::default(),
        metrics,
        media,
        config,
    });
    media_runtime::spawn_sampler(
        &gw.media,
        gw.config.limits.media_max_load.as_f64(),
        gw.metrics.clone(),
        shutdown.clone(),
    );
    let tracker = TaskTracker::new();
    server::listen_all(&gw, &tracker).await?;
    http::listen_all(&gw, &tracker).await?;
    gw.metrics.set_ready(true);
    wait_for_signal().await?;
    info!("shutting down: ending calls");
    gw.metrics.set_ready(false);
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

async fn wait_for_signal() -> Result<(), RuntimeError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(RuntimeError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(RuntimeError::Signals)?;
    tokio::select! {
        _ = term.recv() => info!("SIGTERM"),
        _ = int.recv() => info!("SIGINT"),
    }
    Ok(())
}
