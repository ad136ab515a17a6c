//! The SIP user agent: a thin async driver over rsipstack.
//!
//! rsipstack owns the transport, the transaction layer (RFC 3261 §17: the
//! retransmission timers A/B/E/F, ACK for 2xx and non-2xx) and the dialog
//! layer (§12); digest authentication on 401/407 (§22.2) is its
//! `Credential`. This module turns that into what the call controller needs:
//! [`UserAgent::place_call`] starts an INVITE client transaction and reports
//! [`SipEvent`]s on a channel; the returned [`CallHandle`] ends the call with
//! CANCEL (early, §9.1) or BYE (confirmed, §15.1).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::{DialogState, TerminatedReason};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Method, StatusCode, Uri};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::TransactionReceiver;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, TransportLayer};
use rsipstack::EndpointBuilder;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn, Instrument};

pub use super::event::{CallId, SipEvent, SipStatus};
use super::incoming::IncomingRouter;
use super::sdp::Codec;
use super::transfer::{TransferCommand, TransferDriver};
use super::trunk::{TrunkAuth, TrunkInspector};
use super::SipError;
use crate::config::SipConfig;

/// Parameters of one outgoing INVITE.
#[derive(Debug, Clone)]
pub struct PlaceCall {
    /// Request-URI and To (the dialled URI).
    pub target: Uri,
    /// The SDP offer.
    pub offer: Vec<u8>,
    /// The Call-ID to use (so logs and client events share it).
    pub call_id: CallId,
    /// How long the INVITE may go without a final response.
    pub invite_timeout: Duration,
    /// The caller for From (an authenticated client's identity); `None`:
    /// `[sip] from_user` and `from_display`.
    pub from: Option<CallerId>,
}

/// Who places a call: From's user part (host stays the gateway's) and
/// display name. The user part must already be valid (RFC 3261 §25.1
/// `user` without escapes); the auth layer checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerId {
    /// From's user part.
    pub user: String,
    /// From's display name.
    pub display_name: Option<String>,
}

/// Ends a call placed with [`UserAgent::place_call`]. Dropping it hangs up.
#[derive(Debug)]
pub struct CallHandle {
    hangup: Option<tokio::sync::oneshot::Sender<()>>,
    info: mpsc::Sender<LegCommand>,
}

/// What a [`CallHandle`] asks of its confirmed call, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LegCommand {
    /// Send one INFO DTMF digit.
    Dtmf(DtmfInfo),
    /// A transfer step (REFER out, the answer to a REFER in, its NOTIFYs).
    Transfer(TransferCommand),
}

/// One DTMF digit to send as SIP INFO (`application/dtmf-relay`), the
/// fallback when the far end did not accept telephone-event (RFC 4733).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfInfo {
    /// `0-9`, `*`, `#`, `A-D`.
    pub digit: char,
    /// Tone duration in ms.
    pub duration_ms: u32,
}

impl DtmfInfo {
    /// The `application/dtmf-relay` body (the de-facto format Cisco and
    /// Asterisk use: `Signal=` and `Duration=` lines).
    pub fn body(&self) -> Vec<u8> {
        format!("Signal={}\r\nDuration={}\r\n", self.digit, self.duration_ms).into_bytes()
    }
}

impl CallHandle {
    /// A handle over a call task's hangup and INFO inputs.
    pub(crate) fn new(
        hangup: tokio::sync::oneshot::Sender<()>,
        info: mpsc::Sender<LegCommand>,
    ) -> Self {
        Self {
            hangup: Some(hangup),
            info,
        }
    }

    /// CANCEL while early, BYE once confirmed; a no-op once ended.
    pub fn hangup(&mut self) {
        if let Some(tx) = self.hangup.take() {
            let _ = tx.send(());
        }
    }

    /// Queues DTMF digits to send as INFO requests once the call is
    /// confirmed (one INFO per digit, each after the previous one's answer).
    /// Digits beyond a queue of 32 are dropped.
    pub fn send_info_dtmf(&self, digits: impl IntoIterator<Item = DtmfInfo>) {
        for d in digits {
            let _ = self.info.try_send(LegCommand::Dtmf(d));
        }
    }

    /// Blind transfer (RFC 5589 §6.1): REFER with `Refer-To: <target>` in
    /// the confirmed dialog; progress comes back as
    /// [`SipEvent::TransferProgress`]. `target` must already be allowed by
    /// `[policy] dial_allow`. False when the call's queue is full or gone.
    pub fn transfer(&self, target: Uri) -> bool {
        self.transfer_command(TransferCommand::Refer(target))
    }

