//! RTMPT request paths (pure): `/open/1`, `/send/<id>/<seq>`,
//! `/idle/<id>/<seq>`, `/close/<id>/<seq>` (the RTMPT convention of
//! Flash Media Server and Red5; `<id>` is the session id the gateway
//! gave in the answer to `/open/1`, `<seq>` the client's request counter).

use std::fmt;

/// A 128-bit random session id, written as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub u128);

impl SessionId {
    /// Parses exactly 32 hex digits (either case).
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u128::from_str_radix(s, 16).ok().map(SessionId)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Ids are secrets: logs show only the first 8 digits.
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}…", (self.0 >> 96) as u32)
    }
}

/// The client's request counter in a path (decimal, at most 19 digits).
pub type Seq = u64;

/// What a request's path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `/open/1`: a new session.
    Open,
    /// `/send/<id>/<seq>`: client bytes in the body; answers pending bytes.
    Send(SessionId, Seq),
    /// `/idle/<id>/<seq>`: a poll; the body is ignored.
    Idle(SessionId, Seq),
    /// `/close/<id>/<seq>`: the client ends the session.
    Close(SessionId, Seq),
}

/// Why a path is not an RTMPT command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Not one of the four RTMPT commands: not ours (404).
    NotRtmpt,
    /// An RTMPT command with a malformed id: an unknown session (404).
    BadId,
    /// An RTMPT command with a malformed sequence number (400).
    BadSeq,
}

/// Parses a request path (no query; a query is refused as `NotRtmpt`).
pub fn parse(path: &str) -> Result<Command, PathError> {
    let mut parts = path
        .strip_prefix('/')
        .ok_or(PathError::NotRtmpt)?
        .split('/');
    let cmd = parts.next().ok_or(PathError::NotRtmpt)?;
    let (a, b, rest) = (parts.next(), parts.next(), parts.next());
    if rest.is_some() {
        return Err(PathError::NotRtmpt);
    }
    match (cmd, a, b) {
        ("open", Some("1"), None) => Ok(Command::Open),
        ("send" | "idle" | "close", Some(id), Some(seq)) => {
            let id = SessionId::parse(id).ok_or(PathError::BadId)?;
            let seq = parse_seq(seq).ok_or(PathError::BadSeq)?;
            Ok(match cmd {
                "send" => Command::Send(id, seq),
                "idle" => Command::Idle(id, seq),
                _ => Command::Close(id, seq),
            })
        }
        _ => Err(PathError::NotRtmpt),
    }
}

fn parse_seq(s: &str) -> Option<Seq> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789ABCDEF";

    #[test]
    fn commands_parse() {
        let id = SessionId::parse(ID).unwrap();
        assert_eq!(parse("/open/1"), Ok(Command::Open));
        assert_eq!(parse(&format!("/send/{ID}/7")), Ok(Command::Send(id, 7)));
        assert_eq!(parse(&format!("/idle/{ID}/0")), Ok(Command::Idle(id, 0)));
        assert_eq!(parse(&format!("/close/{ID}/9")), Ok(Command::Close(id, 9)));
        assert_eq!(id.to_string(), ID.to_ascii_lowercase());
    }

    #[test]
    fn bad_paths_are_refused() {
        for p in [
            "/",
            "",
            "open/1",
            "/open/2",
            "/open/1/x",
            "/fcs/ident2",
            "/send",
        ] {
            assert_eq!(parse(p), Err(PathError::NotRtmpt), "{p:?}");
        }
        assert_eq!(parse("/send/abc/1"), Err(PathError::BadId));
        assert_eq!(parse(&format!("/send/{ID}x/1")), Err(PathError::BadId));
        for s in ["", "-1", "+1", "99999999999999999999", "1a"] {
            assert_eq!(
                parse(&format!("/idle/{ID}/{s}")),
                Err(PathError::BadSeq),
                "{s:?}"
            );
        }
        assert_eq!(parse(&format!("/send/{ID}/1/")), Err(PathError::NotRtmpt));
    }
}
