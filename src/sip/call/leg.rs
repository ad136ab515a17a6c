//! [`CallLeg`]: one SIP call (INVITE dialog) as a sans-IO state machine,
//! either direction.
//!
//! ```text
//! outgoing: Inviting -> Early -> Confirmed -> Ended
//!                 \--------\--> Cancelling -> Ended   (hangup, INVITE timeout)
//! incoming: Ringing -> AwaitingAck -> Confirmed -> Ended
//!                 \--> Ended                          (reject, CANCEL)
//! ```
//!
//! Fed [`Input`]s plus `now` ([`CallLeg::handle`], [`CallLeg::handle_timeout`]);
//! polled for [`Action`]s, [`SipEvent`]s and the next timeout. In the
//! confirmed phase it answers the far end's re-INVITE / UPDATE (RFC 3261
//! §14.2, RFC 3311) and OPTIONS, holds and resumes with its own re-INVITE
//! (RFC 3264 §8.4), resolves glare (491 and the §14.1 backoff) and runs
//! session timers (RFC 4028). A re-INVITE's or UPDATE's Contact, and the
//! one of the 2xx to our re-INVITE, refresh the remote target (RFC 3261
//! §12.2, [`Action::RemoteTarget`]); a 2xx of ours that gets no ACK ends
//! the call with BYE and `408 No ACK` (§13.3.1.4). Before the final
//! response, an UPDATE is answered by the offer state of the early dialog
//! (RFC 3311 §5.2: 200 with an answer after an 18x with SDP, 491 while
//! our offer is unanswered, 500 + Retry-After while the far end's is).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::media::LegMedia;
use super::refer::{LegTransfer, TransferOut};
use super::target::contact_target;
use super::timer::{self, Negotiation, Refresher, SessionTimer, MIN_SE_S};
use super::types::{
    Action, Command, FinalResponse, Header, InDialogRequest, Input, Method, RequestId,
};
use crate::sip::event::{SipEvent, SipStatus};
use crate::sip::sdp::{Codec, SdpOffer};

/// How long a 200 OK may wait for its ACK (64 x T1, RFC 3261 §13.3.1.4).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(32);
/// How much longer than [`ACK_TIMEOUT`] the leg waits for an ACK itself:
/// rsipstack's transaction (Timer L) and dialog end an unacknowledged 2xx
/// first and send the BYE ([`Input::AckTimeout`],
/// [`Input::RequestUnacked`]); the leg's own deadline is a backstop.
pub const ACK_BACKSTOP: Duration = Duration::from_secs(2);
/// The reason reported when our 2xx (to the INVITE or a re-INVITE) got no
/// ACK (RFC 3261 §13.3.1.4, §14.2): status 0 with `408 No ACK`.
pub const NO_ACK: &str = "No ACK";
/// How long we wait for the final response after a CANCEL.
pub const CANCEL_WAIT: Duration = Duration::from_secs(5);

/// Settings of one leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegConfig {
    /// `[media] codecs`: what we answer re-offers with and re-offer.
    pub codecs: Vec<Codec>,
    /// `[media] srtp`: re-offers and answers to re-offers follow it.
    pub srtp: crate::sip::sdp::SrtpPolicy,
    /// `[sip] session_expires_s`: our Session-Expires, seconds (90..=86400).
    pub session_expires_s: u32,
    /// How long our INVITE may go without a final response (outgoing).
    pub invite_timeout: Duration,
    /// Outgoing, attended transfer (RFC 5589 §7): the INVITE's
    /// `Replaces` value (RFC 3891 §6.1, checked by [`super::replaces`]).
    pub replaces: Option<String>,
}

/// Which side created the dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We sent the INVITE (UAC): we own the Call-ID (RFC 3261 §14.1).
    Outgoing,
    /// We received it (UAS).
    Incoming,
}

/// Where the leg is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Outgoing: INVITE sent, no provisional response yet.
    Inviting {
        /// INVITE timeout.
        deadline: Instant,
    },
    /// Outgoing: a provisional response came.
    Early {
        /// INVITE timeout.
        deadline: Instant,
    },
    /// Incoming: 180 sent, waiting for the connection's answer.
    Ringing,
    /// Incoming: 200 OK sent, waiting for the ACK.
    AwaitingAck {
        /// 64 x T1 after the 200.
        deadline: Instant,
    },
    /// The dialog is up.
    Confirmed(Box<Confirmed>),
    /// CANCEL sent: waiting (bounded) for the INVITE's final response,
    /// then `status` is reported.
    Cancelling {
        /// What to report as the outcome.
        status: SipStatus,
        /// Give up waiting then.
        deadline: Instant,
    },
    /// Over; every input is ignored.
    Ended,
}

