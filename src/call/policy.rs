//! `[policy] dial_allow`: which URIs a client may dial.
//!
//! Patterns are globs (`*` any run of characters, `?` one character) matched
//! against the dialled URI in a canonical form, `scheme:user@host[:port]`,
//! with URI parameters and headers removed and scheme and host lower-cased.
//! Matching the canonical form (not the text the client sent) closes the
//! obvious bypasses such as `sip:x@evil;p=@127.0.0.1`: the user part of a
//! canonical URI never contains `@`.

use wildmatch::WildMatch;

/// A compiled allow-list. An empty list forbids every dial.
#[derive(Debug, Clone)]
pub struct DialPolicy {
    allow: Vec<WildMatch>,
}

impl DialPolicy {
    /// Compiles the glob patterns from the configuration.
    pub fn new(patterns: &[String]) -> Self {
        Self {
            allow: patterns.iter().map(|p| WildMatch::new(p)).collect(),
        }
    }

    /// True when `canonical` (see [`crate::call::uri::DialUri::canonical`])
    /// matches at least one pattern.
    pub fn allows(&self, canonical: &str) -> bool {
        self.allow.iter().any(|p| p.matches(canonical))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(p: &[&str]) -> DialPolicy {
        DialPolicy::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn shipped_patterns() {
        let p = policy(&["sip:echo@*", "sip:*@127.0.0.1*"]);
        assert!(p.allows("sip:echo@gateway"));
        assert!(p.allows("sip:bob@127.0.0.1:5090"));
        assert!(p.allows("sip:bob@127.0.0.1"));
        assert!(!p.allows("sip:bob@10.0.0.1"));
        assert!(!p.allows("sip:bob@192.168.1.1:5060"));
    }

    #[test]
    fn empty_list_forbids_everything() {
        assert!(!policy(&[]).allows("sip:echo@x"));
    }
}
