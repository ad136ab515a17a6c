//! name-addr / addr-spec syntax of From, To and Contact values, and the
//! header parameters of Via (RFC 3261 §25.1), which rsipstack's typed
//! parsers accept loosely.
//!
//! ```text
//! name-addr     = [ display-name ] LAQUOT addr-spec RAQUOT
//! display-name  = *(token LWS) / quoted-string
//! from-spec     = ( name-addr / addr-spec ) *( SEMI from-param )
//! generic-param = token [ EQUAL gen-value ]      ; never empty
//! ```

/// Whether `v` (a From, To or Contact value) is well formed enough to act
/// on: balanced quotes, a display name of tokens or one quoted string, no
/// whitespace inside an addr-spec without angle brackets, and no empty
/// parameters.
pub fn name_addr_ok(v: &str) -> bool {
    let Some(unquoted) = strip_quoted(v) else {
        return false; // an unterminated quoted-string
    };
    let v = unquoted.trim();
    if v == "*" {
        return true; // Contact: *
    }
    let params = match v.find('<') {
        Some(lt) => {
            let display = v[..lt].trim();
            if !display_ok(display) {
                return false;
            }
            let Some(gt) = v[lt..].find('>') else {
                return false;
            };
            let spec = &v[lt + 1..lt + gt];
            if spec.trim().is_empty() || spec.contains(char::is_whitespace) {
                return false;
            }
            &v[lt + gt + 1..]
        }
        None => {
            let spec_end = v.find(';').unwrap_or(v.len());
            if v[..spec_end].contains(char::is_whitespace) || v.contains('>') {
                return false;
            }
            &v[spec_end..]
        }
    };
    params_ok(params)
}

/// Whether a Via value has no empty parameter and no empty comma-separated
/// element (`;;`, `;,`, `,,`, a trailing `;`).
pub fn via_ok(v: &str) -> bool {
    let Some(v) = strip_quoted(v) else {
        return false;
    };
    v.split(',').all(|one| {
        let one = one.trim();
        !one.is_empty() && params_ok(one.find(';').map_or("", |i| &one[i..]))
    })
}

/// `;a=b;c` -> every parameter present and named.
fn params_ok(s: &str) -> bool {
    let s = s.trim();
    if s.is_empty() {
        return true;
    }
    let Some(rest) = s.strip_prefix(';') else {
        return false;
    };
    rest.split(';').all(|p| {
        let name = p.split('=').next().unwrap_or("").trim();
        !name.is_empty() && name.chars().all(is_token_char)
    })
}

/// A display name before `<`: empty, a quoted string (already replaced by
/// `""` by [`strip_quoted`]), or tokens separated by whitespace.
fn display_ok(d: &str) -> bool {
    d.is_empty() || d == "\"\"" || d.split_whitespace().all(|w| w.chars().all(is_token_char))
}

/// RFC 3261 §25.1 token characters.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// `v` with every quoted string's content removed (`"a;b"` -> `""`);
/// `None` when a quote is not closed.
fn strip_quoted(v: &str) -> Option<String> {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            out.push(c);
            continue;
        }
        out.push_str("\"\"");
        loop {
            match chars.next()? {
                '\\' => {
                    chars.next()?;
                }
                '"' => break,
                _ => {}
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addrs() {
        for ok in [
            "<sip:a@x>;tag=1",
            "\"Bell, Alexander\" <sip:a@x>;tag=1",
            "Alexander Bell <sip:a@x>",
            "caller<sip:a@x>;tag=1",
            "sip:a@x;tag=1",
            "\"a \\\"q\\\" ;;\" <sip:a@x>",
            "*",
        ] {
            assert!(name_addr_ok(ok), "{ok}");
        }
        for bad in [
            "\"Bell, Alexander <sip:a@x>;tag=1",
            "Bell, Alexander <sip:a@x>",
            "sip:a @x",
            "<sip:a @x>",
            "<sip:a@x>;tag=1;;",
            "<sip:a@x>;;tag=1",
            "<sip:a@x",
            "<>",
        ] {
            assert!(!name_addr_ok(bad), "{bad}");
        }
    }

    #[test]
    fn vias() {
        assert!(via_ok("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport"));
        assert!(via_ok(
            "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2"
        ));
        assert!(!via_ok("SIP/2.0/UDP a;branch=z9hG4bK1;;,;,,"));
        assert!(!via_ok("SIP/2.0/UDP a;branch=z9hG4bK1;"));
        assert!(!via_ok("SIP/2.0/UDP a,,SIP/2.0/UDP b"));
    }
}
