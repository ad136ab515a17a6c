//! Parsing the URI a client dials.

use rsipstack::sip::uri::{Host, Scheme};
use rsipstack::sip::Uri;

/// A dialled SIP URI, parsed (RFC 3261 §19.1).
#[derive(Debug, Clone)]
pub struct DialUri {
    uri: Uri,
    user: Option<String>,
    canonical: String,
}

/// Why a dial string is not a usable URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialUriError {
    /// Empty or missing.
    Missing,
    /// Not a SIP URI (reason).
    Invalid(String),
}

impl PartialEq for DialUri {
    fn eq(&self, other: &Self) -> bool {
        self.uri.to_string() == other.uri.to_string()
    }
}

impl DialUri {
    /// Parses what a client passed to `dial`. `bob@host` is read as
    /// `sip:bob@host`; `sips:`, `tel:` and other schemes are refused (the
    /// gateway has no SIP TLS transport yet).
    pub fn parse(text: &str) -> Result<Self, DialUriError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(DialUriError::Missing);
        }
        if text.len() > 1024 {
            return Err(DialUriError::Invalid("URI longer than 1024 bytes".into()));
        }
        let lower = text.to_ascii_lowercase();
        let with_scheme = if lower.starts_with("sip:") {
            text.to_string()
        } else if lower.contains(':') && !lower.contains('@')
            || lower.starts_with("sips:")
            || lower.starts_with("tel:")
        {
            return Err(DialUriError::Invalid(
                "only sip: URIs can be dialled".into(),
            ));
        } else {
            format!("sip:{text}")
        };
        let uri = Uri::try_from(with_scheme.as_str())
            .map_err(|e| DialUriError::Invalid(e.to_string()))?;
        if !matches!(uri.scheme, None | Some(Scheme::Sip)) {
            return Err(DialUriError::Invalid(
                "only sip: URIs can be dialled".into(),
            ));
        }
        let user = uri.auth.as_ref().map(|a| a.user.clone());
        if user.as_deref().is_some_and(|u| u.contains('@')) {
            return Err(DialUriError::Invalid("user part contains '@'".into()));
        }
        let host = match &uri.host_with_port.host {
            Host::Domain(d) => d.to_string().to_ascii_lowercase(),
            Host::IpAddr(ip) => ip.to_string(),
        };
        if host.is_empty() {
            return Err(DialUriError::Invalid("no host".into()));
        }
        let port = uri
            .host_with_port
            .port
            .as_ref()
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        let canonical = match &user {
            Some(u) => format!("sip:{u}@{host}{port}"),
            None => format!("sip:{host}{port}"),
        };
        Ok(Self {
            uri,
            user,
            canonical,
        })
    }

    /// `sip:user@host[:port]`, lower-case scheme and host, no parameters:
    /// the form `[policy] dial_allow` patterns are matched against.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// The user part, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The parsed URI, parameters included, for the Request-URI.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let d = DialUri::parse("sip:bob@127.0.0.1:5090").unwrap();
        assert_eq!(d.canonical(), "sip:bob@127.0.0.1:5090");
        assert_eq!(d.user(), Some("bob"));
        let d = DialUri::parse("SIP:Bob@Example.COM;transport=udp").unwrap();
        assert_eq!(d.canonical(), "sip:Bob@example.com");
        let d = DialUri::parse("alice@10.1.2.3").unwrap();
        assert_eq!(d.canonical(), "sip:alice@10.1.2.3");
    }

    #[test]
    fn refusals() {
        assert_eq!(DialUri::parse("  ").unwrap_err(), DialUriError::Missing);
        assert!(DialUri::parse("tel:+15551234").is_err());
        assert!(DialUri::parse("sips:bob@example.com").is_err());
        assert!(DialUri::parse("http://x").is_err());
        assert!(DialUri::parse(&"a".repeat(2000)).is_err());
    }

    #[test]
    fn param_trick_does_not_reach_policy() {
        // The text contains "@127.0.0.1" but the host is 10.0.0.1.
        if let Ok(d) = DialUri::parse("sip:x@10.0.0.1;p=@127.0.0.1") {
            assert!(!d.canonical().contains("127.0.0.1"), "{}", d.canonical());
        }
    }
}
