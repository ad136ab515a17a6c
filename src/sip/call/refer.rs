//! Blind transfer (RFC 3515 REFER, RFC 5589 §6.1): the sans-IO part.
//!
//! Both roles of one call leg, fed what arrived plus `now`, with no
//! rsipstack and no tokio ([`LegTransfer`] is the part a
//! [`super::CallLeg`] holds; [`super::driver`] sends what it asks):
//!
//! - [`Transferor`]: we sent REFER. The REFER's final response and each
//!   NOTIFY's `message/sipfrag` status line (RFC 3420, RFC 3515 §2.4.5)
//!   with its `Subscription-State` (RFC 6665 §8.2.3) become
//!   [`TransferProgress`] reports; a subscription that never reaches a
//!   final status fails after [`TRANSFER_TIMEOUT`].
//! - [`Transferee`]: the far end sent REFER. Its `Refer-To` is reduced to
//!   an addr-spec ([`refer_to_target`]) that the connection checks against
//!   `[policy] dial_allow`; the core then answers 202/4xx and words the
//!   NOTIFYs that report the new call (first `SIP/2.0 100 Trying`, last the
//!   new call's final status with `Subscription-State: terminated`). One
//!   transfer at a time per call: another REFER meanwhile gets 491.
//!
//! ```text
//! transferor:  REFER --> 202 (accepted) --> NOTIFY 100 (trying) --> NOTIFY 200 (succeeded, done)
//!                 \--> 4xx-6xx (failed, done)      \--> NOTIFY 3xx-6xx / terminated (failed, done)
//! transferee:  REFER --> [policy] --> 202 + NOTIFY 100 --> NOTIFY <final of the new call>, terminated
//!                            \--> 400 / 403, nothing dialled
//! ```

use std::time::{Duration, Instant};

use thiserror::Error;

use super::replaces::split_refer_uri;
use super::types::{header, Action, InDialogRequest, Method, RequestId};
use crate::sip::event::{SipEvent, SipStatus};

/// Most time a transfer may take from our REFER to its final NOTIFY
/// (RFC 3515 §2.4.4 leaves it to the subscription's expiry; 120 s covers
/// a target ringing for the usual 60-90 s).
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);

/// Most time the connection may take to decide on a far end's REFER.
pub const DECISION_TIMEOUT: Duration = Duration::from_secs(5);

/// `Subscription-State` expiry of the implicit subscription while the
/// transferee's new call is in progress, in seconds (RFC 6665 §4.2.2).
pub const SUBSCRIPTION_EXPIRES_S: u32 = 120;

/// Most bytes of a `Refer-To` value or sipfrag body looked at.
const MAX_INPUT: usize = 2048;

/// Why a REFER or NOTIFY could not be used (all peer misbehaviour).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReferError {
    /// The sipfrag body has no `SIP/2.0 <code> <reason>` first line.
    #[error("sipfrag body has no SIP/2.0 status line")]
    NoStatusLine,
    /// The status line's code is not 100..=699.
    #[error("sipfrag status code is not 100-699")]
    BadCode,
    /// REFER without a `Refer-To` header (RFC 3515 §2.4.1: 400).
    #[error("REFER without Refer-To")]
    NoReferTo,
    /// `Refer-To` is not a `sip:` URI we can use.
    #[error("Refer-To is not a usable SIP URI")]
    BadReferTo,
    /// A value longer than the parser looks at.
    #[error("value too long")]
    TooLong,
}

/// One step of a transfer as the leg reports it to the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferProgress {
    /// The REFER's response, or a NOTIFY's sipfrag status line (or our own
    /// 408 when the subscription timed out).
    pub status: SipStatus,
    /// True for the last report of this transfer.
    pub done: bool,
}

/// Parses a `message/sipfrag` body (RFC 3420) down to its status line,
/// `SIP/2.0 <code> <reason>` (RFC 3261 §7.2). Headers after it are ignored.
///
/// # Errors
/// [`ReferError::NoStatusLine`], [`ReferError::BadCode`], [`ReferError::TooLong`].
pub fn parse_sipfrag(body: &[u8]) -> Result<SipStatus, ReferError> {
    let body = &body[..body.len().min(MAX_INPUT)];
    let first = body
        .split(|b| *b == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace))
        .ok_or(ReferError::NoStatusLine)?;
    let line = std::str::from_utf8(first)
        .map_err(|_| ReferError::NoStatusLine)?
        .trim();
    let rest = line
        .strip_prefix("SIP/2.0 ")
        .ok_or(ReferError::NoStatusLine)?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 {
        return Err(ReferError::BadCode);
    }
    let code: u16 = code.parse().map_err(|_| ReferError::BadCode)?;
    if !(100..700).contains(&code) {
        return Err(ReferError::BadCode);
    }
    Ok(SipStatus::new(code, reason.trim()))
}

