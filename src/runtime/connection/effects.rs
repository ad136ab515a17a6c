//! Carrying out the connection core's effects: the only place a
//! connection's call plane touches the SIP user agent, media tasks, RTP
//! ports, call-capacity permits and the stream registry. Query effects are
//! answered by feeding the core their answer input before the next effect.

use std::sync::Arc;

use tracing::{debug, info, warn};

use super::{auth, Connection, OwnCall, Reservation};
use crate::call::connection::info::status_info;
use crate::call::connection::MediaAddr;
use crate::call::connection::{AudioTarget, CallDirection, CloseReason, Effect, Input, LegCommand};
use crate::call::uri::DialUri;
use crate::call::{CallStatus, StatusCode};
use crate::media::codec::Negotiated;
use crate::runtime::media_task;
use crate::runtime::metrics::{self, Metrics};
use crate::runtime::registry::{self, CallState, NewCall};
use crate::runtime::streams::{MediaHandle, PlayEndedSender};
use crate::sip::event::{CallId, SipEvent, SipStatus};
use crate::sip::ua::{DtmfInfo, PlaceCall};

impl Connection {
    /// Carries out every effect the core has queued.
    pub(super) async fn drive(&mut self) {
        while let Some(effect) = self.core.poll_effect() {
            self.carry_out(effect).await;
        }
    }

    /// Feeds a query's answer (or a follow-up) straight to the core.
    fn answer(&mut self, input: Input) {
        self.core.handle(std::time::Instant::now(), input);
    }

