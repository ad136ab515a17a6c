//! One `[policy]` pattern: parsed once, matched against [`DialUri`]s part
//! by part (see [`super::policy`] for the rules).

use std::fmt;

use super::grammar::{self, DialHost, UserUnit};
use super::uri::{DialUri, DialUriError};

/// Longest pattern, in bytes.
pub(crate) const MAX_PATTERN_LEN: usize = 1024;

/// Why a pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatternProblem {
    /// More than [`super::policy::MAX_PATTERNS`] patterns in one policy.
    TooMany,
    /// Empty text.
    Empty,
    /// Longer than 1024 bytes.
    TooLong,
    /// Neither `*` nor `sip:...` / `sips:...`.
    Scheme,
    /// `;params` or `?headers` in a pattern.
    Params,
    /// More than one `@`.
    ExtraAt,
    /// The user part is not RFC 3261 §25.1 `user` text (with `*`, `?`).
    User(DialUriError),
    /// A `*` somewhere in the host other than `*` or a leading `*.`;
    /// `suggest` is the pattern in the current form, when one is obvious.
    HostGlob {
        /// The pattern rewritten in the current form, if obvious.
        suggest: Option<String>,
    },
    /// The host or port is malformed.
    Host(DialUriError),
}

impl fmt::Display for PatternProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooMany => write!(f, "more than {} patterns", super::policy::MAX_PATTERNS),
            Self::Empty => f.write_str("empty pattern"),
            Self::TooLong => f.write_str("pattern longer than 1024 bytes"),
            Self::Scheme => {
                f.write_str("a pattern is \"*\" (everything) or a sip: or sips: URI pattern")
            }
            Self::Params => {
                f.write_str("patterns name no URI parameters or headers (';' or '?' after the '@')")
            }
            Self::ExtraAt => f.write_str("more than one '@'"),
            Self::User(e) => write!(f, "user part: {e}"),
            Self::HostGlob { suggest } => {
                f.write_str(
                    "a host is matched whole: write it exactly, \"*\" for any host, or \
                     \"*.example.com\" for the names below example.com (not example.com itself); \
                     a pattern without a port matches any port, so no trailing '*' is needed",
                )?;
                match suggest {
                    Some(s) => write!(f, " (write {s:?})"),
                    None => Ok(()),
                }
            }
            Self::Host(e) => write!(f, "{e}"),
        }
    }
}

/// The host half of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPattern {
    /// `*`: any host.
    Any,
    /// A hostname or IP address, matched exactly (hostnames case-insensitively).
    Exact(DialHost),
    /// `*.example.com`, stored as `.example.com`: names ending in it on a
    /// label boundary, not the apex itself.
    Below(String),
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// `*`: every URI.
    Everything,
    /// `sip:<user glob>@<host>[:port]` (`sip:` and `sips:` targets), or
    /// `sips:...` (`sips:` targets only: TLS required).
    Uri {
        secure_only: bool,
        user: Vec<UserUnit>,
        host: HostPattern,
        port: Option<u16>,
    },
}

impl Pattern {
    /// Parses one pattern (see [`super::policy`] for the syntax).
    pub(crate) fn parse(text: &str) -> Result<Self, PatternProblem> {
        if text.is_empty() {
            return Err(PatternProblem::Empty);
        }
        if text.len() > MAX_PATTERN_LEN {
            return Err(PatternProblem::TooLong);
        }
        if let Some(i) = text.bytes().position(|b| !b.is_ascii_graphic()) {
            return Err(PatternProblem::Host(DialUriError::BadByte(i)));
        }
        if text == "*" {
            return Ok(Self::Everything);
        }
        let (secure_only, rest) = pattern_scheme(text).ok_or(PatternProblem::Scheme)?;
        let (user, hostport) = match rest.split_once('@') {
            Some((_, h)) if h.contains('@') => return Err(PatternProblem::ExtraAt),
            Some(("", _)) => return Err(PatternProblem::User(DialUriError::EmptyUser)),
            Some((u, h)) => (grammar::user_units(u).map_err(PatternProblem::User)?, h),
            None => (Vec::new(), rest),
        };
        if hostport.contains([';', '?']) {
            return Err(PatternProblem::Params);
        }
        let (host, port) = grammar::host_port(hostport).map_err(PatternProblem::Host)?;
        let glob_problem = || PatternProblem::HostGlob {
            suggest: suggestion(rest, host),
        };
        if port.is_some_and(|p| p.contains('*')) {
            return Err(glob_problem());
        }
        let port = port
            .map(grammar::port)
            .transpose()
            .map_err(PatternProblem::Host)?;
        let host = host_pattern(host).map_err(|p| match p {
            PatternProblem::HostGlob { .. } => glob_problem(),
            other => other,
        })?;
        Ok(Self::Uri {
            secure_only,
            user,
            host,
            port,
        })
    }

