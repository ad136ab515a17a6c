//! Incoming calls (UAS, RFC 3261 §13.3): a new INVITE is screened, routed
//! to the RTMP connection that holds the called address, and rung there.
//!
//! Screening, in order (each ends the transaction with a final response):
//!
//! | check | answer |
//! |---|---|
//! | source outside `[sip] trusted` (when set) | 403 Forbidden (normally already sent, statelessly and rate-limited, by [`super::guard`]) |
//! | Request-URI user unknown to the [`IncomingRouter`] | 404 Not Found |
//! | the media workers are overloaded (`[limits] media_max_load`) | 503 Service Unavailable + `Retry-After: 5` |
//! | the gateway is draining before it stops (SIGTERM) | 503 Service Unavailable |
//! | no SDP offer, or no codec in common (RFC 3264 §6) | 488 Not Acceptable Here + `Warning: 305` |
//! | the connection is gone or its queue is full | 480 Temporarily Unavailable |
//!
//! Then 100 Trying (rsipstack's server transaction), 180 Ringing, and the
//! connection gets an [`IncomingCall`]. Its [`AnswerHandle`] answers 200
//! OK with the SDP answer or refuses with a code; the caller's CANCEL is
//! answered 487 by the transaction and reported as
//! [`SipEvent::Failed`](super::event::SipEvent::Failed) with 487. After the ACK the call is
//! reported [`SipEvent::Answered`](super::event::SipEvent::Answered) and runs like an outgoing one: BYE
//! either way, INFO DTMF through the [`CallHandle`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use rsipstack::sip::{Header, HeadersExt, StatusCode, ToTypedHeader};
use rsipstack::transaction::transaction::Transaction;
use tokio::sync::oneshot;
use tracing::{debug, info, warn, Instrument};

use super::call::driver::{Driver, Start};
use super::call::{timer, CallLeg, Command};
use super::event::{CallId, SipEventSink};
use super::sdp::{self, Codec};
use super::ua::{CallHandle, UserAgent};

/// A connection's inbox as the SIP side sees it: new calls, and every
/// call's events ([`SipEventSink`]). Implemented by the runtime; never
/// blocks.
pub trait CallInbox: SipEventSink {
    /// A new call for this connection; `Err(call)` when it cannot take
    /// one now (its queue of new calls is full): the UA answers 480.
    fn incoming(&self, call: IncomingCall) -> Result<(), IncomingCall>;
    /// True once the connection has gone.
    fn is_closed(&self) -> bool;
}

/// Where an incoming call for one address goes.
#[derive(Debug, Clone)]
pub struct IncomingTarget {
    /// The connection's inbox.
    pub inbox: Arc<dyn CallInbox>,
}

/// Finds the connection behind a Request-URI user part: an embedded
/// registrar address or a registration's Contact token.
pub trait IncomingRouter: Send + Sync {
    /// The target for `user`, if some connection holds it.
    fn route(&self, user: &str) -> Option<IncomingTarget>;

    /// True while new calls must be refused for overload (the media
    /// workers are past `[limits] media_max_load`, or the room the load
    /// sampler measured for new calls until its next sample is taken):
    /// the INVITE gets 503 with Retry-After. A false answer admits the
    /// call and takes its room. Default: never.
    fn overloaded(&self) -> bool {
        false
    }

    /// True while the gateway drains (SIGTERM, `[limits]
    /// drain_timeout_s`): new INVITEs get 503. Default: never.
    fn draining(&self) -> bool {
        false
    }
}

/// A call ringing at an RTMP connection.
#[derive(Debug)]
pub struct IncomingCall {
    /// The INVITE's Call-ID.
    pub call_id: CallId,
    /// The caller: the From URI.
    pub from_uri: String,
    /// The From display name, if any.
    pub display_name: Option<String>,
    /// The To URI.
    pub to: String,
    /// The SDP offer (already checked to share a codec with `[media]
    /// codecs`); empty for a delayed offer (an INVITE without SDP,
    /// RFC 3261 §13.2.1): the connection then accepts with its own offer.
    pub offer: Vec<u8>,
    /// Answers or refuses the call (once).
    pub answer: AnswerHandle,
    /// Hangs up (BYE) once answered and sends INFO DTMF; dropping it hangs up.
    pub handle: CallHandle,
}

