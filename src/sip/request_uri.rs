//! The rsipstack [`Uri`] of a dialled target, built from parts the call
//! plane parsed (`call::uri::DialUri`): the Request-URI and To of our
//! INVITE and the Refer-To of our REFER. Plain data in, rsipstack out, so
//! `call` never names the rsipstack crate (`tests/layering.rs`).

use std::net::IpAddr;

use rsipstack::sip::uri::{Auth, Domain, Host, HostWithPort, Param, Scheme, User};
use rsipstack::sip::{Port, Transport, Uri};

/// The `transport` URI parameters kept (RFC 3261 §19.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriTransport {
    /// `;transport=udp`.
    Udp,
    /// `;transport=tcp`.
    Tcp,
    /// `;transport=tls`.
    Tls,
}

impl UriTransport {
    /// `udp`, `tcp` or `tls` (case-insensitive); `None` for others.
    pub fn from_token(value: &str) -> Option<Self> {
        [("udp", Self::Udp), ("tcp", Self::Tcp), ("tls", Self::Tls)]
            .into_iter()
            .find(|(name, _)| value.eq_ignore_ascii_case(name))
            .map(|(_, t)| t)
    }

    fn rsip(self) -> Transport {
        match self {
            Self::Udp => Transport::Udp,
            Self::Tcp => Transport::Tcp,
            Self::Tls => Transport::Tls,
        }
    }
}

/// A target host, already checked by its parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetHost {
    /// A hostname (lower-case LDH labels).
    Name(String),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
}

/// The parts of a `sip:` or `sips:` Request-URI: `sip:[user@]host[:port]` then
/// `;transport=` and `;user=phone` when given. Nothing else is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUri {
    /// The user part, escapes decoded (rsipstack escapes it on output).
    pub user: Option<String>,
    /// The host.
    pub host: TargetHost,
    /// The port, 1..=65535.
    pub port: Option<u16>,
    /// The `transport` parameter.
    pub transport: Option<UriTransport>,
    /// `;user=phone`.
    pub user_phone: bool,
    /// `sips:` (RFC 3261 §26.2.2): rsipstack then sends over TLS.
    pub secure: bool,
}

impl RequestUri {
    /// The rsipstack URI for the INVITE's Request-URI and To.
    pub fn to_uri(&self) -> Uri {
        let mut params = Vec::new();
        if let Some(t) = self.transport {
            params.push(Param::Transport(t.rsip()));
        }
        if self.user_phone {
            params.push(Param::User(User::new("phone")));
        }
        Uri {
            scheme: Some(if self.secure {
                Scheme::Sips
            } else {
                Scheme::Sip
            }),
            auth: self.user.clone().map(|user| Auth {
                user,
                password: None,
            }),
            host_with_port: HostWithPort {
                host: match &self.host {
                    TargetHost::Name(n) => Host::Domain(Domain(n.clone())),
                    TargetHost::Ip(ip) => Host::IpAddr(*ip),
                },
                port: self.port.map(Port),
            },
            params,
            headers: Vec::new(),
        }
    }

    /// The URI as written on the wire.
    pub fn wire(&self) -> String {
        self.to_uri().to_string()
    }

    /// The To header value rsipstack writes for it (`<uri>`).
    pub fn to_header(&self) -> String {
        rsipstack::sip::typed::To::from(self.to_uri()).to_string()
    }
}

/// How rsipstack reads `text` as a URI, written back (`None`: it cannot
/// parse it). The far end's parser must read what the policy saw.
pub fn reread(text: &str) -> Option<String> {
    Uri::try_from(text).ok().map(|u| u.to_string())
}
