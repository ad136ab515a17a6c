//! The tokio driver: one task per registration runs the sans-IO
//! [`RegistrationCore`], sends each REGISTER it asks for through a
//! [`RegisterSender`], feeds back outcomes and timer expiries, and forwards
//! [`RegistrationEvent`]s to the owner.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use rsipstack::transaction::endpoint::EndpointInnerRef;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn, Instrument};

use super::core::{Action, CoreConfig, RegistrationCore};
use super::params::RegisterParams;
use super::request::{Outcome, RegisterSender};
use super::RegistrationEvent;

/// The longest [`RegistrationHandle::unregister`] waits (the core's own
/// unregister timeout is 4 s; this only guards against a stuck task).
pub const UNREGISTER_WAIT: Duration = Duration::from_secs(5);

/// The `code` of the `Failed` event for parameters that cannot make a
/// REGISTER ([`RegisterParams::validate`]): nothing is sent.
pub const INVALID_PARAMS_CODE: u16 = 400;

/// Controls a running registration. Dropping it unregisters in the
/// background (REGISTER with Expires: 0, RFC 3261 §10.2.2); so does the
/// owner dropping the event receiver.
#[derive(Debug)]
pub struct RegistrationHandle {
    unregister: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<()>>,
}

impl RegistrationHandle {
    /// Sends REGISTER with Expires: 0 and returns once it is answered, or
    /// failed, or after about 4 s (at most [`UNREGISTER_WAIT`]). The event
    /// channel gets `Unregistered` first. Call this for every registration
    /// at gateway shutdown, before stopping the SIP stack.
    pub async fn unregister(mut self) {
        if let Some(tx) = self.unregister.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            if tokio::time::timeout(UNREGISTER_WAIT, done).await.is_err() {
                warn!("registration task did not end within {UNREGISTER_WAIT:?}");
            }
        }
    }

    /// True once the registration task has ended (unregistered, or stopped
    /// after a definitive rejection).
    pub fn is_finished(&mut self) -> bool {
        match self.done.as_mut() {
            Some(rx) => !matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
            None => true,
        }
    }
}

impl Drop for RegistrationHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.unregister.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts registering `params` on `endpoint` (which must be serving) and
/// reports on `events` until the registration ends (`Unregistered`, or
/// `Failed` with `retry_in: None`). Parameters that fail
/// [`RegisterParams::validate`] give one `Failed` with code
/// [`INVALID_PARAMS_CODE`] and nothing is sent. Defaults of [`CoreConfig::new`]: refresh
/// 60 s before expiry (half-way for short grants), backoff 2 s doubling to
/// 5 min with jitter. Needs a tokio runtime.
pub fn spawn_registration(
    endpoint: EndpointInnerRef,
    params: RegisterParams,
    events: mpsc::UnboundedSender<RegistrationEvent>,
) -> RegistrationHandle {
    let cfg = CoreConfig::new(params.expires, rand::random());
    spawn_registration_with(endpoint, params, cfg, events)
}

