//! The desktop's static files, embedded at build time. Each answer carries
//! a strong `ETag` (SHA-256 of the file) and `no-cache`, so browsers
//! revalidate and get 304 until pbx is upgraded; plus a strict
//! Content-Security-Policy (own scripts only; SIP over ws:/wss:).

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::api::v1::error::ApiError;

/// One embedded file.
struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

const FILES: &[Asset] = &[
    Asset {
        name: "index.html",
        mime: "text/html; charset=utf-8",
        body: include_bytes!("../../../desktop/assets/index.html"),
    },
    Asset {
        name: "desktop.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../desktop/assets/desktop.js"),
    },
    Asset {
        name: "desktop.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!("../../../desktop/assets/desktop.css"),
    },
    Asset {
        name: "favicon.svg",
        mime: "image/svg+xml",
        body: include_bytes!("../../../desktop/assets/favicon.svg"),
    },
    Asset {
        name: "vendor/jssip.min.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../desktop/assets/vendor/jssip.min.js"),
    },
];

/// The ETag of each file, in `FILES` order.
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|f| {
            let hash = hex::encode(&Sha256::digest(f.body)[..16]);
            HeaderValue::from_str(&format!("\"{hash}\"")).expect("hex is a valid header value")
        })
        .collect()
});

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(i) = FILES.iter().position(|f| f.name == name) else {
        return ApiError::not_found(format!("no desktop file {name}; the page is at /desktop/"))
            .into_response();
    };
    let etag = ETAGS[i].clone();
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == etag.to_str().unwrap_or_default())
        });
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(CONTENT_TYPE, HeaderValue::from_static(FILES[i].mime))],
            FILES[i].body,
        )
            .into_response()
    };
    let h = resp.headers_mut();
    h.insert(ETAG, etag);
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    resp
}

pub(super) async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

pub(super) async fn file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&file, &headers)
}

pub(super) async fn vendor(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&format!("vendor/{file}"), &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_served_with_its_type_and_a_304_on_its_etag() {
        for f in FILES {
            let resp = serve(f.name, &HeaderMap::new());
            assert_eq!(resp.status(), StatusCode::OK, "{}", f.name);
            assert_eq!(resp.headers()[CONTENT_TYPE], f.mime);
            let mut again = HeaderMap::new();
            again.insert(IF_NONE_MATCH, resp.headers()[ETAG].clone());
            assert_eq!(serve(f.name, &again).status(), StatusCode::NOT_MODIFIED);
        }
        assert_eq!(
            serve("../Cargo.toml", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn the_page_loads_only_embedded_scripts() {
        let html = std::str::from_utf8(FILES[0].body).unwrap();
        let refs = html
            .split("src=\"")
            .skip(1)
            .chain(html.split("href=\"").skip(1));
        for src in refs.map(|s| s.split('"').next().unwrap()) {
            assert!(
                FILES.iter().any(|f| f.name == src),
                "index.html loads {src}, which is not embedded"
            );
        }
    }
}
