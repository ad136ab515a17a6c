//! The tokio driver of one [`CallLeg`]: it turns rsipstack's INVITE
//! outcome, dialog states and in-dialog transactions into [`Input`]s,
//! carries out the leg's [`Action`]s and reports its [`SipEvent`](crate::sip::event::SipEvent)s.
//!
//! In-dialog requests that the leg answers (re-INVITE, UPDATE, OPTIONS,
//! INFO, REFER, NOTIFY, MESSAGE) reach the driver through [`LegRoutes`]
//! (by Call-ID) as whole server transactions, instead of rsipstack's
//! dialog handlers: those leave an outgoing dialog out of `Confirmed`
//! after an OPTIONS or a refused re-INVITE, which would refuse our BYE.
//! BYE, ACK, CANCEL and PRACK still go to rsipstack's dialog.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rsipstack::dialog::dialog::{
    DialogState, DialogStateReceiver, DialogStateSender, TerminatedReason,
};
use rsipstack::dialog::invitation::InviteAsyncResult;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{SipMessage, StatusCode};
use rsipstack::transaction::key::TransactionRole;
use rsipstack::transaction::transaction::Transaction;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::types::{self, Action, Command, FinalResponse, InDialogRequest, Input, RequestId};
use super::CallLeg;
use crate::sip::event::{CallId, SipEventSink, SipStatus};
use crate::sip::ua::UserAgent;

/// How many in-dialog requests may wait for one leg's driver.
const INBOX_DEPTH: usize = 16;
/// Most headers copied from one message into an [`Input`].
const MAX_HEADERS: usize = 64;
/// Most in-dialog requests unanswered at once per call.
const MAX_PENDING_REQUESTS: usize = 8;

/// (Call-ID, our role) -> the in-dialog request queue of the leg that owns
/// the dialog. The role tells apart the two legs of a call the gateway
/// places to itself (one RTMP client dialling another): same Call-ID,
/// one client and one server dialog. Entries live as long as their
/// [`RouteGuard`].
#[derive(Debug, Default)]
pub struct LegRoutes {
    map: Mutex<HashMap<(String, bool), mpsc::Sender<Box<Transaction>>>>,
}

impl LegRoutes {
    /// Registers the leg of `call_id` (`client`: we sent the INVITE); the
    /// returned guard removes it when dropped.
    pub fn register(
        self: &Arc<Self>,
        call_id: &str,
        client: bool,
        tx: mpsc::Sender<Box<Transaction>>,
    ) -> RouteGuard {
        let key = (call_id.to_owned(), client);
        if let Ok(mut m) = self.map.lock() {
            m.insert(key.clone(), tx.clone());
        }
        RouteGuard {
            routes: self.clone(),
            key,
            tx,
        }
    }

    /// Hands `tx` to its leg; gives it back when no leg takes it (none
    /// registered, or its queue of [`INBOX_DEPTH`] is full).
    pub fn deliver(
        &self,
        call_id: &str,
        client: bool,
        tx: Transaction,
    ) -> Result<(), Box<Transaction>> {
        let key = (call_id.to_owned(), client);
        let sender = self.map.lock().ok().and_then(|m| m.get(&key).cloned());
        match sender {
            Some(s) => s.try_send(Box::new(tx)).map_err(|e| e.into_inner()),
            None => Err(Box::new(tx)),
        }
    }
}

/// Removes a leg's route when dropped (unless another leg took the key).
#[derive(Debug)]
pub struct RouteGuard {
    routes: Arc<LegRoutes>,
    key: (String, bool),
    tx: mpsc::Sender<Box<Transaction>>,
}

impl Drop for RouteGuard {
    fn drop(&mut self) {
        if let Ok(mut m) = self.routes.map.lock() {
            if m.get(&self.key).is_some_and(|s| s.same_channel(&self.tx)) {
                m.remove(&self.key);
            }
        }
    }
}

/// The methods a leg answers itself.
pub fn leg_answers(method: rsipstack::sip::Method) -> bool {
    use rsipstack::sip::Method as M;
    matches!(
        method,
        M::Invite | M::Update | M::Options | M::Info | M::Refer | M::Notify | M::Message
    )
}