    async fn carry_out(&mut self, effect: Effect) {
        match effect {
            Effect::ReplyResult { txn, value } => self.session.reply_result(txn, value),
            Effect::ReplyError {
                txn,
                code,
                description,
                sip_code,
            } => self
                .session
                .reply_error_with_code(txn, code, &description, sip_code),
            Effect::Status(info) => self.session.send_connection_status(info),
            Effect::CallStatus(st) => {
                self.count_status(&st);
                self.list_status(&st);
                self.session.send_connection_status(status_info(&st));
            }
            Effect::AcceptPublish(id) => self.session.accept_publish(id),
            Effect::RejectPublish { stream_id, reason } => {
                self.session.reject_publish(stream_id, &reason)
            }
            Effect::AcceptPlay(id) => self.session.accept_play(id),
            Effect::RejectPlay { stream_id, reason } => {
                self.session.reject_play(stream_id, &reason)
            }
            Effect::EndPlay(id) => {
                self.session.end_play(id);
            }
            Effect::NotifyUnpublished(id) => self.session.notify_unpublished(id),
            Effect::Audio {
                stream_id,
                target,
                timestamp_ms,
                body,
            } => {
                let media = match target {
                    AudioTarget::Named => self.named_publish.get(&stream_id).map(|(h, _)| h),
                    AudioTarget::Own => self.own_publisher(stream_id),
                };
                if let Some(h) = media {
                    h.send_audio(timestamp_ms, body);
                }
            }
            Effect::StreamClosed(id) => {
                self.named_publish.remove(&id);
                self.own_claims.remove(&id);
                self.named_play.remove(&id);
            }
            Effect::SubscribeOwn(stream_id) => {
                let result = self.subscribe_own(stream_id);
                self.answer(Input::OwnSubscribed { stream_id, result });
            }
            Effect::ProbeStreams => {
                let live = self
                    .named_publish
                    .values()
                    .map(|(h, _)| h)
                    .chain(self.named_play.values())
                    .any(|h| !h.stop.is_cancelled());
                self.answer(Input::StreamsLive(live));
            }
            Effect::ReserveCall => {
                let permit = self.gw.calls.try_acquire();
                let slot = self.subject_slot();
                // A call with a permit takes one call's media room (the
                // headroom the sampler measured, handed out until it
                // measures again); without one it is refused anyway.
                let load = &self.gw.media.load;
                let overloaded = if permit.is_some() {
                    !load.try_admit()
                } else {
                    load.is_overloaded()
                };
                let cap = auth::capacity(overloaded, permit.is_some(), &slot);
                // Draining (SIGTERM): every new call is refused with 503.
                let cap = if self.gw.is_draining() {
                    crate::call::Capacity::Draining
                } else {
                    cap
                };
                let subject = match slot {
                    auth::SubjectSlot::Ok(p) => p,
                    auth::SubjectSlot::Full { .. } => None,
                };
                self.reservation = Some(Reservation { permit, subject });
                self.answer(Input::Reserved(cap));
            }
            Effect::BindCall { call_id, direction } => self.bind_call(call_id, direction),
            Effect::DropReservation => self.reservation = None,
            Effect::AllocatePorts { call_id, toward } => {
                let result = self.allocate_for(&call_id, toward).await;
                self.answer(Input::PortsAllocated { call_id, result });
            }
            Effect::Invite {
                call_id,
                target,
                offer,
            } => self.place_call(call_id, target, offer),
            Effect::StartEcho(call_id) => {
                let event = match self.start_echo(&call_id) {
                    Ok(()) => SipEvent::Answered { sdp: Vec::new() },
                    Err(reason) => SipEvent::Failed(SipStatus::new(500, reason)),
                };
                self.answer(Input::Sip { call_id, event });
            }
            Effect::StartMedia {
                call_id,
                negotiated,
            } => {
                let result = self.start_media(&call_id, negotiated);
                if let Err(reason) = &result {
                    warn!(%call_id, %reason, "cannot start media");
                }
                self.answer(Input::MediaStarted { call_id, result });
            }
            Effect::AnswerIncoming { call_id, answer } => self.answer_incoming(&call_id, answer),
            Effect::RefuseIncoming { call_id, code } => self.refuse_incoming(&call_id, code),
            Effect::SipHangup(call_id) => self.hangup(&call_id),
            Effect::SendDtmf {
                call_id,
                digits,
                duration_ms,
            } => {
                if let Some(m) = self.own_call(&call_id).and_then(|c| c.media.as_ref()) {
                    m.send_dtmf(digits.as_str(), duration_ms);
                }
            }
            Effect::SipInfoDtmf {
                call_id,
                digits,
                duration_ms,
            } => {
                if let Some(h) = self.own_call(&call_id).and_then(|c| c.sip.as_ref()) {
                    h.send_info_dtmf(digits.chars().map(|digit| DtmfInfo { digit, duration_ms }));
                }
            }
            Effect::SipLeg {
                txn,
                call_id,
                command,
            } => {
                let result = self.leg_command(&call_id, command);
                self.answer(Input::LegCommandDone { txn, result });
            }
            Effect::UpdateMedia {
                call_id,
                negotiated,
            } => {
                info!(%call_id, codec = ?negotiated.codec, remote = %negotiated.remote_rtp, direction = ?negotiated.direction, "media changed");
                if let Some(m) = self.own_call(&call_id).and_then(|c| c.media.as_ref()) {
                    m.update(negotiated);
                    let out = registry::rtmp_out_name(media_task::downlink(
                        &self.gw.config().media,
                        self.session.client_caps(),
                    ));
                    self.gw.registry.media(
                        call_id.as_str(),
                        negotiated.codec.to_string(),
                        out,
                        None,
                    );
                    let suite = negotiated.srtp.map(|k| k.suite().name());
                    self.gw.registry.srtp(call_id.as_str(), suite);
                }
            }
            Effect::HoldChanged {
                call_id,
                held,
                by_remote,
            } => {
                let side = if by_remote {
                    metrics::HoldSide::Remote
                } else {
                    metrics::HoldSide::Local
                };
                if let Some(call) = self.own_call_mut(&call_id) {
                    call.metric.hold(held, side);
                }
            }
            Effect::Refer { call_id, target } => {
                let sent = self
                    .own_call(&call_id)
                    .and_then(|c| c.sip.as_ref())
                    .is_some_and(|h| h.transfer(&target.request_uri().to_uri()));
                info!(%call_id, target = ?target.canonical(), sent, "REFER");
                self.answer(Input::ReferSent { call_id, sent });
            }
            Effect::DecideRefer { call_id, code } => {
                info!(%call_id, code, "far end's REFER answered");
                if let Some(h) = self.own_call(&call_id).and_then(|c| c.sip.as_ref()) {
                    h.decide_transfer(code);
                }
            }
            Effect::TransferLeg {
                old_call_id,
                new_call_id,
            } => self.transfer_leg(old_call_id, new_call_id),
            Effect::NotifyRefer {
                old_call_id,
                status,
                done,
            } => {
                if let Some((_, h)) = self
                    .transferred
                    .as_ref()
                    .filter(|(id, _)| *id == old_call_id)
                {
                    info!(old = %old_call_id, %status, done, "transfer progress NOTIFY");
                    h.notify_transfer(status, done);
                }
            }
            Effect::DropTransferredLeg(call_id) => {
                if self
                    .transferred
                    .as_ref()
                    .is_some_and(|(id, _)| *id == call_id)
                {
                    debug!(%call_id, "transferred call's leg ended");
                    self.transferred = None;
                }
            }
            Effect::ConnectStreams {
                call_id,
                publish,
                play,
                players,
            } => self.connect_streams(&call_id, &publish, &play, &players),
            Effect::ReleaseCall(call_id) => {
                if self.own_call(&call_id).is_some() {
                    self.gw.streams.remove_call(call_id.as_str());
                    self.call = None; // Drop stops the media task and frees the permits.
                }
            }
            Effect::Register { txn, target } => {
                let result = self.register(&target);
                match &result {
                    Err(why) => info!(reason = ?why, "register refused"),
                    Ok(aor) => self.list_registration(aor, &target),
                }
                self.answer(Input::Registered { txn, result });
            }
            Effect::Unregister { txn } => {
                let gw = self.gw.clone();
                self.registrations.close(&gw).await;
                self.gw.registry.clear_registrations(self.id);
                self.answer(Input::Unregistered { txn });
            }
            Effect::Refused { what, reason } => self.gw.metrics.refused(what, reason),
            Effect::Closing(reason) => match reason {
                CloseReason::ConnectTimeout => info!("no connect in time; closing"),
                CloseReason::Idle => info!(
                    idle_s = self.gw.config().limits.idle_timeout.as_secs(),
                    "idle timeout"
                ),
                CloseReason::Client => debug!("client gone; closing"),
                CloseReason::Shutdown => debug!("closing for shutdown"),
            },
            Effect::Close => debug!("core closed the connection"),
        }
    }