/// The sipfrag body a NOTIFY carries for `status`: `SIP/2.0 200 OK\r\n`.
/// The reason is cut at the first control character.
pub fn sipfrag_body(status: &SipStatus) -> Vec<u8> {
    let reason: String = status
        .reason()
        .chars()
        .take_while(|c| !c.is_control())
        .take(128)
        .collect();
    format!("SIP/2.0 {} {}\r\n", status.code(), reason).into_bytes()
}

/// A `Subscription-State` value (RFC 6665 §8.2.3; RFC 3265 before it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionState {
    /// `active`: more NOTIFYs follow.
    Active,
    /// `pending`: not yet authorized; more NOTIFYs follow.
    Pending,
    /// `terminated`: the last NOTIFY of this subscription.
    Terminated,
}

impl SubscriptionState {
    /// Parses the substate value before any `;` parameter, case-insensitive.
    /// Unknown values are `None` (RFC 6665 §8.2.3: treat as active).
    pub fn parse(value: &str) -> Option<Self> {
        let state = value.split(';').next().unwrap_or_default().trim();
        if state.eq_ignore_ascii_case("active") {
            Some(Self::Active)
        } else if state.eq_ignore_ascii_case("pending") {
            Some(Self::Pending)
        } else if state.eq_ignore_ascii_case("terminated") {
            Some(Self::Terminated)
        } else {
            None
        }
    }
}

/// The `Refer-To` value (RFC 3515 §2.1: `name-addr` or `addr-spec`, then
/// parameters) reduced to its URI, for `DialUri::parse`: a display name,
/// the angle brackets and header parameters after `>` are dropped.
/// Embedded URI headers (`?Replaces=...`) are kept here;
/// [`super::replaces::split_refer_uri`] takes them apart.
///
/// # Errors
/// [`ReferError::NoReferTo`] for an empty value, [`ReferError::BadReferTo`]
/// for an unclosed `<` or a scheme other than `sip:`, [`ReferError::TooLong`].
pub fn refer_to_target(value: &str) -> Result<String, ReferError> {
    if value.len() > MAX_INPUT {
        return Err(ReferError::TooLong);
    }
    let value = value.trim();
    if value.is_empty() {
        return Err(ReferError::NoReferTo);
    }
    let uri = match value.find('<') {
        Some(open) => {
            let rest = &value[open + 1..];
            let close = rest.find('>').ok_or(ReferError::BadReferTo)?;
            &rest[..close]
        }
        // addr-spec form: parameters after `;` belong to the header
        // (RFC 3261 §20.10 applies the same rule to Contact/From/To).
        None => value.split(';').next().unwrap_or_default(),
    };
    let uri = uri.trim();
    let scheme = uri.split_once(':').map(|(s, _)| s).unwrap_or_default();
    if !scheme.eq_ignore_ascii_case("sip") {
        return Err(ReferError::BadReferTo);
    }
    Ok(uri.to_string())
}

/// Our REFER's progress (we are the transferor).
#[derive(Debug, Clone)]
pub struct Transferor {
    phase: TransferorPhase,
    deadline: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransferorPhase {
    /// REFER sent, no final response yet.
    Sent,
    /// 2xx to the REFER; NOTIFYs report the transferee's call.
    Subscribed,
    /// A final report was made.
    Done,
}

impl Transferor {
    /// A REFER sent at `now`.
    pub fn new(now: Instant) -> Self {
        Self {
            phase: TransferorPhase::Sent,
            deadline: now + TRANSFER_TIMEOUT,
        }
    }

    /// True after the last report.
    pub fn is_done(&self) -> bool {
        self.phase == TransferorPhase::Done
    }

    /// When [`Self::handle_timeout`] is due, if the transfer is still open.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.is_done()).then_some(self.deadline)
    }

