//! Parsing the URI a client dials, strictly (RFC 3261 §19.1, §25.1).
//!
//! The text from the client is only ever read, never forwarded: a
//! [`DialUri`] is a set of parsed parts (user, host, port, two allowed
//! parameters), and the rsipstack [`Uri`] that becomes the INVITE's
//! Request-URI and To is built from those parts. What goes on the wire is
//! therefore exactly [`DialUri::wire`]: the [`DialUri::canonical`] form the
//! `[policy]` matched, plus the allowed parameters; it holds no control
//! character, space, header or parameter the gateway did not choose.
//!
//! Accepted: `sip:user@host[:port][;params]` and `sips:...` (scheme
//! case-insensitive; `sips:` is reached over TLS only, RFC 3261 §26.2.2,
//! RFC 5630), or the same without a scheme (`bob@host` reads as `sip:`).
//! Refused, each with its own [`DialUriError`]: other schemes (`tel:`...:
//! the gateway has no number mapping), `sips:` with `transport=udp`, any
//! byte that is not printable
//! ASCII (CR, LF, NUL, TAB, space, DEL, UTF-8), `?headers`, a password,
//! user characters outside RFC 3261 §25.1 `user`, bad `%XX` escapes or
//! escapes of control characters, a host that is not a hostname, a
//! dotted-quad IPv4 address or a bracketed IPv6 address, a port outside
//! 1..=65535, malformed parameters. Well-formed parameters other than
//! `transport=udp|tcp|tls` and `user=phone` are dropped.

use super::grammar::{self, escape_user, DialHost};
pub use crate::sip::request_uri::UriTransport;
use crate::sip::request_uri::{RequestUri, TargetHost};

/// Longest dial string accepted, in bytes.
pub const MAX_URI_LEN: usize = 1024;

/// Why a dial string is not a usable URI. The `Display` text is what the
/// client reads in the `Sono.Call.NoUri` description; it never repeats the
/// client's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialUriError {
    /// Empty, blank or missing.
    #[error("no URI")]
    Missing,
    /// Longer than [`MAX_URI_LEN`].
    #[error("URI longer than 1024 bytes")]
    TooLong,
    /// A control character, space, DEL or non-ASCII byte at this offset.
    #[error("control character, space or non-ASCII byte at offset {0} (RFC 3261 URIs are printable ASCII; escape as %XX)")]
    BadByte(usize),
    /// Not `sip:` or `sips:` (or no scheme).
    #[error("only sip: and sips: URIs can be dialled")]
    Scheme,
    /// `sips:` with `transport=udp`: a `sips:` URI is reached over TLS only
    /// (RFC 3261 §26.2.2).
    #[error("a sips: URI is reached over TLS only: transport=udp contradicts it")]
    SecureUdp,
    /// `?headers` (RFC 3261 §19.1.1): never taken from a client.
    #[error("URI headers ('?...') are not accepted")]
    Headers,
    /// More than one `@`.
    #[error("more than one '@' (escape a '@' in the user part as %40)")]
    ExtraAt,
    /// `sip:@host`.
    #[error("empty user part before '@'")]
    EmptyUser,
    /// `user:password@`.
    #[error("passwords in URIs are not accepted")]
    Password,
    /// A character outside RFC 3261 §25.1 `user`.
    #[error("'{0}' is not allowed in a user part (RFC 3261 §25.1; escape it as %XX)")]
    UserChar(char),
    /// A `%` not followed by two hex digits, or escapes that are not UTF-8.
    #[error("bad %-escape (need %XX, decoding to UTF-8)")]
    BadEscape,
    /// An escape decoding to a control character.
    #[error("escaped control character in the user part")]
    EscapedControl,
    /// A user part that begins with `;` or holds `?` (escaped or not):
    /// RFC 3261 allows both, but SIP stacks (rsipstack, which writes the
    /// INVITE, among them) read them as parameters or headers, so the far
    /// end would not see the user the policy matched.
    #[error("a user part may not begin with ';' or contain '?' (SIP parsers misread them)")]
    AmbiguousUser,
    /// No host.
    #[error("no host")]
    NoHost,
    /// The host is not a hostname, IPv4 address or bracketed IPv6 address.
    #[error("bad host: {0}")]
    BadHost(&'static str),
    /// The port is not 1..=65535.
    #[error("bad port (1 to 65535)")]
    BadPort,
    /// A parameter that is not `;name[=value]` of RFC 3261 §25.1 paramchars.
    #[error("malformed URI parameter")]
    BadParam,
}