    fn own_call(&self, call_id: &CallId) -> Option<&OwnCall> {
        self.call.as_ref().filter(|c| &c.call_id == call_id)
    }

    fn own_call_mut(&mut self, call_id: &CallId) -> Option<&mut OwnCall> {
        self.call.as_mut().filter(|c| &c.call_id == call_id)
    }

    /// The reserved slots become the call's; an incoming call also takes
    /// its SIP and answer handles.
    fn bind_call(&mut self, call_id: CallId, direction: CallDirection) {
        let Some(Reservation {
            permit: Some(permit),
            subject,
        }) = self.reservation.take()
        else {
            warn!(%call_id, "call bound without a gateway slot");
            return;
        };
        self.list_call(&call_id, direction);
        let (sip, incoming, metric) = match direction {
            CallDirection::Inbound => match self.new_incoming.take() {
                Some(call) => (
                    Some(call.handle),
                    Some(call.answer),
                    metrics::CallDirection::Inbound,
                ),
                None => (None, None, metrics::CallDirection::Inbound),
            },
            CallDirection::Outbound | CallDirection::Echo => {
                (None, None, metrics::CallDirection::Outbound)
            }
        };
        match direction {
            CallDirection::Inbound => info!(%call_id, "incoming call rings"),
            _ => info!(%call_id, ?direction, "dial"),
        }
        self.call = Some(OwnCall {
            call_id,
            _permit: permit,
            _subject: subject,
            sip,
            ports: None,
            media: None,
            incoming,
            metric: self.gw.metrics.call(metric),
            started: tokio::time::Instant::now(),
        });
    }

