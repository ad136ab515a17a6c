//! The call controller: one per RTMP connection, sans-IO.
//!
//! Fed the client's commands, the SIP user agent's [`SipEvent`]s and the
//! media bridge's failures, plus `now`; polled for [`Output`]s: replies to
//! the client's invokes, `Sono.Call.Status` events, and actions for the SIP
//! user agent and the media bridge. It holds the policy decisions (who may
//! dial what, what the client is told); the mechanism lives in `sip` and
//! `media`.
//!
//! ```text
//! Idle --dial--> Dialing --18x--> Early --2xx--> Connected --hangup/BYE--> Ending --> Idle
//!                   |               |               ^                         ^
//!                   +---3xx-6xx-----+-----> Idle    |   hangup (CANCEL) ------+
//!                                                   |
//! Idle --INVITE--> Ringing --accept--> Answering --ACK
//!                     |
//!                     +--reject / hangup / ring timeout / CANCEL--> Idle
//!
//! Early: an 18x with SDP (handle_early_media) connects the streams there
//!        (status 1, early_media); the 2xx then sends 2 and 4 only.
//! Connected --transfer(uri)--> Connected{transferring} --sipfrag 2xx--> Ending (BYE)
//!                                     \--failed--> Connected
//! Connected --far end's REFER allowed--> old call 0, new call Dialing (same permit)
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use super::policy::DialPolicy;
use super::status::{CallStatus, StatusCode};
use super::transfer::{TransferEvent, TransferStatus};
use super::uri::{DialUri, DialUriError};
use crate::sip::event::{SipEvent, SipStatus};

/// The reason of the final `Sono.Call.Status` of a call the operator
/// ended through the status API.
pub const OPERATOR_HANGUP: &str = "Hung up by the operator";

/// How long the controller waits for the SIP side to confirm a hangup
/// before it forgets the call (the BYE/CANCEL transaction times out after
/// 64*T1 = 32 s, RFC 3261 §17.1.2.2).
const ENDING_GUARD: Duration = Duration::from_secs(40);

/// `_error` codes of `dial` (README.md, "RTMP API").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialError {
    /// No URI, or not a SIP URI: `Sono.Call.NoUri`.
    NoUri,
    /// A call is already in progress on this connection: `Sono.Call.Existing`.
    Existing,
    /// `[policy] dial_allow` does not allow the URI: `Sono.Call.Forbidden`.
    Forbidden,
    /// The gateway cannot place the call (limits, internal): `Sono.Call.Failed`.
    Failed,
}

impl DialError {
    /// The NetStatus code string.
    pub fn code(self) -> &'static str {
        match self {
            DialError::NoUri => "Sono.Call.NoUri",
            DialError::Existing => "Sono.Call.Existing",
            DialError::Forbidden => "Sono.Call.Forbidden",
            DialError::Failed => "Sono.Call.Failed",
        }
    }
}

