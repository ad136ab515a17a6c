//! What one registration needs: addresses, credentials and the lifetime.

use rsipstack::sip::Uri;
use rsipstack::transport::SipAddr;

use super::token::registration_token;
use super::RegistrationError;

/// Longest user, auth user or registrar the client may give, in bytes.
pub const MAX_FIELD_LEN: usize = 256;
/// Longest display name kept, in characters (longer ones are cut).
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;

/// Parameters of one registration (RFC 3261 §10.2). `Debug` never shows the
/// password.
#[derive(Clone)]
pub struct RegisterParams {
    /// Address-of-record `sip:user@domain`: To and From of each REGISTER.
    pub aor: Uri,
    /// Request-URI `sip:domain[:port]` (no user part): where REGISTER goes.
    pub registrar: Uri,
    /// Our Contact, `sip:<token>@<gateway host:port>` (see
    /// [`super::token`]).
    pub contact: Uri,
    /// Digest username (RFC 7616 §3.4 `username`); often the AoR's user.
    pub auth_user: String,
    /// Digest password.
    pub password: String,
    /// Display name for From and To, if any.
    pub display_name: Option<String>,
    /// Lifetime asked for, in seconds (Expires header).
    pub expires: u32,
    /// Send every REGISTER to this address instead of resolving the
    /// registrar (the Request-URI stays `registrar`, RFC 3261 §8.1.2).
    pub outbound_proxy: Option<SipAddr>,
    /// For the `[sip] registrar` upstream registration with `[sip.auth]`
    /// credentials: the trunk they are bound to. Challenges are then
    /// answered only when the registrar (or the outbound proxy) is the
    /// trunk's host, with the trunk's realm and a qop (see
    /// [`crate::sip::trunk`]). `None` for a client's own registration.
    pub trunk: Option<crate::sip::trunk::TrunkAuth>,
}

impl std::fmt::Debug for RegisterParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterParams")
            .field("aor", &self.aor.to_string())
            .field("registrar", &self.registrar.to_string())
            .field("contact", &self.contact.to_string())
            .field("auth_user", &self.auth_user)
            .field("password", &"<redacted>")
            .field("display_name", &self.display_name)
            .field("expires", &self.expires)
            .field(
                "outbound_proxy",
                &self.outbound_proxy.as_ref().map(|a| a.to_string()),
            )
            .finish()
    }
}

/// The arguments of the RTMP `register(user, registrar, password[,
/// auth_user, display_name])` command, as received. `Debug` never shows the
/// password.
#[derive(Clone, Copy)]
pub struct ClientRegister<'a> {
    /// The AoR's user part, e.g. `alice`.
    pub user: &'a str,
    /// The registrar: `host`, `host:port`, or a `sip:`/`sips:` URI
    /// (`sip:example.com;transport=tcp`); a user part in it is ignored.
    pub registrar: &'a str,
    /// Digest password.
    pub password: &'a str,
    /// Digest username when it differs from `user` (empty: same).
    pub auth_user: Option<&'a str>,
    /// Display name for From/To.
    pub display_name: Option<&'a str>,
}

impl std::fmt::Debug for ClientRegister<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRegister")
            .field("user", &self.user)
            .field("registrar", &self.registrar)
            .field("password", &"<redacted>")
            .field("auth_user", &self.auth_user)
            .field("display_name", &self.display_name)
            .finish()
    }
}

impl RegisterParams {
    /// Builds the parameters for a client's `register(...)`: AoR
    /// `sip:user@<registrar host[:port]>`, Request-URI the registrar without
    /// user part, Contact `sip:<new token>@<contact_host_port>` (e.g.
    /// `203.0.113.5:5060`, the gateway's advertised SIP address), asking
    /// `expires` seconds.
    ///
    /// # Errors
    /// [`RegistrationError::InvalidParams`] for an empty or over-long user,
    /// characters a SIP user part cannot carry unescaped (RFC 3261 §25.1),
    /// an empty password, or a registrar / contact address that does not
    /// parse as a SIP URI.
    pub fn from_client(
        args: &ClientRegister<'_>,
        contact_host_port: &str,
        expires: u32,
    ) -> Result<Self, RegistrationError> {
        let user = checked_user("user", args.user)?;
        let auth_user = match args.auth_user.map(str::trim) {
            Some(a) if !a.is_empty() => checked_user("auth_user", a)?,
            _ => user.clone(),
        };
        if args.password.is_empty() || args.password.len() > MAX_FIELD_LEN {
            return Err(invalid("password must be 1 to 256 bytes"));
        }
        let registrar = registrar_uri(args.registrar)?;
        let scheme = match registrar.scheme {
            Some(rsipstack::sip::Scheme::Sips) => "sips",
            _ => "sip",
        };
        let aor = parse(&format!("{scheme}:{user}@{}", registrar.host_with_port))?;
        let contact = parse(&format!(
            "sip:{}@{}",
            registration_token(),
            contact_host_port
        ))?;
        Ok(Self {
            aor,
            registrar,
            contact,
            auth_user,
            password: args.password.to_string(),
            display_name: args.display_name.and_then(clean_display_name),
            expires,
            outbound_proxy: None,
            trunk: None,
        })
    }