/// What starts a driver: an INVITE to send, or a dialog already rung.
pub enum Start {
    /// Outgoing: no dialog yet; the leg's first action is the INVITE.
    Outgoing(Box<rsipstack::dialog::invitation::InviteOption>),
    /// Incoming: the server dialog and the connection's answer.
    Incoming {
        /// The server INVITE dialog.
        dialog: InviteDialog,
        /// The connection's answer (dropped: 480).
        answer: oneshot::Receiver<Command>,
    },
}

/// One call's driver.
pub struct Driver {
    ua: Arc<UserAgent>,
    leg: CallLeg,
    call_id: CallId,
    events: Arc<dyn SipEventSink>,
    dialog: Option<InviteDialog>,
    invite_option: Option<rsipstack::dialog::invitation::InviteOption>,
    invite: Option<tokio::task::JoinHandle<InviteAsyncResult>>,
    answer: Option<oneshot::Receiver<Command>>,
    requests: HashMap<RequestId, (Transaction, rsipstack::sip::Method)>,
    next_id: u64,
    state_tx: DialogStateSender,
    /// Inputs from the driver's helper tasks (re-INVITE results, ACKs).
    inputs_tx: mpsc::Sender<Input>,
    inputs: mpsc::Receiver<Input>,
    requests_in: mpsc::Receiver<Box<Transaction>>,
    _route: RouteGuard,
}

/// The inputs from the connection.
pub struct Controls {
    /// Hangup (dropping the handle hangs up too).
    pub hangup: oneshot::Receiver<()>,
    /// Hold, DTMF and other commands.
    pub commands: mpsc::Receiver<Command>,
}