    /// Subscribes a player following the own call to its media, if it has
    /// any yet (otherwise `ConnectStreams` does it).
    /// The own call's media for audio from the client's own (unnamed)
    /// publishing NetStream `stream_id`, once that stream holds the call's
    /// publisher claim (taken here at its first audio message). `None`
    /// (the audio is not forwarded) while another NetStream publishes
    /// into the call, or without a call.
    fn own_publisher(&mut self, stream_id: u32) -> Option<&MediaHandle> {
        let h = self.call.as_ref()?.media.as_ref()?;
        let held = self
            .own_claims
            .get(&stream_id)
            .is_some_and(|c| h.publisher.holds(c));
        if !held {
            match h.publisher.claim() {
                Some(claim) => {
                    self.own_claims.insert(stream_id, claim);
                }
                None => {
                    self.own_claims.remove(&stream_id);
                    return None;
                }
            }
        }
        self.call.as_ref()?.media.as_ref()
    }

    fn subscribe_own(&mut self, stream_id: u32) -> Result<(), String> {
        let Some(media) = self.call.as_ref().and_then(|c| c.media.clone()) else {
            return Ok(());
        };
        let max = self.gw.config().limits.max_subscribers_per_call;
        self.gw
            .streams
            .subscribe(
                &media,
                stream_id,
                self.play_tx.clone(),
                Arc::new(self.inbox_tx.clone()),
                max,
            )
            .map_err(|e| e.to_string())
    }

    /// A command for the call's SIP leg: hold / resume re-INVITE.
    fn leg_command(&mut self, call_id: &CallId, command: LegCommand) -> Result<(), String> {
        let Some(h) = self.own_call(call_id).and_then(|c| c.sip.as_ref()) else {
            return Err("no connected call".into());
        };
        let held = match command {
            LegCommand::Hold => true,
            LegCommand::Unhold => false,
        };
        if h.hold(held) {
            Ok(())
        } else {
            Err("too many call commands queued".into())
        }
    }

    /// The far end transferred the own call away: its SIP leg is kept for
    /// NOTIFYs, its media and stream names end, and the call's slots go to
    /// the new call (a fresh outbound call metric).
    fn transfer_leg(&mut self, old: CallId, new: CallId) {
        let metric = self.gw.metrics.call(metrics::CallDirection::Outbound);
        let Some(call) = self.own_call_mut(&old) else {
            return;
        };
        let handle = call.sip.take();
        if let Some(m) = call.media.take() {
            m.stop.cancel();
        }
        call.call_id = new.clone();
        call.ports = None;
        call.incoming = None;
        call.started = tokio::time::Instant::now();
        call.metric = metric;
        self.gw.streams.remove_call(old.as_str());
        self.gw
            .registry
            .transferred(old.as_str(), new.as_str(), self.inbox_tx.clone());
        info!(%old, %new, "call transferred by the far end");
        self.transferred = handle.map(|h| (old, h));
    }

    /// An RTP/RTCP port pair for the own call (kept until its media
    /// starts), and the address to advertise toward `toward`; 503 when the
    /// range is exhausted.
    async fn allocate_for(
        &mut self,
        call_id: &CallId,
        toward: Option<std::net::SocketAddr>,
    ) -> Result<MediaAddr, SipStatus> {
        let ports = self
            .gw
            .ports
            .allocate()
            .await
            .map_err(|e| SipStatus::new(503, format!("Service Unavailable: {e}")))?;
        let addr = self
            .gw
            .ua
            .media_host_for(toward)
            .parse()
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        let port = ports.rtp_port();
        match self.own_call_mut(call_id) {
            Some(call) => call.ports = Some(ports),
            None => return Err(SipStatus::new(481, "no such call")),
        }
        Ok(MediaAddr { addr, port })
    }