    /// Answers the far end's REFER reported as [`SipEvent::Referred`]:
    /// 2xx accepts (202 + NOTIFY `100 Trying`), 4xx-6xx refuses.
    pub fn decide_transfer(&self, code: u16) -> bool {
        self.transfer_command(TransferCommand::Decide(code))
    }

    /// Reports the call placed for the far end's REFER in a NOTIFY
    /// (`done`: the final one, `Subscription-State: terminated`).
    pub fn notify_transfer(&self, status: SipStatus, done: bool) -> bool {
        self.transfer_command(TransferCommand::Progress { status, done })
    }

    fn transfer_command(&self, cmd: TransferCommand) -> bool {
        self.info.try_send(LegCommand::Transfer(cmd)).is_ok()
    }
}

impl Drop for CallHandle {
    fn drop(&mut self) {
        self.hangup();
    }
}

/// The gateway's SIP user agent.
pub struct UserAgent {
    pub(crate) dialog_layer: Arc<DialogLayer>,
    endpoint: EndpointInnerRef,
    pub(crate) cfg: SipConfig,
    credential: Option<Credential>,
    /// The trunk `credential` belongs to.
    trunk: Option<TrunkAuth>,
    pub(crate) contact: Uri,
    from: Uri,
    proxy: Option<SipAddr>,
    pub(crate) local_addr: SocketAddr,
    /// Where new INVITEs go, by Request-URI user.
    pub(crate) router: Arc<dyn IncomingRouter>,
    /// `[media] codecs`: an incoming offer must share one (else 488).
    pub(crate) codecs: Vec<Codec>,
    /// Cancelled at shutdown: calls end with CANCEL/BYE.
    pub(crate) cancel: CancellationToken,
    /// Stops the transport and transaction layer, after calls have ended.
    stack: CancellationToken,
}

impl UserAgent {
    /// Binds the UDP transport at `cfg.listen` and starts the endpoint.
    ///
    /// # Errors
    /// [`SipError::Bind`] when the socket cannot be bound;
    /// [`SipError::BadUri`] for a malformed outbound proxy.
    ///
    /// `shutdown` ends every call when cancelled; [`UserAgent::stop`] then
    /// stops the stack. New INVITEs go to `router` when they offer one of
    /// `codecs` (see [`super::incoming`]).
    pub async fn start(
        cfg: SipConfig,
        codecs: Vec<Codec>,
        router: Arc<dyn IncomingRouter>,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, SipError> {
        let stack = CancellationToken::new();
        let external = cfg
            .public_address
            .as_deref()
            .and_then(|h| h.parse::<std::net::IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, cfg.listen.port()));
        let transport = TransportLayer::new(stack.child_token());
        let udp = UdpConnection::create_connection(cfg.listen, external, Some(stack.child_token()))
            .await
            .map_err(|e| SipError::Bind(cfg.listen, e.to_string()))?;
        let bound = udp
            .get_addr()
            .addr
            .to_string()
            .parse()
            .unwrap_or(cfg.listen);
        transport.add_transport(udp.into());
        let guard = super::guard::SipGuard::new(&cfg, bound);
        let trunk = cfg.auth.as_ref().map(TrunkAuth::new);
        let endpoint = EndpointBuilder::new()
            .with_user_agent(&cfg.user_agent)
            .with_transport_inspector(Box::new(guard))
            .with_inspector(Box::new(TrunkInspector::new(trunk.clone())))
            .with_transport_layer(transport)
            .with_cancel_token(stack.child_token())
            .build();
        let first = endpoint
            .get_addrs()
            .first()
            .cloned()
            .ok_or_else(|| SipError::Bind(cfg.listen, "no transport address".into()))?;
        let local_addr = first.addr.to_string().parse().unwrap_or(cfg.listen);
        let host = advertised_host(&cfg, local_addr);
        let contact = parse_uri(&format!(
            "sip:{}@{}:{}",
            cfg.from_user,
            host,
            cfg.listen.port()
        ))?;
        let from = parse_uri(&format!("sip:{}@{}", cfg.from_user, host))?;
        let proxy = match &cfg.outbound_proxy {
            Some(p) => Some(proxy_addr(p)?),
            None => None,
        };
        let credential = cfg.auth.as_ref().map(|a| Credential {
            username: a.username.clone(),
            password: a.password.clone(),
            realm: Some(a.realm.clone()),
            auth_username: None,
        });
        let incoming = endpoint
            .incoming_transactions()
            .map_err(|e| SipError::Bind(cfg.listen, e.to_string()))?;
        let dialog_layer = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        let inner = endpoint.inner.clone();
        tokio::spawn(async move {
            if let Err(e) = inner.serve().await {
                warn!(error = %e, "SIP endpoint stopped");
            }
        });
        info!(listen = %cfg.listen, contact = %contact, "SIP user agent started");
        let ua = Arc::new(Self {
            dialog_layer,
            endpoint: endpoint.inner.clone(),
            cfg,
            credential,
            trunk,
            contact,
            from,
            proxy,
            local_addr,
            router,
            codecs,
            cancel: shutdown,
            stack,
        });
        tokio::spawn(serve_incoming(ua.clone(), incoming));
        Ok(ua)
    }

