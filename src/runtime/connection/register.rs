//! `register` / `unregister` on a connection: addresses on the embedded
//! registrar, and registrations at outside registrars.
//!
//! - `register()` with no arguments: the connection gets
//!   `sip:<ident>@<domain>` on this gateway; INVITEs (and dials from other
//!   RTMP clients) to it ring here. With `[sip] registrar` set, the address
//!   is also registered upstream with a Contact pointing here.
//! - `register(user, registrar, password[, auth_user, display_name])`:
//!   REGISTER at that registrar with digest auth; the Contact's user part
//!   is a random token bound to this connection in the location service.
//!
//! Everything is released on `unregister()` and when the connection ends.

use rand::RngCore;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::inbox::{Inbound, InboxSender};
use super::Connection;
use crate::call::connection::RegisterTarget;
use crate::call::uri::DialUri;
use crate::runtime::registry::RegistrationView;
use crate::runtime::Gateway;
use crate::sip::registration::RegistrationEvent;
use crate::sip::registration::{
    spawn_registration, ClientRegister, RegisterParams, RegistrationHandle,
};

/// Most outside registrations one connection may hold.
const MAX_CLIENT_REGISTRATIONS: usize = 4;

/// One REGISTER binding kept alive for this connection.
struct Upstream {
    /// The AoR, as reported to the client.
    aor: String,
    /// The Contact user token bound in the location service.
    token: String,
    handle: RegistrationHandle,
}

/// What this connection holds in the location service and at registrars.
pub(super) struct Registrations {
    /// Embedded-registrar idents bound in the location service.
    local: Vec<String>,
    upstream: Vec<Upstream>,
    /// The connection's inbox, for registration changes.
    inbox: InboxSender,
    /// Addresses last added to `rtmp2sip_registrations_active`.
    reported: usize,
}

impl Registrations {
    /// Nothing held yet; changes will go to `inbox`.
    pub(super) fn new(inbox: InboxSender) -> Self {
        Self {
            local: Vec::new(),
            upstream: Vec::new(),
            inbox,
            reported: 0,
        }
    }

    /// Releases every address and unregisters upstream (bounded by the
    /// driver's own timeout).
    pub(super) async fn close(&mut self, gw: &Gateway) {
        for ident in self.local.drain(..) {
            gw.locations.unbind(&ident);
        }
        let upstream: Vec<Upstream> = self.upstream.drain(..).collect();
        let mut waits = tokio::task::JoinSet::new();
        for u in upstream {
            gw.locations.unbind(&u.token);
            waits.spawn(u.handle.unregister());
        }
        while waits.join_next().await.is_some() {}
        self.report(gw);
    }

    /// Brings `rtmp2sip_registrations_active` up to the addresses held.
    pub(super) fn report(&mut self, gw: &Gateway) {
        let held = self.local.len() + self.upstream.len();
        let delta = i64::try_from(held).unwrap_or(i64::MAX)
            - i64::try_from(self.reported).unwrap_or(i64::MAX);
        if delta != 0 {
            gw.metrics.registrations_changed(delta);
            self.reported = held;
        }
    }
}

impl Connection {
    /// `register(...)`: the AoR, or why not.
    pub(super) fn register(&mut self, target: &RegisterTarget) -> Result<String, String> {
        let result = match target {
            RegisterTarget::Local => self.register_local(),
            RegisterTarget::Upstream(u) => self.register_upstream(&ClientRegister {
                user: &u.user,
                registrar: &u.registrar,
                password: &u.password,
                auth_user: u.auth_user.as_deref(),
                display_name: u.display_name.as_deref(),
            }),
        };
        self.registrations.report(&self.gw);
        result
    }

    /// `register()`: an address on the embedded registrar.
    fn register_local(&mut self) -> Result<String, String> {
        if let Some(ident) = self.registrations.local.first() {
            return Ok(self.local_uri(ident));
        }
        let mut bytes = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let ident: String = std::iter::once("u".to_string())
            .chain(bytes.iter().map(|b| format!("{b:02x}")))
            .collect();
        if !self.gw.locations.bind(&ident, self.incoming_target()) {
            return Err("address collision; try again".into());
        }
        self.registrations.local.push(ident.clone());
        let uri = self.local_uri(&ident);
        info!(%uri, "registered on the embedded registrar");
        if let Some(registrar) = self.gw.config().sip.registrar.clone() {
            if let Err(why) = self.register_implicit(&ident, &registrar) {
                warn!(reason = ?why, "cannot register the address upstream");
            }
        }
        Ok(uri)
    }