/// What the controller asks of its driver and the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Answer invoke `txn` with `_result`.
    Result {
        /// The invoke's AMF0 transaction ID (a Number, echoed back).
        txn: f64,
    },
    /// Answer invoke `txn` with `_error` carrying `code` and `description`.
    Error {
        /// The invoke's AMF0 transaction ID (a Number, echoed back).
        txn: f64,
        /// The info object's `code`, e.g. `Sono.Call.Existing`
        /// (see README.md, "RTMP API").
        code: &'static str,
        /// The info object's `description`: a human-readable reason.
        description: String,
    },
    /// Send a `Sono.Call.Status` event.
    Status(CallStatus),
    /// Send an INVITE to `target` (after allocating media and building the offer).
    Invite {
        /// The Call-ID the new dialog will use: 32 hex digits (128 random
        /// bits; RFC 3261 §8.1.1.4).
        call_id: String,
        /// The Request-URI, already checked against the dial policy.
        target: DialUri,
    },
    /// Start the built-in echo destination for this call.
    StartEcho {
        /// The echo call's ID: 32 hex digits (128 random bits), used only in
        /// events (no SIP dialog).
        call_id: String,
    },
    /// End the SIP side of the call (CANCEL or BYE, the UA knows which).
    Hangup {
        /// The call's ID: its SIP Call-ID, or the echo call's own ID.
        call_id: String,
    },
    /// Media for the call may flow: bind `publish`/`play` names to it.
    ConnectStreams {
        /// The call's ID: its SIP Call-ID, or the echo call's own ID.
        call_id: String,
        /// Stream name the client publishes its microphone to (128 random
        /// bits; see README.md, "Receiving calls", media).
        publish: String,
        /// Stream name the client plays the far end from (128 random bits).
        play: String,
    },
    /// Release the call's media and its capacity permit.
    Release {
        /// The call's ID: its SIP Call-ID, or the echo call's own ID.
        call_id: String,
    },
    /// Send a `Sono.Call.Incoming` event: a call rings at this client.
    Incoming(IncomingCallInfo),
    /// Answer the ringing incoming call with 200 OK (after allocating
    /// media and building the SDP answer).
    Accept {
        /// The SIP Call-ID of the ringing INVITE.
        call_id: String,
    },
    /// Send REFER (blind transfer, RFC 5589 §6.1) in the connected call.
    Refer {
        /// The connected call's SIP Call-ID.
        call_id: String,
        /// The Refer-To URI, already checked against the dial policy.
        target: DialUri,
    },
    /// Send a `Sono.Call.Transfer` event.
    Transfer(TransferEvent),
    /// The far end's REFER was accepted: keep the old call's SIP leg
    /// apart (it NOTIFYs the new call's progress and ends after the final
    /// NOTIFY or the far end's BYE) and give its resources (capacity
    /// permit) to `new_call_id`, whose INVITE follows.
    TransferLeg {
        /// The transferred call's Call-ID (the client saw it end).
        old_call_id: String,
        /// The new call's Call-ID.
        new_call_id: String,
    },
    /// Refuse the ringing incoming call with a final `code` (RFC 3261 §21).
    Reject {
        /// The SIP Call-ID of the ringing INVITE.
        call_id: String,
        /// Final status code, 400..=699 (RFC 3261 §21).
        code: u16,
    },
}

/// Who is calling (the `Sono.Call.Incoming` event's fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingCallInfo {
    /// The SIP Call-ID of the incoming INVITE.
    pub call_id: String,
    /// The caller: the From URI.
    pub uri: String,
    /// The From display name, if any.
    pub display_name: Option<String>,
    /// The called address: the To URI.
    pub to: String,
}

/// Whether the gateway, and the caller's token subject, have room for one
/// more call when a client dials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    /// Room for the call.
    Available,
    /// The gateway is at `[limits] max_calls`.
    GatewayFull,
    /// The client's token subject holds its `max_calls` calls already.
    SubjectFull {
        /// The subject's `max_calls` claim (0..=1000).
        max: u32,
    },
    /// The media workers are past `[limits] media_max_load` (load
    /// shedding): new calls are refused with 503.
    Overloaded,
    /// The gateway is draining (SIGTERM, `[limits] drain_timeout_s`): new
    /// calls are refused with 503 while the running ones end.
    Draining,
}

/// The description of a `dial` refused while the gateway drains.
pub const DRAINING: &str =
    "503 Service Unavailable: the gateway is shutting down (draining); try again later";

impl From<bool> for Capacity {
    /// `true`: [`Capacity::Available`]; `false`: [`Capacity::GatewayFull`].
    fn from(available: bool) -> Self {
        if available {
            Capacity::Available
        } else {
            Capacity::GatewayFull
        }
    }
}

/// The description of a `dial` refused for overload (load shedding).
pub const OVERLOADED: &str =
    "503 Service Unavailable: the gateway's media workers are overloaded; try again later";

/// Whether a new incoming call may ring at this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncomingDecision {
    /// It rings: the client got `Sono.Call.Incoming`.
    Ringing,
    /// A call exists on this connection: answer 486 Busy Here.
    Busy,
    /// The gateway is at `[limits] max_calls`: answer 503.
    NoCapacity,
}

/// What to answer a far end's REFER (RFC 3515 §2.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferDecision {
    /// 202: the gateway calls the target (outputs follow).
    Accept,
    /// Refuse with this code: 400 (not a usable SIP URI), 403 (outside
    /// `[policy] dial_allow`), 481 (no such connected call).
    Refuse(u16),
}

