//! Typed, validated configuration.
//!
//! `config/gateway.toml` documents every key and its default. Loading is two
//! steps: serde parses the file into the `*File` shapes (unknown keys are
//! errors), then [`Config::from_file`] validates them into the typed
//! [`Config`] the rest of the gateway uses. The protocol cores never see
//! files; they get the pieces of [`Config`] they need.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::call::policy::DialPolicy;

/// A configuration that could not be loaded.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a value of the wrong type.
    #[error("{file}: {message}")]
    Parse { file: PathBuf, message: String },
    /// A key has a value outside what it allows.
    #[error("{file}: key `{key}`: {reason}")]
    Invalid {
        file: PathBuf,
        key: &'static str,
        reason: String,
    },
}

/// The whole gateway configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub rtmp: RtmpConfig,
    pub sip: SipConfig,
    pub media: MediaConfig,
    pub policy: PolicyConfig,
    pub limits: LimitsConfig,
    pub log: LogConfig,
}

/// `[rtmp]`: the RTMP server.
#[derive(Debug, Clone)]
pub struct RtmpConfig {
    /// TCP addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// Required application name; `None` accepts any.
    pub app: Option<String>,
    /// Outgoing chunk size in bytes (128..=65536).
    pub chunk_size: u32,
    /// Window Acknowledgement Size announced to clients, in bytes.
    pub window_ack_size: u32,
}

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

/// `[media]`: RTP and the media bridge.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Address RTP/RTCP sockets bind to.
    pub bind_address: IpAddr,
    /// Inclusive RTP port range; RTP takes even ports, RTCP the next odd one.
    pub rtp_ports: (u16, u16),
    /// Codec names offered in SDP, in preference order (as written in the file).
    pub codecs: Vec<String>,
    /// Initial jitter buffer delay, in ms.
    pub jitter_ms: u32,
    /// RTP inactivity timeout; `None` disables it.
    pub rtp_timeout: Option<Duration>,
    /// Speex wideband encoder quality, 0..=10.
    pub speex_quality: u8,
    /// Most audio queued toward one RTMP client, in ms.
    pub rtmp_out_max_ms: u32,
    /// Codec of the audio sent to RTMP clients.
    pub rtmp_out_codec: RtmpOutCodec,
    /// Opus encoder complexity, 0..=10.
    pub opus_complexity: u8,
}

/// `[media] rtmp_out_codec`: what the gateway sends to RTMP clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RtmpOutCodec {
    /// Speex wideband (16 kHz), which every Flash Player plays.
    Speex,
    /// The codec (and rate) the client publishes: Nellymoser, G.711 or
    /// Speex; Speex until the client has published audio.
    Match,
}

/// `[policy]`: who may call where (pattern rules: [`crate::call::policy`]).
#[derive(Debug, Clone)]
pub struct PolicyConfig {
    /// Patterns a dialled URI must match; empty forbids all.
    pub dial_allow: DialPolicy,
    /// Patterns `sip:<user>@<registrar host>[:port]` must match for a
    /// client's `register(user, registrar, ...)`; empty forbids all.
    pub registrar_allow: DialPolicy,
}

/// `[limits]`: resource bounds.
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    /// Largest RTMP message accepted, in bytes.
    pub max_message_size: u32,
    pub max_chunk_streams: u32,
    pub max_connections: u32,
    pub max_calls: u32,
}