    /// The Contact's user part (the registration token).
    pub fn contact_token(&self) -> Option<&str> {
        self.contact.auth.as_ref().map(|a| a.user.as_str())
    }

    /// Checks what goes into header text unescaped, whoever built the
    /// parameters: the AoR needs a user part, and the digest username
    /// (written quoted into Authorization, RFC 7616 §3.4) must be 1 to 256
    /// bytes without control characters, `"` or `\`, and the password at
    /// most 256 bytes.
    ///
    /// # Errors
    /// [`RegistrationError::InvalidParams`] naming the field.
    pub fn validate(&self) -> Result<(), RegistrationError> {
        if self.aor.auth.as_ref().is_none_or(|a| a.user.is_empty()) {
            return Err(invalid("the address-of-record has no user part"));
        }
        let bad = |c: char| c.is_control() || c == '"' || c == '\\';
        if self.auth_user.is_empty()
            || self.auth_user.len() > MAX_FIELD_LEN
            || self.auth_user.chars().any(bad)
        {
            return Err(invalid(
                "auth_user must be 1 to 256 bytes without control characters, quotes or backslashes",
            ));
        }
        if self.password.len() > MAX_FIELD_LEN {
            return Err(invalid("password must be at most 256 bytes"));
        }
        Ok(())
    }

    /// The display name as it may go between quotes in From/To: see
    /// [`clean_display_name`].
    pub fn header_display_name(&self) -> Option<String> {
        self.display_name.as_deref().and_then(clean_display_name)
    }
}

fn invalid(msg: &str) -> RegistrationError {
    RegistrationError::InvalidParams(msg.to_string())
}

fn parse(s: &str) -> Result<Uri, RegistrationError> {
    Uri::try_from(s).map_err(|e| RegistrationError::InvalidParams(format!("`{s}`: {e}")))
}

/// A user part that can go into a SIP URI unescaped: RFC 3261 §25.1
/// `unreserved` / `user-unreserved` characters, 1 to 256 bytes.
fn checked_user(what: &str, s: &str) -> Result<String, RegistrationError> {
    let s = s.trim();
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(c);
    if s.is_empty() || s.len() > MAX_FIELD_LEN || !s.chars().all(ok_char) {
        return Err(RegistrationError::InvalidParams(format!(
            "{what} must be 1 to 256 characters of A-Z a-z 0-9 -_.!~*'()&=+$,;?/"
        )));
    }
    Ok(s.to_string())
}

/// `host`, `host:port` or `sip[s]:[user@]host[:port][;params]` -> the
/// registrar's Request-URI (no user part).
fn registrar_uri(s: &str) -> Result<Uri, RegistrationError> {
    let s = s.trim();
    if s.is_empty() || s.len() > MAX_FIELD_LEN || s.chars().any(|c| c.is_whitespace()) {
        return Err(invalid("registrar must be a host, host:port or SIP URI"));
    }
    let lower = s.to_ascii_lowercase();
    let text = if lower.starts_with("sip:") || lower.starts_with("sips:") {
        s.to_string()
    } else {
        format!("sip:{s}")
    };
    let mut uri = parse(&text)?;
    uri.auth = None;
    uri.headers.clear();
    if uri.host_with_port.host.to_string().is_empty() {
        return Err(invalid("registrar has no host"));
    }
    Ok(uri)
}

