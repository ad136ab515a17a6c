//! The `Origin` check of a WebSocket upgrade (RFC 6455 section 4.2.2 item
//! 8, RFC 6454 section 7): browsers send the page's origin; a page from a
//! site not allowed by `[http] allowed_origins` must not be able to use a
//! visitor's browser to open RTMP connections. Pure: header values in,
//! a verdict out.

use crate::config::OriginPolicy;

/// Whether an upgrade with these `Origin` and `Host` header values may go
/// ahead. No `Origin`: allowed (not a browser). `Origin: null` (sandboxed
/// frames, `file:` pages) passes only `"*"`.
pub fn allowed(policy: &OriginPolicy, origin: Option<&str>, host: Option<&str>) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    let origin = origin.trim().to_ascii_lowercase();
    match policy {
        OriginPolicy::Any => true,
        OriginPolicy::List(list) => list.iter().any(|o| *o == origin),
        OriginPolicy::SameOrigin => match (split(&origin), host) {
            (Some((scheme, authority)), Some(host)) => {
                let host = host.trim().to_ascii_lowercase();
                without_default_port(scheme, authority) == without_default_port(scheme, &host)
            }
            _ => false,
        },
    }
}

/// `scheme://authority` -> (scheme, authority); `None` for anything else
/// (`null`, a path, no scheme).
fn split(origin: &str) -> Option<(&str, &str)> {
    let (scheme, authority) = origin.split_once("://")?;
    let ok = matches!(scheme, "http" | "https")
        && !authority.is_empty()
        && !authority.contains(['/', '?', '#', '@']);
    ok.then_some((scheme, authority))
}

/// `host:80` for http and `host:443` for https are `host`.
fn without_default_port<'a>(scheme: &str, authority: &'a str) -> &'a str {
    let default = if scheme == "https" { ":443" } else { ":80" };
    authority.strip_suffix(default).unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAME: OriginPolicy = OriginPolicy::SameOrigin;

    #[test]
    fn no_origin_is_not_a_browser_and_passes() {
        assert!(allowed(&SAME, None, Some("gw:8080")));
        assert!(allowed(&OriginPolicy::List(vec![]), None, None));
    }

    #[test]
    fn same_origin_compares_host_and_port() {
        assert!(allowed(
            &SAME,
            Some("http://localhost:8080"),
            Some("localhost:8080")
        ));
        assert!(allowed(
            &SAME,
            Some("HTTPS://GW.example.com"),
            Some("gw.example.com:443")
        ));
        assert!(allowed(
            &SAME,
            Some("http://gw.example.com:80"),
            Some("gw.example.com")
        ));
        assert!(!allowed(
            &SAME,
            Some("http://localhost:8081"),
            Some("localhost:8080")
        ));
        assert!(!allowed(
            &SAME,
            Some("https://evil.example"),
            Some("gw.example.com")
        ));
        assert!(!allowed(&SAME, Some("http://gw.example.com"), None));
        assert!(!allowed(&SAME, Some("null"), Some("null")));
        assert!(!allowed(&SAME, Some("http://a@gw"), Some("gw")));
    }

    #[test]
    fn lists_match_exactly_and_star_matches_all() {
        let list = OriginPolicy::List(vec!["https://app.example.com".into()]);
        assert!(allowed(&list, Some("https://App.Example.com"), Some("gw")));
        assert!(!allowed(&list, Some("http://app.example.com"), Some("gw")));
        assert!(!allowed(
            &list,
            Some("https://app.example.com.evil"),
            Some("gw")
        ));
        assert!(allowed(&OriginPolicy::Any, Some("null"), None));
    }
}
