//! The Contact user part that identifies one registration.
//!
//! Each registration registers a Contact `sip:<token>@<gateway>` whose user
//! part is a fresh random token. An INVITE the registrar forwards to that
//! Contact carries the token in its Request-URI (RFC 3261 §10.3 step 7,
//! §16.5), so whichever gateway instance receives it can tell which RTMP
//! connection it belongs to without shared state. The token is
//! `r` + 20 characters of lowercase RFC 4648 base32 (100 random bits): a
//! valid SIP user part (RFC 3261 §25.1 `unreserved`), case-insensitive-safe,
//! and unguessable.

use rand::Rng;

/// Length of a token in characters, including the leading `r`.
pub const TOKEN_LEN: usize = 21;

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A new random registration token, e.g. `rk3m2q7x0...` (21 chars).
pub fn registration_token() -> String {
    let mut rng = rand::thread_rng();
    let mut s = String::with_capacity(TOKEN_LEN);
    s.push('r');
    for _ in 1..TOKEN_LEN {
        let i = rng.gen_range(0..ALPHABET.len());
        s.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'a')));
    }
    s
}

/// True if `user` has the shape of a [`registration_token`] (`r` followed by
/// 20 lowercase base32 characters). Says nothing about whether the
/// registration still exists.
pub fn is_registration_token(user: &str) -> bool {
    let b = user.as_bytes();
    b.len() == TOKEN_LEN
        && b.first() == Some(&b'r')
        && b.iter().skip(1).all(|c| ALPHABET.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_documented_shape() {
        for _ in 0..200 {
            let t = registration_token();
            assert_eq!(t.len(), TOKEN_LEN);
            assert!(is_registration_token(&t), "{t}");
            assert!(t
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        }
    }

    #[test]
    fn tokens_differ() {
        let set: std::collections::HashSet<String> =
            (0..1000).map(|_| registration_token()).collect();
        assert_eq!(set.len(), 1000);
    }

    #[test]
    fn other_users_are_not_tokens() {
        for u in [
            "",
            "r",
            "alice",
            "rAAAAAAAAAAAAAAAAAAAA",
            "raaaaaaaaaaaaaaaaaaa",
            "raaaaaaaaaaaaaaaaaaaaa",
            "xaaaaaaaaaaaaaaaaaaaa",
            "raaaaaaaaaaaaaaaaaaa1",
            "raaaaaaaaaaaaaaaaaaa@",
        ] {
            assert!(!is_registration_token(u), "{u:?}");
        }
        assert!(is_registration_token("raaaaaaaaaaaaaaaaaaa2"));
    }
}