/// Static inputs of a controller.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Which dial targets are allowed: `[policy] dial_allow`, narrowed by
    /// the client token's `dial` claim.
    pub policy: DialPolicy,
    /// User part of the built-in echo destination.
    pub echo_user: String,
    /// How long an incoming call rings before it is refused with 480.
    pub ring_timeout: Duration,
}

#[derive(Debug)]
struct Dialing {
    call_id: String,
    names: StreamNames,
    /// The streams are connected to the far end's early media.
    early_media: bool,
}

#[derive(Debug)]
struct Ringing {
    call_id: String,
    names: StreamNames,
    deadline: Instant,
}

#[derive(Debug)]
struct Connected {
    call_id: String,
    /// Our REFER is in progress (one at a time).
    transferring: bool,
}

#[derive(Debug)]
struct Ending {
    call_id: String,
    deadline: Instant,
    /// sip_code / reason to report in the final status 0, when known.
    final_code: Option<SipStatus>,
}

#[derive(Debug, Clone)]
struct StreamNames {
    publish: String,
    play: String,
}

/// The call state; each variant carries only what that state needs.
#[derive(Debug)]
enum State {
    Idle,
    /// INVITE sent, no provisional beyond 100 yet.
    Dialing(Dialing),
    /// 18x received.
    Early(Dialing),
    Connected(Connected),
    /// Hangup sent (CANCEL or BYE); waiting for the SIP side to finish.
    Ending(Ending),
    /// An incoming call rings at the client.
    Ringing(Ringing),
    /// `accept()`: 200 OK sent, waiting for the caller's ACK.
    Answering(Dialing),
}

/// The call state as seen from outside (no data): what
/// [`Controller::phase`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPhase {
    /// No call.
    Idle,
    /// INVITE sent (or the echo destination starting), no provisional beyond 100.
    Dialing,
    /// 18x received.
    Early,
    /// Answered (2xx/ACK).
    Connected,
    /// Hangup sent; waiting for the SIP side to finish.
    Ending,
    /// An incoming call rings at the client.
    Ringing,
    /// `accept()` sent 200 OK; waiting for the ACK.
    Answering,
}

/// One connection's call controller.
#[derive(Debug)]
pub struct Controller {
    cfg: ControllerConfig,
    /// This client's own dial policy (its token's `dial` claim): a dial
    /// must match it and `cfg.policy`.
    client_policy: Option<DialPolicy>,
    state: State,
    out: VecDeque<Output>,
    rng: StdRng,
}

