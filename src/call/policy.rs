//! `[policy] dial_allow` and `registrar_allow`: which URIs a client may
//! dial, and at which registrars it may register.
//!
//! A policy is a list of patterns; a URI is allowed when one matches. An
//! empty list allows nothing. Patterns are matched against a parsed
//! [`DialUri`] part by part, never against text, so nothing in a user part
//! or a parameter can make a URI look like another host:
//!
//! - `"*"` alone allows every URI (an explicit choice: an open gateway is a
//!   toll-fraud hole).
//! - Otherwise a pattern is `sip:[user@]host[:port]` (scheme
//!   case-insensitive, no parameters or headers):
//!   - **user**: a glob over the whole user part, escapes decoded: `*` any
//!     run of bytes, `?` exactly one byte, everything else literal and
//!     case-sensitive (RFC 3261 §19.1.4). A URI without a user part has the
//!     empty user, which `*` matches; a pattern without `user@` matches only
//!     URIs without a user part.
//!   - **host**: `*` any host; `*.example.com` any hostname ending in
//!     `.example.com` on a label boundary (`a.example.com`,
//!     `a.b.example.com`), **not** `example.com` itself (list both to allow
//!     both) and never an IP address; otherwise the exact hostname
//!     (case-insensitive), IPv4 address or bracketed IPv6 address. No other
//!     `*` is allowed in a host: `127.0.0.1.evil.invalid` is not
//!     `127.0.0.1`.
//!   - **port**: a pattern without a port matches any port (and URIs
//!     without one); a pattern with a port matches only URIs naming that
//!     port.
//!
//! Shipped: `dial_allow = ["sip:echo@*", "sip:*@127.0.0.1"]` (the built-in
//! echo and anything on loopback) and `registrar_allow = ["sip:*@127.0.0.1"]`.

use super::pattern::{Pattern, PatternProblem};
use super::uri::DialUri;

/// Most patterns in one policy.
pub const MAX_PATTERNS: usize = 256;

/// A pattern that cannot be compiled: which one (its text, escaped and
/// shortened in `Display`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pattern {:?}: {problem}", shorten(pattern))]
pub struct PatternError {
    /// The pattern as given.
    pub pattern: String,
    /// What is wrong with it.
    pub problem: PatternProblem,
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// A compiled allow-list (see the module doc). The default allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialPolicy {
    allow: Vec<Pattern>,
}

impl DialPolicy {
    /// Compiles patterns from the configuration (or a client token's claim).
    ///
    /// # Errors
    /// The first pattern that is malformed, with the reason (an old-style
    /// `sip:*@127.0.0.1*` gets the new form suggested), or more than
    /// [`MAX_PATTERNS`] patterns.
    pub fn parse(patterns: &[String]) -> Result<Self, PatternError> {
        if patterns.len() > MAX_PATTERNS {
            return Err(PatternError {
                pattern: format!("({} patterns)", patterns.len()),
                problem: PatternProblem::TooMany,
            });
        }
        let allow = patterns
            .iter()
            .map(|p| {
                Pattern::parse(p).map_err(|problem| PatternError {
                    pattern: p.clone(),
                    problem,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { allow })
    }

    /// True when at least one pattern matches `uri`.
    pub fn allows(&self, uri: &DialUri) -> bool {
        self.allow.iter().any(|p| p.matches(uri))
    }

    /// True for an empty list (nothing is allowed).
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty()
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