    /// Sends the INVITE with the core's offer.
    fn place_call(&mut self, call_id: CallId, target: DialUri, offer: Vec<u8>) {
        info!(%call_id, uri = ?target.canonical(), "placing call");
        let from = self.gw.ua.caller_uri(self.caller_id().as_ref());
        self.gw
            .registry
            .dialled(call_id.as_str(), Some(from), target.canonical().to_string());
        let handle = self.gw.ua.place_call(
            PlaceCall {
                target: target.request_uri().to_uri(),
                replaces: target.replaces().map(str::to_owned),
                offer,
                call_id: call_id.clone(),
                invite_timeout: self.gw.config().sip.invite_timeout,
                from: self.caller_id(),
            },
            Arc::new(self.inbox_tx.clone()),
        );
        if let Some(call) = self.own_call_mut(&call_id) {
            call.sip = Some(handle);
        }
    }

    /// Where this connection's media tasks run and report.
    fn media_env(&self) -> media_task::TaskEnv {
        media_task::TaskEnv {
            runtime: self.gw.media.clone(),
            metrics: self.gw.metrics.clone(),
        }
    }

    fn start_echo(&mut self, call_id: &CallId) -> Result<(), String> {
        let caps = self.session.client_caps();
        let handle = media_task::spawn_echo(
            &self.gw.config().media,
            caps,
            call_id.as_str(),
            self.inbox_tx.clone(),
            self.media_env(),
        )
        .map_err(|e| e.to_string())?;
        self.gw.registry.media(
            call_id.as_str(),
            crate::media::codec::Codec::Pcmu.to_string(),
            registry::rtmp_out_name(media_task::downlink(&self.gw.config().media, caps)),
            Some(handle.stats.clone()),
        );
        if let Some(call) = self.own_call_mut(call_id) {
            call.media = Some(handle);
        }
        Ok(())
    }

    /// Starts the call's media task on its ports with `negotiated`.
    fn start_media(&mut self, call_id: &CallId, negotiated: Negotiated) -> Result<(), String> {
        let caps = self.session.client_caps();
        let media_cfg = self.gw.config().media.clone();
        let inbox = self.inbox_tx.clone();
        let env = self.media_env();
        let Some(call) = self.own_call_mut(call_id) else {
            return Err("no such call".into());
        };
        let Some(ports) = call.ports.take() else {
            return Err("no RTP ports for this call".into());
        };
        info!(%call_id, codec = ?negotiated.codec, remote = %negotiated.remote_rtp, "media negotiated");
        let codec = negotiated.codec.to_string();
        let suite = negotiated.srtp.map(|k| k.suite().name());
        let handle = media_task::spawn_rtp(
            &media_cfg,
            caps,
            call_id.as_str(),
            negotiated,
            ports,
            inbox,
            env,
        )
        .map_err(|e| e.to_string())?;
        let stats = handle.stats.clone();
        call.media = Some(handle);
        let out = registry::rtmp_out_name(media_task::downlink(&media_cfg, caps));
        self.gw
            .registry
            .media(call_id.as_str(), codec, out, Some(stats));
        self.gw.registry.srtp(call_id.as_str(), suite);
        Ok(())
    }

    fn hangup(&mut self, call_id: &CallId) {
        let Some(call) = self.call.as_mut().filter(|c| &c.call_id == call_id) else {
            return;
        };
        if let Some(h) = call.sip.as_mut() {
            h.hangup();
        } else if let Some(m) = &call.media {
            // The echo destination ends at once; its media task reports
            // `MediaEvent::Ended`, which ends the call.
            m.stop.cancel();
        }
    }

