//! `[sip]` and `[sip.auth]`: the SIP user agent.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::sip_listen::{self, ListenFile, SipListen, SipStreamLimits, SipTls, SipTransport};
use super::{invalid, non_empty, ConfigError};

/// `[sip]`: the SIP user agent.
#[derive(Debug, Clone)]
pub struct SipConfig {
    /// UDP address of the SIP transport (the `udp:` or bare `[sip] listen`
    /// entry).
    pub listen: SocketAddr,
    /// The `tcp:` and `tls:` `[sip] listen` entries.
    pub stream_listen: Vec<SipListen>,
    /// `tls_cert`, `tls_key`, `tls_ca`, `tls_server_name`.
    pub tls: SipTls,
    /// Bounds on TCP and TLS connections.
    pub stream: SipStreamLimits,
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
    /// Session interval we ask for and accept at most (RFC 4028), seconds
    /// (90..=86400).
    pub session_expires_s: u32,
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
    /// Per-source budgets for new SIP transactions and for 403 refusals.
    pub rate: SipRateConfig,
}

/// `[sip] requests_*`, `refusals_*`, `rate_limit_sources`: per-source token
/// buckets (see `sip::rate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipRateConfig {
    /// New requests per second one source IP may send (1..=10000).
    pub requests_per_s: u32,
    /// Requests one source may send at once above the rate (1..=100000).
    pub requests_burst: u32,
    /// 403 refusals per second sent to one untrusted source (0..=1000).
    pub refusals_per_s: u32,
    /// Refusals one source may get at once above the rate (0..=1000).
    pub refusals_burst: u32,
    /// Most sources tracked; the least recently seen is evicted (16..=1000000).
    pub sources: usize,
}

/// `[sip.auth]`: digest credentials (RFC 3261 §22).
#[derive(Clone)]
pub struct SipAuth {
    /// Digest username.
    pub username: String,
    /// Digest password: never logged (redacted `Debug`).
    pub password: String,
    /// The only realm whose challenges are answered (RFC 3261 §22.1).
    pub realm: String,
    /// The host (`host` or `host:port`, lower case) toward which requests
    /// may be answered with these credentials, besides the outbound proxy.
    pub host: String,
    /// Whether a challenge without `qop` (RFC 2069 digest, no client nonce)
    /// may be answered; default false.
    pub allow_rfc2069: bool,
}

impl std::fmt::Debug for SipAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("realm", &self.realm)
            .field("host", &self.host)
            .field("allow_rfc2069", &self.allow_rfc2069)
            .finish()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct SipFile {
    listen: ListenFile,
    tls_cert: String,
    tls_key: String,
    tls_ca: String,
    tls_server_name: String,
    max_connections: usize,
    max_connections_per_ip: usize,
    stream_idle_timeout_s: u64,
    tls_handshake_timeout_s: u64,
    public_address: String,
    outbound_proxy: String,
    from_user: String,
    from_display: String,
    user_agent: String,
    echo_user: String,
    invite_timeout_s: u64,
    ring_timeout_s: u64,
    session_expires_s: u32,
    trusted: Vec<String>,
    domain: String,
    registrar: String,
    register_expires_s: u32,
    requests_per_s: u32,
    requests_burst: u32,
    refusals_per_s: u32,
    refusals_burst: u32,
    rate_limit_sources: usize,
    auth: SipAuthFile,
}

