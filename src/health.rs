//! `rtmp2sip healthcheck [URL]`: one HTTP/1.1 `GET` (RFC 9112) of the
//! gateway's `/healthz`, so the container image needs no curl. Exit 0 on a
//! 200, 1 on anything else. `http://HOST:PORT/path`, or `https://` (the
//! certificate checked against the system roots, as the CLI does).

use hyper::Method;

use rtmp2sip::cli::client;

/// The default target: the shipped config's `[http] listen` port.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080/healthz";

/// GETs `url` with the CLI's HTTP client ([`client::request`]: hyper,
/// bounded in time and size); `Ok` when the status is 200.
///
/// # Errors
/// The reason, when the URL is not `http[s]://HOST:PORT[/path]`, the
/// gateway cannot be reached, or it answers anything but 200.
pub fn check(url: &str) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(s, _)| *s == "http" || *s == "https")
        .ok_or_else(|| format!("`{url}`: only http:// and https:// URLs"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/healthz"),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let answer = runtime
        .block_on(client::request(
            &format!("{scheme}://{authority}"),
            Method::GET,
            path,
            None,
            &client::Trust::default(),
        ))
        .map_err(|e| e.to_string())?;
    match answer.status {
        200 => Ok(()),
        status => Err(format!("{url}: HTTP {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn refuses_what_it_cannot_fetch() {
        assert!(check("ftp://127.0.0.1:1/healthz").is_err());
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