impl Controller {
    /// A controller with no call. `seed` feeds the RNG for Call-IDs and
    /// stream names (tests pass a fixed one; the driver a random one).
    pub fn new(cfg: ControllerConfig, seed: u64) -> Self {
        Self {
            cfg,
            client_policy: None,
            state: State::Idle,
            out: VecDeque::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Narrows what this client may dial to URIs `policy` also allows (the
    /// `dial` claim of its token); `[policy] dial_allow` still applies.
    pub fn narrow_dial_policy(&mut self, policy: DialPolicy) {
        self.client_policy = Some(policy);
    }

    /// Replaces `[policy] dial_allow` (a live reload): the next dial or
    /// transfer is checked against `policy`; a running call is untouched.
    pub fn set_dial_policy(&mut self, policy: DialPolicy) {
        self.cfg.policy = policy;
    }

    /// The current call's Call-ID, if a call exists.
    pub fn call_id(&self) -> Option<&str> {
        match &self.state {
            State::Idle => None,
            State::Dialing(d) | State::Early(d) | State::Answering(d) => Some(&d.call_id),
            State::Connected(c) => Some(&c.call_id),
            State::Ending(e) => Some(&e.call_id),
            State::Ringing(r) => Some(&r.call_id),
        }
    }

    /// The call's phase.
    pub fn phase(&self) -> CallPhase {
        match &self.state {
            State::Idle => CallPhase::Idle,
            State::Dialing(_) => CallPhase::Dialing,
            State::Early(_) => CallPhase::Early,
            State::Connected(_) => CallPhase::Connected,
            State::Ending(_) => CallPhase::Ending,
            State::Ringing(_) => CallPhase::Ringing,
            State::Answering(_) => CallPhase::Answering,
        }
    }

    /// True while a call exists in any state but idle.
    pub fn has_call(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Controller::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Ending(e) => Some(e.deadline),
            State::Ringing(r) => Some(r.deadline),
            _ => None,
        }
    }

    /// Advances timers: the hangup guard and the ring timeout (480).
    pub fn handle_timeout(&mut self, now: Instant) {
        match &self.state {
            State::Ending(e) if now >= e.deadline => {
                let call_id = e.call_id.clone();
                self.finish(call_id, Some(SipStatus::new(408, "Request Timeout")));
            }
            State::Ringing(r) if now >= r.deadline => {
                let call_id = r.call_id.clone();
                self.refuse(call_id, 480, "Ring timeout");
            }
            _ => {}
        }
    }

    // ---- incoming calls --------------------------------------------------

    /// A new INVITE for this connection. `capacity` is false when the
    /// gateway is at `[limits] max_calls`. On [`IncomingDecision::Ringing`]
    /// the call rings until accept, reject, hangup, the caller's CANCEL or
    /// the ring timeout; otherwise the driver answers the INVITE itself.
    pub fn handle_incoming(
        &mut self,
        now: Instant,
        info: IncomingCallInfo,
        capacity: bool,
    ) -> IncomingDecision {
        if self.has_call() {
            return IncomingDecision::Busy;
        }
        if !capacity {
            return IncomingDecision::NoCapacity;
        }
        let names = StreamNames {
            publish: self.random_hex(16),
            play: self.random_hex(16),
        };
        self.state = State::Ringing(Ringing {
            call_id: info.call_id.clone(),
            names,
            deadline: now + self.cfg.ring_timeout,
        });
        self.out.push_back(Output::Incoming(info));
        IncomingDecision::Ringing
    }

    /// `accept()`: answer the ringing call.
    pub fn handle_accept(&mut self, _now: Instant, txn: f64) {
        let state = std::mem::replace(&mut self.state, State::Idle);
        self.state = match state {
            State::Ringing(r) => {
                self.out.push_back(Output::Result { txn });
                self.out.push_back(Output::Accept {
                    call_id: r.call_id.clone(),
                });
                self.status(StatusCode::InProgress, &r.call_id, None);
                State::Answering(Dialing {
                    call_id: r.call_id,
                    names: r.names,
                    early_media: false,
                })
            }
            other => {
                self.no_ringing_call(txn);
                other
            }
        };
    }

    /// `reject([code])`: refuse the ringing call with `code` (default 603
    /// Decline; only 4xx-6xx are accepted).
    pub fn handle_reject(&mut self, _now: Instant, txn: f64, code: Option<u16>) {
        let code = code.unwrap_or(603);
        if !(400..700).contains(&code) {
            self.out.push_back(Output::Error {
                txn,
                code: "Sono.Call.Failed",
                description: format!("reject needs a 4xx-6xx code, not {code}"),
            });
            return;
        }
        match &self.state {
            State::Ringing(r) => {
                let call_id = r.call_id.clone();
                self.out.push_back(Output::Result { txn });
                self.refuse(call_id, code, "Rejected");
            }
            _ => self.no_ringing_call(txn),
        }
    }

    fn no_ringing_call(&mut self, txn: f64) {
        self.out.push_back(Output::Error {
            txn,
            code: "Sono.Call.Failed",
            description: "no incoming call is ringing".into(),
        });
    }

    /// Refuses the ringing call and tells the client it ended.
    fn refuse(&mut self, call_id: String, code: u16, reason: &str) {
        self.out.push_back(Output::Reject {
            call_id: call_id.clone(),
            code,
        });
        self.finish(call_id, Some(SipStatus::new(code, reason)));
    }

    /// `dial(uri)` invoke with transaction id `txn`. `capacity` says
    /// whether the gateway (`[limits] max_calls`, or `false`) and the
    /// client's token subject (`max_calls` claim) have room.
    pub fn handle_dial(
        &mut self,
        now: Instant,
        txn: f64,
        uri: Option<&str>,
        capacity: impl Into<Capacity>,
    ) {
        match uri.map(DialUri::parse) {
            None | Some(Err(DialUriError::Missing)) => {
                self.dial_error(txn, DialError::NoUri, "dial needs a SIP URI".into())
            }
            Some(Err(why)) => self.dial_error(
                txn,
                DialError::NoUri,
                format!("not a usable SIP URI: {why}"),
            ),
            Some(Ok(target)) => self.handle_dial_uri(now, txn, target, capacity),
        }
    }

    /// `dial(uri)` with the URI already parsed
    /// ([`crate::call::connection::ApiCommand::Dial`]).
    pub fn handle_dial_uri(
        &mut self,
        _now: Instant,
        txn: f64,
        target: DialUri,
        capacity: impl Into<Capacity>,
    ) {
        if let Err((e, why)) = self.check_dial(&target, capacity.into()) {
            self.dial_error(txn, e, why);
            return;
        }
        let call_id = self.random_hex(16);
        let names = StreamNames {
            publish: self.random_hex(16),
            play: self.random_hex(16),
        };
        let is_echo = target.user() == Some(self.cfg.echo_user.as_str());
        self.status(StatusCode::InProgress, &call_id, None);
        if is_echo {
            self.out.push_back(Output::StartEcho {
                call_id: call_id.clone(),
            });
            self.state = State::Dialing(Dialing {
                call_id,
                names,
                early_media: false,
            });
            return;
        }
        self.out.push_back(Output::Invite {
            call_id: call_id.clone(),
            target,
        });
        self.state = State::Dialing(Dialing {
            call_id,
            names,
            early_media: false,
        });
    }

    fn dial_error(&mut self, txn: f64, e: DialError, description: String) {
        self.out.push_back(Output::Error {
            txn,
            code: e.code(),
            description,
        });
    }

    /// Whether this client may call `parsed` now: no call yet, both
    /// policies allow it, capacity left.
    pub fn check_dial(
        &self,
        parsed: &DialUri,
        capacity: Capacity,
    ) -> Result<(), (DialError, String)> {
        if self.has_call() {
            return Err((DialError::Existing, "a call is already in progress".into()));
        }
        self.check_target(parsed)?;
        match capacity {
            Capacity::Available => Ok(()),
            Capacity::GatewayFull => {
                Err((DialError::Failed, "the gateway is at its call limit".into()))
            }
            Capacity::SubjectFull { max } => Err((
                DialError::Failed,
                format!(
                    "this client's token allows at most {max} concurrent calls (`max_calls` claim)"
                ),
            )),
            Capacity::Overloaded => Err((DialError::Failed, OVERLOADED.into())),
            Capacity::Draining => Err((DialError::Failed, DRAINING.into())),
        }
    }

    /// Whether `[policy] dial_allow` and the client's token both allow
    /// `parsed` (also the check for a `transfer(uri)` target).
    pub fn check_target(&self, parsed: &DialUri) -> Result<(), (DialError, String)> {
        if !self.cfg.policy.allows(parsed) {
            return Err((
                DialError::Forbidden,
                format!(
                    "{} is not allowed by the gateway's dial policy",
                    parsed.canonical()
                ),
            ));
        }
        if self
            .client_policy
            .as_ref()
            .is_some_and(|p| !p.allows(parsed))
        {
            return Err((
                DialError::Forbidden,
                format!(
                    "{} is not allowed by this client's token (`dial` claim)",
                    parsed.canonical()
                ),
            ));
        }
        Ok(())
    }

    /// `hangup()` invoke: CANCEL while early, BYE when connected.
    pub fn handle_hangup(&mut self, now: Instant, txn: f64) {
        self.out.push_back(Output::Result { txn });
        self.hangup(now, None);
    }

    /// The gateway's operator ended call `call_id` (status API `DELETE
    /// /api/v1/calls/{call_id}`): like `hangup()` (CANCEL, BYE, or 486
    /// for a ringing incoming call), with [`OPERATOR_HANGUP`] as the final
    /// status's reason. False when `call_id` is not this controller's call.
    pub fn handle_operator_hangup(&mut self, now: Instant, call_id: &str) -> bool {
        if self.call_id() != Some(call_id) {
            return false;
        }
        self.hangup(now, Some(SipStatus::new(200, OPERATOR_HANGUP)));
        true
    }

    /// The RTMP connection closed: end any call.
    pub fn handle_disconnect(&mut self, now: Instant) {
        self.hangup(now, None);
    }

    /// The media bridge failed or timed out: end the call with BYE and
    /// report `sip_code`/`reason` in the final status.
    pub fn handle_media_failure(&mut self, now: Instant, call_id: &str, code: u16, reason: &str) {
        if self.call_id() == Some(call_id) {
            self.hangup(now, Some(SipStatus::new(code, reason)));
        }
    }

    fn hangup(&mut self, now: Instant, final_code: Option<SipStatus>) {
        let call_id = match &self.state {
            State::Idle | State::Ending(_) => return,
            State::Ringing(r) => {
                // RFC 3261 §21.4.7: busy here; the client declined to take it.
                let call_id = r.call_id.clone();
                self.refuse(call_id, 486, "Busy Here");
                return;
            }
            State::Dialing(d) | State::Early(d) | State::Answering(d) => d.call_id.clone(),
            State::Connected(c) => c.call_id.clone(),
        };
        self.status(StatusCode::Disconnecting, &call_id, None);
        self.out.push_back(Output::Hangup {
            call_id: call_id.clone(),
        });
        self.state = State::Ending(Ending {
            call_id,
            deadline: now + ENDING_GUARD,
            final_code,
        });
    }

    /// An event from the SIP user agent (or the echo destination) for `call_id`.
    pub fn handle_sip(&mut self, now: Instant, call_id: &str, ev: SipEvent) {
        if self.call_id() != Some(call_id) {
            return; // a stale event of an earlier call
        }
        match ev {
            SipEvent::Progress { status, .. } => self.on_progress(status),
            SipEvent::TransferProgress { status, done } => {
                self.on_transfer_progress(now, status, done)
            }
            SipEvent::Answered { .. } => self.on_answered(),
            SipEvent::Failed(status) => self.on_ended(Some(status)),
            SipEvent::Ended { by_remote } => {
                let reason = if by_remote {
                    "Remote hangup"
                } else {
                    "Local hangup"
                };
                self.on_ended(Some(SipStatus::new(200, reason)))
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    fn on_progress(&mut self, status: SipStatus) {
        let state = std::mem::replace(&mut self.state, State::Idle);
        self.state = match state {
            State::Dialing(d) | State::Early(d) => {
                let mut ev = Self::sip_status(StatusCode::InProgress, &d.call_id, Some(status));
                if d.early_media {
                    ev.early_media = Some(true);
                }
                self.out.push_back(Output::Status(ev));
                State::Early(d)
            }
            other => other,
        };
    }

    /// The driver started media on an 18x's SDP (early media, RFC 3960
    /// §3: the gateway model): the client's streams are connected now, and
    /// it gets status 1 with `early_media: true` and the stream names.
    /// Later 18x keep the flag; the answer then sends status 2 and 4
    /// without connecting the streams again.
    pub fn handle_early_media(&mut self, _now: Instant, call_id: &str, status: SipStatus) {
        if self.call_id() != Some(call_id) {
            return;
        }
        let state = std::mem::replace(&mut self.state, State::Idle);
        self.state = match state {
            State::Dialing(mut d) | State::Early(mut d) if !d.early_media => {
                d.early_media = true;
                self.out.push_back(Output::ConnectStreams {
                    call_id: d.call_id.clone(),
                    publish: d.names.publish.clone(),
                    play: d.names.play.clone(),
                });
                let mut ev = Self::sip_status(StatusCode::InProgress, &d.call_id, Some(status));
                ev.early_media = Some(true);
                ev.publish = Some(d.names.publish.clone());
                ev.play = Some(d.names.play.clone());
                self.out.push_back(Output::Status(ev));
                State::Early(d)
            }
            other => {
                self.state = other;
                self.on_progress(status);
                return;
            }
        };
    }

    // ---- transfer ---------------------------------------------------------

    /// `transfer(uri)` invoke: blind transfer of the connected call (REFER,
    /// RFC 5589 §6.1). The URI is checked like `dial`'s (`Sono.Call.NoUri`,
    /// `Sono.Call.Forbidden`); `Sono.Call.Failed` without a connected call
    /// or while a transfer is in progress.
    pub fn handle_transfer(&mut self, now: Instant, txn: f64, uri: Option<&str>) {
        match parse_target(uri) {
            Ok(target) => self.handle_transfer_uri(now, txn, target),
            Err((e, why)) => self.dial_error(txn, e, why),
        }
    }

    /// `transfer(uri)` with the URI already parsed
    /// ([`crate::call::connection::ApiCommand::Transfer`]).
    pub fn handle_transfer_uri(&mut self, _now: Instant, txn: f64, target: DialUri) {
        if let Err((e, why)) = self.check_target(&target) {
            return self.dial_error(txn, e, why);
        }
        let refused = match &mut self.state {
            State::Connected(c) if c.transferring => Some("a transfer is already in progress"),
            State::Connected(c) => {
                c.transferring = true;
                let call_id = c.call_id.clone();
                self.out.push_back(Output::Result { txn });
                self.out.push_back(Output::Refer { call_id, target });
                None
            }
            _ => Some("no connected call to transfer"),
        };
        if let Some(why) = refused {
            self.out.push_back(Output::Error {
                txn,
                code: DialError::Failed.code(),
                description: why.into(),
            });
        }
    }

    /// Our REFER progressed: a `Sono.Call.Transfer` event; on success the
    /// call ends with BYE (RFC 5589 §6.1: the transferor hangs up).
    fn on_transfer_progress(&mut self, now: Instant, status: SipStatus, done: bool) {
        let State::Connected(c) = &mut self.state else {
            return;
        };
        if !c.transferring {
            return;
        }
        if done {
            c.transferring = false;
        }
        let call_id = c.call_id.clone();
        let st = TransferStatus::from_progress(&status, done);
        self.out.push_back(Output::Transfer(TransferEvent::new(
            &call_id,
            st,
            Some(status),
        )));
        if st == TransferStatus::Succeeded {
            self.hangup(now, Some(SipStatus::new(200, "Transferred")));
        }
    }

    /// The far end of connected call `call_id` sent REFER to `target`
    /// (RFC 3515): checked like a client's dial against `[policy]
    /// dial_allow` and the client's token. On [`ReferDecision::Accept`]
    /// the client gets `Sono.Call.Transfer` (accepted, the target) and
    /// status 0 for the old call, then status 1 of a new call to the
    /// target, and the driver gets [`Output::TransferLeg`] and
    /// [`Output::Invite`]. Capacity moves from the old call to the new.
    pub fn handle_referred(&mut self, now: Instant, call_id: &str, target: &str) -> ReferDecision {
        self.handle_referred_replacing(now, call_id, target, None)
    }

    /// [`Self::handle_referred`] for an attended transfer (RFC 5589 §7):
    /// the same checks on `target` (`[policy] dial_allow`, the token),
    /// and the new call's INVITE carries `Replaces: <replaces>` (a value
    /// `sip::call::replaces` checked and rebuilt).
    pub fn handle_referred_replacing(
        &mut self,
        _now: Instant,
        call_id: &str,
        target: &str,
        replaces: Option<String>,
    ) -> ReferDecision {
        let old = match &self.state {
            State::Connected(c) if c.call_id == call_id => c.call_id.clone(),
            _ => return ReferDecision::Refuse(481),
        };
        let uri = match DialUri::parse(target) {
            Ok(u) => u,
            Err(_) => return ReferDecision::Refuse(400),
        };
        if self.check_target(&uri).is_err() {
            return ReferDecision::Refuse(403);
        }
        let uri = match replaces {
            Some(r) => uri.with_replaces(r),
            None => uri,
        };
        let mut ev = TransferEvent::new(
            &old,
            TransferStatus::Accepted,
            Some(SipStatus::new(202, "Accepted")),
        );
        ev.target = Some(uri.canonical().to_string());
        self.out.push_back(Output::Transfer(ev));
        let new_call_id = self.random_hex(16);
        self.out.push_back(Output::TransferLeg {
            old_call_id: old.clone(),
            new_call_id: new_call_id.clone(),
        });
        self.status(
            StatusCode::NotConnected,
            &old,
            Some(SipStatus::new(200, "Transferred")),
        );
        let names = StreamNames {
            publish: self.random_hex(16),
            play: self.random_hex(16),
        };
        self.status(StatusCode::InProgress, &new_call_id, None);
        self.out.push_back(Output::Invite {
            call_id: new_call_id.clone(),
            target: uri,
        });
        self.state = State::Dialing(Dialing {
            call_id: new_call_id,
            names,
            early_media: false,
        });
        ReferDecision::Accept
    }

    fn on_answered(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Idle);
        self.state = match state {
            State::Dialing(d) | State::Early(d) | State::Answering(d) => {
                self.status(
                    StatusCode::Connected,
                    &d.call_id,
                    Some(SipStatus::new(200, "OK")),
                );
                if !d.early_media {
                    self.out.push_back(Output::ConnectStreams {
                        call_id: d.call_id.clone(),
                        publish: d.names.publish.clone(),
                        play: d.names.play.clone(),
                    });
                }
                let mut ev = CallStatus::new(StatusCode::ConnectStreams, &d.call_id);
                ev.publish = Some(d.names.publish);
                ev.play = Some(d.names.play);
                self.out.push_back(Output::Status(ev));
                State::Connected(Connected {
                    call_id: d.call_id,
                    transferring: false,
                })
            }
            other => other,
        };
    }

    fn on_ended(&mut self, code: Option<SipStatus>) {
        let state = std::mem::replace(&mut self.state, State::Idle);
        match state {
            State::Idle => {}
            State::Dialing(d) | State::Early(d) | State::Answering(d) => {
                self.finish(d.call_id, code)
            }
            // The caller gave up (CANCEL: 487) before the client answered.
            State::Ringing(r) => self.finish(r.call_id, code),
            State::Connected(c) => {
                // The far end hung up (or the dialog failed): status 3 then 0.
                self.status(StatusCode::Disconnecting, &c.call_id, None);
                self.finish(c.call_id, code)
            }
            State::Ending(e) => {
                let code = e.final_code.or(code);
                self.finish(e.call_id, code)
            }
        }
    }

    fn finish(&mut self, call_id: String, code: Option<SipStatus>) {
        self.out.push_back(Output::Release {
            call_id: call_id.clone(),
        });
        self.status(StatusCode::NotConnected, &call_id, code);
        self.state = State::Idle;
    }

    fn status(&mut self, code: StatusCode, call_id: &str, sip: Option<SipStatus>) {
        self.out
            .push_back(Output::Status(Self::sip_status(code, call_id, sip)));
    }

    fn sip_status(code: StatusCode, call_id: &str, sip: Option<SipStatus>) -> CallStatus {
        let mut ev = CallStatus::new(code, call_id);
        if let Some(s) = sip {
            let (c, r) = s.into_parts();
            ev.sip_code = Some(c);
            ev.reason = Some(r);
        }
        ev
    }

    fn random_hex(&mut self, bytes: usize) -> String {
        let mut buf = [0u8; 32];
        let n = bytes.min(buf.len());
        self.rng.fill_bytes(&mut buf[..n]);
        buf[..n].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The dial string as a [`DialUri`], or `dial`'s `Sono.Call.NoUri`.
fn parse_target(uri: Option<&str>) -> Result<DialUri, (DialError, String)> {
    match uri.map(DialUri::parse) {
        None | Some(Err(DialUriError::Missing)) => {
            Err((DialError::NoUri, "dial needs a SIP URI".into()))
        }
        Some(Err(why)) => Err((DialError::NoUri, format!("not a usable SIP URI: {why}"))),
        Some(Ok(u)) => Ok(u),
    }
}

#[cfg(test)]
#[path = "controller_test_support.rs"]
mod test_support;

#[cfg(test)]
#[path = "controller_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "controller_transfer_tests.rs"]
mod transfer_tests;