/// Our own re-INVITE in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalReinvite {
    /// Hold (`held`) or resume, with the offer made.
    Hold {
        /// What we asked for.
        held: bool,
        /// The offer sent.
        offer: SdpOffer,
    },
    /// A session refresh (RFC 4028 §7.2), our last SDP re-sent.
    Refresh,
}

/// What the confirmed phase keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    media: Option<LegMedia>,
    timer: Option<SessionTimer>,
    local: Option<LocalReinvite>,
    /// A hold / resume asked while another offer was in flight.
    queued_hold: Option<bool>,
    /// A 491 on our re-INVITE: retry then (RFC 3261 §14.1).
    retry: Option<(Instant, Retry)>,
    /// Our offer in a 2xx to an offerless re-INVITE, answered in the ACK.
    remote_offer: Option<(RequestId, SdpOffer)>,
}

/// What a glare retry re-sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Hold or resume.
    Hold(bool),
    /// A session refresh.
    Refresh,
}

/// One call leg.
#[derive(Debug)]
pub struct CallLeg {
    role: Role,
    cfg: LegConfig,
    phase: Phase,
    /// Outgoing: our offer. Incoming: the INVITE's offer (empty: delayed offer).
    offer: Vec<u8>,
    /// Outgoing: the INVITE's Session-Expires and Min-SE.
    se: (u32, u32),
    /// Outgoing: a 422 was already retried (RFC 4028 §7.4: once).
    retried_422: bool,
    /// Incoming: the INVITE's session-timer negotiation.
    negotiation: Negotiation,
    /// Incoming: our SDP state from the 200 OK, until the ACK.
    pending_media: Option<LegMedia>,
    /// Outgoing: our SDP state once an 18x answered our offer (RFC 3311
    /// §5.1: the callee may then UPDATE with a new offer); carried into
    /// the confirmed phase.
    early_media: Option<LegMedia>,
    actions: VecDeque<Action>,
    events: VecDeque<SipEvent>,
    rng: u64,
    /// Blind transfer, both roles (confirmed calls).
    transfer: LegTransfer,
}

impl CallLeg {
    /// An outgoing call: the first action is the INVITE with `offer`.
    pub fn outgoing(now: Instant, cfg: LegConfig, offer: Vec<u8>, seed: u64) -> Self {
        let se = cfg.session_expires_s.max(MIN_SE_S);
        let mut leg = Self::new(Role::Outgoing, cfg, offer, seed, now);
        leg.se = (se, MIN_SE_S);
        leg.phase = Phase::Inviting {
            deadline: now + leg.cfg.invite_timeout,
        };
        leg.send_invite();
        leg
    }

    /// An incoming call for an INVITE with `headers` and `offer` (empty:
    /// delayed offer). The first action is 180 Ringing, or 422 with
    /// `Min-SE` when its Session-Expires is too small (RFC 4028 §8.1), in
    /// which case the leg is ended at once (check [`CallLeg::is_ended`]).
    pub fn incoming(
        now: Instant,
        cfg: LegConfig,
        headers: &[Header],
        offer: Vec<u8>,
        seed: u64,
    ) -> Self {
        let mut leg = Self::new(Role::Incoming, cfg, offer, seed, now);
        leg.negotiation = timer::negotiate_request(now, headers, leg.cfg.session_expires_s);
        if let Negotiation::TooSmall(min) = leg.negotiation {
            leg.actions.push_back(Action::Reject {
                code: 422,
                headers: vec![("Min-SE".into(), min.to_string())],
            });
            leg.finish();
        } else {
            leg.phase = Phase::Ringing;
            leg.actions.push_back(Action::Ringing);
        }
        leg
    }

    fn new(role: Role, cfg: LegConfig, offer: Vec<u8>, seed: u64, _now: Instant) -> Self {
        Self {
            role,
            cfg,
            phase: Phase::Ended,
            offer,
            se: (0, MIN_SE_S),
            retried_422: false,
            negotiation: Negotiation::None,
            pending_media: None,
            early_media: None,
            actions: VecDeque::new(),
            events: VecDeque::new(),
            rng: seed | 1,
            transfer: LegTransfer::default(),
        }
    }