/// Answers a ringing call once; dropping it unanswered refuses with 480.
#[derive(Debug)]
pub struct AnswerHandle {
    tx: Option<oneshot::Sender<Command>>,
}

impl AnswerHandle {
    /// Answers 200 OK with `sdp`: the SDP answer (RFC 3264 §6), or our
    /// offer when the INVITE had none ([`IncomingCall::offer`] empty; the
    /// answer then comes in the ACK, reported as
    /// [`SipEvent::Answered`](super::event::SipEvent::Answered)'s `sdp`, RFC 3261 §13.2.1).
    pub fn accept(&mut self, sdp: Vec<u8>) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Command::Answer(sdp));
        }
    }

    /// Refuses with `code` (4xx-6xx).
    pub fn reject(&mut self, code: u16) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Command::Reject(code));
        }
    }
}

/// Why a new INVITE was refused before ringing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    Forbidden,
    NotFound,
    NotAcceptable(&'static str),
    /// RFC 4028 §5: Session-Expires below our Min-SE (422).
    IntervalTooBrief(u32),
    /// The media workers are overloaded: 503 with Retry-After
    /// (RFC 3261 §21.5.4, §20.33).
    Overloaded,
    /// The gateway is draining before it stops: 503 (RFC 3261 §21.5.4).
    Draining,
}

/// Retry-After (s) on a 503 for overload: the load is averaged over 1 s.
const OVERLOAD_RETRY_AFTER_S: u32 = 5;

impl Refusal {
    fn code(&self) -> StatusCode {
        match self {
            Refusal::Forbidden => StatusCode::Forbidden,
            Refusal::NotFound => StatusCode::NotFound,
            Refusal::NotAcceptable(_) => StatusCode::NotAcceptableHere,
            Refusal::IntervalTooBrief(_) => StatusCode::from(422),
            Refusal::Overloaded => StatusCode::ServiceUnavailable,
            Refusal::Draining => StatusCode::ServiceUnavailable,
        }
    }
}

/// Whether `source` may send new INVITEs: every source when `trusted` is
/// empty; otherwise one inside a trusted range, or this gateway's own SIP
/// socket (an RTMP client dialling another one through the embedded
/// registrar).
pub fn is_trusted(trusted: &[ipnet::IpNet], source: SocketAddr, local: SocketAddr) -> bool {
    let own_ip =
        source.ip() == local.ip() || (local.ip().is_unspecified() && source.ip().is_loopback());
    trusted.is_empty()
        || trusted.iter().any(|net| net.contains(&source.ip()))
        || (own_ip && source.port() == local.port())
}

/// Checks that `offer` shares an audio codec with `codecs`; an empty
/// offer (delayed offer, RFC 3261 §13.2.1) is accepted: our 200 OK will
/// carry the offer.
fn check_offer(offer: &[u8], codecs: &[Codec], srtp: sdp::SrtpPolicy) -> Result<(), Refusal> {
    if offer.is_empty() {
        return Ok(());
    }
    match sdp::acceptable_offer_with(offer, codecs, srtp) {
        Ok(_) => Ok(()),
        Err(sdp::SdpError::NoCommonCodec) => Err(Refusal::NotAcceptable("no common codec")),
        Err(sdp::SdpError::SrtpRequired) => Err(Refusal::NotAcceptable("SRTP required")),
        Err(sdp::SdpError::NoCrypto) => Err(Refusal::NotAcceptable("no acceptable SRTP crypto")),
        Err(_) => Err(Refusal::NotAcceptable("unusable SDP offer")),
    }
}