/// Awaits an optional future; pending forever when there is none.
async fn maybe<F: std::future::Future + Unpin>(f: &mut Option<F>) -> F::Output {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

impl Driver {
    /// A driver for `leg` (call `call_id`); events go to `events`.
    /// `state_tx` must feed the receiver later given to [`Driver::run`].
    pub fn new(
        ua: Arc<UserAgent>,
        leg: CallLeg,
        call_id: CallId,
        events: Arc<dyn SipEventSink>,
        start: Start,
        state_tx: DialogStateSender,
    ) -> Self {
        let (req_tx, requests_in) = mpsc::channel(INBOX_DEPTH);
        let (inputs_tx, inputs) = mpsc::channel(INBOX_DEPTH);
        let client = matches!(start, Start::Outgoing(_));
        let route = ua.leg_routes().register(call_id.as_str(), client, req_tx);
        let (dialog, invite_option, answer) = match start {
            Start::Outgoing(opt) => (None, Some(*opt), None),
            Start::Incoming { dialog, answer } => (Some(dialog), None, Some(answer)),
        };
        Self {
            ua,
            leg,
            call_id,
            events,
            dialog,
            invite_option,
            invite: None,
            answer,
            requests: HashMap::new(),
            next_id: 0,
            state_tx,
            inputs_tx,
            inputs,
            requests_in,
            _route: route,
        }
    }

    /// Runs the call to its end.
    pub async fn run(mut self, mut states: DialogStateReceiver, mut controls: Controls) {
        let mut hangup_open = true;
        let mut commands_open = true;
        let mut shutdown_fed = false;
        loop {
            if self.carry_out().await {
                return;
            }
            let wake = self.leg.poll_timeout();
            let sleep = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let now = Instant::now;
            // Biased: the connection's answer goes before its hangup (a
            // reject is followed by the handle's drop).
            tokio::select! {
                biased;
                answer = maybe(&mut self.answer) => {
                    self.answer = None;
                    let cmd = answer.unwrap_or(Command::Reject(480));
                    self.leg.handle(now(), Input::Command(cmd));
                }
                res = maybe(&mut self.invite) => {
                    self.invite = None;
                    self.leg.handle(now(), Input::InviteFinal(final_of(res)));
                }
                Some(state) = states.recv() => self.on_state(now(), state),
                _ = &mut controls.hangup, if hangup_open => {
                    hangup_open = false;
                    self.leg.handle(now(), Input::Command(Command::Hangup));
                }
                cmd = controls.commands.recv(), if commands_open => match cmd {
                    Some(cmd) => self.leg.handle(now(), Input::Command(cmd)),
                    None => commands_open = false,
                },
                Some(tx) = self.requests_in.recv() => self.on_request(now(), *tx),
                Some(input) = self.inputs.recv() => self.leg.handle(now(), input),
                _ = sleep => self.leg.handle_timeout(now()),
                _ = self.ua.cancel.cancelled(), if !shutdown_fed => {
                    shutdown_fed = true;
                    self.leg.handle(now(), Input::Shutdown);
                }
            }
        }
    }
}

impl Driver {
    /// Carries out queued actions and reports events; true when done.
    async fn carry_out(&mut self) -> bool {
        let mut done = false;
        while let Some(action) = self.leg.poll_action() {
            if self.act(action).await {
                done = true;
                break;
            }
        }
        while let Some(ev) = self.leg.poll_event() {
            self.events.event(self.call_id.clone(), ev);
        }
        if done {
            if let Some(d) = &self.dialog {
                self.ua.dialog_layer.remove_dialog(&d.id());
            }
        }
        done
    }

    /// One action; true for [`Action::Done`].
    async fn act(&mut self, action: Action) -> bool {
        match action {
            Action::Invite { headers, body } => self.send_invite(headers, body),
            Action::Cancel => {
                if let Some(d) = &self.dialog {
                    debug!("CANCEL");
                    if let Err(e) = d.cancel().await {
                        warn!(error = %e, "CANCEL failed");
                    }
                }
            }
            Action::Ringing => {
                if let Some(d) = &self.dialog {
                    if let Err(e) = d.ringing(None, None) {
                        debug!(error = %e, "cannot send 180");
                    }
                }
            }
            Action::Accept { headers, body } => {
                if let Some(d) = &self.dialog {
                    let mut h = to_headers(headers);
                    h.push(rsipstack::sip::Header::ContentType(
                        "application/sdp".into(),
                    ));
                    if let Err(e) = d.accept(Some(h), Some(body)) {
                        warn!(error = %e, "cannot send 200 OK");
                        self.leg.handle(Instant::now(), Input::DialogTerminated);
                    }
                }
            }
            Action::Reject { code, .. } => {
                if let Some(d) = &self.dialog {
                    let _ = d.reject(Some(StatusCode::from(code)), None);
                }
            }
            Action::Bye => {
                if let Some(d) = &self.dialog {
                    debug!("sending BYE");
                    if let Err(e) = d.bye().await {
                        warn!(error = %e, "BYE failed");
                    }
                }
            }
            Action::Reinvite { headers, body } => self.send_reinvite(headers, body),
            Action::Reply {
                id,
                code,
                headers,
                body,
            } => self.reply(id, code, headers, body),
            Action::Info(d) => {
                if let Some(dialog) = &self.dialog {
                    let headers = vec![rsipstack::sip::Header::ContentType(
                        "application/dtmf-relay".into(),
                    )];
                    match dialog.info(Some(headers), Some(d.body())).await {
                        Ok(resp) => {
                            debug!(digit = %d.digit, code = ?resp.map(|r| r.status_code.code()), "INFO sent")
                        }
                        Err(e) => warn!(error = %e, "INFO failed"),
                    }
                }
            }
            Action::Refer { target } => self.send_refer(target),
            Action::Notify {
                body,
                subscription_state,
            } => self.send_notify(body, subscription_state).await,
            Action::RemoteTarget { uri } => self.set_remote_target(&uri),
            Action::Done => return true,
            #[allow(unreachable_patterns)]
            _ => {}
        }
        false
    }

    /// RFC 3261 §12.2: our later in-dialog requests go to `uri`.
    fn set_remote_target(&self, uri: &str) {
        let Some(d) = &self.dialog else { return };
        match rsipstack::sip::Uri::try_from(uri) {
            Ok(parsed) => {
                info!(target = ?uri, "remote target refreshed");
                let contact = rsipstack::sip::headers::untyped::Contact(format!("<{uri}>"));
                rsipstack::dialog::dialog::Dialog::Invite(d.clone())
                    .set_remote_target(parsed, Some(contact));
            }
            Err(e) => debug!(target = ?uri, error = %e, "remote target kept (unparsable)"),
        }
    }

    fn send_invite(&mut self, headers: Vec<types::Header>, body: Vec<u8>) {
        let Some(mut opt) = self.invite_option.clone() else {
            return;
        };
        if let Some(old) = self.dialog.take() {
            self.ua.dialog_layer.remove_dialog(&old.id());
        }
        opt.offer = Some(body);
        opt.headers = Some(to_headers(headers));
        match self
            .ua
            .dialog_layer
            .do_invite_async(opt, self.state_tx.clone())
        {
            Ok((dialog, invite)) => {
                info!("INVITE sent");
                self.dialog = Some(dialog);
                self.invite = Some(invite);
            }
            Err(e) => {
                let status = SipStatus::new(500, format!("cannot send INVITE: {e}"));
                self.leg.handle(
                    Instant::now(),
                    Input::InviteFinal(FinalResponse {
                        status,
                        headers: Vec::new(),
                        body: Vec::new(),
                    }),
                );
            }
        }
    }
}

impl Driver {
    /// A dialog state change from rsipstack.
    fn on_state(&mut self, now: Instant, state: DialogState) {
        match state {
            DialogState::Early(_, resp) => {
                let code = resp.status_code.code();
                let sdp = (!resp.body.is_empty()).then(|| resp.body.clone());
                let status = SipStatus::new(code, reason_of(&resp));
                self.leg.handle(now, Input::Provisional { status, sdp });
            }
            DialogState::Confirmed(..) => {
                // The ACK of our 200 OK (incoming calls): its body is the
                // answer when the 200 carried our offer.
                if matches!(self.leg.phase(), super::Phase::AwaitingAck { .. }) {
                    let sdp = self
                        .dialog
                        .as_ref()
                        .and_then(|d| d.last_remote_ack())
                        .map(|ack| ack.body)
                        .unwrap_or_default();
                    self.leg.handle(now, Input::Acked { sdp });
                }
            }
            DialogState::Terminated(_, reason) => {
                let client = self
                    .dialog
                    .as_ref()
                    .is_some_and(|d| d.role() == TransactionRole::Client);
                let input = match reason {
                    TerminatedReason::UacCancel => Input::Cancelled,
                    // Our 200 OK got no ACK; rsipstack sends the BYE.
                    TerminatedReason::Timeout
                        if matches!(self.leg.phase(), super::Phase::AwaitingAck { .. }) =>
                    {
                        Input::AckTimeout
                    }
                    // Uac/UasBye name the BYE's sender by dialog role.
                    TerminatedReason::UasBye if client => Input::RemoteBye,
                    TerminatedReason::UacBye if !client => Input::RemoteBye,
                    TerminatedReason::UacBye | TerminatedReason::UasBye => return,
                    _ => Input::DialogTerminated,
                };
                self.leg.handle(now, input);
            }
            // Requests rsipstack handled because no route was registered
            // yet: dropping the handle answers them 501.
            _ => {}
        }
    }

    /// An in-dialog request for the leg.
    fn on_request(&mut self, now: Instant, mut tx: Transaction) {
        if self.requests.len() >= MAX_PENDING_REQUESTS {
            tokio::spawn(async move {
                let _ = tx.reply(StatusCode::ServiceUnavailable).await;
            });
            return;
        }
        self.next_id += 1;
        let id = RequestId(self.next_id);
        let method = tx.original.method;
        let req = InDialogRequest {
            id,
            method: method_of(method),
            headers: headers_of(&tx.original.headers),
            body: tx.original.body.clone(),
        };
        debug!(%method, ?id, "in-dialog request");
        self.requests.insert(id, (tx, method));
        self.leg.handle(now, Input::Request(req));
    }

    /// Sends our re-INVITE from a helper task; its outcome comes back as
    /// [`Input::ReinviteFinal`].
    fn send_reinvite(&mut self, headers: Vec<types::Header>, body: Vec<u8>) {
        let Some(dialog) = self.dialog.clone() else {
            return;
        };
        let inputs = self.inputs_tx.clone();
        tokio::spawn(async move {
            let mut h = to_headers(headers);
            h.push(rsipstack::sip::Header::ContentType(
                "application/sdp".into(),
            ));
            let resp = match dialog.reinvite(Some(h), Some(body)).await {
                Ok(Some(resp)) => FinalResponse {
                    status: SipStatus::new(resp.status_code.code(), reason_of(&resp)),
                    headers: headers_of(&resp.headers),
                    body: resp.body.clone(),
                },
                Ok(None) => final_status(408, "Request Timeout"),
                Err(e) => final_status(503, &format!("re-INVITE failed: {e}")),
            };
            info!(status = %resp.status, "re-INVITE answered");
            let _ = inputs.send(Input::ReinviteFinal(resp)).await;
        });
    }

    /// Sends our REFER from a helper task; its final response comes back
    /// as [`Input::ReferFinal`].
    fn send_refer(&mut self, target: String) {
        let Some(dialog) = self.dialog.clone() else {
            return;
        };
        let inputs = self.inputs_tx.clone();
        tokio::spawn(async move {
            info!(target = ?target, "sending REFER");
            let status = match dialog.refer(format!("<{target}>"), None, None).await {
                Ok(resp) => resp.map(|r| SipStatus::new(r.status_code.code(), reason_of(&r))),
                Err(e) => {
                    warn!(error = %e, "REFER failed");
                    Some(SipStatus::new(503, "REFER could not be sent"))
                }
            };
            let _ = inputs.send(Input::ReferFinal(status)).await;
        });
    }

    /// Sends a NOTIFY of the refer subscription and waits for its answer,
    /// so that a BYE queued after the final one follows it.
    async fn send_notify(&mut self, body: Vec<u8>, subscription_state: String) {
        let Some(dialog) = &self.dialog else {
            return;
        };
        let headers = vec![
            rsipstack::sip::Header::Event("refer".into()),
            rsipstack::sip::Header::SubscriptionState(subscription_state.into()),
            rsipstack::sip::Header::ContentType("message/sipfrag".into()),
        ];
        match dialog.notify(Some(headers), Some(body)).await {
            Ok(resp) => debug!(code = ?resp.map(|r| r.status_code.code()), "NOTIFY sent"),
            Err(e) => warn!(error = %e, "NOTIFY failed"),
        }
    }

    /// Answers an in-dialog request from a helper task; for a 2xx to a
    /// re-INVITE, waits for the ACK and reports it.
    fn reply(&mut self, id: RequestId, code: u16, headers: Vec<types::Header>, body: Vec<u8>) {
        let Some((mut tx, method)) = self.requests.remove(&id) else {
            return;
        };
        let mut h = to_headers(headers);
        let ok = (200..300).contains(&code);
        let invite = method == rsipstack::sip::Method::Invite;
        if ok && (invite || method == rsipstack::sip::Method::Update) {
            let transport = crate::sip::transports::via_transport(&tx.original);
            h.push(rsipstack::sip::Header::Contact(
                format!("<{}>", self.ua.contact_for(transport, false)).into(),
            ));
        }
        if !body.is_empty() {
            h.push(rsipstack::sip::Header::ContentType(
                "application/sdp".into(),
            ));
        }
        let inputs = self.inputs_tx.clone();
        tokio::spawn(async move {
            let body = (!body.is_empty()).then_some(body);
            if let Err(e) = tx.reply_with(StatusCode::from(code), h, body).await {
                debug!(error = %e, %method, code, "cannot answer in-dialog request");
                return;
            }
            if !invite {
                return;
            }
            // Keep the INVITE server transaction until its ACK (2xx: the
            // answer may be in it) or its end (non-2xx: absorbed). While
            // it is polled, rsipstack retransmits the 2xx (Timer G, T1
            // doubling to T2) and ends it after 64 x T1 (Timer L), RFC
            // 3261 §13.3.1.4; the timeout below is only a backstop.
            let wait =
                tokio::time::timeout(super::leg::ACK_TIMEOUT + super::leg::ACK_BACKSTOP, async {
                    while let Some(msg) = tx.receive().await {
                        if let SipMessage::Request(req) = msg {
                            if req.method == rsipstack::sip::Method::Ack {
                                return Some(req.body);
                            }
                        }
                    }
                    None
                })
                .await;
            if ok {
                let input = match wait {
                    Ok(Some(sdp)) => Input::RequestAcked { id, sdp },
                    // No ACK: the leg ends the call with BYE.
                    _ => Input::RequestUnacked { id },
                };
                let _ = inputs.send(input).await;
            }
        });
    }
}

fn final_status(code: u16, reason: &str) -> FinalResponse {
    FinalResponse {
        status: SipStatus::new(code, reason),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// The INVITE task's outcome as a final response.
fn final_of(res: Result<InviteAsyncResult, tokio::task::JoinError>) -> FinalResponse {
    match res {
        Ok(Ok((_, Some(resp)))) => FinalResponse {
            status: SipStatus::new(resp.status_code.code(), reason_of(&resp)),
            headers: headers_of(&resp.headers),
            body: resp.body.clone(),
        },
        Ok(Ok((_, None))) => final_status(408, "Request Timeout"),
        // A 401/407 whose challenges `TrunkInspector` removed.
        Ok(Err(rsipstack::Error::DialogError(_, _, code))) if matches!(code.code(), 401 | 407) => {
            final_status(code.code(), &standard_reason(&code))
        }
        Ok(Err(e)) => final_status(503, &format!("Service Unavailable: {e}")),
        Err(e) => final_status(500, &format!("internal error: {e}")),
    }
}

/// The reason phrase as received, or the standard one for the code.
pub fn reason_of(resp: &rsipstack::sip::Response) -> String {
    resp.wire_reason
        .clone()
        .unwrap_or_else(|| standard_reason(&resp.status_code))
}

/// The standard phrase of `code`.
pub fn standard_reason(code: &StatusCode) -> String {
    // StatusCode's Display is "<code> <phrase>"; keep the phrase.
    let s = code.to_string();
    match s.split_once(' ') {
        Some((_, phrase)) => phrase.to_string(),
        None => s,
    }
}

/// A request's headers as name/value pairs (at most 64).
pub fn request_headers(req: &rsipstack::sip::Request) -> Vec<types::Header> {
    headers_of(&req.headers)
}

/// Headers as name/value pairs (at most [`MAX_HEADERS`]).
fn headers_of(headers: &rsipstack::sip::Headers) -> Vec<types::Header> {
    headers
        .iter()
        .take(MAX_HEADERS)
        .filter_map(|h| {
            let line = h.to_string();
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

/// Name/value pairs as rsipstack headers.
fn to_headers(headers: Vec<types::Header>) -> Vec<rsipstack::sip::Header> {
    headers
        .into_iter()
        .map(|(n, v)| rsipstack::sip::Header::Other(n, v))
        .collect()
}

fn method_of(m: rsipstack::sip::Method) -> types::Method {
    use rsipstack::sip::Method as M;
    match m {
        M::Invite => types::Method::Invite,
        M::Update => types::Method::Update,
        M::Options => types::Method::Options,
        M::Info => types::Method::Info,
        M::Refer => types::Method::Refer,
        M::Notify => types::Method::Notify,
        M::Message => types::Method::Message,
        other => types::Method::Other(other.to_string()),
    }
}

/// Spawns the driver of an outgoing call.
pub fn spawn_outgoing(
    ua: &Arc<UserAgent>,
    call: crate::sip::ua::PlaceCall,
    opt: rsipstack::dialog::invitation::InviteOption,
    events: Arc<dyn SipEventSink>,
    controls: Controls,
) {
    let mut cfg = ua.leg_config(call.invite_timeout);
    cfg.replaces = call.replaces.clone();
    let leg = CallLeg::outgoing(Instant::now(), cfg, call.offer, rand::random());
    let (state_tx, states) = ua.dialog_layer.new_dialog_state_channel();
    let driver = Driver::new(
        ua.clone(),
        leg,
        call.call_id.clone(),
        events,
        Start::Outgoing(Box::new(opt)),
        state_tx,
    );
    let span = tracing::info_span!("sip_call", call_id = %call.call_id);
    tokio::spawn(tracing::Instrument::instrument(
        driver.run(states, controls),
        span,
    ));
}