    /// The current phase.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Which side created the dialog.
    pub fn role(&self) -> Role {
        self.role
    }

    /// True once the leg is over (after [`Action::Done`] was queued).
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// The next thing to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next thing to tell the connection.
    pub fn poll_event(&mut self) -> Option<SipEvent> {
        self.events.pop_front()
    }

    /// When [`CallLeg::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Inviting { deadline }
            | Phase::Early { deadline }
            | Phase::AwaitingAck { deadline }
            | Phase::Cancelling { deadline, .. } => Some(*deadline),
            Phase::Confirmed(c) => [
                c.retry.map(|(at, _)| at),
                c.timer.map(|t| t.deadline()),
                self.transfer.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min(),
            Phase::Ringing | Phase::Ended => None,
        }
    }

    /// Time passed: INVITE / ACK / CANCEL deadlines, glare retries,
    /// session refresh and expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.phase {
            Phase::Inviting { deadline } | Phase::Early { deadline } if now >= *deadline => {
                self.actions.push_back(Action::Cancel);
                self.phase = Phase::Cancelling {
                    status: SipStatus::new(408, "Request Timeout"),
                    deadline: now + CANCEL_WAIT,
                };
            }
            Phase::Cancelling { status, deadline } if now >= *deadline => {
                let status = status.clone();
                self.fail(status);
            }
            Phase::AwaitingAck { deadline } if now >= *deadline => {
                self.actions.push_back(Action::Bye);
                self.fail(SipStatus::new(408, NO_ACK));
            }
            Phase::Confirmed(_) => {
                let out = self.transfer.handle_timeout(now);
                self.apply_transfer(out);
                if !self.is_ended() {
                    self.confirmed_timeout(now);
                }
            }
            _ => {}
        }
    }

    /// Feeds one input.
    pub fn handle(&mut self, now: Instant, input: Input) {
        if self.is_ended() {
            return;
        }
        match input {
            Input::Provisional { status, sdp } => self.on_provisional(now, status, sdp),
            Input::InviteFinal(resp) => self.on_invite_final(now, resp),
            Input::ReinviteFinal(resp) => self.on_reinvite_final(now, resp),
            Input::Acked { sdp } => self.on_acked(now, sdp),
            Input::Cancelled => self.on_cancelled(),
            Input::Request(req) => self.on_request(now, req),
            Input::RequestAcked { id, sdp } => self.on_request_acked(now, id, &sdp),
            Input::RequestUnacked { id } => self.on_request_unacked(id),
            Input::AckTimeout => self.on_ack_timeout(),
            Input::RemoteBye | Input::DialogTerminated => self.on_remote_end(),
            Input::Command(cmd) => self.on_command(now, cmd),
            Input::Shutdown => self.on_shutdown(),
            Input::ReferFinal(status) => {
                let out = self.transfer.on_refer_final(status);
                self.apply_transfer(out);
            }
        }
    }

    /// Queues what a transfer step asked for; BYE when it is complete.
    fn apply_transfer(&mut self, out: TransferOut) {
        self.actions.extend(out.actions);
        self.events.extend(out.events);
        if out.bye && matches!(self.phase, Phase::Confirmed(_)) {
            self.bye();
        }
    }

    // ---- outgoing, before the dialog is confirmed ----

    fn send_invite(&mut self) {
        let (se, min) = self.se;
        let mut headers = timer::request_headers(se, min, false);
        if let Some(r) = &self.cfg.replaces {
            headers.push(("Replaces".into(), r.clone()));
        }
        self.actions.push_back(Action::Invite {
            headers,
            body: self.offer.clone(),
        });
    }

    fn on_provisional(&mut self, _now: Instant, status: SipStatus, sdp: Option<Vec<u8>>) {
        if let Phase::Inviting { deadline } | Phase::Early { deadline } = self.phase {
            self.phase = Phase::Early { deadline };
            if sdp.is_some() && self.early_media.is_none() {
                self.early_media =
                    LegMedia::new(&self.offer, self.cfg.codecs.clone(), self.cfg.srtp)
                        .ok()
                        .map(|m| m.with_keys(sdp.as_deref().unwrap_or_default()));
            }
            if status.code() > 100 {
                self.events.push_back(SipEvent::Progress { status, sdp });
            }
        }
    }

    fn on_invite_final(&mut self, now: Instant, resp: FinalResponse) {
        let code = resp.status.code();
        match &self.phase {
            Phase::Inviting { .. } | Phase::Early { .. } => {}
            Phase::Cancelling { status, .. } => {
                let status = status.clone();
                return self.fail(status);
            }
            _ => return,
        }
        if (200..300).contains(&code) {
            let media = match self.early_media.take() {
                Some(m) => Some(m),
                None => LegMedia::new(&self.offer, self.cfg.codecs.clone(), self.cfg.srtp)
                    .ok()
                    .map(|m| m.with_keys(&resp.body)),
            };
            let timer = SessionTimer::from_our_request(now, &resp.headers);
            self.confirm(media, timer);
            self.events.push_back(SipEvent::Answered { sdp: resp.body });
        } else if code == 422 && !self.retried_422 {
            // RFC 4028 §7.4: retry once with the larger Min-SE.
            let min = timer::min_se(&resp.headers)
                .unwrap_or(MIN_SE_S)
                .clamp(MIN_SE_S, 86_400);
            self.retried_422 = true;
            self.se = (self.se.0.max(min), min);
            self.send_invite();
        } else {
            self.fail(resp.status);
        }
    }

    /// The dialog layer gave up waiting for the ACK of our 200 OK and
    /// sent BYE itself (RFC 3261 §13.3.1.4).
    fn on_ack_timeout(&mut self) {
        if matches!(self.phase, Phase::AwaitingAck { .. }) {
            tracing::info!("no ACK for our 200 OK within 64*T1: call ended");
            self.fail(SipStatus::new(408, NO_ACK));
        }
    }

    fn on_cancelled(&mut self) {
        if matches!(self.phase, Phase::Ringing | Phase::AwaitingAck { .. }) {
            self.fail(SipStatus::new(487, "Request Terminated"));
        }
    }

    // ---- incoming, before the dialog is confirmed ----

    fn on_acked(&mut self, now: Instant, sdp: Vec<u8>) {
        let Phase::AwaitingAck { .. } = self.phase else {
            return;
        };
        let media = self.pending_media.take();
        let timer = self.pending_timer(now);
        self.confirm(media, timer);
        self.events.push_back(SipEvent::Answered { sdp });
    }

    fn pending_timer(&self, now: Instant) -> Option<SessionTimer> {
        match &self.negotiation {
            Negotiation::Timer(t, _) => Some(SessionTimer { since: now, ..*t }),
            _ => None,
        }
    }

    fn confirm(&mut self, media: Option<LegMedia>, timer: Option<SessionTimer>) {
        self.phase = Phase::Confirmed(Box::new(Confirmed {
            media,
            timer,
            local: None,
            queued_hold: None,
            retry: None,
            remote_offer: None,
        }));
    }

    fn on_command(&mut self, now: Instant, cmd: Command) {
        match (&mut self.phase, cmd) {
            (Phase::Inviting { .. } | Phase::Early { .. }, Command::Hangup) => {
                self.actions.push_back(Action::Cancel);
                self.phase = Phase::Cancelling {
                    status: SipStatus::new(487, "Request Terminated"),
                    deadline: now + CANCEL_WAIT,
                };
            }
            (Phase::Ringing, Command::Answer(sdp)) => {
                let mut headers = vec![("Supported".to_string(), "timer".to_string())];
                if let Negotiation::Timer(_, h) = &self.negotiation {
                    headers.extend(h.iter().cloned());
                }
                self.pending_media = LegMedia::new(&sdp, self.cfg.codecs.clone(), self.cfg.srtp)
                    .ok()
                    .map(|m| m.with_keys(&self.offer));
                self.actions
                    .push_back(Action::Accept { headers, body: sdp });
                self.phase = Phase::AwaitingAck {
                    deadline: now + ACK_TIMEOUT + ACK_BACKSTOP,
                };
            }
            (Phase::Ringing, Command::Reject(code)) => {
                self.actions.push_back(Action::Reject {
                    code,
                    headers: Vec::new(),
                });
                self.finish();
            }
            (Phase::Ringing, Command::Hangup) => {
                self.actions.push_back(Action::Reject {
                    code: 486,
                    headers: Vec::new(),
                });
                self.finish();
            }
            (Phase::AwaitingAck { .. } | Phase::Confirmed(_), Command::Hangup) => self.bye(),
            (Phase::Confirmed(_), Command::Dtmf(d)) => self.actions.push_back(Action::Info(d)),
            (Phase::Confirmed(_), Command::Hold(held)) => self.start_hold(now, held),
            (Phase::Confirmed(_), Command::Transfer(t)) => {
                let out = self.transfer.on_command(now, t);
                self.apply_transfer(out);
            }
            (_, Command::Transfer(super::refer::TransferCommand::Refer(_))) => {
                self.events.push_back(SipEvent::TransferProgress {
                    status: SipStatus::new(481, "Call Does Not Exist"),
                    done: true,
                });
            }
            (_, Command::Hold(held)) => self.events.push_back(SipEvent::HoldFailed {
                held,
                status: SipStatus::new(481, "Call Does Not Exist"),
            }),
            _ => {}
        }
    }

    fn on_shutdown(&mut self) {
        match self.phase {
            Phase::Inviting { .. } | Phase::Early { .. } => {
                self.actions.push_back(Action::Cancel);
                self.fail(SipStatus::new(503, "Gateway shutting down"));
            }
            Phase::Ringing => {
                self.actions.push_back(Action::Reject {
                    code: 503,
                    headers: Vec::new(),
                });
                self.fail(SipStatus::new(503, "Gateway shutting down"));
            }
            Phase::AwaitingAck { .. } | Phase::Confirmed(_) => self.bye(),
            Phase::Cancelling { .. } | Phase::Ended => {}
        }
    }

    fn on_remote_end(&mut self) {
        match self.phase {
            Phase::Confirmed(_) => {
                self.events.push_back(SipEvent::Ended { by_remote: true });
                self.finish();
            }
            Phase::Ringing => self.fail(SipStatus::new(480, "Request Terminated")),
            Phase::AwaitingAck { .. } => self.fail(SipStatus::new(487, "Request Terminated")),
            // The INVITE's final response settles the outgoing side.
            _ => {}
        }
    }

    /// BYE and report our hangup.
    fn bye(&mut self) {
        self.actions.push_back(Action::Bye);
        self.events.push_back(SipEvent::Ended { by_remote: false });
        self.finish();
    }

    fn fail(&mut self, status: SipStatus) {
        self.events.push_back(SipEvent::Failed(status));
        self.finish();
    }

    fn finish(&mut self) {
        self.phase = Phase::Ended;
        self.actions.push_back(Action::Done);
    }

    /// A pseudo-random value in `0..n` (xorshift64; seeded by the driver).
    fn random_below(&mut self, n: u64) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x % n.max(1)
    }

    /// RFC 3261 §14.1: the Call-ID's owner waits 2.1..=4 s, the other
    /// side 0..=2 s, in units of 10 ms.
    fn glare_backoff(&mut self) -> Duration {
        let tens = match self.role {
            Role::Outgoing => 210 + self.random_below(191),
            Role::Incoming => self.random_below(201),
        };
        Duration::from_millis(tens * 10)
    }
}

