//! Blind transfer on a confirmed dialog: the small driver that carries out
//! what [`super::refer`]'s cores decide, on rsipstack's `InviteDialog`.
//!
//! A confirmed call's loop (`UserAgent::confirmed_call`) hands it the
//! connection's [`TransferCommand`]s, the dialog's REFER and NOTIFY
//! requests, and its timer; it reports [`SipEvent::TransferProgress`]
//! (our REFER) and [`SipEvent::Referred`] (the far end's REFER, which the
//! connection answers with [`TransferCommand::Decide`]).

use std::time::Instant;

use rsipstack::dialog::dialog::{DialogState, TransactionHandle};
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, StatusCode, Uri};
use tracing::{debug, info, warn};

use super::event::{SipEvent, SipStatus};
use super::refer::{NotifyOut, ReferIn, Transferee, Transferor};

/// What the connection asks of a call leg about transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferCommand {
    /// Send REFER with `Refer-To: <target>` (RFC 3515 §2.4.1); the target
    /// is already checked against `[policy] dial_allow`.
    Refer(Uri),
    /// Answer the far end's pending REFER: 2xx accepts (202 and a NOTIFY
    /// `100 Trying`), 4xx-6xx refuses.
    Decide(u16),
    /// The new call placed for the far end's REFER progressed: NOTIFY it
    /// (`done`: the final NOTIFY, subscription terminated).
    Progress {
        /// The new call's status (180, 200, 486, ...).
        status: SipStatus,
        /// True for its final status.
        done: bool,
    },
}

/// The transfer state of one confirmed dialog.
#[derive(Debug, Default)]
pub(crate) struct TransferDriver {
    transferor: Option<Transferor>,
    transferee: Transferee,
    /// The far end's REFER, until the connection decides.
    pending: Option<TransactionHandle>,
}

impl TransferDriver {
    /// When [`Self::on_timeout`] is due.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        let a = self.transferor.as_ref().and_then(Transferor::poll_timeout);
        let b = self.transferee.poll_timeout();
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sleeps until [`Self::next_wake`] (forever without one).
    pub(crate) async fn sleep(&self) {
        match self.next_wake() {
            Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
            None => std::future::pending().await,
        }
    }

    /// The transfer's timers: our REFER's subscription, the far end's
    /// REFER awaiting a decision.
    pub(crate) async fn on_timeout(&mut self, report: &(dyn Fn(SipEvent) + Sync)) {
        let now = Instant::now();
        if let Some(p) = self.transferor.as_mut().and_then(|t| t.handle_timeout(now)) {
            info!("transfer timed out");
            report(SipEvent::TransferProgress {
                status: p.status,
                done: p.done,
            });
        }
        if let Some(status) = self.transferee.handle_timeout(now) {
            self.answer_pending(&status).await;
        }
    }

    /// Carries out one of the connection's commands. True when the call
    /// must now end with BYE: the final NOTIFY of a far end's transfer was
    /// sent (RFC 5589 §6.1: the transfer is complete; the transferee ends
    /// the old call if the transferor has not).
    pub(crate) async fn command(
        &mut self,
        dialog: &InviteDialog,
        cmd: TransferCommand,
        report: &(dyn Fn(SipEvent) + Sync),
    ) -> bool {
        match cmd {
            TransferCommand::Refer(target) => self.refer(dialog, target, report).await,
            TransferCommand::Progress { status, done } => {
                if let Some(n) = self.transferee.progress(&status, done) {
                    send_notify(dialog, n).await;
                    return done;
                }
            }
            TransferCommand::Decide(code) => {
                if let Some((status, notify)) = self.transferee.decide(code) {
                    self.answer_pending(&status).await;
                    if let Some(n) = notify {
                        wait_confirmed(dialog).await;
                        send_notify(dialog, n).await;
                    }
                }
            }
        }
        false
    }

    async fn refer(
        &mut self,
        dialog: &InviteDialog,
        target: Uri,
        report: &(dyn Fn(SipEvent) + Sync),
    ) {
        if self.transferor.as_ref().is_some_and(|t| !t.is_done()) {
            report(SipEvent::TransferProgress {
                status: SipStatus::new(491, "A transfer is in progress"),
                done: true,
            });
            return;
        }
        let mut t = Transferor::new(Instant::now());
        info!(%target, "sending REFER");
        wait_confirmed(dialog).await;
        let answer = match dialog.refer(format!("<{target}>"), None, None).await {
            Ok(resp) => resp.map(|r| {
                let code = r.status_code.code();
                SipStatus::new(code, r.wire_reason.clone().unwrap_or_default())
            }),
            Err(e) => {
                warn!(error = %e, "REFER failed");
                Some(SipStatus::new(503, "REFER could not be sent"))
            }
        };
        if let Some(p) = t.on_response(answer) {
            report(SipEvent::TransferProgress {
                status: p.status,
                done: p.done,
            });
        }
        self.transferor = Some(t);
    }

