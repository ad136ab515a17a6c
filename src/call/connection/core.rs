//! [`ConnectionCore`]: one RTMP connection's call plane, sans-IO.
//!
//! Fed [`Input`]s with `now`, polled for [`Effect`]s and for the next
//! timeout. It owns the product API (invoke dispatch through
//! [`ApiCommand::from_invoke`]), the call [`Controller`], the own call's
//! resources as a typed state ([`Resources`]) and its SDP
//! (`media_setup.rs`), the publish/play routing, and the connection's
//! timers: the connect deadline (`[limits]
//! connect_timeout_s`), the idle timeout (`idle_timeout_s`), the dial rate
//! (`max_dials_per_minute`) and the close grace.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::api::{ApiCommand, DtmfDigits};
use super::effect::{AudioTarget, CallDirection, CloseReason, Effect, LegCommand};
use super::info::{registration_result, registration_status};
use super::input::Input;
use super::rate::DialRate;
use crate::amf::Value;
use crate::call::uri::DialUri;
use crate::call::{
    CallPhase, Capacity, Controller, ControllerConfig, IncomingCallInfo, IncomingDecision,
};
use crate::media::codec::{Codec, Negotiated};
use crate::rtmp::session::{ClientCaps, SessionEvent};
use crate::sip::event::{CallId, SipEvent, SipStatus};
use crate::sip::sdp::SdpOffer;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Static inputs of a connection core.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// The call controller's configuration.
    pub controller: ControllerConfig,
    /// `connect` must arrive within this (`[limits] connect_timeout_s`).
    pub connect_timeout: Duration,
    /// No client bytes for this long closes a connection without a live
    /// call (`[limits] idle_timeout_s`).
    pub idle_timeout: Duration,
    /// `[limits] max_dials_per_minute` (at least 1).
    pub max_dials_per_minute: u32,
    /// Most time a closing connection waits for its call's BYE to finish.
    pub close_grace: Duration,
    /// `[media] codecs`, offered and answered in this order (see
    /// [`super::sdp_plan::offer_codecs`]).
    pub codecs: Vec<Codec>,
    /// `[media] srtp`: SDES SRTP in our offers and answers.
    pub srtp: crate::sip::sdp::SrtpPolicy,
}

/// What the driver holds for the own call, by phase. The driver maps each
/// to real resources (semaphore permits, RTP ports, handles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resources {
    /// Call slots (and, once allocated, the RTP ports): the INVITE or
    /// echo is being set up.
    Reserved,
    /// INVITE sent: the SIP handle and the RTP ports, until the answer
    /// (the core keeps the offer).
    Offered,
    /// Incoming and ringing: the SIP handle and the answer handle (the
    /// core keeps the caller's offer); RTP ports once `accept()` asked.
    Ringing,
    /// Media running (plus the SIP handle, except for the echo).
    Media,
}

/// The own call: its id, direction and resources.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OwnCall {
    call_id: CallId,
    direction: CallDirection,
    resources: Resources,
    /// Where the call's SDP stands.
    sdp: CallSdp,
    /// Which sides hold the call now (for `Sono.Call.Hold`).
    hold: HoldSides,
}

/// Who holds a call (RFC 3264 §8.4): each side's hold is reported and
/// resumed on its own, so a far end resuming while the client still holds
/// is told (`held: false, by: "remote"`), and so is the client's own hold
/// while the far end already holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct HoldSides {
    /// Our `hold()` is in force: our direction lacks receive.
    pub(super) local: bool,
    /// The far end's hold is in force: its offer made our direction lack
    /// send, or gave a `0.0.0.0` address (RFC 2543 hold).
    pub(super) remote: bool,
}