// The confirmed phase: in-dialog requests, hold, refresh.
impl CallLeg {
    fn confirmed(&mut self) -> Option<&mut Confirmed> {
        match &mut self.phase {
            Phase::Confirmed(c) => Some(c),
            _ => None,
        }
    }

    fn confirmed_timeout(&mut self, now: Instant) {
        let Some(c) = self.confirmed() else { return };
        if let Some((at, what)) = c.retry {
            if now >= at {
                c.retry = None;
                match what {
                    Retry::Hold(held) => self.start_hold(now, held),
                    Retry::Refresh => self.start_refresh(now),
                }
            }
        }
        let Some(c) = self.confirmed() else { return };
        let Some(t) = c.timer else { return };
        if now < t.deadline() {
            return;
        }
        match t.refresher {
            Refresher::Us => self.start_refresh(now),
            Refresher::Them => {
                tracing::info!("session expired without a refresh (RFC 4028 §10): BYE");
                self.actions.push_back(Action::Bye);
                self.fail(SipStatus::new(408, "Session expired (no refresh)"));
            }
        }
    }

    /// Our re-INVITE's extra headers: session-timer ones.
    fn reinvite_headers(&self) -> Vec<Header> {
        match &self.phase {
            Phase::Confirmed(c) => match c.timer {
                Some(t) => {
                    timer::request_headers(t.interval_s, MIN_SE_S, t.refresher == Refresher::Us)
                }
                None => vec![("Supported".into(), "timer".into())],
            },
            _ => Vec::new(),
        }
    }