    /// `[sip] outbound_proxy` as a transport address, if set.
    pub fn outbound_proxy(&self) -> Option<SipAddr> {
        self.proxy.clone()
    }

    /// The rsipstack endpoint (for REGISTER client transactions).
    pub fn endpoint(&self) -> EndpointInnerRef {
        self.endpoint.clone()
    }

    /// The host and port written into Contact headers: `public_address`
    /// or the bound IP, and the SIP port.
    pub fn contact_host_port(&self) -> String {
        let host = advertised_host(&self.cfg, self.local_addr);
        format!("{host}:{}", self.local_addr.port())
    }

    /// Stops the SIP stack (transport, transactions). Call after calls ended.
    pub fn stop(&self) {
        self.stack.cancel();
    }

    /// The address the SIP transport is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The host written into SDP `c=` lines for a call toward `remote`.
    pub fn media_host_for(&self, remote: Option<SocketAddr>) -> String {
        if let Some(p) = &self.cfg.public_address {
            return p.clone();
        }
        if !self.local_addr.ip().is_unspecified() {
            return self.local_addr.ip().to_string();
        }
        remote
            .and_then(route_source_ip)
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "127.0.0.1".into())
    }

    /// Sends an INVITE and reports its progress on `events` (tagged with
    /// `call_id`). The returned handle ends the call.
    pub fn place_call(
        self: &Arc<Self>,
        call: PlaceCall,
        events: mpsc::UnboundedSender<(CallId, SipEvent)>,
    ) -> CallHandle {
        let (hangup_tx, hangup_rx) = tokio::sync::oneshot::channel();
        let (info_tx, info_rx) = mpsc::channel(32);
        let ua = self.clone();
        let span = tracing::info_span!("sip_call", call_id = %call.call_id);
        tokio::spawn(
            async move {
                let id = call.call_id.clone();
                let report = |ev: SipEvent| {
                    let _ = events.send((id.clone(), ev));
                };
                ua.run_call(call, hangup_rx, info_rx, &report).await;
            }
            .instrument(span),
        );
        CallHandle {
            hangup: Some(hangup_tx),
            info: info_tx,
        }
    }

    fn invite_option(&self, call: &PlaceCall) -> InviteOption {
        let (caller, caller_display_name) = match &call.from {
            Some(id) => {
                let mut uri = self.from.clone();
                uri.auth = Some(rsipstack::sip::uri::Auth {
                    user: id.user.clone(),
                    password: None,
                });
                (uri, id.display_name.clone())
            }
            None => (self.from.clone(), self.cfg.from_display.clone()),
        };
        InviteOption {
            caller_display_name,
            caller,
            callee: call.target.clone(),
            destination: self.proxy.clone(),
            content_type: Some("application/sdp".into()),
            offer: Some(call.offer.clone()),
            contact: self.contact.clone(),
            credential: self.credential_for(&call.target),
            call_id: Some(call.call_id.as_str().to_owned()),
            ..Default::default()
        }
    }

    /// `[sip.auth]` credentials when the INVITE to `target` goes toward the
    /// trunk's host or through the outbound proxy (see [`TrunkAuth`]).
    fn credential_for(&self, target: &Uri) -> Option<Credential> {
        let trunk = self.trunk.as_ref()?;
        let host = target.host_with_port.host.to_string();
        let port = target.host_with_port.port.as_ref().map(|p| p.value());
        if trunk.applies_to(&host, port, self.proxy.is_some()) {
            self.credential.clone()
        } else {
            debug!(?host, "trunk credentials not offered toward this host");
            None
        }
    }

    async fn run_call(
        &self,
        call: PlaceCall,
        mut hangup: tokio::sync::oneshot::Receiver<()>,
        info: mpsc::Receiver<LegCommand>,
        report: &(dyn Fn(SipEvent) + Sync),
    ) {
        let (state_tx, mut states) = self.dialog_layer.new_dialog_state_channel();
        let opt = self.invite_option(&call);
        let (dialog, mut invite) = match self.dialog_layer.do_invite_async(opt, state_tx) {
            Ok(x) => x,
            Err(e) => {
                report(SipEvent::Failed(SipStatus::new(
                    500,
                    format!("cannot send INVITE: {e}"),
                )));
                return;
            }
        };
        info!(target = %call.target, "INVITE sent");
        let deadline = tokio::time::sleep(call.invite_timeout);
        tokio::pin!(deadline);
        // Early phase: until a final response.
        let outcome = loop {
            tokio::select! {
                res = &mut invite => break final_outcome(res),
                Some(state) = states.recv() => report_early(&state, report),
                _ = &mut hangup => {
                    debug!("hangup while early: CANCEL");
                    if let Err(e) = dialog.cancel().await {
                        warn!(error = %e, "CANCEL failed");
                    }
                    // Wait (bounded) for the 487 so the transaction ends cleanly.
                    let _ = tokio::time::timeout(Duration::from_secs(5), &mut invite).await;
                    report(SipEvent::Failed(SipStatus::new(487, "Request Terminated")));
                    return;
                }
                _ = &mut deadline => {
                    info!("no final response in time: CANCEL");
                    let _ = dialog.cancel().await;
                    let _ = tokio::time::timeout(Duration::from_secs(5), &mut invite).await;
                    report(SipEvent::Failed(SipStatus::new(408, "Request Timeout")));
                    return;
                }
                _ = self.cancel.cancelled() => {
                    let _ = dialog.cancel().await;
                    report(SipEvent::Failed(SipStatus::new(503, "Gateway shutting down")));
                    return;
                }
            }
        };
        match outcome {
            Outcome::Answered { sdp, dialog_id } => {
                report(SipEvent::Answered { sdp });
                self.confirmed_call(dialog, dialog_id, &mut states, hangup, info, report)
                    .await;
            }
            Outcome::Failed { code, reason } => {
                report(SipEvent::Failed(SipStatus::new(code, reason)))
            }
        }
    }

    /// A confirmed dialog (either direction): INFO DTMF out, BYE in or out.
    pub(crate) async fn confirmed_call(
        &self,
        dialog: InviteDialog,
        dialog_id: rsipstack::dialog::DialogId,
        states: &mut rsipstack::dialog::dialog::DialogStateReceiver,
        mut hangup: tokio::sync::oneshot::Receiver<()>,
        mut info: mpsc::Receiver<LegCommand>,
        report: &(dyn Fn(SipEvent) + Sync),
    ) {
        let mut transfer = TransferDriver::default();
        let by_remote = loop {
            tokio::select! {
                _ = transfer.sleep() => transfer.on_timeout(report).await,
                Some(cmd) = info.recv() => match cmd {
                LegCommand::Transfer(cmd) => {
                    if transfer.command(&dialog, cmd, report).await {
                        break false;
                    }
                }
                LegCommand::Dtmf(d) => {
                    let headers = vec![rsipstack::sip::Header::ContentType(
                        "application/dtmf-relay".into(),
                    )];
                    match dialog.info(Some(headers), Some(d.body())).await {
                        Ok(resp) => debug!(digit = %d.digit, code = ?resp.map(|r| r.status_code.code()), "INFO sent"),
                        Err(e) => warn!(error = %e, "INFO failed"),
                    }
                }
                },
                state = states.recv() => match state {
                    Some(DialogState::Terminated(_, reason)) => {
                        // Uac/UasBye name who sent the BYE relative to the
                        // dialog's roles: ours unless it is our own hangup.
                        let client = dialog.role() == rsipstack::transaction::key::TransactionRole::Client;
                        let ours = match reason {
                            TerminatedReason::UacBye => client,
                            TerminatedReason::UasBye => !client,
                            _ => false,
                        };
                        break !ours;
                    }
                    Some(other) => {
                        let _ = transfer.on_state(other, report);
                    }
                    None => break true,
                },
                _ = &mut hangup => break false,
                _ = self.cancel.cancelled() => break false,
            }
        };
        if !by_remote {
            debug!("sending BYE");
            super::transfer::wait_confirmed(&dialog).await;
            if let Err(e) = dialog.bye().await {
                warn!(error = %e, "BYE failed");
            }
        }
        self.dialog_layer.remove_dialog(&dialog_id);
        report(SipEvent::Ended { by_remote });
    }
}

