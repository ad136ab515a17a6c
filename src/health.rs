//! `rtmp2sip healthcheck [URL]`: one plain-HTTP/1.1 `GET` (RFC 9112) of
//! the gateway's `/healthz`, so the container image needs no curl.
//! Exit 0 on a 200, 1 on anything else. Only `http://IP:PORT/path` or
//! `http://localhost:PORT/path`: the check runs beside the gateway.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The default target: the shipped config's `[http] listen` port.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080/healthz";
/// Connect, write and read timeout each.
const TIMEOUT: Duration = Duration::from_secs(3);
/// Most response bytes read (the status line is all that matters).
const MAX_RESPONSE: u64 = 4096;

/// GETs `url`; `Ok` when the status is 200.
pub fn check(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}`: only http:// URLs"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/healthz"),
    };
    if authority.is_empty() || path.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!("`{url}`: not a URL"));
    }
    let addr: SocketAddr = authority
        .to_socket_addrs()
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("{addr}: {e}"))?;
    s.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.take(MAX_RESPONSE)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    let head = String::from_utf8_lossy(&buf);
    let status = head.lines().next().unwrap_or_default();
    match status.split(' ').nth(1) {
        Some("200") => Ok(()),
        _ => Err(format!("{url}: {status:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_it_cannot_fetch() {
        assert!(check("https://127.0.0.1:1/healthz").is_err());
        assert!(check("http:///healthz").is_err());
        // Nothing listens on port 1.
        assert!(check("http://127.0.0.1:1/healthz").is_err());
    }

    #[test]
    fn a_200_passes_and_a_503_fails() {
        use std::net::TcpListener;
        for (reply, ok) in [("HTTP/1.1 200 OK", true), ("HTTP/1.1 503 Busy", false)] {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            let t = std::thread::spawn(move || {
                let (mut c, _) = l.accept().unwrap();
                let mut b = [0u8; 512];
                let n = c.read(&mut b).unwrap();
                assert!(b[..n].starts_with(b"GET /healthz HTTP/1.1\r\n"));
                c.write_all(format!("{reply}\r\ncontent-length: 0\r\n\r\n").as_bytes())
                    .unwrap();
            });
            let r = check(&format!("http://127.0.0.1:{port}/healthz"));
            assert_eq!(r.is_ok(), ok, "{reply}: {r:?}");
            t.join().unwrap();
        }
    }
}