    fn busy(c: &Confirmed) -> bool {
        c.local.is_some() || c.remote_offer.is_some() || c.retry.is_some()
    }

    fn start_hold(&mut self, _now: Instant, held: bool) {
        let headers = self.reinvite_headers();
        let Some(c) = self.confirmed() else { return };
        if Self::busy(c) {
            c.queued_hold = Some(held);
            return;
        }
        let Some(offer) = c.media.as_mut().and_then(|m| m.offer(held).ok()) else {
            self.events.push_back(SipEvent::HoldFailed {
                held,
                status: SipStatus::new(500, "no local media description"),
            });
            return;
        };
        let body = offer.to_bytes();
        c.local = Some(LocalReinvite::Hold { held, offer });
        self.actions.push_back(Action::Reinvite { headers, body });
    }

    fn start_refresh(&mut self, now: Instant) {
        let headers = self.reinvite_headers();
        let Some(c) = self.confirmed() else { return };
        if let Some(t) = c.timer.as_mut() {
            // Move the deadline on; the answer sets the next one.
            t.since = now;
        }
        if Self::busy(c) {
            return; // the re-INVITE in flight carries the session timer
        }
        let Some(body) = c.media.as_ref().map(|m| m.last().to_vec()) else {
            return;
        };
        c.local = Some(LocalReinvite::Refresh);
        self.actions.push_back(Action::Reinvite { headers, body });
    }