/// Printable characters other than `"` and `\`, trimmed, at most
/// [`MAX_DISPLAY_NAME_CHARS`]; `None` when nothing is left. Keeps a
/// client-given name from breaking out of its quoted-string (RFC 3261
/// §25.1) into other header fields.
pub fn clean_display_name(s: &str) -> Option<String> {
    let kept: String = s
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .take(MAX_DISPLAY_NAME_CHARS)
        .collect();
    let kept = kept.trim();
    (!kept.is_empty()).then(|| kept.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client<'a>(user: &'a str, registrar: &'a str) -> ClientRegister<'a> {
        ClientRegister {
            user,
            registrar,
            password: "secret",
            auth_user: None,
            display_name: None,
        }
    }

    #[test]
    fn builds_aor_registrar_and_token_contact() {
        let p =
            RegisterParams::from_client(&client("alice", "127.0.0.1:5060"), "127.0.0.1:5070", 600)
                .unwrap();
        assert_eq!(p.aor.to_string(), "sip:alice@127.0.0.1:5060");
        assert_eq!(p.registrar.to_string(), "sip:127.0.0.1:5060");
        let token = p.contact_token().unwrap().to_string();
        assert!(super::super::is_registration_token(&token), "{token}");
        assert_eq!(p.contact.to_string(), format!("sip:{token}@127.0.0.1:5070"));
        assert_eq!(p.auth_user, "alice");
        assert_eq!(p.expires, 600);
    }

    #[test]
    fn registrar_forms() {
        let r = |s: &str| registrar_uri(s).map(|u| u.to_string());
        assert_eq!(r("example.com").unwrap(), "sip:example.com");
        assert_eq!(
            r("sip:bob@example.com:5080").unwrap(),
            "sip:example.com:5080"
        );
        assert_eq!(
            r("sip:example.com;transport=tcp").unwrap(),
            "sip:example.com;transport=TCP"
        );
        assert!(r("").is_err());
        assert!(r("exa mple.com").is_err());
        let p = RegisterParams::from_client(&client("a", "sips:example.com"), "h:1", 60).unwrap();
        assert_eq!(p.aor.to_string(), "sips:a@example.com");
    }

    #[test]
    fn auth_user_and_display_name() {
        let mut c = client("1001", "pbx.example");
        c.auth_user = Some("auth-1001");
        c.display_name = Some("  Ann \"the\" \\Caller\n ");
        let p = RegisterParams::from_client(&c, "h:1", 60).unwrap();
        assert_eq!(p.auth_user, "auth-1001");
        assert_eq!(p.display_name.as_deref(), Some("Ann the Caller"));
        c.auth_user = Some("");
        c.display_name = Some("\"\"");
        let p = RegisterParams::from_client(&c, "h:1", 60).unwrap();
        assert_eq!(p.auth_user, "1001");
        assert_eq!(p.display_name, None);
    }

    #[test]
    fn rejects_what_cannot_make_a_register() {
        for user in ["", "a b", "a@b", "a:b", "<x>", &"x".repeat(300)] {
            assert!(
                RegisterParams::from_client(&client(user, "example.com"), "h:1", 60).is_err(),
                "{user:?}"
            );
        }
        let mut c = client("alice", "example.com");
        c.password = "";
        assert!(RegisterParams::from_client(&c, "h:1", 60).is_err());
    }

    #[test]
    fn validate_rejects_header_injection() {
        let mut p =
            RegisterParams::from_client(&client("alice", "example.com"), "h:1", 60).unwrap();
        assert_eq!(p.validate(), Ok(()));
        p.display_name = Some("Evil\"\r\nX-Injected: 1".into());
        assert_eq!(
            p.header_display_name().as_deref(),
            Some("EvilX-Injected: 1")
        );
        for bad in ["", "a\"b", "a\r\nX: y", "a\\b"] {
            p.auth_user = bad.into();
            assert!(p.validate().is_err(), "{bad:?}");
        }
        p.auth_user = "alice".into();
        p.aor = Uri::try_from("sip:example.com").unwrap();
        assert!(p.validate().is_err());
    }

    #[test]
    fn debug_never_shows_the_password() {
        let mut c = client("alice", "example.com");
        c.password = "hunter2-sekrit";
        let p = RegisterParams::from_client(&c, "h:1", 60).unwrap();
        let shown = format!("{p:?} {c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("alice"));
    }
}