/// [`spawn_registration`] with explicit timing (`cfg.expires` is used, not
/// `params.expires`).
pub fn spawn_registration_with(
    endpoint: EndpointInnerRef,
    params: RegisterParams,
    cfg: CoreConfig,
    events: mpsc::UnboundedSender<RegistrationEvent>,
) -> RegistrationHandle {
    let (unregister_tx, unregister_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    if let Err(e) = params.validate() {
        warn!(error = %e, "registration refused");
        let _ = events.send(RegistrationEvent::Failed {
            code: INVALID_PARAMS_CODE,
            reason: e.to_string(),
            retry_in: None,
        });
        let _ = done_tx.send(());
        return RegistrationHandle {
            unregister: Some(unregister_tx),
            done: Some(done_rx),
        };
    }
    let span = tracing::info_span!(
        "sip_register",
        aor = %params.aor,
        contact = %params.contact,
    );
    let sender = RegisterSender::new(endpoint, params);
    tokio::spawn(
        async move {
            Task {
                core: RegistrationCore::new(cfg),
                sender,
                events,
                inflight: None,
                unregister_rx: Some(unregister_rx),
            }
            .run()
            .await;
            let _ = done_tx.send(());
        }
        .instrument(span),
    );
    RegistrationHandle {
        unregister: Some(unregister_tx),
        done: Some(done_rx),
    }
}

type Inflight = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// What woke the task.
enum Wake {
    Outcome(Outcome),
    Timer,
    Unregister,
}

struct Task {
    core: RegistrationCore,
    sender: RegisterSender,
    events: mpsc::UnboundedSender<RegistrationEvent>,
    inflight: Option<Inflight>,
    unregister_rx: Option<oneshot::Receiver<()>>,
}

impl Task {
    async fn run(mut self) {
        info!(
            registrar = %self.sender.params().registrar,
            call_id = self.sender.call_id(),
            expires = self.core.requested_expires(),
            "registration started"
        );
        let _ = self.core.start(Instant::now());
        loop {
            self.pump();
            if self.core.is_done() {
                break;
            }
            match self.wait().await {
                Wake::Outcome(o) => self.feed(o),
                Wake::Timer => self.core.handle_timeout(Instant::now()),
                Wake::Unregister => {
                    debug!("unregister requested");
                    self.unregister_rx = None;
                    self.core.unregister(Instant::now());
                }
            }
        }
        debug!("registration task ends");
    }

    /// Starts what the core asks for, drops a superseded REGISTER, forwards
    /// events.
    fn pump(&mut self) {
        while let Some(action) = self.core.poll_action() {
            match action {
                Action::SendRegister { expires } => {
                    debug!(expires, "sending REGISTER");
                    self.inflight = Some(Box::pin(self.sender.send(expires)));
                }
            }
        }
        if !self.core.awaiting_response() {
            self.inflight = None;
        }
        while let Some(ev) = self.core.poll_event() {
            log_event(&ev);
            if self.events.send(ev).is_err() && self.unregister_rx.take().is_some() {
                debug!("event receiver gone: unregistering");
                self.core.unregister(Instant::now());
                self.pump_actions_only();
            }
        }
    }

    fn pump_actions_only(&mut self) {
        while let Some(Action::SendRegister { expires }) = self.core.poll_action() {
            self.inflight = Some(Box::pin(self.sender.send(expires)));
        }
    }

    async fn wait(&mut self) -> Wake {
        let deadline = self.core.poll_timeout();
        let Task {
            inflight,
            unregister_rx,
            ..
        } = self;
        let inflight = async {
            match inflight.as_mut() {
                Some(f) => f.await,
                None => std::future::pending().await,
            }
        };
        let timer = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
                None => std::future::pending().await,
            }
        };
        let unregister = async {
            match unregister_rx.as_mut() {
                Some(rx) => {
                    let _ = rx.await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            o = inflight => Wake::Outcome(o),
            _ = timer => Wake::Timer,
            _ = unregister => Wake::Unregister,
        }
    }

    fn feed(&mut self, outcome: Outcome) {
        self.inflight = None;
        let now = Instant::now();
        let fed = match outcome {
            Outcome::Answer(a) => {
                debug!(code = a.code, reason = %a.reason, granted = ?a.granted_expires, "REGISTER answered");
                self.core
                    .on_response(now, a.code, &a.reason, a.granted_expires, a.min_expires)
            }
            Outcome::TransportError(e) => {
                debug!(error = %e, "REGISTER transport error");
                self.core.on_transport_error(now, &e)
            }
        };
        if let Err(e) = fed {
            debug!(error = %e, "outcome ignored");
        }
    }
}

fn log_event(ev: &RegistrationEvent) {
    match ev {
        RegistrationEvent::Registered { expires } => info!(expires, "registered"),
        RegistrationEvent::Failed {
            code,
            reason,
            retry_in,
        } => warn!(code, %reason, retry_in = ?retry_in, "registration failed"),
        RegistrationEvent::Expired => warn!("registration expired"),
        RegistrationEvent::Unregistered => info!("unregistered"),
    }
}