    /// A dialog state other than Terminated: REFER and NOTIFY are ours,
    /// anything else is left to the caller (returned).
    pub(crate) fn on_state(
        &mut self,
        state: DialogState,
        report: &(dyn Fn(SipEvent) + Sync),
    ) -> Option<DialogState> {
        match state {
            DialogState::Refer(_, req, handle) => {
                let refer_to = refer_to_value(&req.headers);
                match self
                    .transferee
                    .on_refer(Instant::now(), refer_to.as_deref())
                {
                    ReferIn::Refuse(status) => {
                        info!(%status, "REFER refused");
                        reply_detached(handle, &status);
                    }
                    ReferIn::Ask { target } => {
                        info!(target = ?target, "REFER received");
                        self.pending = Some(handle);
                        report(SipEvent::Referred { target });
                    }
                }
                None
            }
            DialogState::Notify(_, req, handle) => {
                let state = header_value(&req.headers, "subscription-state");
                let event = header_value(&req.headers, "event").unwrap_or_default();
                let status = match self.transferor.as_mut() {
                    None => SipStatus::new(481, "Subscription does not exist"),
                    Some(_) if !event.trim().to_ascii_lowercase().starts_with("refer") => {
                        SipStatus::new(489, "Bad Event")
                    }
                    Some(t) => match t.on_notify(&req.body, state.as_deref()) {
                        Ok(p) => {
                            if let Some(p) = p {
                                debug!(status = %p.status, done = p.done, "transfer NOTIFY");
                                report(SipEvent::TransferProgress {
                                    status: p.status,
                                    done: p.done,
                                });
                            }
                            SipStatus::new(200, "OK")
                        }
                        Err(e) => {
                            debug!(error = %e, "bad NOTIFY body");
                            SipStatus::new(400, "Bad sipfrag")
                        }
                    },
                };
                reply_detached(handle, &status);
                None
            }
            other => Some(other),
        }
    }

    async fn answer_pending(&mut self, status: &SipStatus) {
        if let Some(handle) = self.pending.take() {
            let _ = handle.reply(StatusCode::from(status.code())).await;
        }
    }
}

/// Most time [`wait_confirmed`] waits, in 10 ms steps.
const CONFIRM_WAIT_STEPS: u32 = 200;

/// Waits (at most 2 s) until the dialog is back in Confirmed: rsipstack
/// holds an in-dialog REFER/NOTIFY's dialog state until its answer is
/// sent, and sends no request (NOTIFY, REFER, BYE) meanwhile.
pub(crate) async fn wait_confirmed(dialog: &InviteDialog) {
    for _ in 0..CONFIRM_WAIT_STEPS {
        match dialog.state() {
            DialogState::Confirmed(..) | DialogState::Terminated(..) => return,
            _ => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

/// Answers an in-dialog request without waiting (its handle's queue has room).
fn reply_detached(handle: TransactionHandle, status: &SipStatus) {
    let code = StatusCode::from(status.code());
    tokio::spawn(async move {
        let _ = handle.reply(code).await;
    });
}

async fn send_notify(dialog: &InviteDialog, n: NotifyOut) {
    let headers = vec![
        Header::Event("refer".into()),
        Header::SubscriptionState(n.subscription_state.into()),
        Header::ContentType("message/sipfrag".into()),
    ];
    match dialog.notify(Some(headers), Some(n.body)).await {
        Ok(resp) => debug!(code = ?resp.map(|r| r.status_code.code()), "NOTIFY sent"),
        Err(e) => warn!(error = %e, "NOTIFY failed"),
    }
}

/// The `Refer-To` (or compact `r`) header's value.
fn refer_to_value(headers: &rsipstack::sip::Headers) -> Option<String> {
    headers.iter().find_map(|h| match h {
        Header::ReferTo(r) => Some(r.value().to_string()),
        Header::Other(name, value)
            if name.eq_ignore_ascii_case("refer-to") || name.eq_ignore_ascii_case("r") =>
        {
            Some(value.to_string())
        }
        _ => None,
    })
}

/// A header's value by name (typed or not), case-insensitive.
fn header_value(headers: &rsipstack::sip::Headers, name: &str) -> Option<String> {
    headers.iter().find_map(|h| match h {
        Header::SubscriptionState(v) if name == "subscription-state" => Some(v.value().to_string()),
        Header::Event(v) if name == "event" => Some(v.value().to_string()),
        Header::Other(n, v) if n.eq_ignore_ascii_case(name) => Some(v.to_string()),
        _ => None,
    })
}