/// The own call's offer/answer state (RFC 3264).
#[derive(Debug, Clone, PartialEq, Eq)]
enum CallSdp {
    /// Nothing to negotiate (the echo destination), or done.
    None,
    /// An outgoing call waits for its ports to build the offer.
    NeedOffer(DialUri),
    /// Our offer is out; the answer is matched against it.
    Offered(SdpOffer),
    /// An 18x's SDP answered our offer (early media, RFC 3960 §3): the
    /// media starts on `negotiated`, and the 200's SDP re-targets it when
    /// it differs. `status` is the 18x, reported once the media runs.
    Early {
        /// Our offer.
        offer: SdpOffer,
        /// What the 18x's SDP negotiated.
        negotiated: Negotiated,
        /// The 18x.
        status: SipStatus,
    },
    /// An incoming call's offer, until `accept()` answers it.
    RemoteOffer(Vec<u8>),
    /// Our answer, sent once the media runs.
    Answer(Vec<u8>),
}

/// The SIP leg of a call the far end transferred away (RFC 3515), until
/// its final NOTIFY's BYE or the far end's BYE: the new call's progress is
/// NOTIFYed on it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TransferredLeg {
    /// The transferred call.
    old: CallId,
    /// The call placed to the Refer-To target.
    new: CallId,
}

/// A query effect is out; its answer decides how to go on.
#[derive(Debug)]
enum Pending {
    None,
    /// `dial` waits for [`Input::Reserved`].
    Dial {
        txn: f64,
        target: DialUri,
    },
    /// An INVITE waits for [`Input::Reserved`].
    Incoming(IncomingCallInfo, Vec<u8>),
}

/// One connection's call plane; see the module doc.
#[derive(Debug)]
pub struct ConnectionCore {
    cfg: ConnectionConfig,
    controller: Controller,
    call: Option<OwnCall>,
    /// A call the far end transferred away, still NOTIFYing.
    transferred: Option<TransferredLeg>,
    pending: Pending,
    publishing: HashMap<u32, AudioTarget>,
    /// Playing NetStreams that follow the own call.
    own_play: Vec<u32>,
    /// Playing NetStreams bound to a call by its play name.
    named_play: HashMap<u32, CallId>,
    connect_deadline: Option<Instant>,
    last_rx: Instant,
    closing: Option<Instant>,
    closed: bool,
    dial_rate: DialRate,
    /// False when the client's token forbids `register`.
    register_allowed: bool,
    /// Why the last `dial` had no capacity, for the refusal counter:
    /// "capacity" (a call limit), "overload" (load shedding) or
    /// "draining" (the gateway is stopping).
    dial_full: Option<&'static str>,
    /// What the client announced in `connect` (codec order, Opus).
    caps: ClientCaps,
    /// SDP session ids.
    rng: StdRng,
    out: VecDeque<Effect>,
}

impl ConnectionCore {
    /// A core for a connection whose handshake finished at `now`. `seed`
    /// feeds the controller's RNG (Call-IDs, stream names).
    pub fn new(now: Instant, cfg: ConnectionConfig, seed: u64) -> Self {
        Self {
            controller: Controller::new(cfg.controller.clone(), seed),
            call: None,
            transferred: None,
            pending: Pending::None,
            publishing: HashMap::new(),
            own_play: Vec::new(),
            named_play: HashMap::new(),
            connect_deadline: Some(now + cfg.connect_timeout),
            last_rx: now,
            closing: None,
            closed: false,
            dial_rate: DialRate::new(cfg.max_dials_per_minute),
            register_allowed: true,
            dial_full: None,
            caps: ClientCaps::default(),
            rng: StdRng::seed_from_u64(seed ^ 0x5d9_0ffe),
            out: VecDeque::new(),
            cfg,
        }
    }

    /// The own call's phase.
    pub fn phase(&self) -> CallPhase {
        self.controller.phase()
    }

    /// The own call's id and resources, if the connection holds a call.
    pub fn call(&self) -> Option<(&CallId, Resources)> {
        self.call.as_ref().map(|c| (&c.call_id, c.resources))
    }

    /// Replaces `[policy] dial_allow` after a live reload (SIGHUP): the
    /// next `dial` or `transfer` is checked against `policy`, a running
    /// call goes on.
    pub fn set_dial_policy(&mut self, policy: crate::call::policy::DialPolicy) {
        self.cfg.controller.policy = policy.clone();
        self.controller.set_dial_policy(policy);
    }

