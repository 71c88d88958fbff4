//! The browser app as the binary carries it (see `server/build.rs`), so a release binary
//! copied alone to a server serves the Sync page; `--app-dir DIR` serves a folder instead,
//! for development.
//!
//! Caching: the app's file names are not content-hashed (`pkg/app.js`, `pkg/app_bg.wasm`), so
//! every file goes out with `Cache-Control: no-cache` and an `ETag`: the browser revalidates on
//! each load and gets `304 Not Modified` while nothing changed, and after an upgrade it can
//! never run an old app against the new API. Precompressed `.br` / `.gz` copies (made by
//! `build_app`) are sent when the browser accepts them.

use axum::body::Body;
use axum::http::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

mod files {
    include!(concat!(env!("OUT_DIR"), "/app_files.rs"));
}

/// Whether this binary was built with the app inside (false when `cargo build` ran before
/// the app was built, e.g. a plain `cargo test` on a fresh clone).
pub fn is_embedded() -> bool {
    find("index.html").is_some()
}

fn find(name: &str) -> Option<(&'static str, &'static [u8])> {
    files::FILES.iter().find(|(n, _, _)| *n == name).map(|(_, etag, bytes)| (*etag, *bytes))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "webmanifest" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Answer a request for the app: the file asked for, else `index.html` (the app routes
/// in the browser), in the best encoding the browser accepts.
pub async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    if !is_embedded() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            "This outpost binary was built without the browser app. Build the app first \
             (scripts/lib.sh build_app, as scripts/demo.sh does) and rebuild outpost, or start \
             the site with --app-dir DIR.",
        )
            .into_response();
    }
    let asked = uri.path().trim_start_matches('/');
    let name = if !asked.is_empty() && find(asked).is_some() { asked } else { "index.html" };
    let accepts = headers.get(ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let accepts = |coding: &str| accepts.split(',').any(|c| c.split(';').next().unwrap_or_default().trim() == coding);
    let (encoding, (etag, bytes)) = [("br", ".br"), ("gzip", ".gz")]
        .into_iter()
        .filter(|(coding, _)| accepts(coding))
        .find_map(|(coding, suffix)| find(&format!("{name}{suffix}")).map(|f| (Some(coding), f)))
        .unwrap_or_else(|| (None, find(name).expect("the name was found above")));
    let mut response = if headers.get(IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(bytes))
    };
    let out = response.headers_mut();
    out.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(name)));
    out.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(VARY, HeaderValue::from_static("accept-encoding"));
    out.insert(ETAG, HeaderValue::from_static(etag));
    if let Some(encoding) = encoding {
        out.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    response
}
