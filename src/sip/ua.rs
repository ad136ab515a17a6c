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
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::sip::{HeadersExt, Method, StatusCode, Transport, Uri};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::TransactionReceiver;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, TransportLayer};
use rsipstack::EndpointBuilder;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::call::driver::{self, Controls, LegRoutes};
use super::call::refer::TransferCommand;
use super::call::{Command, LegConfig};
use super::event::SipEventSink;
pub use super::event::{CallId, SipEvent, SipStatus};
use super::incoming::IncomingRouter;
use super::sdp::Codec;
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
    /// Attended transfer (RFC 5589 §7): the `Replaces` header value
    /// (RFC 3891 §6.1), already checked and rebuilt by
    /// [`super::call::replaces`]. `None` for every other call.
    pub replaces: Option<String>,
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

/// Ends a call placed with [`UserAgent::place_call`] (or rung by
/// [`super::incoming`]), holds and resumes it and sends INFO DTMF.
/// Dropping it hangs up.
#[derive(Debug)]
pub struct CallHandle {
    hangup: Option<tokio::sync::oneshot::Sender<()>>,
    commands: mpsc::Sender<Command>,
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
    /// A handle and the driver's side of it.
    pub(super) fn new() -> (Self, Controls) {
        let (hangup_tx, hangup) = tokio::sync::oneshot::channel();
        let (commands_tx, commands) = mpsc::channel(COMMAND_DEPTH);
        (
            Self {
                hangup: Some(hangup_tx),
                commands: commands_tx,
            },
            Controls { hangup, commands },
        )
    }

    /// CANCEL while early, BYE once confirmed; a no-op once ended.
    pub fn hangup(&mut self) {
        if let Some(tx) = self.hangup.take() {
            let _ = tx.send(());
        }
    }

    /// Holds (`true`: re-INVITE with `a=sendonly`, RFC 3264 §8.4) or
    /// resumes (`false`: `a=sendrecv`) a confirmed call. The outcome comes
    /// as [`SipEvent::MediaChanged`] (`by_remote: false`) or
    /// [`SipEvent::HoldFailed`]; a 491 is retried after the RFC 3261 §14.1
    /// backoff. Returns false when the command queue is full.
    pub fn hold(&self, held: bool) -> bool {
        self.commands.try_send(Command::Hold(held)).is_ok()
    }

    /// Blind transfer (RFC 5589 §6.1): REFER with `Refer-To: <target>` in
    /// the confirmed dialog; progress comes back as
    /// [`SipEvent::TransferProgress`]. `target` (a SIP URI) must already be
    /// allowed by `[policy] dial_allow`. False when the queue is full.
    pub fn transfer(&self, target: &Uri) -> bool {
        self.transfer_command(TransferCommand::Refer(target.to_string()))
    }

    /// Answers the far end's REFER reported as [`SipEvent::Referred`]:
    /// 2xx accepts (202 + NOTIFY `100 Trying`), 4xx-6xx refuses.
    pub fn decide_transfer(&self, code: u16) -> bool {
        self.transfer_command(TransferCommand::Decide(code))
    }

    /// Reports the call placed for the far end's REFER in a NOTIFY
    /// (`done`: the final one, `Subscription-State: terminated`; the old
    /// call then ends with BYE).
    pub fn notify_transfer(&self, status: SipStatus, done: bool) -> bool {
        self.transfer_command(TransferCommand::Progress { status, done })
    }

    fn transfer_command(&self, cmd: TransferCommand) -> bool {
        self.commands.try_send(Command::Transfer(cmd)).is_ok()
    }

    /// Queues DTMF digits to send as INFO requests once the call is
    /// confirmed (one INFO per digit, each after the previous one's answer).
    /// Digits beyond a queue of 32 are dropped.
    pub fn send_info_dtmf(&self, digits: impl IntoIterator<Item = DtmfInfo>) {
        for d in digits {
            let _ = self.commands.try_send(Command::Dtmf(d));
        }
    }
}

impl Drop for CallHandle {
    fn drop(&mut self) {
        self.hangup();
    }
}

/// How many hold / DTMF commands may wait for a call's driver.
const COMMAND_DEPTH: usize = 32;