/// `[log]`.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// A tracing-subscriber `EnvFilter` directive.
    pub level: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ConfigFile {
    rtmp: RtmpFile,
    sip: SipFile,
    media: MediaFile,
    policy: PolicyFile,
    limits: LimitsFile,
    log: LogFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RtmpFile {
    listen: Vec<String>,
    app: String,
    chunk_size: u32,
    window_ack_size: u32,
}

impl Default for RtmpFile {
    fn default() -> Self {
        Self {
            listen: vec!["0.0.0.0:1935".into()],
            app: String::new(),
            chunk_size: 4096,
            window_ack_size: 2_500_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct SipFile {
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
struct SipAuthFile {
    username: String,
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct MediaFile {
    bind_address: String,
    rtp_ports: [u16; 2],
    codecs: Vec<String>,
    jitter_ms: u32,
    rtp_timeout_s: u64,
    speex_quality: u8,
    rtmp_out_max_ms: u32,
    rtmp_out_codec: RtmpOutCodec,
    opus_complexity: u8,
}

impl Default for MediaFile {
    fn default() -> Self {
        Self {
            bind_address: "0.0.0.0".into(),
            rtp_ports: [10000, 20000],
            codecs: [
                "speex/16000",
                "opus/48000/2",
                "G722",
                "PCMU",
                "PCMA",
                "telephone-event/8000",
            ]
            .map(String::from)
            .to_vec(),
            jitter_ms: 60,
            rtp_timeout_s: 60,
            speex_quality: 8,
            rtmp_out_max_ms: 400,
            rtmp_out_codec: RtmpOutCodec::Speex,
            opus_complexity: 5,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct PolicyFile {
    dial_allow: Vec<String>,
    registrar_allow: Vec<String>,
}

impl Default for PolicyFile {
    fn default() -> Self {
        Self {
            dial_allow: vec!["sip:echo@*".into(), "sip:*@127.0.0.1".into()],
            registrar_allow: vec!["sip:*@127.0.0.1".into()],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct LimitsFile {
    handshake_timeout_s: u64,
    idle_timeout_s: u64,
    max_message_size: u32,
    max_chunk_streams: u32,
    max_connections: u32,
    max_calls: u32,
}

impl Default for LimitsFile {
    fn default() -> Self {
        Self {
            handshake_timeout_s: 10,
            idle_timeout_s: 300,
            max_message_size: 262_144,
            max_chunk_streams: 64,
            max_connections: 1000,
            max_calls: 500,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct LogFile {
    level: String,
}

impl Default for LogFile {
    fn default() -> Self {
        Self {
            level: "info,rsipstack=warn".into(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        // The defaults are valid by construction; `validate` only rejects
        // values a file supplies.
        match validate(Path::new("<defaults>"), ConfigFile::default()) {
            Ok(c) => c,
            Err(e) => unreachable!("built-in defaults are invalid: {e}"),
        }
    }
}

impl Config {
    /// Reads and validates a TOML file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, and for a bad value the key and reason.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(path, &text)
    }

    /// Parses and validates TOML text; `path` is used in error messages only.
    pub fn from_toml(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: path.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        validate(path, file)
    }
}

fn invalid(file: &Path, key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        file: file.to_path_buf(),
        key,
        reason: reason.into(),
    }
}

fn parse_addr(file: &Path, key: &'static str, s: &str) -> Result<SocketAddr, ConfigError> {
    s.parse()
        .map_err(|_| invalid(file, key, format!("`{s}` is not an IP:port address")))
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn validate(file: &Path, f: ConfigFile) -> Result<Config, ConfigError> {
    Ok(Config {
        rtmp: validate_rtmp(file, f.rtmp)?,
        sip: validate_sip(file, f.sip)?,
        media: validate_media(file, f.media)?,
        policy: validate_policy(file, f.policy)?,
        limits: validate_limits(file, f.limits)?,
        log: LogConfig { level: f.log.level },
    })
}

fn validate_rtmp(file: &Path, r: RtmpFile) -> Result<RtmpConfig, ConfigError> {
    if r.listen.is_empty() {
        return Err(invalid(file, "rtmp.listen", "needs at least one address"));
    }
    let listen = r
        .listen
        .iter()
        .map(|s| parse_addr(file, "rtmp.listen", s))
        .collect::<Result<Vec<_>, _>>()?;
    if !(128..=65536).contains(&r.chunk_size) {
        return Err(invalid(file, "rtmp.chunk_size", "must be 128..=65536"));
    }
    if r.window_ack_size < 4096 {
        return Err(invalid(file, "rtmp.window_ack_size", "must be >= 4096"));
    }
    Ok(RtmpConfig {
        listen,
        app: non_empty(r.app),
        chunk_size: r.chunk_size,
        window_ack_size: r.window_ack_size,
    })
}

fn validate_sip(file: &Path, s: SipFile) -> Result<SipConfig, ConfigError> {
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

/// Codec names the SDP layer knows (case-insensitive).
pub const KNOWN_CODECS: &[&str] = &[
    "speex/16000",
    "speex/8000",
    "opus/48000/2",
    "g722",
    "pcmu",
    "pcma",
    "telephone-event/8000",
];

fn validate_media(file: &Path, m: MediaFile) -> Result<MediaConfig, ConfigError> {
    let bind_address = m.bind_address.parse().map_err(|_| {
        invalid(
            file,
            "media.bind_address",
            format!("`{}` is not an IP address", m.bind_address),
        )
    })?;
    let [lo, hi] = m.rtp_ports;
    if lo < 1024 || lo >= hi || hi - lo < 3 {
        return Err(invalid(
            file,
            "media.rtp_ports",
            "must be [low, high] with 1024 <= low and room for at least two port pairs",
        ));
    }
    if m.codecs.is_empty() {
        return Err(invalid(file, "media.codecs", "needs at least one codec"));
    }
    for c in &m.codecs {
        if !KNOWN_CODECS.contains(&c.to_ascii_lowercase().as_str()) {
            return Err(invalid(
                file,
                "media.codecs",
                format!(
                    "unknown codec `{c}` (known: speex/16000, speex/8000, opus/48000/2, G722, PCMU, PCMA, telephone-event/8000)"
                ),
            ));
        }
    }
    if !m
        .codecs
        .iter()
        .any(|c| !c.eq_ignore_ascii_case("telephone-event/8000"))
    {
        return Err(invalid(
            file,
            "media.codecs",
            "needs at least one audio codec",
        ));
    }
    if !(20..=500).contains(&m.jitter_ms) {
        return Err(invalid(file, "media.jitter_ms", "must be 20..=500"));
    }
    if m.speex_quality > 10 {
        return Err(invalid(file, "media.speex_quality", "must be 0..=10"));
    }
    if !(40..=5000).contains(&m.rtmp_out_max_ms) {
        return Err(invalid(file, "media.rtmp_out_max_ms", "must be 40..=5000"));
    }
    if m.opus_complexity > 10 {
        return Err(invalid(file, "media.opus_complexity", "must be 0..=10"));
    }
    Ok(MediaConfig {
        bind_address,
        rtp_ports: (lo, hi),
        codecs: m.codecs,
        jitter_ms: m.jitter_ms,
        rtp_timeout: (m.rtp_timeout_s > 0).then(|| Duration::from_secs(m.rtp_timeout_s)),
        speex_quality: m.speex_quality,
        rtmp_out_max_ms: m.rtmp_out_max_ms,
        rtmp_out_codec: m.rtmp_out_codec,
        opus_complexity: m.opus_complexity,
    })
}

fn validate_policy(file: &Path, p: PolicyFile) -> Result<PolicyConfig, ConfigError> {
    let compile = |key, patterns: &[String]| {
        DialPolicy::parse(patterns).map_err(|e| invalid(file, key, e.to_string()))
    };
    Ok(PolicyConfig {
        dial_allow: compile("policy.dial_allow", &p.dial_allow)?,
        registrar_allow: compile("policy.registrar_allow", &p.registrar_allow)?,
    })
}

fn validate_limits(file: &Path, l: LimitsFile) -> Result<LimitsConfig, ConfigError> {
    if l.handshake_timeout_s == 0 {
        return Err(invalid(file, "limits.handshake_timeout_s", "must be > 0"));
    }
    if l.idle_timeout_s == 0 {
        return Err(invalid(file, "limits.idle_timeout_s", "must be > 0"));
    }
    if !(4096..=16 * 1024 * 1024).contains(&l.max_message_size) {
        return Err(invalid(
            file,
            "limits.max_message_size",
            "must be 4096..=16777216",
        ));
    }
    if !(2..=65599).contains(&l.max_chunk_streams) {
        return Err(invalid(
            file,
            "limits.max_chunk_streams",
            "must be 2..=65599",
        ));
    }
    if l.max_connections == 0 {
        return Err(invalid(file, "limits.max_connections", "must be > 0"));
    }
    Ok(LimitsConfig {
        handshake_timeout: Duration::from_secs(l.handshake_timeout_s),
        idle_timeout: Duration::from_secs(l.idle_timeout_s),
        max_message_size: l.max_message_size,
        max_chunk_streams: l.max_chunk_streams,
        max_connections: l.max_connections,
        max_calls: l.max_calls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(Path::new("test.toml"), text)
    }

    #[test]
    fn shipped_config_is_valid_and_matches_defaults() {
        let text = include_str!("../config/gateway.toml");
        let c = load(text).expect("shipped config");
        let d = Config::default();
        assert_eq!(c.rtmp.listen, d.rtmp.listen);
        assert_eq!(c.sip.listen, d.sip.listen);
        assert_eq!(c.media.codecs, d.media.codecs);
        assert_eq!(c.media.rtp_ports, d.media.rtp_ports);
        assert_eq!(c.policy.dial_allow, d.policy.dial_allow);
        assert_eq!(c.policy.registrar_allow, d.policy.registrar_allow);
        assert_eq!(c.limits.max_calls, d.limits.max_calls);
        assert_eq!(c.sip.echo_user, "echo");
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = load("").expect("empty");
        assert_eq!(c.rtmp.chunk_size, 4096);
        assert!(c.sip.auth.is_none());
        assert_eq!(c.media.rtp_timeout, Some(Duration::from_secs(60)));
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let e = load("[rtmp]\nlisten_typo = 1\n").unwrap_err().to_string();
        assert!(e.contains("test.toml"), "{e}");
        assert!(e.contains("listen_typo"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases = [
            ("[rtmp]\nlisten = [\"nope\"]\n", "rtmp.listen"),
            ("[rtmp]\nchunk_size = 1\n", "rtmp.chunk_size"),
            ("[media]\ncodecs = [\"G729\"]\n", "media.codecs"),
            ("[media]\nrtp_ports = [20000, 10000]\n", "media.rtp_ports"),
            (
                "[sip]\noutbound_proxy = \"proxy:5060\"\n",
                "sip.outbound_proxy",
            ),
            ("[sip.auth]\npassword = \"x\"\n", "sip.auth.username"),
            (
                "[limits]\nmax_message_size = 1\n",
                "limits.max_message_size",
            ),
        ];
        for (text, key) in cases {
            let e = load(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn wrong_type_is_a_parse_error() {
        let e = load("[media]\njitter_ms = \"sixty\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("jitter_ms"), "{e}");
    }

    #[test]
    fn policy_patterns_are_compiled_at_load() {
        let e = load("[policy]\ndial_allow = [\"sip:*@127.0.0.1*\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("policy.dial_allow"), "{e}");
        assert!(e.contains("write \"sip:*@127.0.0.1\""), "{e}");
        let e = load("[policy]\nregistrar_allow = [\"sip:*@10.*\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("policy.registrar_allow"), "{e}");
        let c = load("[policy]\ndial_allow = []\nregistrar_allow = []\n").unwrap();
        assert!(c.policy.dial_allow.is_empty() && c.policy.registrar_allow.is_empty());
        let too_many = format!(
            "[policy]\ndial_allow = [{}]\n",
            vec!["\"*\""; 257].join(",")
        );
        assert!(load(&too_many).is_err());
    }

    #[test]
    fn password_is_redacted_in_debug() {
        let c = load("[sip.auth]\nusername = \"u\"\npassword = \"hunter2\"\n").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