/// A dialled SIP URI, parsed strictly (see the module doc).
#[derive(Debug, Clone)]
pub struct DialUri {
    /// The user, `%XX` escapes decoded (no control characters).
    user: Option<String>,
    host: DialHost,
    port: Option<u16>,
    transport: Option<UriTransport>,
    user_phone: bool,
    /// `sips:`: TLS on every hop (RFC 3261 §26.2.2).
    secure: bool,
    canonical: String,
    /// The parts `sip::request_uri` turns into rsipstack's `Uri`.
    target: RequestUri,
    /// [`Self::wire`], computed once.
    wire: String,
    /// Attended transfer: the `Replaces` header for the INVITE.
    replaces: Option<String>,
}

impl PartialEq for DialUri {
    fn eq(&self, other: &Self) -> bool {
        self.wire() == other.wire()
    }
}

impl Eq for DialUri {}

impl std::fmt::Display for DialUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.wire())
    }
}

impl DialUri {
    /// Parses what a client passed to `dial` (see the module doc). `bob@host`
    /// reads as `sip:bob@host`.
    ///
    /// # Errors
    /// [`DialUriError::Missing`] for a blank string; another variant naming
    /// the first problem found otherwise.
    pub fn parse(text: &str) -> Result<Self, DialUriError> {
        if text.trim().is_empty() {
            return Err(DialUriError::Missing);
        }
        if text.len() > MAX_URI_LEN {
            return Err(DialUriError::TooLong);
        }
        if let Some(i) = text.bytes().position(|b| !b.is_ascii_graphic()) {
            return Err(DialUriError::BadByte(i));
        }
        let (secure, rest) = strip_scheme(text)?;
        let (userinfo, after) = match rest.split_once('@') {
            Some((_, a)) if a.contains('@') => return Err(DialUriError::ExtraAt),
            Some((u, a)) => (Some(u), a),
            None => (None, rest),
        };
        if after.contains('?') {
            return Err(DialUriError::Headers);
        }
        let (hostport, params) = match after.split_once(';') {
            Some((h, p)) => (h, Some(p)),
            None => (after, None),
        };
        let user = userinfo.map(parse_user).transpose()?;
        let (host, port) = grammar::host_port(hostport)?;
        let host = DialHost::parse(host)?;
        let port = port.map(grammar::port).transpose()?;
        let (transport, user_phone) = params.map(parse_params).transpose()?.unwrap_or_default();
        let transport = match (secure, transport) {
            (true, Some(UriTransport::Udp)) => return Err(DialUriError::SecureUdp),
            // TLS anyway: `transport=tls` is deprecated (RFC 5630 §3.2).
            (true, _) => None,
            (false, t) => t,
        };
        let uri = Self::from_parts(Parts {
            user,
            host,
            port,
            transport,
            user_phone,
            secure,
        });
        // The scheme a bare `user@host` gains can push the canonical form
        // past the limit the far end's parse of it must also meet.
        if uri.wire().len() > MAX_URI_LEN {
            return Err(DialUriError::TooLong);
        }
        Ok(uri)
    }

    /// Parses a registrar a client names in `register(user, registrar, ...)`:
    /// `host`, `host:port`, `[v6]:port` or a `sip:` URI, with the same
    /// rules as [`DialUri::parse`]; a user part in it is dropped.
    ///
    /// # Errors
    /// As [`DialUri::parse`]; [`DialUriError::Scheme`] for `sips:` too
    /// (registration over TLS is not offered).
    pub fn parse_registrar(text: &str) -> Result<Self, DialUriError> {
        if text.trim().is_empty() {
            return Err(DialUriError::Missing);
        }
        if let Some(i) = text.bytes().position(|b| !b.is_ascii_graphic()) {
            return Err(DialUriError::BadByte(i));
        }
        let named_scheme = text
            .get(..4)
            .is_some_and(|s| s.eq_ignore_ascii_case("sip:"))
            || text.contains('@')
            || text.split_once(':').is_some_and(|(head, tail)| {
                !head.starts_with('[') && !tail.starts_with(|c: char| c.is_ascii_digit())
            });
        let uri = if named_scheme {
            Self::parse(text)?
        } else {
            Self::parse(&format!("sip:{text}"))?
        };
        if uri.secure {
            return Err(DialUriError::Scheme);
        }
        uri.with_user(None)
    }

    fn from_parts(parts: Parts) -> Self {
        let Parts {
            user,
            host,
            port,
            transport,
            user_phone,
            secure,
        } = parts;
        let mut canonical = String::from(if secure { "sips:" } else { "sip:" });
        if let Some(u) = &user {
            canonical.push_str(&escape_user(u));
            canonical.push('@');
        }
        canonical.push_str(&host.to_string());
        if let Some(p) = port {
            canonical.push_str(&format!(":{p}"));
        }
        let target = RequestUri {
            user: user.clone(),
            host: match &host {
                DialHost::Name(n) => TargetHost::Name(n.clone()),
                DialHost::Ip(ip) => TargetHost::Ip(*ip),
            },
            port,
            transport,
            user_phone,
            secure,
        };
        let wire = target.wire();
        Self {
            user,
            host,
            port,
            transport,
            user_phone,
            secure,
            canonical,
            target,
            wire,
            replaces: None,
        }
    }

