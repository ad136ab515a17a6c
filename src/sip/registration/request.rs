//! One REGISTER transaction over rsipstack, with digest authentication.
//!
//! Every REGISTER of a registration shares its Call-ID and From tag, and
//! CSeq grows by one per request, including the authenticated retry
//! (RFC 3261 §10.2, §8.1.3.5). A 401/407 is answered once (plus rsipstack's
//! `stale=true` rounds) with `rsipstack::dialog::authenticate`, which
//! computes MD5 or SHA-256 digests from the challenge's algorithm; see
//! [`super::challenge`] for the RFC 8760 spelling it needs.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use rsipstack::dialog::authenticate::{handle_client_authenticate, AuthRetry, Credential};
use rsipstack::sip::param::Tag;
use rsipstack::sip::{typed, Header, Method, Param, SipMessage};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transaction::{make_call_id, make_tag};
use rsipstack::transport::SipAddr;
use tracing::debug;

use super::challenge::{pick_challenge, standardise_credentials};
use super::params::RegisterParams;
use super::response::RegisterAnswer;

/// How one REGISTER ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A final response (after answering a challenge, if there was one).
    Answer(RegisterAnswer),
    /// Nothing could be sent or the transaction ended without a final
    /// response (RFC 3261 §8.1.3.1: treated as 503).
    TransportError(String),
}

/// Sends the REGISTERs of one registration. Cheap to clone; each
/// [`RegisterSender::send`] future owns what it needs, so a superseded one
/// can be dropped at any point.
#[derive(Clone)]
pub struct RegisterSender {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: EndpointInnerRef,
    params: RegisterParams,
    call_id: String,
    from_tag: Tag,
    cseq: AtomicU32,
}

impl RegisterSender {
    /// A sender with a fresh Call-ID (RFC 3261 §10.2: the same for all
    /// REGISTERs of this registration) and From tag.
    pub fn new(endpoint: EndpointInnerRef, params: RegisterParams) -> Self {
        let call_id = match endpoint.option.callid_suffix.as_deref() {
            // The endpoint's own format when the application configured one.
            Some(_) => make_call_id(
                endpoint.option.callid_suffix.as_deref(),
                endpoint.option.callid_format,
            )
            .value()
            .to_string(),
            // Else 128 random bits, without rsipstack's default host suffix.
            None => format!("{:032x}", rand::random::<u128>()),
        };
        Self {
            inner: Arc::new(Inner {
                endpoint,
                params,
                call_id,
                from_tag: make_tag(),
                cseq: AtomicU32::new(0),
            }),
        }
    }

    /// The Call-ID all REGISTERs of this registration carry.
    pub fn call_id(&self) -> &str {
        &self.inner.call_id
    }

    /// The parameters.
    pub fn params(&self) -> &RegisterParams {
        &self.inner.params
    }

    /// Sends one REGISTER asking `expires` seconds and resolves to its
    /// outcome. Bounded by the transaction layer's timer F (64*T1) per
    /// request, a 408 arriving as an [`Outcome::Answer`].
    pub fn send(
        &self,
        expires: u32,
    ) -> impl std::future::Future<Output = Outcome> + Send + 'static {
        let inner = self.inner.clone();
        async move { inner.run(expires).await }
    }
}