    fn on_reinvite_final(&mut self, now: Instant, resp: FinalResponse) {
        let backoff = self.glare_backoff();
        let Some(c) = self.confirmed() else { return };
        let Some(local) = c.local.take() else { return };
        let code = resp.status.code();
        let ok = (200..300).contains(&code);
        if ok {
            c.timer = SessionTimer::from_our_request(now, &resp.headers);
            // RFC 3261 §12.2.1.2: a 2xx to a target refresh request
            // replaces the remote target with its Contact.
            match contact_target(&resp.headers) {
                Ok(Some(uri)) => self.actions.push_back(Action::RemoteTarget { uri }),
                Ok(None) => {}
                Err(e) => tracing::info!(error = %e, "2xx to our re-INVITE: Contact ignored"),
            }
        }
        let Some(c) = self.confirmed() else { return };
        let mut event = None;
        match local {
            LocalReinvite::Hold { held, offer } => {
                if ok {
                    let answered = c
                        .media
                        .as_mut()
                        .map(|m| m.offer_answered(&offer, held, &resp.body));
                    event = Some(match answered {
                        Some(Ok(negotiated)) => SipEvent::MediaChanged {
                            negotiated,
                            by_remote: false,
                        },
                        _ => SipEvent::HoldFailed {
                            held,
                            status: SipStatus::new(488, "unusable SDP answer"),
                        },
                    });
                } else if code == 491 {
                    c.retry = Some((now + backoff, Retry::Hold(held)));
                } else {
                    event = Some(SipEvent::HoldFailed {
                        held,
                        status: resp.status,
                    });
                }
            }
            LocalReinvite::Refresh => {
                if code == 491 {
                    c.retry = Some((now + backoff, Retry::Refresh));
                } else if !ok {
                    tracing::info!(status = %resp.status, "session refresh refused: BYE");
                    if matches!(code, 408 | 481) {
                        return self.bye();
                    }
                    c.timer = None;
                }
            }
        }
        let queued = c.queued_hold.take();
        if let Some(e) = event {
            self.events.push_back(e);
        }
        if let Some(held) = queued {
            self.start_hold(now, held);
        }
    }

    fn reply(&mut self, id: RequestId, code: u16, headers: Vec<Header>, body: Vec<u8>) {
        self.actions.push_back(Action::Reply {
            id,
            code,
            headers,
            body,
        });
    }