    /// The REFER's final response (`None`: no response, the transaction
    /// timed out: 408). 2xx (normally 202) reports accepted; anything
    /// else fails the transfer.
    pub fn on_response(&mut self, status: Option<SipStatus>) -> Option<TransferProgress> {
        if self.phase != TransferorPhase::Sent {
            return None;
        }
        let status = status.unwrap_or_else(|| SipStatus::new(408, "Request Timeout"));
        let done = !(200..300).contains(&status.code());
        self.phase = if done {
            TransferorPhase::Done
        } else {
            TransferorPhase::Subscribed
        };
        Some(TransferProgress { status, done })
    }

    /// A NOTIFY of the refer subscription: `body` its sipfrag,
    /// `state` its `Subscription-State` value. A final status (2xx-6xx)
    /// or a terminated subscription ends the transfer; terminated without
    /// a final status reports 487 (RFC 3515 §2.4.7: outcome unknown, a
    /// failure to the client).
    ///
    /// # Errors
    /// A body that is not a sipfrag status line: answer the NOTIFY 400.
    pub fn on_notify(
        &mut self,
        body: &[u8],
        state: Option<&str>,
    ) -> Result<Option<TransferProgress>, ReferError> {
        let status = parse_sipfrag(body)?;
        if self.is_done() {
            return Ok(None);
        }
        let terminated =
            state.and_then(SubscriptionState::parse) == Some(SubscriptionState::Terminated);
        let final_status = status.code() >= 200;
        let status = if terminated && !final_status {
            SipStatus::new(487, "Subscription terminated before a final status")
        } else {
            status
        };
        let done = final_status || terminated;
        if done {
            self.phase = TransferorPhase::Done;
        } else {
            // A NOTIFY can overtake the REFER's 202 (RFC 3515 §2.4.4).
            self.phase = TransferorPhase::Subscribed;
        }
        Ok(Some(TransferProgress { status, done }))
    }

    /// Ends a transfer that reached no final status by its deadline (408).
    pub fn handle_timeout(&mut self, now: Instant) -> Option<TransferProgress> {
        if self.is_done() || now < self.deadline {
            return None;
        }
        self.phase = TransferorPhase::Done;
        Some(TransferProgress {
            status: SipStatus::new(408, "Transfer timed out"),
            done: true,
        })
    }
}

/// What to do with a far end's REFER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferIn {
    /// Ask the connection whether `target` may be dialled (`[policy]`),
    /// then answer with [`Transferee::decide`].
    Ask {
        /// The Refer-To URI (see [`refer_to_target`]) without its
        /// embedded headers.
        target: String,
        /// The `Replaces` it embedded (attended transfer, RFC 5589 §7),
        /// rebuilt by [`super::replaces::parse_replaces`].
        replaces: Option<String>,
    },
    /// Answer at once with this final status, nothing else happens.
    Refuse(SipStatus),
}

/// A NOTIFY to send in the refer subscription (RFC 3515 §2.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyOut {
    /// The `message/sipfrag` body.
    pub body: Vec<u8>,
    /// The `Subscription-State` value.
    pub subscription_state: String,
}

impl NotifyOut {
    fn new(status: &SipStatus, done: bool) -> Self {
        let subscription_state = if done {
            "terminated;reason=noresource".to_string()
        } else {
            format!("active;expires={SUBSCRIPTION_EXPIRES_S}")
        };
        Self {
            body: sipfrag_body(status),
            subscription_state,
        }
    }
}

/// A far end's transfer of this call (we are the transferee).
#[derive(Debug, Clone, Default)]
pub struct Transferee {
    phase: TransfereePhase,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum TransfereePhase {
    /// No REFER, or the last one finished.
    #[default]
    Idle,
    /// A REFER waits for the connection's decision until the deadline.
    Deciding(Instant),
    /// 202 sent; NOTIFYs report the new call.
    Notifying,
}

impl Transferee {
    /// A REFER arrived with `refer_to` (the header's value, if present).
    pub fn on_refer(&mut self, now: Instant, refer_to: Option<&str>) -> ReferIn {
        if self.phase != TransfereePhase::Idle {
            return ReferIn::Refuse(SipStatus::new(491, "Request Pending"));
        }
        match refer_to.map(refer_to_target) {
            None | Some(Err(ReferError::NoReferTo)) => {
                ReferIn::Refuse(SipStatus::new(400, "Missing Refer-To"))
            }
            Some(Err(_)) => ReferIn::Refuse(SipStatus::new(400, "Bad Refer-To")),
            Some(Ok(uri)) => match split_refer_uri(&uri) {
                Ok((target, replaces)) => {
                    self.phase = TransfereePhase::Deciding(now + DECISION_TIMEOUT);
                    ReferIn::Ask {
                        target,
                        replaces: replaces.map(|r| r.to_string()),
                    }
                }
                Err(e) => {
                    tracing::info!(error = %e, "REFER refused");
                    ReferIn::Refuse(SipStatus::new(400, "Bad Refer-To"))
                }
            },
        }
    }

