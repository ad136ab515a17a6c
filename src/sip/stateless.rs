//! Stateless responses (RFC 3261 §8.2.6, §18.2.2): refusals sent before any
//! transaction exists, once, to the packet's source, never retransmitted.

use rand::Rng;
use rsipstack::sip::{Header, HeadersExt, Request, Response, StatusCode};

/// A response to `req` with `code`: Via, From, To, Call-ID and CSeq copied
/// (RFC 3261 §8.2.6.2), a To tag added when the request had none, the
/// `server` value as Server header and no body.
pub fn response(req: &Request, code: u16, server: &str) -> Response {
    let mut headers = req.headers.clone();
    headers.retain(|h| {
        matches!(
            h,
            Header::Via(_) | Header::CallId(_) | Header::From(_) | Header::To(_) | Header::CSeq(_)
        )
    });
    let has_tag = req
        .to_header()
        .ok()
        .and_then(|t| t.tag().ok().flatten())
        .is_some();
    if !has_tag {
        let tag = format!("{:016x}", rand::thread_rng().gen::<u64>());
        for h in headers.iter_mut() {
            if let Header::To(to) = h {
                *to = format!("{};tag={tag}", to.value()).into();
            }
        }
    }
    headers.push(Header::Server(server.to_string().into()));
    headers.push(Header::ContentLength(0u32.into()));
    Response {
        status_code: StatusCode::from(code),
        wire_reason: None,
        version: req.version,
        headers,
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsipstack::sip::SipMessage;

    #[test]
    fn copies_the_transaction_headers_and_tags_to() {
        let text =
            "INVITE sip:bob@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK1\r\n\
            From: <sip:a@x>;tag=1\r\nTo: <sip:bob@192.0.2.1>\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\n\
            Contact: <sip:a@192.0.2.9>\r\nContent-Length: 0\r\n\r\n";
        let SipMessage::Request(req) = SipMessage::try_from(text.as_bytes()).unwrap() else {
            panic!()
        };
        let r = response(&req, 403, "rtmp2sip").to_string();
        assert!(r.starts_with("SIP/2.0 403"), "{r}");
        assert!(
            r.contains("CSeq: 7 INVITE") && r.contains("Call-ID: c1"),
            "{r}"
        );
        assert!(r.contains("To: <sip:bob@192.0.2.1>;tag="), "{r}");
        assert!(!r.contains("Contact"), "{r}");
        assert!(r.contains("Server: rtmp2sip"), "{r}");
    }
}
