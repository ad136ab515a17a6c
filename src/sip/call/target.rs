//! Remote target refresh (RFC 3261 §12.2.1.2, §12.2.2; RFC 3311 §5.2): the
//! Contact of a far end's re-INVITE or UPDATE, or of its 2xx to ours,
//! becomes the dialog's remote target, the Request-URI of our later BYE,
//! re-INVITE, REFER, INFO and NOTIFY. Sans-IO: the leg reads the header,
//! the driver hands the URI to rsipstack's dialog.

use super::types::Header;

/// Longest Contact value read, bytes (longer: refused 400).
pub const MAX_CONTACT: usize = 1024;

/// Why a target-refresh Contact cannot be used (the request is answered
/// 400, RFC 3261 §12.2.2 handling; the call goes on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContactError {
    /// Not a `sip:` / `sips:` URI (`tel:`, `http:`, `*`, a bare host).
    #[error("Contact is not a SIP URI")]
    NotSip,
    /// An unclosed `<`, an empty URI, or bytes that are not printable ASCII.
    #[error("malformed Contact")]
    Malformed,
    /// Longer than [`MAX_CONTACT`].
    #[error("Contact too long")]
    TooLong,
}

/// The remote target a request or response names in its (first) Contact
/// header (`Contact` or the compact `m`), reduced to its URI: display
/// name, angle brackets and header parameters dropped (RFC 3261 §20.10:
/// in the `addr-spec` form, parameters after `;` belong to the header).
/// `Ok(None)` when there is no Contact (the target stays).
///
/// # Errors
/// [`ContactError`] when the Contact is there but unusable.
pub fn contact_target(headers: &[Header]) -> Result<Option<String>, ContactError> {
    let Some(value) = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("contact") || n == "m")
        .map(|(_, v)| v.trim())
    else {
        return Ok(None);
    };
    if value.len() > MAX_CONTACT {
        return Err(ContactError::TooLong);
    }
    let uri = match value.find('<') {
        Some(open) => {
            let rest = &value[open + 1..];
            let close = rest.find('>').ok_or(ContactError::Malformed)?;
            &rest[..close]
        }
        None => value.split([';', ',']).next().unwrap_or_default(),
    }
    .trim();
    if uri.is_empty() || !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ContactError::Malformed);
    }
    let scheme = uri.split_once(':').map(|(s, _)| s).unwrap_or_default();
    let sip = scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips");
    let rest = uri.split_once(':').map(|(_, r)| r).unwrap_or_default();
    if !sip {
        return Err(ContactError::NotSip);
    }
    if rest.is_empty() {
        return Err(ContactError::Malformed);
    }
    Ok(Some(uri.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> Vec<Header> {
        vec![("Contact".into(), v.into())]
    }

    #[test]
    fn contact_forms_table() {
        let ok = [
            ("<sip:bob@10.0.0.2:5070>", "sip:bob@10.0.0.2:5070"),
            (
                "\"Bob\" <sip:bob@h;transport=tcp>;expires=3",
                "sip:bob@h;transport=tcp",
            ),
            ("sip:bob@h:5062;expires=60", "sip:bob@h:5062"),
            ("<sips:bob@h>", "sips:bob@h"),
            ("SIP:moved@127.0.0.1:5090", "SIP:moved@127.0.0.1:5090"),
        ];
        for (value, want) in ok {
            assert_eq!(
                contact_target(&h(value)),
                Ok(Some(want.to_string())),
                "{value}"
            );
        }
        let bad = [
            ("<tel:+15551234>", ContactError::NotSip),
            ("http://x", ContactError::NotSip),
            ("*", ContactError::NotSip),
            ("<sip:bob@h", ContactError::Malformed),
            ("<>", ContactError::Malformed),
            ("<sip:>", ContactError::Malformed),
            ("<sip:b\u{7f}@h>", ContactError::Malformed),
        ];
        for (value, want) in bad {
            assert_eq!(contact_target(&h(value)), Err(want), "{value}");
        }
        let long = format!("<sip:{}@h>", "a".repeat(MAX_CONTACT));
        assert_eq!(contact_target(&h(&long)), Err(ContactError::TooLong));
    }

    #[test]
    fn no_contact_keeps_the_target_and_compact_form_is_read() {
        assert_eq!(contact_target(&[]), Ok(None));
        let m = vec![("m".to_string(), "<sip:x@y>".to_string())];
        assert_eq!(contact_target(&m), Ok(Some("sip:x@y".into())));
    }
}