    /// True while a REFER waits for [`Self::decide`].
    pub fn is_deciding(&self) -> bool {
        matches!(self.phase, TransfereePhase::Deciding(_))
    }

    /// When [`Self::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            TransfereePhase::Deciding(d) => Some(d),
            _ => None,
        }
    }

    /// The connection's decision: `code` 2xx accepts (the answer is 202
    /// and the first NOTIFY `100 Trying` is returned), 4xx-6xx refuses.
    /// Returns the REFER's final status and the NOTIFY to send, if any;
    /// `None` when no REFER waits.
    pub fn decide(&mut self, code: u16) -> Option<(SipStatus, Option<NotifyOut>)> {
        if !self.is_deciding() {
            return None;
        }
        if (200..300).contains(&code) {
            self.phase = TransfereePhase::Notifying;
            let trying = NotifyOut::new(&SipStatus::new(100, "Trying"), false);
            return Some((SipStatus::new(202, "Accepted"), Some(trying)));
        }
        self.phase = TransfereePhase::Idle;
        let status = match code {
            403 => SipStatus::new(403, "Forbidden"),
            400 => SipStatus::new(400, "Bad Refer-To"),
            c if (400..700).contains(&c) => SipStatus::new(c, "Transfer refused"),
            _ => SipStatus::new(500, "Server Internal Error"),
        };
        Some((status, None))
    }

    /// No decision by the deadline: the REFER is refused with 500.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<SipStatus> {
        match self.phase {
            TransfereePhase::Deciding(d) if now >= d => {
                self.phase = TransfereePhase::Idle;
                Some(SipStatus::new(500, "No transfer decision"))
            }
            _ => None,
        }
    }

    /// The new call's progress: the NOTIFY that reports it (`done`: the
    /// final one, `Subscription-State: terminated`). `None` when no
    /// accepted transfer is open.
    pub fn progress(&mut self, status: &SipStatus, done: bool) -> Option<NotifyOut> {
        if self.phase != TransfereePhase::Notifying {
            return None;
        }
        if done {
            self.phase = TransfereePhase::Idle;
        }
        Some(NotifyOut::new(status, done))
    }
}

/// What the connection asks of a call leg about transfers
/// ([`super::Command::Transfer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferCommand {
    /// Send REFER with `Refer-To: <target>` (RFC 3515 §2.4.1); the target
    /// (a SIP URI) is already checked against `[policy] dial_allow`.
    Refer(String),
    /// Answer the far end's pending REFER: 2xx accepts (202 and a NOTIFY
    /// `100 Trying`), 4xx-6xx refuses.
    Decide(u16),
    /// The call placed for the far end's REFER progressed: NOTIFY it
    /// (`done`: the final NOTIFY, subscription terminated; the leg then
    /// ends the call with BYE, RFC 5589 §6.1).
    Progress {
        /// The new call's status (180, 200, 486, ...).
        status: SipStatus,
        /// True for its final status.
        done: bool,
    },
}

/// What a transfer step asks of its leg.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TransferOut {
    /// Actions for the driver (REFER, NOTIFY, answers).
    pub actions: Vec<Action>,
    /// Events for the connection.
    pub events: Vec<SipEvent>,
    /// End the call with BYE now (the far end's transfer is complete).
    pub bye: bool,
}

impl TransferOut {
    fn event(progress: Option<TransferProgress>) -> Self {
        Self {
            events: progress
                .map(|p| SipEvent::TransferProgress {
                    status: p.status,
                    done: p.done,
                })
                .into_iter()
                .collect(),
            ..Self::default()
        }
    }