enum Outcome {
    Answered {
        sdp: Vec<u8>,
        dialog_id: rsipstack::dialog::DialogId,
    },
    Failed {
        code: u16,
        reason: String,
    },
}

fn final_outcome(
    res: Result<rsipstack::dialog::invitation::InviteAsyncResult, tokio::task::JoinError>,
) -> Outcome {
    match res {
        Ok(Ok((dialog_id, Some(resp)))) => {
            let code = resp.status_code.code();
            if (200..300).contains(&code) {
                Outcome::Answered {
                    sdp: resp.body.clone(),
                    dialog_id,
                }
            } else {
                Outcome::Failed {
                    code,
                    reason: reason_of(&resp),
                }
            }
        }
        Ok(Ok((_, None))) => Outcome::Failed {
            code: 408,
            reason: "Request Timeout".into(),
        },
        // A 401/407 whose challenges `TrunkInspector` removed.
        Ok(Err(rsipstack::Error::DialogError(_, _, code))) if matches!(code.code(), 401 | 407) => {
            Outcome::Failed {
                code: code.code(),
                reason: standard_reason(&code),
            }
        }
        Ok(Err(e)) => Outcome::Failed {
            code: 503,
            reason: format!("Service Unavailable: {e}"),
        },
        Err(e) => Outcome::Failed {
            code: 500,
            reason: format!("internal error: {e}"),
        },
    }
}