/// The gateway's SIP user agent.
pub struct UserAgent {
    pub(super) dialog_layer: Arc<DialogLayer>,
    endpoint: EndpointInnerRef,
    pub(super) cfg: SipConfig,
    credential: Option<Credential>,
    /// The trunk `credential` belongs to.
    trunk: Option<TrunkAuth>,
    pub(super) contact: Uri,
    from: Uri,
    proxy: Option<SipAddr>,
    /// Each listener's transport and port (for Contact).
    listeners: Vec<(rsipstack::sip::Transport, u16)>,
    pub(super) local_addr: SocketAddr,
    /// Where new INVITEs go, by Request-URI user.
    pub(super) router: Arc<dyn IncomingRouter>,
    /// `[media] codecs`: an incoming offer must share one (else 488).
    pub(super) codecs: Vec<Codec>,
    /// `[media] srtp`: incoming offers and call legs follow it.
    pub(super) srtp: crate::sip::sdp::SrtpPolicy,
    /// Cancelled at shutdown: calls end with CANCEL/BYE.
    pub(super) cancel: CancellationToken,
    /// Stops the transport and transaction layer, after calls have ended.
    stack: CancellationToken,
    /// In-dialog requests to their call legs, by Call-ID.
    legs: Arc<LegRoutes>,
    /// `[sip] trusted`, replaced by a live reload ([`UserAgent::set_trusted`]).
    pub(super) trusted: Arc<super::trust::TrustedRanges>,
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
        srtp: crate::sip::sdp::SrtpPolicy,
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
        super::transports::check_stream_ports(&cfg)?;
        let tls_listeners = super::transports::add_stream_listeners(&transport, &cfg).await?;
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
        let listeners = transport.get_listen_addrs();
        let trusted = Arc::new(super::trust::TrustedRanges::new(cfg.trusted.clone()));
        let guard = super::guard::SipGuard::new(&cfg, trusted.clone(), bound);
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
        for l in tls_listeners {
            super::tls_accept::spawn(l, endpoint.inner.clone(), stack.child_token());
        }
        let inner = endpoint.inner.clone();
        tokio::spawn(async move {
            if let Err(e) = inner.serve().await {
                warn!(error = %e, "SIP endpoint stopped");
            }
        });
        let listeners = listeners
            .into_iter()
            .filter_map(|a| Some((a.r#type?, a.addr.port.map(|p| p.value())?)))
            .collect();
        info!(listen = %cfg.listen, streams = ?cfg.stream_listen, contact = %contact, "SIP user agent started");
        let ua = Arc::new(Self {
            dialog_layer,
            endpoint: endpoint.inner.clone(),
            cfg,
            credential,
            trunk,
            contact,
            from,
            proxy,
            listeners,
            local_addr,
            router,
            codecs,
            srtp,
            cancel: shutdown,
            stack,
            legs: Arc::default(),
            trusted,
        });
        tokio::spawn(serve_incoming(ua.clone(), incoming));
        Ok(ua)
    }

    /// Replaces `[sip] trusted` (a live reload): the next new INVITE is
    /// checked against `ranges`; calls already up are untouched.
    pub fn set_trusted(&self, ranges: Vec<ipnet::IpNet>) {
        self.trusted.set(ranges);
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

    /// Sends an INVITE and reports its progress to `events` (tagged with
    /// `call_id`). The returned handle ends the call.
    pub fn place_call(
        self: &Arc<Self>,
        call: PlaceCall,
        events: Arc<dyn SipEventSink>,
    ) -> CallHandle {
        let (handle, controls) = CallHandle::new();
        let opt = self.invite_option(&call);
        driver::spawn_outgoing(self, call, opt, events, controls);
        handle
    }

    /// The settings of a call leg: `[media] codecs`, `[sip]
    /// session_expires_s` and the INVITE timeout.
    pub(super) fn leg_config(&self, invite_timeout: Duration) -> LegConfig {
        LegConfig {
            codecs: self.codecs.clone(),
            srtp: self.srtp,
            session_expires_s: self.cfg.session_expires_s,
            invite_timeout,
            replaces: None,
        }
    }

    /// Where in-dialog requests find their call leg.
    pub(super) fn leg_routes(&self) -> &Arc<LegRoutes> {
        &self.legs
    }

    /// The From URI an INVITE for a client with identity `from` carries
    /// (for the status API and call detail records).
    pub fn caller_uri(&self, from: Option<&CallerId>) -> String {
        let mut uri = self.from.clone();
        if let Some(id) = from {
            uri.auth = Some(rsipstack::sip::uri::Auth {
                user: id.user.clone(),
                password: None,
            });
        }
        uri.to_string()
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
        let (destination, transport) = self.route_for(&call.target);
        let secure = matches!(call.target.scheme, Some(rsipstack::sip::Scheme::Sips));
        InviteOption {
            caller_display_name,
            caller,
            callee: call.target.clone(),
            destination,
            content_type: Some("application/sdp".into()),
            offer: Some(call.offer.clone()),
            contact: self.contact_for(transport, secure),
            credential: self.credential_for(&call.target),
            call_id: Some(call.call_id.as_str().to_owned()),
            ..Default::default()
        }
    }

    /// Where an INVITE to `target` goes and over which transport: the
    /// outbound proxy (its own transport) when set, else the Request-URI's
    /// host (`sips:` is TLS, RFC 3261 §26.2; else `transport=`, else UDP).
    fn route_for(&self, target: &Uri) -> (Option<SipAddr>, Transport) {
        if let Some(p) = &self.proxy {
            return (Some(p.clone()), p.r#type.unwrap_or(Transport::Udp));
        }
        let t = super::transports::uri_transport(target);
        let dest = (t == Transport::Tls).then(|| SipAddr {
            r#type: Some(Transport::Tls),
            addr: target.host_with_port.clone(),
        });
        (dest, t)
    }

    /// Our Contact for a dialog over `transport` (RFC 3261 §8.1.1.8):
    /// that listener's port and `transport=tcp|tls` (no parameter for
    /// UDP); `sips:` when `secure` (the Request-URI was `sips:`).
    pub fn contact_for(&self, transport: Transport, secure: bool) -> Uri {
        if transport == Transport::Udp {
            return self.contact.clone();
        }
        let port = self
            .listeners
            .iter()
            .find(|(t, _)| *t == transport)
            .map(|(_, p)| *p)
            .unwrap_or(self.local_addr.port());
        let host = advertised_host(&self.cfg, self.local_addr);
        let (scheme, param) = if secure {
            ("sips", String::new())
        } else {
            (
                "sip",
                format!(";transport={}", transport.to_string().to_ascii_lowercase()),
            )
        };
        let s = format!("{scheme}:{}@{host}:{port}{param}", self.cfg.from_user);
        parse_uri(&s).unwrap_or_else(|_| self.contact.clone())
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
}

/// The Call-ID of our outgoing INVITE dialog, still early, that `tx` (an
/// UPDATE from the callee) belongs to: same Call-ID, its To-tag is our
/// From-tag, and its From-tag is the one the 18x carried (when one did).
fn early_client_dialog(
    ua: &UserAgent,
    tx: &rsipstack::transaction::transaction::Transaction,
) -> Option<String> {
    let req = &tx.original;
    let call_id = req.call_id_header().ok()?.value().to_string();
    let to_tag = req.to_header().ok()?.tag().ok()??.value().to_string();
    let from_tag = req.from_header().ok()?.tag().ok()??.value().to_string();
    ua.dialog_layer
        .get_client_dialog_by_call_id(&call_id)
        .into_iter()
        .any(|d| {
            let id = d.id();
            !d.state().is_confirmed()
                && id.local_tag == to_tag
                && (id.remote_tag.is_empty() || id.remote_tag == from_tag)
        })
        .then_some(call_id)
}

/// Answers requests that arrive outside our client dialogs' transactions:
/// in-dialog BYE/INFO go to their dialog; OPTIONS gets 200; new INVITEs
/// go to [`UserAgent::incoming_invite`].
async fn serve_incoming(ua: Arc<UserAgent>, mut incoming: TransactionReceiver) {
    while let Some(mut tx) = incoming.recv().await {
        if let Some(mut dialog) = ua.dialog_layer.match_dialog(&tx) {
            let client = match &dialog {
                rsipstack::dialog::dialog::Dialog::Invite(d) => {
                    Some(d.role() == rsipstack::transaction::key::TransactionRole::Client)
                }
                _ => None,
            };
            if let (true, Some(client)) = (driver::leg_answers(tx.original.method), client) {
                let call_id = dialog.id().call_id;
                match ua.legs.deliver(&call_id, client, tx) {
                    Ok(()) => continue,
                    Err(back) => tx = *back,
                }
            }
            tokio::spawn(async move {
                if let Err(e) = dialog.handle(&mut tx).await {
                    debug!(error = %e, "in-dialog request failed");
                }
            });
            continue;
        }
        let method = tx.original.method;
        if method == Method::Update {
            // rsipstack keys an early client dialog without the callee's
            // tag, so its UPDATE (RFC 3311 §5.1) matches no dialog: find
            // the outgoing leg by Call-ID and our From-tag.
            if let Some(call_id) = early_client_dialog(&ua, &tx) {
                match ua.legs.deliver(&call_id, true, tx) {
                    Ok(()) => continue,
                    Err(back) => tx = *back,
                }
            }
        }
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

/// The outbound proxy's address and transport (`sips:` or its
/// `transport` parameter, else UDP).
fn proxy_addr(uri: &str) -> Result<SipAddr, SipError> {
    let u = parse_uri(uri)?;
    Ok(SipAddr {
        r#type: Some(super::transports::uri_transport(&u)),
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