    fn on_request(&mut self, now: Instant, req: InDialogRequest) {
        let confirmed = matches!(self.phase, Phase::Confirmed(_));
        match req.method {
            Method::Options => self.reply(
                req.id,
                200,
                vec![
                    ("Allow".into(), ALLOW.into()),
                    ("Accept".into(), "application/sdp".into()),
                    ("Supported".into(), "timer".into()),
                ],
                Vec::new(),
            ),
            Method::Invite | Method::Update if confirmed => self.on_offer(now, req),
            Method::Update => self.on_early_update(req),
            // A re-INVITE before the dialog is confirmed is a protocol
            // error of the far end; it can retry once it is.
            Method::Invite => self.reply(
                req.id,
                500,
                vec![("Retry-After".into(), "1".into())],
                Vec::new(),
            ),
            // INFO: DTMF relay or unknown packages; acknowledged, not used.
            Method::Info => self.reply(req.id, 200, Vec::new(), Vec::new()),
            Method::Refer | Method::Notify if confirmed => {
                let out = self.transfer.on_request(now, &req);
                self.apply_transfer(out);
            }
            _ => self.on_unsupported_request(req),
        }
    }

    /// UPDATE before the final response (RFC 3311 §5.2), by the offer
    /// state of the early dialog:
    /// - no body: 200 (a target refresh or session-timer update);
    /// - outgoing, an 18x with SDP answered our offer: 200 with our
    ///   answer, `MediaChanged { by_remote: true }`;
    /// - outgoing, our INVITE's offer not answered yet: 491 (we have an
    ///   offer outstanding);
    /// - incoming: the INVITE's offer (or, without one, the session) is
    ///   not answered until our 200 OK: 500 + `Retry-After` (we received
    ///   an offer we have not answered).
    ///
    /// A Contact that is not a SIP URI: 400 (RFC 3261 §12.2.2).
    fn on_early_update(&mut self, req: InDialogRequest) {
        let target = match contact_target(&req.headers) {
            Ok(t) => t,
            Err(e) => {
                let warning = format!("399 rtmp2sip \"{e}\"");
                return self.reply(req.id, 400, vec![("Warning".into(), warning)], Vec::new());
            }
        };
        let early = matches!(
            self.phase,
            Phase::Inviting { .. } | Phase::Early { .. } | Phase::Ringing
        );
        if !early {
            // Cancelling, awaiting the ACK: the INVITE is settled already.
            return self.reply(req.id, 500, retry_after(), Vec::new());
        }
        if req.body.is_empty() {
            self.push_target(target);
            return self.reply(req.id, 200, Vec::new(), Vec::new());
        }
        if self.role == Role::Incoming {
            return self.reply(req.id, 500, retry_after(), Vec::new());
        }
        let Some(media) = self.early_media.as_mut() else {
            return self.reply(req.id, 491, Vec::new(), Vec::new());
        };
        match media.answer(&req.body) {
            Ok((answer, negotiated)) => {
                self.push_target(target);
                self.reply(req.id, 200, Vec::new(), answer);
                self.events.push_back(SipEvent::MediaChanged {
                    negotiated,
                    by_remote: true,
                });
            }
            Err(e) => {
                tracing::info!(error = %e, "early UPDATE offer refused: 488");
                let warning = format!("399 rtmp2sip \"{e}\"");
                self.reply(req.id, 488, vec![("Warning".into(), warning)], Vec::new());
            }
        }
    }

    fn push_target(&mut self, target: Option<String>) {
        if let Some(uri) = target {
            self.actions.push_back(Action::RemoteTarget { uri });
        }
    }

    /// REFER, NOTIFY, MESSAGE and unknown methods: 501 (RFC 3261 §21.5.2).
    fn on_unsupported_request(&mut self, req: InDialogRequest) {
        self.reply(req.id, 501, Vec::new(), Vec::new());
    }

