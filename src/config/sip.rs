//! `[sip]` and `[sip.auth]`: the SIP user agent.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::{invalid, non_empty, parse_addr, ConfigError};

/// `[sip]`: the SIP user agent.
#[derive(Debug, Clone)]
pub struct SipConfig {
    /// UDP address of the SIP transport.
    pub listen: SocketAddr,
    /// Host written into Contact, Via and SDP; `None`: derived from `listen`.
    pub public_address: Option<String>,
    /// Outbound proxy URI (`sip:host[:port]`); `None`: route by Request-URI.
    pub outbound_proxy: Option<String>,
    /// User part of From for outgoing calls.
    pub from_user: String,
    /// Display name of From for outgoing calls.
    pub from_display: Option<String>,
    /// User-Agent header value.
    pub user_agent: String,
    /// User part of the built-in echo destination.
    pub echo_user: String,
    /// How long an INVITE may go without a final response.
    pub invite_timeout: Duration,
    /// Trunk credentials for 401/407 challenges.
    pub auth: Option<SipAuth>,
    /// How long an incoming call may ring before it is answered 480.
    pub ring_timeout: Duration,
    /// Source ranges allowed to send new INVITEs; empty trusts every source.
    pub trusted: Vec<ipnet::IpNet>,
    /// Domain of embedded-registrar addresses (`sip:<ident>@<domain>`);
    /// `None`: the advertised host and SIP port.
    pub domain: Option<String>,
    /// Upstream registrar (`sip:` URI) at which embedded-registrar addresses
    /// are also registered; `None`: they stay local.
    pub registrar: Option<String>,
    /// Expires (s) requested by REGISTER for client registrations.
    pub register_expires: u32,
}

/// `[sip.auth]`: digest credentials (RFC 3261 §22).
#[derive(Clone)]
pub struct SipAuth {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SipAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct SipFile {
    listen: String,
    public_address: String,
    outbound_proxy: String,
    from_user: String,
    from_display: String,
    user_agent: String,
    echo_user: String,
    invite_timeout_s: u64,
    ring_timeout_s: u64,
    trusted: Vec<String>,
    domain: String,
    registrar: String,
    register_expires_s: u32,
    auth: SipAuthFile,
}

impl Default for SipFile {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:5060".into(),
            public_address: String::new(),
            outbound_proxy: String::new(),
            from_user: "rtmp2sip".into(),
            from_display: String::new(),
            user_agent: "rtmp2sip".into(),
            echo_user: "echo".into(),
            invite_timeout_s: 120,
            ring_timeout_s: 60,
            trusted: Vec::new(),
            domain: String::new(),
            registrar: String::new(),
            register_expires_s: 600,
            auth: SipAuthFile::default(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct SipAuthFile {
    username: String,
    password: String,
}

pub(super) fn validate_sip(file: &Path, s: SipFile) -> Result<SipConfig, ConfigError> {
    let listen = parse_addr(file, "sip.listen", &s.listen)?;
    let outbound_proxy = non_empty(s.outbound_proxy);
    if let Some(p) = &outbound_proxy {
        let lower = p.to_ascii_lowercase();
        if !(lower.starts_with("sip:") || lower.starts_with("sips:")) {
            return Err(invalid(file, "sip.outbound_proxy", "must be a sip: URI"));
        }
    }
    let from_user = non_empty(s.from_user)
        .ok_or_else(|| invalid(file, "sip.from_user", "must not be empty"))?;
    if !from_user
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(c))
    {
        return Err(invalid(
            file,
            "sip.from_user",
            "has characters not allowed in a SIP user part",
        ));
    }
    let echo_user = non_empty(s.echo_user)
        .ok_or_else(|| invalid(file, "sip.echo_user", "must not be empty"))?;
    if s.invite_timeout_s == 0 || s.invite_timeout_s > 3600 {
        return Err(invalid(file, "sip.invite_timeout_s", "must be 1..=3600"));
    }
    let auth = match non_empty(s.auth.username) {
        Some(username) => Some(SipAuth {
            username,
            password: s.auth.password,
        }),
        None if !s.auth.password.is_empty() => {
            return Err(invalid(
                file,
                "sip.auth.username",
                "password given without username",
            ))
        }
        None => None,
    };
    if s.ring_timeout_s == 0 || s.ring_timeout_s > 3600 {
        return Err(invalid(file, "sip.ring_timeout_s", "must be 1..=3600"));
    }
    if !(60..=86_400).contains(&s.register_expires_s) {
        return Err(invalid(
            file,
            "sip.register_expires_s",
            "must be 60..=86400",
        ));
    }
    let trusted = s
        .trusted
        .iter()
        .map(|t| parse_net(file, t))
        .collect::<Result<Vec<_>, _>>()?;
    let registrar = non_empty(s.registrar);
    if let Some(r) = &registrar {
        if !r.to_ascii_lowercase().starts_with("sip:") {
            return Err(invalid(file, "sip.registrar", "must be a sip: URI"));
        }
    }
    Ok(SipConfig {
        listen,
        public_address: non_empty(s.public_address),
        outbound_proxy,
        from_user,
        from_display: non_empty(s.from_display),
        user_agent: s.user_agent,
        echo_user,
        invite_timeout: Duration::from_secs(s.invite_timeout_s),
        auth,
        ring_timeout: Duration::from_secs(s.ring_timeout_s),
        trusted,
        domain: non_empty(s.domain),
        registrar,
        register_expires: s.register_expires_s,
    })
}

/// An address range of `[sip] trusted`: `10.0.0.0/8`, or one address.
fn parse_net(file: &Path, s: &str) -> Result<ipnet::IpNet, ConfigError> {
    let t = s.trim();
    t.parse::<ipnet::IpNet>()
        .or_else(|_| t.parse::<IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| {
            invalid(
                file,
                "sip.trusted",
                format!("`{s}` is not an address or CIDR range"),
            )
        })
}