    fn local_uri(&self, ident: &str) -> String {
        let domain = self
            .gw
            .config()
            .sip
            .domain
            .clone()
            .unwrap_or_else(|| self.gw.ua.contact_host_port());
        format!("sip:{ident}@{domain}")
    }

    /// `[sip] registrar`: registers an embedded address upstream too (like
    /// SEMS's implicit registrar), with `[sip.auth]` credentials if any.
    fn register_implicit(&mut self, ident: &str, registrar: &str) -> Result<String, String> {
        let auth = self.gw.config().sip.auth.clone();
        let args = ClientRegister {
            user: ident,
            registrar,
            // from_client insists on a password (a client must give one);
            // the real one, possibly empty, is set below.
            password: "-",
            auth_user: auth.as_ref().map(|a| a.username.as_str()),
            display_name: None,
        };
        let mut params = RegisterParams::from_client(
            &args,
            &self.gw.ua.contact_host_port(),
            self.gw.config().sip.register_expires,
        )
        .map_err(|e| e.to_string())?;
        params.trunk = auth.as_ref().map(crate::sip::trunk::TrunkAuth::new);
        params.password = auth.map(|a| a.password).unwrap_or_default();
        self.start_upstream(params)
    }

    /// `register(user, registrar, password[, auth_user, display_name])`,
    /// when `[policy] registrar_allow` allows `sip:<user>@<registrar>`:
    /// the registrar is parsed strictly (as a dial URI) and only its
    /// canonical form is used.
    fn register_upstream(&mut self, args: &ClientRegister<'_>) -> Result<String, String> {
        let registrar =
            DialUri::parse_registrar(args.registrar).map_err(|e| format!("registrar: {e}"))?;
        let aor = registrar
            .with_user(Some(args.user))
            .map_err(|e| format!("user: {e}"))?;
        if !self.gw.config().policy.registrar_allow.allows(&aor) {
            return Err(format!(
                "registering {} is not allowed by the gateway's registrar policy",
                aor.canonical()
            ));
        }
        let registrar = registrar.wire();
        let args = ClientRegister {
            registrar: &registrar,
            ..*args
        };
        let params = RegisterParams::from_client(
            &args,
            &self.gw.ua.contact_host_port(),
            self.gw.config().sip.register_expires,
        )
        .map_err(|e| e.to_string())?;
        self.start_upstream(params)
    }

    /// Binds the Contact token here and starts the REGISTER driver.
    fn start_upstream(&mut self, mut params: RegisterParams) -> Result<String, String> {
        if self.registrations.upstream.len() >= MAX_CLIENT_REGISTRATIONS {
            return Err(format!(
                "at most {MAX_CLIENT_REGISTRATIONS} registrations per connection"
            ));
        }
        params.validate().map_err(|e| e.to_string())?;
        params.outbound_proxy = self.gw.ua.outbound_proxy();
        let aor = params.aor.to_string();
        if self.registrations.upstream.iter().any(|u| u.aor == aor) {
            return Ok(aor);
        }
        let token = params
            .contact_token()
            .ok_or("no contact token")?
            .to_string();
        if !self.gw.locations.bind(&token, self.incoming_target()) {
            return Err("contact collision; try again".into());
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        let handle = spawn_registration(self.gw.ua.endpoint(), params, tx);
        let inbox = self.registrations.inbox.clone();
        let tag = aor.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                if !inbox.send(Inbound::Registration(tag.clone(), ev)) {
                    break;
                }
            }
        });
        info!(aor = ?aor.to_string(), "registering");
        self.registrations.upstream.push(Upstream {
            aor: aor.clone(),
            token,
            handle,
        });
        Ok(aor)
    }
}

/// The status API's view of a registration event of connection `id`.
pub(super) fn view(id: u64, aor: &str, ev: &RegistrationEvent) -> RegistrationView {
    let mut v = RegistrationView {
        aor: aor.to_string(),
        connection: id,
        state: "registered",
        expires_s: None,
        code: None,
        reason: None,
    };
    match ev {
        RegistrationEvent::Registered { expires } => v.expires_s = Some(*expires),
        RegistrationEvent::Failed { code, reason, .. } => {
            v.state = "failed";
            v.code = Some(*code);
            v.reason = Some(reason.clone());
        }
        RegistrationEvent::Expired => v.state = "expired",
        RegistrationEvent::Unregistered => v.state = "unregistered",
        #[allow(unreachable_patterns)]
        _ => v.state = "unknown",
    }
    v
}