    /// re-INVITE or UPDATE (RFC 3261 §14.2, RFC 3311 §5.2). Both are
    /// target refresh requests: a usable Contact replaces the remote
    /// target once we answer 2xx (RFC 3261 §12.2.2), one that is not a
    /// SIP URI is answered 400 and nothing changes.
    fn on_offer(&mut self, now: Instant, req: InDialogRequest) {
        let se = self.cfg.session_expires_s;
        let target = match contact_target(&req.headers) {
            Ok(t) => t,
            Err(e) => {
                tracing::info!(error = %e, "target refresh with an unusable Contact: 400");
                let warning = format!("399 rtmp2sip \"{e}\"");
                return self.reply(req.id, 400, vec![("Warning".into(), warning)], Vec::new());
            }
        };
        let Some(c) = self.confirmed() else { return };
        if c.local.is_some() {
            // Glare: our own offer is in flight (§14.2, RFC 3311 §5.2).
            return self.reply(req.id, 491, Vec::new(), Vec::new());
        }
        if c.remote_offer.is_some() {
            return self.reply(
                req.id,
                500,
                vec![("Retry-After".into(), "1".into())],
                Vec::new(),
            );
        }
        let negotiation = timer::negotiate_request(now, &req.headers, se);
        let mut headers = match &negotiation {
            Negotiation::TooSmall(min) => {
                let h = vec![("Min-SE".to_string(), min.to_string())];
                return self.reply(req.id, 422, h, Vec::new());
            }
            Negotiation::Timer(_, h) => h.clone(),
            Negotiation::None => Vec::new(),
        };
        headers.push(("Supported".into(), "timer".into()));
        let Some(media) = c.media.as_mut() else {
            return self.reply(req.id, 500, Vec::new(), Vec::new());
        };
        let event;
        let body;
        if req.body.is_empty() {
            if req.method == Method::Update {
                // A refresh without an offer.
                body = Vec::new();
                event = None;
            } else {
                // RFC 3261 §14.2: our offer in the 2xx, the answer in the ACK.
                let Ok(offer) = media.offer(media.held()) else {
                    return self.reply(req.id, 500, Vec::new(), Vec::new());
                };
                body = offer.to_bytes();
                c.remote_offer = Some((req.id, offer));
                event = None;
            }
        } else {
            match media.answer(&req.body) {
                Ok((answer, negotiated)) => {
                    body = answer;
                    event = Some(SipEvent::MediaChanged {
                        negotiated,
                        by_remote: true,
                    });
                }
                Err(e) => {
                    tracing::info!(error = %e, "re-offer refused: 488");
                    let warning = format!("399 rtmp2sip \"{e}\"");
                    return self.reply(req.id, 488, vec![("Warning".into(), warning)], Vec::new());
                }
            }
        }
        c.timer = match negotiation {
            Negotiation::Timer(t, _) => Some(t),
            _ => None,
        };
        if let Some(uri) = target {
            self.actions.push_back(Action::RemoteTarget { uri });
        }
        self.reply(req.id, 200, headers, body);
        if let Some(e) = event {
            self.events.push_back(e);
        }
    }

    /// Our 2xx to re-INVITE `id` got no ACK within 64 x T1: BYE, and the
    /// call ends with `408 No ACK` (RFC 3261 §13.3.1.4 applied to the
    /// re-INVITE's 2xx, §14.2).
    fn on_request_unacked(&mut self, id: RequestId) {
        let Some(c) = self.confirmed() else { return };
        if c.remote_offer.as_ref().is_some_and(|(p, _)| *p == id) {
            c.remote_offer = None;
        }
        tracing::info!(?id, "no ACK for our 2xx to a re-INVITE within 64*T1: BYE");
        self.actions.push_back(Action::Bye);
        self.fail(SipStatus::new(408, NO_ACK));
    }

    fn on_request_acked(&mut self, now: Instant, id: RequestId, sdp: &[u8]) {
        let Some(c) = self.confirmed() else { return };
        let Some((pending, offer)) = c.remote_offer.take() else {
            return;
        };
        if pending != id {
            c.remote_offer = Some((pending, offer));
            return;
        }
        let held = c.media.as_ref().is_some_and(|m| m.held());
        let answered = c
            .media
            .as_mut()
            .map(|m| m.offer_answered(&offer, held, sdp));
        let queued = c.queued_hold.take();
        match answered {
            Some(Ok(negotiated)) => self.events.push_back(SipEvent::MediaChanged {
                negotiated,
                by_remote: true,
            }),
            _ => tracing::info!("the ACK carried no usable answer; media unchanged"),
        }
        if let Some(held) = queued {
            self.start_hold(now, held);
        }
    }
}

/// `Retry-After: 1` (RFC 3311 §5.2's 500 to an UPDATE that comes while
/// an offer is unanswered).
fn retry_after() -> Vec<Header> {
    vec![("Retry-After".into(), "1".into())]
}

/// Our `Allow` header (RFC 3261 §20.5).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY";