    /// True once [`Effect::Close`] was emitted.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The next effect, if any.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.out.pop_front()
    }

    /// When [`Self::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let idle = (self.closing.is_none()).then(|| self.last_rx + self.cfg.idle_timeout);
        [
            idle,
            self.closing,
            self.connect_deadline,
            self.controller.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Advances the timers to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.controller.handle_timeout(now);
        self.drain_controller();
        if self.connect_deadline.is_some_and(|d| now >= d) && self.closing.is_none() {
            self.connect_deadline = None;
            self.begin_close(now, CloseReason::ConnectTimeout);
        } else if self.closing.is_none() && now >= self.last_rx + self.cfg.idle_timeout {
            self.on_idle(now);
        }
        self.check_close(now);
    }

    /// Feeds one input.
    pub fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::ClientActivity => self.last_rx = now,
            Input::Session(ev) => self.on_session(now, ev),
            Input::Publish { stream_id, named } => self.on_publish(stream_id, named),
            Input::Play { stream_id, named } => self.on_play(stream_id, named),
            Input::OwnSubscribed { stream_id, result } => self.on_own_subscribed(stream_id, result),
            Input::PlayEnded { stream_id, call_id } => {
                if self.named_play.get(&stream_id) == Some(&call_id) {
                    self.named_play.remove(&stream_id);
                    self.out.push_back(Effect::EndPlay(stream_id));
                }
            }
            Input::Reserved(cap) => self.on_reserved(now, cap),
            Input::StreamsLive(live) => {
                if live {
                    self.last_rx = now;
                } else {
                    self.begin_close(now, CloseReason::Idle);
                }
            }
            Input::Incoming { info, offer } => {
                self.pending = Pending::Incoming(info, offer);
                self.out.push_back(Effect::ReserveCall);
            }
            Input::PortsAllocated { call_id, result } => {
                self.on_ports_allocated(now, call_id, result)
            }
            Input::Sip { call_id, event } => self.on_sip(now, call_id, event),
            Input::MediaStarted { call_id, result } => self.on_media_started(now, call_id, result),
            Input::Media { call_id, event } => self.on_media(now, call_id, event),
            Input::Registration { aor, event } => {
                if let Some(info) = registration_status(&aor, &event) {
                    self.out.push_back(Effect::Status(info));
                }
            }
            Input::Registered { txn, result } => self.out.push_back(match result {
                Ok(uri) => Effect::ReplyResult {
                    txn,
                    value: registration_result(&uri),
                },
                Err(description) => Effect::ReplyError {
                    txn,
                    code: "Sono.Registration.Failed",
                    description,
                    sip_code: None,
                },
            }),
            Input::Unregistered { txn } => self.reply_null(txn),
            Input::ReferSent { call_id, sent } => {
                if !sent {
                    let event = SipEvent::TransferProgress {
                        status: SipStatus::new(503, "Cannot send REFER"),
                        done: true,
                    };
                    self.controller.handle_sip(now, call_id.as_str(), event);
                }
            }
            Input::LegCommandDone { txn, result } => match result {
                Ok(()) => self.reply_null(txn),
                Err(why) => self.reply_error(txn, "Sono.Call.Failed", why),
            },
            Input::OperatorHangup { call_id } => {
                self.controller
                    .handle_operator_hangup(now, call_id.as_str());
            }
            Input::ClientClosed => self.begin_close(now, CloseReason::Client),
            Input::Shutdown => self.begin_close(now, CloseReason::Shutdown),
        }
        self.drain_controller();
        self.check_close(now);
    }

    // ---- the client's session ---------------------------------------------

    fn on_session(&mut self, now: Instant, ev: SessionEvent) {
        match ev {
            SessionEvent::Connected { grant, caps, .. } => {
                self.connect_deadline = None;
                self.caps = caps;
                if let Some(id) = grant.get::<crate::auth::Identity>() {
                    if let Some(policy) = &id.dial {
                        self.controller.narrow_dial_policy(policy.clone());
                    }
                    self.register_allowed = id.register;
                }
            }
            SessionEvent::Invoke(inv) => self.on_invoke(now, &inv.name, inv.txn, &inv.args),
            SessionEvent::Publish { stream_id, .. } => self.on_publish(stream_id, None),
            SessionEvent::Play { stream_id, .. } => self.on_play(stream_id, None),
            SessionEvent::StreamClosed { stream_id } => {
                self.publishing.remove(&stream_id);
                self.own_play.retain(|s| *s != stream_id);
                self.named_play.remove(&stream_id);
                self.out.push_back(Effect::StreamClosed(stream_id));
            }
            SessionEvent::Audio {
                stream_id,
                timestamp_ms,
                body,
            } => {
                if let Some(target) = self.publishing.get(&stream_id) {
                    self.out.push_back(Effect::Audio {
                        stream_id,
                        target: target.clone(),
                        timestamp_ms,
                        body,
                    });
                }
            }
        }
    }

    /// An invoke: the dial rate (every `dial` counts, well-formed or
    /// not), then the typed command.
    fn on_invoke(&mut self, now: Instant, name: &str, txn: f64, args: &[Value]) {
        if name == "dial" && !self.dial_rate.admit(now) {
            let why = format!(
                "dial rate limit: at most {} dials per minute",
                self.dial_rate.max()
            );
            self.out.push_back(Effect::Refused {
                what: "dial",
                reason: "rate",
            });
            return self.reply_error(txn, "Sono.Call.Failed", why);
        }
        match ApiCommand::from_invoke(name, txn, args) {
            Ok(cmd) => self.on_command(now, cmd),
            Err(e) => self.reply_error(txn, e.code(), e.to_string()),
        }
    }

    /// One API command; see README.md, "RTMP API".
    fn on_command(&mut self, now: Instant, cmd: ApiCommand) {
        match cmd {
            ApiCommand::Dial { txn, target } => {
                self.pending = Pending::Dial { txn, target };
                self.out.push_back(Effect::ReserveCall);
            }
            ApiCommand::Hangup { txn } => self.controller.handle_hangup(now, txn),
            ApiCommand::Accept { txn } => self.controller.handle_accept(now, txn),
            ApiCommand::Reject { txn, code } => self.controller.handle_reject(now, txn, Some(code)),
            ApiCommand::SendDtmf {
                txn,
                digits,
                duration_ms,
            } => self.on_send_dtmf(txn, digits, duration_ms),
            ApiCommand::Register { txn, target } => {
                if self.register_allowed {
                    self.out.push_back(Effect::Register { txn, target });
                } else {
                    self.reply_error(
                        txn,
                        "Sono.Registration.Failed",
                        "this client's token does not allow register (`register` claim)".into(),
                    );
                }
            }
            ApiCommand::Unregister { txn } => self.out.push_back(Effect::Unregister { txn }),
            ApiCommand::Hold { txn } => self.leg_command(txn, LegCommand::Hold),
            ApiCommand::Unhold { txn } => self.leg_command(txn, LegCommand::Unhold),
            ApiCommand::Transfer { txn, target } => {
                self.controller.handle_transfer_uri(now, txn, target)
            }
        }
    }

    /// `sendDTMF`: needs the own call's media, and a call not ending.
    fn on_send_dtmf(&mut self, txn: f64, digits: DtmfDigits, duration_ms: u32) {
        let ending = self.controller.phase() == CallPhase::Ending;
        match &self.call {
            Some(c) if c.resources == Resources::Media && !ending => {
                self.out.push_back(Effect::SendDtmf {
                    call_id: c.call_id.clone(),
                    digits,
                    duration_ms,
                });
                self.reply_null(txn);
            }
            _ => self.reply_error(txn, "Sono.Call.Failed", "no connected call".into()),
        }
    }

    /// `hold`, `unhold`: a re-INVITE with `a=sendonly` / `a=sendrecv`, only
    /// on a SIP call whose media runs (not the echo destination);
    /// `Sono.Call.NoCall` otherwise. The SIP leg takes it through
    /// [`Input::LegCommandDone`]; the outcome comes as `Sono.Call.Hold` or
    /// `Sono.Call.HoldFailed`.
    fn leg_command(&mut self, txn: f64, command: LegCommand) {
        let sip_call = self
            .call
            .as_ref()
            .filter(|c| c.direction != CallDirection::Echo && c.resources == Resources::Media)
            .filter(|_| self.controller.phase() != CallPhase::Ending);
        match sip_call {
            Some(c) => self.out.push_back(Effect::SipLeg {
                txn,
                call_id: c.call_id.clone(),
                command,
            }),
            None => self.reply_error(
                txn,
                "Sono.Call.NoCall",
                "there is no connected call to hold or resume".into(),
            ),
        }
    }

    // ---- call slots ---------------------------------------------------------

    fn on_reserved(&mut self, now: Instant, cap: Capacity) {
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::Dial { txn, target } => self.dial(now, txn, target, cap),
            Pending::Incoming(info, offer) => self.incoming(now, info, offer, cap),
            Pending::None => self.out.push_back(Effect::DropReservation),
        }
    }

    fn dial(&mut self, now: Instant, txn: f64, target: DialUri, cap: Capacity) {
        self.dial_full = match cap {
            Capacity::Available => None,
            Capacity::Overloaded => Some("overload"),
            Capacity::Draining => Some("draining"),
            Capacity::GatewayFull | Capacity::SubjectFull { .. } => Some("capacity"),
        };
        let before = self.controller.call_id().map(str::to_string);
        let echo = target.user() == Some(self.cfg.controller.echo_user.as_str());
        self.controller.handle_dial_uri(now, txn, target, cap);
        match self.controller.call_id() {
            Some(id) if before.as_deref() != Some(id) => {
                let call_id = CallId::new(id);
                let direction = if echo {
                    CallDirection::Echo
                } else {
                    CallDirection::Outbound
                };
                self.bind(call_id, direction, Resources::Reserved, CallSdp::None);
            }
            _ => self.out.push_back(Effect::DropReservation),
        }
    }

    fn incoming(&mut self, now: Instant, info: IncomingCallInfo, offer: Vec<u8>, cap: Capacity) {
        let call_id = CallId::new(info.call_id.as_str());
        if matches!(cap, Capacity::SubjectFull { .. }) && !self.controller.has_call() {
            return self.refuse_new(call_id, 486);
        }
        let gateway = !matches!(
            cap,
            Capacity::GatewayFull | Capacity::Overloaded | Capacity::Draining
        );
        match self.controller.handle_incoming(now, info, gateway) {
            IncomingDecision::Ringing => self.bind(
                call_id,
                CallDirection::Inbound,
                Resources::Ringing,
                CallSdp::RemoteOffer(offer),
            ),
            IncomingDecision::Busy => self.refuse_new(call_id, 486),
            IncomingDecision::NoCapacity => self.refuse_new(call_id, 503),
        }
    }

    fn bind(
        &mut self,
        call_id: CallId,
        direction: CallDirection,
        resources: Resources,
        sdp: CallSdp,
    ) {
        self.out.push_back(Effect::BindCall {
            call_id: call_id.clone(),
            direction,
        });
        self.call = Some(OwnCall {
            call_id,
            direction,
            resources,
            sdp,
            hold: HoldSides::default(),
        });
    }

    /// An INVITE that may not ring: give the slots back, answer `code`.
    fn refuse_new(&mut self, call_id: CallId, code: u16) {
        self.out.push_back(Effect::DropReservation);
        self.out.push_back(Effect::RefuseIncoming { call_id, code });
    }

    fn reply_null(&mut self, txn: f64) {
        self.out.push_back(Effect::ReplyResult {
            txn,
            value: Value::Null,
        });
    }

    fn reply_error(&mut self, txn: f64, code: &'static str, description: String) {
        self.out.push_back(Effect::ReplyError {
            txn,
            code,
            description,
            sip_code: None,
        });
    }
}

#[path = "calls.rs"]
mod calls;
#[path = "closing.rs"]
mod closing;
#[path = "media_setup.rs"]
mod media_setup;
#[path = "routing.rs"]
mod routing;
#[path = "transfer.rs"]
mod transfer;

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "pair_tests.rs"]
mod pair_tests;