/// The source address of a request: the top Via's `received` and
/// `rport`, else its sent-by. [`super::guard`] has replaced whatever the
/// sender wrote there with the packet's real source (RFC 3261 §18.2.1,
/// RFC 3581 §4), so `received` is always the real source IP.
fn source_addr(tx: &Transaction) -> Option<SocketAddr> {
    let via = tx.original.via_header().ok()?.typed().ok()?;
    let mut received = None;
    let mut rport = None;
    for p in &via.params {
        match p {
            rsipstack::sip::Param::Received(r) => {
                received = r
                    .value()
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .ok()
            }
            rsipstack::sip::Param::Rport(Some(port)) => rport = Some(*port),
            _ => {}
        }
    }
    let ip = received.or(match &via.uri.host_with_port.host {
        rsipstack::sip::uri::Host::IpAddr(ip) => Some(*ip),
        rsipstack::sip::uri::Host::Domain(_) => None,
    })?;
    let sent_by_port = via
        .uri
        .host_with_port
        .port
        .map(|p| p.value())
        .unwrap_or(5060);
    Some(SocketAddr::new(ip, rport.unwrap_or(sent_by_port)))
}

impl UserAgent {
    /// Handles a new INVITE (outside any dialog): screen, route, ring.
    pub(crate) async fn incoming_invite(self: Arc<Self>, mut tx: Transaction) {
        let call_id = tx
            .original
            .call_id_header()
            .map(|h| h.value().to_string())
            .unwrap_or_default();
        let span = tracing::info_span!("sip_incoming", %call_id);
        async move {
            match self.screen(&tx) {
                Ok((target, call)) => self.ring(tx, target, call).await,
                Err(refusal) => {
                    info!(code = refusal.code().code(), ?refusal, "INVITE refused");
                    let headers = match &refusal {
                        Refusal::NotAcceptable(why) => vec![Header::Warning(
                            format!("305 {} \"{why}\"", self.warn_agent()).into(),
                        )],
                        Refusal::IntervalTooBrief(min) => {
                            vec![Header::Other("Min-SE".into(), min.to_string())]
                        }
                        Refusal::Overloaded => vec![Header::Other(
                            "Retry-After".into(),
                            OVERLOAD_RETRY_AFTER_S.to_string(),
                        )],
                        _ => Vec::new(),
                    };
                    if let Err(e) = tx.reply_with(refusal.code(), headers, None).await {
                        debug!(error = %e, "cannot answer INVITE");
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// The warn-agent of Warning headers (RFC 3261 §20.43): our host:port.
    fn warn_agent(&self) -> String {
        self.local_addr.to_string()
    }

    fn screen(&self, tx: &Transaction) -> Result<(IncomingTarget, CallInfo), Refusal> {
        let source = source_addr(tx).ok_or(Refusal::Forbidden)?;
        if !is_trusted(&self.trusted.get(), source, self.local_addr) {
            return Err(Refusal::Forbidden);
        }
        let user = tx.original.uri.user().unwrap_or_default().to_string();
        let target = self.router.route(&user).ok_or(Refusal::NotFound)?;
        if self.router.draining() {
            return Err(Refusal::Draining);
        }
        if self.router.overloaded() {
            return Err(Refusal::Overloaded);
        }
        let offer = tx.original.body.clone();
        check_offer(&offer, &self.codecs, self.srtp)?;
        let headers = super::call::driver::request_headers(&tx.original);
        if let timer::Negotiation::TooSmall(min) =
            timer::negotiate_request(Instant::now(), &headers, self.cfg.session_expires_s)
        {
            return Err(Refusal::IntervalTooBrief(min));
        }
        let info = CallInfo::from_request(tx).ok_or(Refusal::NotAcceptable("bad From/To"))?;
        Ok((target, CallInfo { offer, ..info }))
    }

    async fn ring(self: &Arc<Self>, mut tx: Transaction, target: IncomingTarget, info: CallInfo) {
        let (state_tx, states) = self.dialog_layer.new_dialog_state_channel();
        let dialog = match self.dialog_layer.get_or_create_server_invite(
            &tx,
            state_tx.clone(),
            None,
            Some(self.contact_for(super::transports::via_transport(&tx.original), false)),
        ) {
            Ok(d) => d,
            Err(e) => {
                warn!(error = %e, "cannot create the server dialog");
                let _ = tx.reply(StatusCode::ServerInternalError).await;
                return;
            }
        };
        let headers = super::call::driver::request_headers(&tx.original);
        let mut server = dialog.clone();
        tokio::spawn(async move {
            if let Err(e) = server.handle(&mut tx).await {
                debug!(error = %e, "INVITE server transaction ended with an error");
            }
        });
        let (answer_tx, answer_rx) = oneshot::channel();
        let (handle, controls) = CallHandle::new();
        let call = IncomingCall {
            call_id: info.call_id.clone(),
            from_uri: info.from_uri,
            display_name: info.display_name,
            to: info.to,
            offer: info.offer.clone(),
            answer: AnswerHandle {
                tx: Some(answer_tx),
            },
            handle,
        };
        if target.inbox.incoming(call).is_err() {
            let _ = dialog.reject(Some(StatusCode::TemporarilyUnavailable), None);
            return;
        }
        info!(from = %dialog.initial_request().uri, "ringing");
        let cfg = self.leg_config(self.cfg.invite_timeout);
        let leg = CallLeg::incoming(Instant::now(), cfg, &headers, info.offer, rand::random());
        let start = Start::Incoming {
            dialog,
            answer: answer_rx,
        };
        let driver = Driver::new(
            self.clone(),
            leg,
            info.call_id,
            target.inbox,
            start,
            state_tx,
        );
        driver.run(states, controls).await;
    }
}

/// What the INVITE says about the call.
#[derive(Debug, Clone)]
struct CallInfo {
    call_id: CallId,
    from_uri: String,
    display_name: Option<String>,
    to: String,
    offer: Vec<u8>,
}

impl CallInfo {
    fn from_request(tx: &Transaction) -> Option<Self> {
        let req = &tx.original;
        let from = req.from_header().ok()?.typed().ok()?;
        let to = req.to_header().ok()?.typed().ok()?;
        Some(CallInfo {
            call_id: CallId::new(req.call_id_header().ok()?.value()),
            from_uri: strip_uri_params(&from.uri.to_string()),
            display_name: from
                .display_name
                .map(|d| d.trim_matches('"').to_string())
                .filter(|d| !d.is_empty()),
            to: strip_uri_params(&to.uri.to_string()),
            offer: Vec::new(),
        })
    }
}

/// A URI for display: without angle brackets.
fn strip_uri_params(uri: &str) -> String {
    uri.trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_rules() {
        let nets: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let local = a("192.0.2.1:5060");
        assert!(is_trusted(&[], a("203.0.113.9:5060"), local));
        assert!(is_trusted(&nets, a("10.1.2.3:5062"), local));
        assert!(!is_trusted(&nets, a("203.0.113.9:5060"), local));
        assert!(is_trusted(&nets, local, local), "the gateway itself");
        assert!(
            !is_trusted(&nets, a("192.0.2.1:5070"), local),
            "another process on our host"
        );
        assert!(is_trusted(&nets, a("127.0.0.1:5060"), a("0.0.0.0:5060")));
    }

    #[test]
    fn offers_without_common_codec_are_refused() {
        let offer = b"v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
        assert_eq!(
            check_offer(offer, &[Codec::Pcmu], sdp::SrtpPolicy::Off),
            Err(Refusal::NotAcceptable("no common codec"))
        );
        let pcmu = b"v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
        assert_eq!(
            check_offer(pcmu, &[Codec::Pcmu], sdp::SrtpPolicy::Off),
            Ok(())
        );
        assert_eq!(
            check_offer(b"", &[Codec::Pcmu], sdp::SrtpPolicy::Off),
            Ok(()),
            "delayed offer"
        );
    }
}