    fn connect_streams(&mut self, call_id: &CallId, publish: &str, play: &str, players: &[u32]) {
        let Some(media) = self.own_call(call_id).and_then(|c| c.media.clone()) else {
            return;
        };
        self.gw.streams.insert(publish, play, media.clone());
        let max = self.gw.config().limits.max_subscribers_per_call;
        for &stream_id in players {
            let queue = self.play_tx.clone();
            let ended: PlayEndedSender = Arc::new(self.inbox_tx.clone());
            if let Err(e) = self
                .gw
                .streams
                .subscribe(&media, stream_id, queue, ended, max)
            {
                debug!(stream_id, error = %e, "own play not subscribed");
            }
        }
    }

    /// Feeds the own call's status into its metrics: SIP code, answer time.
    fn count_status(&mut self, st: &CallStatus) {
        let Some(call) = self
            .call
            .as_mut()
            .filter(|c| c.call_id.as_str() == st.call_id)
        else {
            return;
        };
        if let Some(code) = st.sip_code {
            call.metric.sip_code(code);
        }
        if st.status == StatusCode::Connected {
            call.metric.answered(call.started.elapsed());
        }
    }
}

impl Connection {
    /// The new call in the registry, with the INVITE's parties for an
    /// incoming one.
    fn list_call(&self, call_id: &CallId, direction: CallDirection) {
        let (direction, from, to) = match direction {
            CallDirection::Inbound => {
                let c = self.new_incoming.as_ref();
                (
                    registry::Direction::Inbound,
                    c.map(|c| c.from_uri.clone()),
                    c.map(|c| c.to.clone()),
                )
            }
            CallDirection::Outbound => (registry::Direction::Outbound, None, None),
            CallDirection::Echo => (
                registry::Direction::Echo,
                None,
                Some(self.gw.config().sip.echo_user.clone()),
            ),
        };
        self.gw.registry.start_call(NewCall {
            call_id: call_id.clone(),
            connection: self.id,
            direction,
            from,
            to,
            inbox: self.inbox_tx.clone(),
        });
    }

    /// The call's state in the registry; the final status (0) ends it
    /// there and writes its record.
    fn list_status(&self, st: &CallStatus) {
        let r = &self.gw.registry;
        match st.status {
            StatusCode::InProgress => r.set_state(&st.call_id, CallState::Early),
            StatusCode::Connected | StatusCode::ConnectStreams => {
                r.set_state(&st.call_id, CallState::Connected)
            }
            StatusCode::Disconnecting => r.set_state(&st.call_id, CallState::Ending),
            StatusCode::NotConnected => r.end_call(&st.call_id, st.sip_code, st.reason.as_deref()),
        }
    }

    /// A registration in the registry once `register` succeeded: an
    /// embedded-registrar address is registered at once, an upstream one
    /// when its REGISTER is answered.
    fn list_registration(&self, aor: &str, target: &crate::call::connection::RegisterTarget) {
        let state = match target {
            crate::call::connection::RegisterTarget::Local => "registered",
            _ => "registering",
        };
        self.gw.registry.registration(
            self.id,
            registry::RegistrationView {
                aor: aor.to_string(),
                connection: self.id,
                state,
                expires_s: None,
                code: None,
                reason: None,
            },
        );
    }
}

/// Counts an INVITE response as the UA reports it (`Failed` includes the
/// UA's own 408/503 for a timeout or transport failure).
pub(super) fn count_sip_response(metrics: &Metrics, ev: &SipEvent) {
    let code = match ev {
        SipEvent::Progress { status, .. } => status.code(),
        SipEvent::Answered { .. } => 200,
        SipEvent::Failed(status) => status.code(),
        _ => return,
    };
    metrics.sip_response(metrics::SipDirection::Received, code);
}
