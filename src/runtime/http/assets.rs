//! The web phone's files, embedded in the binary at build time so a bare
//! `rtmp2sip` serves them: the page, the SDK and the invisible-phone
//! example. Served with `GET`/`HEAD` only, `Cache-Control: no-cache`
//! (RFC 9111 section 5.2.2.4: revalidate, so an upgraded gateway's SDK is
//! picked up), and `X-Content-Type-Options: nosniff`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Request path, e.g. `/rtmp2sip-phone.js`.
    pub path: &'static str,
    /// `Content-Type` value.
    pub content_type: &'static str,
    /// The file's text, embedded at build time (UTF-8, served as is).
    pub body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Everything served besides `/rtmp`.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: HTML,
        body: include_str!("../../../flash_phone/web/index.html"),
    },
    Asset {
        path: "/index.html",
        content_type: HTML,
        body: include_str!("../../../flash_phone/web/index.html"),
    },
    Asset {
        path: "/rtmp2sip-phone.js",
        content_type: JS,
        body: include_str!("../../../flash_phone/js/rtmp2sip-phone.js"),
    },
    Asset {
        path: "/examples/invisible.html",
        content_type: HTML,
        body: include_str!("../../../flash_phone/examples/invisible.html"),
    },
];

/// The asset at `path`, if any (exact match; no query handling here: the
/// router passes the path alone).
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// 200 with the file (axum drops the body for HEAD), or 404.
pub fn respond(path: &str) -> Response {
    match find(path) {
        Some(a) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(a.content_type),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            a.body,
        )
            .into_response(),
        None => not_found(),
    }
}

/// 404, plain text.
pub fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
        "not found\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_the_sdk_are_embedded() {
        assert!(find("/").is_some_and(|a| a.body.contains("rtmp2sip-phone.js")));
        assert!(find("/rtmp2sip-phone.js")
            .is_some_and(|a| a.content_type.starts_with("text/javascript")));
        assert!(find("/examples/invisible.html").is_some());
        assert!(find("/nope").is_none());
        assert_eq!(respond("/nope").status(), StatusCode::NOT_FOUND);
        let r = respond("/");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
    }
}