fn report_early(state: &DialogState, report: &(dyn Fn(SipEvent) + Sync)) {
    if let DialogState::Early(_, resp) = state {
        let code = resp.status_code.code();
        if code > 100 {
            let sdp = (!resp.body.is_empty()).then(|| resp.body.clone());
            report(SipEvent::Progress {
                status: SipStatus::new(code, reason_of(resp)),
                sdp,
            });
        }
    }
}

/// The reason phrase as received, or the standard one for the code.
fn reason_of(resp: &rsipstack::sip::Response) -> String {
    resp.wire_reason
        .clone()
        .unwrap_or_else(|| standard_reason(&resp.status_code))
}

fn standard_reason(code: &StatusCode) -> String {
    // StatusCode's Display is "<code> <phrase>"; keep the phrase.
    let s = code.to_string();
    match s.split_once(' ') {
        Some((_, phrase)) => phrase.to_string(),
        None => s,
    }
}

/// Answers requests that arrive outside our client dialogs' transactions:
/// in-dialog BYE/INFO go to their dialog; OPTIONS gets 200; new INVITEs
/// go to [`UserAgent::incoming_invite`].
async fn serve_incoming(ua: Arc<UserAgent>, mut incoming: TransactionReceiver) {
    while let Some(mut tx) = incoming.recv().await {
        if let Some(mut dialog) = ua.dialog_layer.match_dialog(&tx) {
            tokio::spawn(async move {
                if let Err(e) = dialog.handle(&mut tx).await {
                    debug!(error = %e, "in-dialog request failed");
                }
            });
            continue;
        }
        let method = tx.original.method;
        if method == Method::Invite {
            tokio::spawn(ua.clone().incoming_invite(tx));
            continue;
        }
        let code = match method {
            Method::Options => StatusCode::OK,
            Method::Ack => continue,
            Method::Bye | Method::Cancel | Method::Info => StatusCode::CallTransactionDoesNotExist,
            _ => StatusCode::MethodNotAllowed,
        };
        debug!(%method, code = code.code(), "answering request outside any dialog");
        tokio::spawn(async move {
            let _ = tx.reply(code).await;
        });
    }
}

fn parse_uri(s: &str) -> Result<Uri, SipError> {
    Uri::try_from(s).map_err(|e| SipError::BadUri(s.to_string(), e.to_string()))
}

fn proxy_addr(uri: &str) -> Result<SipAddr, SipError> {
    let u = parse_uri(uri)?;
    Ok(SipAddr {
        r#type: Some(rsipstack::sip::transport::Transport::Udp),
        addr: u.host_with_port,
    })
}

fn advertised_host(cfg: &SipConfig, local: SocketAddr) -> String {
    match &cfg.public_address {
        Some(p) => p.clone(),
        None => local.ip().to_string(),
    }
}

/// The local IP the kernel would use to reach `remote` (a UDP connect sends
/// nothing).
pub fn route_source_ip(remote: SocketAddr) -> Option<std::net::IpAddr> {
    let bind: SocketAddr = if remote.is_ipv6() {
        "[::]:0".parse().ok()?
    } else {
        "0.0.0.0:0".parse().ok()?
    };
    let s = std::net::UdpSocket::bind(bind).ok()?;
    s.connect(remote).ok()?;
    s.local_addr().ok().map(|a| a.ip())
}