impl Default for SipFile {
    fn default() -> Self {
        Self {
            listen: ListenFile::default(),
            tls_cert: String::new(),
            tls_key: String::new(),
            tls_ca: String::new(),
            tls_server_name: String::new(),
            max_connections: 1024,
            max_connections_per_ip: 32,
            stream_idle_timeout_s: 900,
            tls_handshake_timeout_s: 5,
            public_address: String::new(),
            outbound_proxy: String::new(),
            from_user: "rtmp2sip".into(),
            from_display: String::new(),
            user_agent: "rtmp2sip".into(),
            echo_user: "echo".into(),
            invite_timeout_s: 120,
            ring_timeout_s: 60,
            session_expires_s: 1800,
            trusted: Vec::new(),
            domain: String::new(),
            registrar: String::new(),
            register_expires_s: 600,
            requests_per_s: 20,
            requests_burst: 50,
            refusals_per_s: 1,
            refusals_burst: 5,
            rate_limit_sources: 4096,
            auth: SipAuthFile::default(),
        }
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct SipAuthFile {
    username: String,
    password: String,
    realm: String,
    host: String,
    allow_rfc2069: bool,
}

impl std::fmt::Debug for SipAuthFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipAuthFile")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Longest string key that goes into a SIP header, in bytes.
const MAX_HEADER_STRING: usize = 256;
/// Longest password, in bytes.
const MAX_PASSWORD: usize = 1024;

pub(super) fn validate_sip(file: &Path, s: SipFile) -> Result<SipConfig, ConfigError> {
    let mut s = s;
    let (listen, stream_listen) = sip_listen::validate_listen(file, std::mem::take(&mut s.listen))?;
    let has_tls = stream_listen
        .iter()
        .any(|l| l.transport == SipTransport::Tls);
    let tls = sip_listen::validate_tls(
        file,
        std::mem::take(&mut s.tls_cert),
        std::mem::take(&mut s.tls_key),
        std::mem::take(&mut s.tls_ca),
        std::mem::take(&mut s.tls_server_name),
        has_tls,
    )?;
    let stream = sip_listen::validate_stream_limits(
        file,
        s.max_connections,
        s.max_connections_per_ip,
        s.stream_idle_timeout_s,
        s.tls_handshake_timeout_s,
    )?;
    let rate = validate_rate(file, &s)?;
    let outbound_proxy = non_empty(s.outbound_proxy);
    if let Some(p) = &outbound_proxy {
        header_safe(file, "sip.outbound_proxy", p)?;
        let lower = p.to_ascii_lowercase();
        if !(lower.starts_with("sip:") || lower.starts_with("sips:")) {
            return Err(invalid(file, "sip.outbound_proxy", "must be a sip: URI"));
        }
    }
    let from_user = non_empty(s.from_user)
        .ok_or_else(|| invalid(file, "sip.from_user", "must not be empty"))?;
    header_safe(file, "sip.from_user", &from_user)?;
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
    header_safe(file, "sip.echo_user", &echo_user)?;
    header_safe(file, "sip.user_agent", &s.user_agent)?;
    let from_display = non_empty(s.from_display);
    if let Some(d) = &from_display {
        header_safe(file, "sip.from_display", d)?;
        if d.contains(['"', '\\']) {
            return Err(invalid(
                file,
                "sip.from_display",
                "must not contain '\"' or '\\'",
            ));
        }
    }
    let public_address = non_empty(s.public_address);
    if let Some(p) = &public_address {
        host_like(file, "sip.public_address", p)?;
    }
    let domain = non_empty(s.domain);
    if let Some(d) = &domain {
        host_like(file, "sip.domain", d)?;
    }
    if s.invite_timeout_s == 0 || s.invite_timeout_s > 3600 {
        return Err(invalid(file, "sip.invite_timeout_s", "must be 1..=3600"));
    }
    if s.ring_timeout_s == 0 || s.ring_timeout_s > 3600 {
        return Err(invalid(file, "sip.ring_timeout_s", "must be 1..=3600"));
    }
    if !(90..=86_400).contains(&s.session_expires_s) {
        return Err(invalid(file, "sip.session_expires_s", "must be 90..=86400"));
    }
    if !(60..=86_400).contains(&s.register_expires_s) {
        return Err(invalid(
            file,
            "sip.register_expires_s",
            "must be 60..=86400",
        ));
    }
    if s.trusted.len() > 1024 {
        return Err(invalid(file, "sip.trusted", "at most 1024 ranges"));
    }
    let trusted = s
        .trusted
        .iter()
        .map(|t| parse_net(file, t))
        .collect::<Result<Vec<_>, _>>()?;
    let registrar = non_empty(s.registrar);
    if let Some(r) = &registrar {
        header_safe(file, "sip.registrar", r)?;
        if !r.to_ascii_lowercase().starts_with("sip:") {
            return Err(invalid(file, "sip.registrar", "must be a sip: URI"));
        }
    }
    let auth = validate_auth(
        file,
        s.auth,
        outbound_proxy.as_deref().or(registrar.as_deref()),
    )?;
    Ok(SipConfig {
        listen,
        stream_listen,
        tls,
        stream,
        public_address,
        outbound_proxy,
        from_user,
        from_display,
        user_agent: s.user_agent,
        echo_user,
        invite_timeout: Duration::from_secs(s.invite_timeout_s),
        auth,
        ring_timeout: Duration::from_secs(s.ring_timeout_s),
        session_expires_s: s.session_expires_s,
        trusted,
        domain,
        registrar,
        register_expires: s.register_expires_s,
        rate,
    })
}

/// `[sip] requests_*`, `refusals_*`, `rate_limit_sources`, each bounded.
fn validate_rate(file: &Path, s: &SipFile) -> Result<SipRateConfig, ConfigError> {
    let check = |key: &'static str, v: u64, lo: u64, hi: u64| {
        if (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(invalid(file, key, format!("must be {lo}..={hi}")))
        }
    };
    check("sip.requests_per_s", s.requests_per_s.into(), 1, 10_000)?;
    check("sip.requests_burst", s.requests_burst.into(), 1, 100_000)?;
    check("sip.refusals_per_s", s.refusals_per_s.into(), 0, 1000)?;
    check("sip.refusals_burst", s.refusals_burst.into(), 0, 1000)?;
    let sources = u64::try_from(s.rate_limit_sources).unwrap_or(u64::MAX);
    check("sip.rate_limit_sources", sources, 16, 1_000_000)?;
    Ok(SipRateConfig {
        requests_per_s: s.requests_per_s,
        requests_burst: s.requests_burst,
        refusals_per_s: s.refusals_per_s,
        refusals_burst: s.refusals_burst,
        sources: s.rate_limit_sources,
    })
}

/// `[sip.auth]`: `realm` is required with a username; `host` defaults to
/// the host of `default_uri` (the outbound proxy, else the registrar).
fn validate_auth(
    file: &Path,
    a: SipAuthFile,
    default_uri: Option<&str>,
) -> Result<Option<SipAuth>, ConfigError> {
    if a.password.len() > MAX_PASSWORD {
        return Err(invalid(file, "sip.auth.password", "at most 1024 bytes"));
    }
    let Some(username) = non_empty(a.username) else {
        if !a.password.is_empty() {
            return Err(invalid(
                file,
                "sip.auth.username",
                "password given without username",
            ));
        }
        return Ok(None);
    };
    header_safe(file, "sip.auth.username", &username)?;
    if username.contains(['"', '\\']) {
        return Err(invalid(
            file,
            "sip.auth.username",
            "must not contain '\"' or '\\'",
        ));
    }
    let realm = non_empty(a.realm)
        .ok_or_else(|| invalid(file, "sip.auth.realm", "required when username is set"))?;
    header_safe(file, "sip.auth.realm", &realm)?;
    let host = match non_empty(a.host) {
        Some(h) => h,
        None => default_uri.and_then(uri_host_port).ok_or_else(|| {
            invalid(
                file,
                "sip.auth.host",
                "required when neither sip.outbound_proxy nor sip.registrar is set",
            )
        })?,
    };
    host_like(file, "sip.auth.host", &host)?;
    Ok(Some(SipAuth {
        username,
        password: a.password,
        realm,
        host: host.to_ascii_lowercase(),
        allow_rfc2069: a.allow_rfc2069,
    }))
}

/// The `host[:port]` of a `sip:`/`sips:` URI (user part and parameters
/// removed).
fn uri_host_port(uri: &str) -> Option<String> {
    let rest = uri.split_once(':')?.1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let hp = rest.split([';', '?', '>']).next()?.trim();
    (!hp.is_empty()).then(|| hp.to_ascii_lowercase())
}

/// Refuses strings that could break out of a SIP header: CR, LF and the
/// other control characters (RFC 3261 §25.1), and overlong values.
fn header_safe(file: &Path, key: &'static str, v: &str) -> Result<(), ConfigError> {
    if v.len() > MAX_HEADER_STRING {
        return Err(invalid(file, key, "at most 256 bytes"));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(invalid(
            file,
            key,
            "must not contain CR, LF or control characters",
        ));
    }
    Ok(())
}

/// A host or `host:port`: letters, digits, `.-:[]` only.
fn host_like(file: &Path, key: &'static str, v: &str) -> Result<(), ConfigError> {
    header_safe(file, key, v)?;
    if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
    {
        return Err(invalid(file, key, "must be a host name or address"));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<SipConfig, ConfigError> {
        let f: SipFile =
            toml::from_str(text).map_err(|e| invalid(Path::new("t"), "parse", e.to_string()))?;
        validate_sip(Path::new("t.toml"), f)
    }

    fn err(text: &str) -> String {
        match load(text) {
            Ok(c) => panic!("{text} accepted: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn rate_defaults() {
        let c = load("").unwrap();
        assert_eq!(
            c.rate,
            SipRateConfig {
                requests_per_s: 20,
                requests_burst: 50,
                refusals_per_s: 1,
                refusals_burst: 5,
                sources: 4096
            }
        );
    }

    #[test]
    fn bounds_name_the_key() {
        for (text, key) in [
            ("requests_per_s = 0", "sip.requests_per_s"),
            ("requests_burst = 1000000", "sip.requests_burst"),
            ("refusals_per_s = 5000", "sip.refusals_per_s"),
            ("refusals_burst = 5000", "sip.refusals_burst"),
            ("rate_limit_sources = 1", "sip.rate_limit_sources"),
            ("rate_limit_sources = 100000000", "sip.rate_limit_sources"),
            ("invite_timeout_s = 0", "sip.invite_timeout_s"),
            ("session_expires_s = 89", "sip.session_expires_s"),
            ("session_expires_s = 86401", "sip.session_expires_s"),
            ("ring_timeout_s = 99999", "sip.ring_timeout_s"),
        ] {
            assert!(err(text).contains(key), "{text}");
        }
    }

    #[test]
    fn header_strings_refuse_crlf_and_controls() {
        for (text, key) in [
            ("user_agent = \"x\\r\\nX-Evil: 1\"", "sip.user_agent"),
            ("from_display = \"a\\nb\"", "sip.from_display"),
            ("from_display = \"a\\\"b\"", "sip.from_display"),
            (
                "public_address = \"1.2.3.4\\r\\nX: y\"",
                "sip.public_address",
            ),
            ("public_address = \"a b\"", "sip.public_address"),
            ("domain = \"gw\\u0000x\"", "sip.domain"),
            ("user_agent = \"\\u007f\"", "sip.user_agent"),
            (
                "[auth]\nusername = \"u\\r\\nX\"\nrealm = \"r\"\nhost = \"h\"",
                "sip.auth.username",
            ),
            (
                "[auth]\nusername = \"u\"\nrealm = \"r\\nX\"\nhost = \"h\"",
                "sip.auth.realm",
            ),
        ] {
            assert!(err(text).contains(key), "{text}: {}", err(text));
        }
        assert!(err(&format!("user_agent = \"{}\"", "a".repeat(300))).contains("256"));
    }

    #[test]
    fn auth_needs_a_realm_and_a_host() {
        assert!(err("[auth]\nusername = \"u\"\nhost = \"h\"").contains("sip.auth.realm"));
        assert!(err("[auth]\nusername = \"u\"\nrealm = \"r\"").contains("sip.auth.host"));
        let c = load("[auth]\nusername = \"u\"\npassword = \"p\"\nrealm = \"r\"\nhost = \"Trunk.Example.com\"").unwrap();
        let a = c.auth.unwrap();
        assert_eq!(
            (a.realm.as_str(), a.host.as_str(), a.allow_rfc2069),
            ("r", "trunk.example.com", false)
        );
    }

    #[test]
    fn auth_host_defaults_to_the_proxy_then_the_registrar() {
        let c = load("outbound_proxy = \"sip:Proxy.example.com:5070;lr\"\nregistrar = \"sip:reg.example.com\"\n[auth]\nusername = \"u\"\nrealm = \"r\"").unwrap();
        assert_eq!(c.auth.unwrap().host, "proxy.example.com:5070");
        let c =
            load("registrar = \"sip:reg.example.com\"\n[auth]\nusername = \"u\"\nrealm = \"r\"")
                .unwrap();
        assert_eq!(c.auth.unwrap().host, "reg.example.com");
    }

    #[test]
    fn password_is_redacted() {
        let c =
            load("[auth]\nusername = \"u\"\npassword = \"hunter2\"\nrealm = \"r\"\nhost = \"h\"")
                .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