    /// Whether `uri` matches: the user glob over the whole (decoded) user
    /// (a URI without a user part has the empty user), the host as the
    /// pattern says, the port only when the pattern names one; a `sips:`
    /// pattern only `sips:` URIs (a `sip:` pattern both: TLS reaches the
    /// same destination).
    pub(crate) fn matches(&self, uri: &DialUri) -> bool {
        match self {
            Self::Everything => true,
            Self::Uri {
                secure_only,
                user,
                host,
                port,
            } => {
                (!secure_only || uri.is_secure())
                    && port.is_none_or(|p| uri.port() == Some(p))
                    && host.matches(uri.host())
                    && glob(user, uri.user().unwrap_or_default().as_bytes())
            }
        }
    }
}

impl HostPattern {
    fn matches(&self, host: &DialHost) -> bool {
        match (self, host) {
            (Self::Any, _) => true,
            (Self::Exact(h), host) => h == host,
            (Self::Below(suffix), DialHost::Name(n)) => {
                n.len() > suffix.len() && n.ends_with(suffix.as_str())
            }
            (Self::Below(_), DialHost::Ip(_)) => false,
        }
    }
}

/// `sip:` (false) or `sips:` (true) and the rest of a pattern.
fn pattern_scheme(text: &str) -> Option<(bool, &str)> {
    [("sip:", false), ("sips:", true)]
        .into_iter()
        .find_map(|(scheme, secure)| {
            text.get(..scheme.len())
                .filter(|s| s.eq_ignore_ascii_case(scheme))
                .and_then(|_| text.get(scheme.len()..))
                .map(|rest| (secure, rest))
        })
}

fn host_pattern(text: &str) -> Result<HostPattern, PatternProblem> {
    if text == "*" {
        return Ok(HostPattern::Any);
    }
    if let Some(apex) = text.strip_prefix("*.") {
        if apex.contains('*') {
            return Err(PatternProblem::HostGlob { suggest: None });
        }
        let apex = grammar::hostname(apex).map_err(PatternProblem::Host)?;
        return Ok(HostPattern::Below(format!(".{apex}")));
    }
    if text.contains('*') {
        return Err(PatternProblem::HostGlob { suggest: None });
    }
    DialHost::parse(text)
        .map(HostPattern::Exact)
        .map_err(PatternProblem::Host)
}

/// For an old-style `sip:*@host*` (a glob over the whole string), the
/// pattern that now means "that host, any port".
fn suggestion(rest: &str, host: &str) -> Option<String> {
    let bare = host.trim_end_matches(['*', ':', '.']);
    if bare.contains('*') || DialHost::parse(bare).is_err() {
        return None;
    }
    let user = rest.split_once('@').map(|(u, _)| format!("{u}@"));
    Some(format!("sip:{}{bare}", user.unwrap_or_default()))
}

/// Glob match of `pattern` (`*` any run of bytes, `?` one byte, other units
/// literally) against the whole of `text`. Linear in `text` times the
/// number of `*`s at worst; no recursion.
fn glob(pattern: &[UserUnit], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(UserUnit::Star) => {
                resume = Some((p, t));
                p += 1;
            }
            Some(UserUnit::Question) => {
                p += 1;
                t += 1;
            }
            Some(UserUnit::Byte(b)) if Some(b) == text.get(t) => {
                p += 1;
                t += 1;
            }
            _ => match resume {
                Some((sp, st)) => {
                    resume = Some((sp, st + 1));
                    p = sp + 1;
                    t = st + 1;
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|u| *u == UserUnit::Star))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(s: &str) -> Vec<UserUnit> {
        grammar::user_units(s).unwrap()
    }

    #[test]
    fn glob_matches_whole_user() {
        let g = |p: &str, t: &str| glob(&units(p), t.as_bytes());
        assert!(g("*", ""));
        assert!(g("*", "bob"));
        assert!(g("", ""));
        assert!(!g("", "bob"));
        assert!(g("bob", "bob"));
        assert!(!g("bob", "Bob"));
        assert!(!g("bob", "bobby"));
        assert!(g("b?b", "bob"));
        assert!(!g("b?b", "bb"));
        assert!(g("+1555*", "+15551234"));
        assert!(!g("+1555*", "+1666"));
        assert!(g("*a*b*c", "xxaxxbxxc"));
        assert!(!g("*a*b*c", "xxaxxbxxcx"));
        assert!(g("%2B1*", "+1"));
        let long = "a".repeat(1000);
        assert!(!glob(
            &units(&"*a".repeat(30)),
            format!("{long}b").as_bytes()
        ));
    }

    #[test]
    fn suggestions() {
        let s = |p: &str| match Pattern::parse(p) {
            Err(PatternProblem::HostGlob { suggest }) => suggest,
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(s("sip:*@127.0.0.1*").as_deref(), Some("sip:*@127.0.0.1"));
        assert_eq!(
            s("sip:*@gw.example.com*").as_deref(),
            Some("sip:*@gw.example.com")
        );
        assert_eq!(s("sip:*@127.0.0.1:*").as_deref(), Some("sip:*@127.0.0.1"));
        assert_eq!(s("sip:127.0.0.1:50*").as_deref(), Some("sip:127.0.0.1"));
        assert_eq!(s("sip:*@10.*"), None);
    }
}