    /// The same URI with its user part replaced (`None`: no user part), the
    /// user given as RFC 3261 §25.1 `user` text (escapes allowed).
    ///
    /// # Errors
    /// As [`DialUri::parse`] for the user part; [`DialUriError::EmptyUser`]
    /// for an empty one.
    pub fn with_user(&self, user: Option<&str>) -> Result<Self, DialUriError> {
        let user = user.map(parse_user).transpose()?;
        Ok(Self::from_parts(Parts {
            user,
            host: self.host.clone(),
            port: self.port,
            transport: self.transport,
            user_phone: self.user_phone,
            secure: self.secure,
        }))
    }

    /// `sips:`: every hop must be TLS (RFC 3261 §26.2.2).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// `sip:user@host[:port]` (or `sips:`): lower-case scheme and host, the user escaped
    /// as RFC 3261 §25.1 `user` (unreserved and user-unreserved characters
    /// as is, every other byte `%XX`), no parameters. The form
    /// `[policy]` is shown in refusals; it holds only printable ASCII.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// The Request-URI and To URI as written on the wire: the canonical form
    /// then `;transport=UDP|TCP|TLS` and `;user=phone` when given.
    pub fn wire(&self) -> String {
        self.wire.clone()
    }

    /// The user part, escapes decoded, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The host.
    pub fn host(&self) -> &DialHost {
        &self.host
    }

    /// The port, if the URI names one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The `transport` parameter, if one of `udp`, `tcp`, `tls` was given.
    pub fn transport(&self) -> Option<UriTransport> {
        self.transport
    }

    /// The parts of the Request-URI and To; `sip::request_uri` builds
    /// rsipstack's `Uri` from them.
    pub fn request_uri(&self) -> &RequestUri {
        &self.target
    }

    /// The same target for an attended transfer: the new INVITE carries
    /// `Replaces: <replaces>` (RFC 3891), a value the SIP layer already
    /// checked and rebuilt (`sip::call::replaces`). Never from a client.
    pub fn with_replaces(mut self, replaces: String) -> Self {
        self.replaces = Some(replaces);
        self
    }

    /// The `Replaces` header value of an attended transfer, if any.
    pub fn replaces(&self) -> Option<&str> {
        self.replaces.as_deref()
    }
}

/// The parts a [`DialUri`] is built from.
struct Parts {
    user: Option<String>,
    host: DialHost,
    port: Option<u16>,
    transport: Option<UriTransport>,
    user_phone: bool,
    secure: bool,
}

/// Whether the text names `sips:` (true) or `sip:` / no scheme, and the
/// text after the scheme.
fn strip_scheme(text: &str) -> Result<(bool, &str), DialUriError> {
    for (scheme, secure) in [("sip:", false), ("sips:", true)] {
        if let Some(rest) = text
            .get(..scheme.len())
            .filter(|s| s.eq_ignore_ascii_case(scheme))
            .and_then(|_| text.get(scheme.len()..))
        {
            return Ok((secure, rest));
        }
    }
    // No scheme: `bob@host` or `host`. A ':' before any '@' names another
    // scheme (`tel:`, `http:`) or is a password: refused.
    let head = text.split('@').next().unwrap_or(text);
    if head.contains(':') {
        return Err(DialUriError::Scheme);
    }
    Ok((false, text))
}

fn parse_user(text: &str) -> Result<String, DialUriError> {
    if text.is_empty() {
        return Err(DialUriError::EmptyUser);
    }
    let user = grammar::user_from_units(&grammar::user_units(text)?)?;
    if user.starts_with(';') || user.contains('?') {
        return Err(DialUriError::AmbiguousUser);
    }
    Ok(user)
}

/// `*( ";" uri-parameter )` after the first `;`: the kept transport and
/// whether `user=phone` was given.
fn parse_params(text: &str) -> Result<(Option<UriTransport>, bool), DialUriError> {
    let mut transport = None;
    let mut phone = false;
    for p in text.split(';') {
        let (name, value) = match p.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (p, None),
        };
        grammar::check_param_text(name)?;
        if let Some(v) = value {
            grammar::check_param_text(v)?;
        }
        if name.eq_ignore_ascii_case("transport") {
            transport = transport.or(value.and_then(UriTransport::from_token));
        } else if name.eq_ignore_ascii_case("user") {
            phone |= value.is_some_and(|v| v.eq_ignore_ascii_case("phone"));
        }
    }
    Ok((transport, phone))
}

#[cfg(test)]
#[path = "uri_tests.rs"]
mod tests;