    fn reply(id: RequestId, code: u16) -> Action {
        Action::Reply {
            id,
            code,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn notify(n: NotifyOut) -> Action {
        Action::Notify {
            body: n.body,
            subscription_state: n.subscription_state,
        }
    }
}

/// The transfer state of one confirmed call leg, both roles.
#[derive(Debug, Default)]
pub struct LegTransfer {
    transferor: Option<Transferor>,
    transferee: Transferee,
    /// The far end's REFER, until the connection decides.
    pending: Option<RequestId>,
}

impl LegTransfer {
    /// When [`Self::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let a = self.transferor.as_ref().and_then(Transferor::poll_timeout);
        let b = self.transferee.poll_timeout();
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Our REFER's subscription timed out, or the connection did not
    /// decide on the far end's REFER in time (500).
    pub fn handle_timeout(&mut self, now: Instant) -> TransferOut {
        let mut out =
            TransferOut::event(self.transferor.as_mut().and_then(|t| t.handle_timeout(now)));
        if let Some(status) = self.transferee.handle_timeout(now) {
            if let Some(id) = self.pending.take() {
                out.actions.push(TransferOut::reply(id, status.code()));
            }
        }
        out
    }

    /// A REFER or NOTIFY in the confirmed dialog.
    pub fn on_request(&mut self, now: Instant, req: &InDialogRequest) -> TransferOut {
        match req.method {
            Method::Refer => self.on_refer(now, req),
            _ => self.on_notify(req),
        }
    }

    fn on_refer(&mut self, now: Instant, req: &InDialogRequest) -> TransferOut {
        let refer_to = header(&req.headers, "Refer-To").or_else(|| header(&req.headers, "r"));
        match self.transferee.on_refer(now, refer_to) {
            ReferIn::Refuse(status) => {
                tracing::info!(%status, "REFER refused");
                TransferOut {
                    actions: vec![TransferOut::reply(req.id, status.code())],
                    ..TransferOut::default()
                }
            }
            ReferIn::Ask { target, replaces } => {
                tracing::info!(target = ?target, replaces = ?replaces, "REFER received");
                self.pending = Some(req.id);
                TransferOut {
                    events: vec![SipEvent::Referred { target, replaces }],
                    ..TransferOut::default()
                }
            }
        }
    }

    fn on_notify(&mut self, req: &InDialogRequest) -> TransferOut {
        let event = header(&req.headers, "Event")
            .or_else(|| header(&req.headers, "o"))
            .unwrap_or_default();
        let state = header(&req.headers, "Subscription-State");
        let is_refer = event
            .split(';')
            .next()
            .is_some_and(|e| e.trim().eq_ignore_ascii_case("refer"));
        let (code, out) = match self.transferor.as_mut() {
            None => (481, TransferOut::default()),
            Some(_) if !is_refer => (489, TransferOut::default()),
            Some(t) => match t.on_notify(&req.body, state) {
                Ok(p) => (200, TransferOut::event(p)),
                Err(e) => {
                    tracing::debug!(error = %e, "bad NOTIFY body");
                    (400, TransferOut::default())
                }
            },
        };
        let mut out = out;
        out.actions.insert(0, TransferOut::reply(req.id, code));
        out
    }

    /// The connection's command.
    pub fn on_command(&mut self, now: Instant, cmd: TransferCommand) -> TransferOut {
        match cmd {
            TransferCommand::Refer(target) => {
                if self.transferor.as_ref().is_some_and(|t| !t.is_done()) {
                    return TransferOut::event(Some(TransferProgress {
                        status: SipStatus::new(491, "A transfer is in progress"),
                        done: true,
                    }));
                }
                self.transferor = Some(Transferor::new(now));
                TransferOut {
                    actions: vec![Action::Refer { target }],
                    ..TransferOut::default()
                }
            }
            TransferCommand::Decide(code) => {
                let Some((status, notify)) = self.transferee.decide(code) else {
                    return TransferOut::default();
                };
                let mut out = TransferOut::default();
                if let Some(id) = self.pending.take() {
                    out.actions.push(TransferOut::reply(id, status.code()));
                }
                out.actions.extend(notify.map(TransferOut::notify));
                out
            }
            TransferCommand::Progress { status, done } => {
                match self.transferee.progress(&status, done) {
                    Some(n) => TransferOut {
                        actions: vec![TransferOut::notify(n)],
                        bye: done,
                        ..TransferOut::default()
                    },
                    None => TransferOut::default(),
                }
            }
        }
    }

    /// Our REFER's final response (`None`: none came, 408).
    pub fn on_refer_final(&mut self, status: Option<SipStatus>) -> TransferOut {
        TransferOut::event(self.transferor.as_mut().and_then(|t| t.on_response(status)))
    }
}

#[cfg(test)]
#[path = "refer_tests.rs"]
mod tests;