impl Inner {
    fn next_cseq(&self) -> u32 {
        self.cseq.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    fn credential(&self) -> Credential {
        Credential {
            username: self.params.auth_user.clone(),
            password: self.params.password.clone(),
            realm: None,
            auth_username: None,
        }
    }

    /// With [`RegisterParams::trunk`]: the challenge response with only the
    /// challenges the trunk accepts, or the final answer when the
    /// registrar is not the trunk's host or no challenge is acceptable.
    fn trunk_screen(
        &self,
        mut resp: rsipstack::sip::Response,
    ) -> Result<rsipstack::sip::Response, Box<RegisterAnswer>> {
        let Some(trunk) = &self.params.trunk else {
            return Ok(resp);
        };
        let ours = &self.params.contact;
        let r = &self.params.registrar.host_with_port;
        let port = r.port.as_ref().map(|p| p.value());
        let via_proxy = self.params.outbound_proxy.is_some();
        if !trunk.applies_to(&r.host.to_string(), port, via_proxy) {
            let mut a = RegisterAnswer::from_response(&resp, ours);
            a.reason = format!(
                "{} (trunk credentials not offered to this registrar)",
                a.reason
            );
            return Err(Box::new(a));
        }
        let refused = trunk.screen(&mut resp);
        if !refused.is_empty() {
            tracing::info!(
                ?refused,
                "registrar challenge not answered with the trunk credentials"
            );
        }
        Ok(resp)
    }

    /// Where the packets go: the outbound proxy, else the registrar.
    fn target(&self) -> Result<SipAddr, String> {
        match &self.params.outbound_proxy {
            Some(p) => Ok(p.clone()),
            None => SipAddr::try_from(&self.params.registrar)
                .map_err(|e| format!("bad registrar address: {e}")),
        }
    }

    async fn run(&self, expires: u32) -> Outcome {
        let mut tx = match self.transaction(expires).await {
            Ok(tx) => tx,
            Err(e) => return Outcome::TransportError(e),
        };
        if let Err(e) = tx.send().await {
            return Outcome::TransportError(format!("cannot send REGISTER: {e}"));
        }
        debug!(
            cseq = self.cseq.load(Ordering::Relaxed),
            expires, "REGISTER sent"
        );
        let mut auth = AuthRetry::new();
        loop {
            let resp = match tx.receive().await {
                Some(SipMessage::Response(r)) => r,
                Some(SipMessage::Request(_)) => continue,
                None => return Outcome::TransportError("REGISTER transaction ended".into()),
            };
            let code = resp.status_code.code();
            if code < 200 {
                continue;
            }
            let ours = &self.params.contact;
            if !(code == 401 || code == 407) || !auth.should_answer(&resp) {
                return Outcome::Answer(RegisterAnswer::from_response(&resp, ours));
            }
            let resp = match self.trunk_screen(resp) {
                Ok(r) => r,
                Err(a) => return Outcome::Answer(*a),
            };
            let Some((challenge, algorithm)) = pick_challenge(&resp) else {
                let mut a = RegisterAnswer::from_response(&resp, ours);
                a.reason = format!("{} (no digest challenge we can answer)", a.reason);
                return Outcome::Answer(a);
            };
            let cseq = self.next_cseq();
            match handle_client_authenticate(cseq, &tx, challenge, &self.credential()).await {
                Ok(next) => tx = next,
                Err(e) => {
                    let mut a = RegisterAnswer::from_response(&resp, ours);
                    a.reason = format!("{} (cannot answer the challenge: {e})", a.reason);
                    return Outcome::Answer(a);
                }
            }
            standardise_credentials(&mut tx.original.headers);
            if let Err(e) = tx.send().await {
                return Outcome::TransportError(format!("cannot send REGISTER: {e}"));
            }
            debug!(
                cseq,
                algorithm = algorithm.rfc_name(),
                "REGISTER sent with credentials"
            );
        }
    }

    /// The client transaction of a new REGISTER (RFC 3261 §10.2).
    async fn transaction(&self, expires: u32) -> Result<Transaction, String> {
        let target = self.target()?;
        let ep = &self.endpoint;
        let (connection, _) = ep
            .transport_layer
            .lookup(&target, None)
            .await
            .map_err(|e| format!("cannot reach registrar {target}: {e}"))?;
        let via = ep
            .get_via(Some(connection.get_addr().clone()), None)
            .map_err(|e| e.to_string())?;
        let p = &self.params;
        let display_name = p.header_display_name();
        let from = typed::From {
            display_name: display_name.clone(),
            uri: p.aor.clone(),
            params: vec![Param::Tag(self.from_tag.clone())],
        };
        let to = typed::To {
            display_name,
            uri: p.aor.clone(),
            params: vec![],
        };
        let mut req = ep.make_request(
            Method::Register,
            p.registrar.clone(),
            via,
            from,
            to,
            self.next_cseq(),
            Some(self.call_id.clone().into()),
        );
        let contact = typed::Contact {
            display_name: None,
            uri: p.contact.clone(),
            params: vec![],
        };
        req.headers.push(contact.into());
        req.headers
            .push(Header::Expires(rsipstack::sip::Expires::from(expires)));
        let key = TransactionKey::from_request(&req, TransactionRole::Client)
            .map_err(|e| e.to_string())?;
        let mut tx = Transaction::new_client(key, req, ep.clone(), None);
        if p.outbound_proxy.is_some() {
            tx.destination = Some(target);
        }
        Ok(tx)
    }
}
