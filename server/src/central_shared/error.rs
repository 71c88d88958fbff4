//! The pieces of the error → HTTP mapping both centrals share. Each central keeps its own error
//! type and decides, in one match, the status and the JSON body its protocol prescribes (the V5
//! envelope with a status, the V6 envelope almost always with 200); this module writes the
//! response, and keeps internal failures inside: they are logged with an id, and the caller gets
//! a fixed text carrying that id, never database or file-system details.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Log an internal failure under a fresh id; returns the text the caller gets instead.
pub fn internal_message(role: &'static str, error: &anyhow::Error) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    tracing::error!(role, error_id = %id, error = %format!("{error:#}"), "central request failed");
    format!("internal error {id}: the central could not complete this request; its log says why under this id")
}

/// `status` with the JSON `body`, plus `Retry-After` when the caller must wait.
pub fn respond(status: StatusCode, body: impl Serialize, retry_after: Option<u64>) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Some(value) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The V5 central's answer to a locked-out login (`site_auth_timeout`); the V6 central relays
/// it in the same words, so a site shows the same error whichever central refused it.
pub fn too_many_attempts_message(seconds: u64) -> String {
    format!("too many failed authentication attempts; retry in {seconds} seconds")
}

/// What either central says when its failure limiter's table cannot be reached (503): nothing
/// was verified, and it is no lock-out, which "too many attempts" would make the reader of the
/// Sync page look for.
pub const LIMITER_UNAVAILABLE: &str = "the central cannot check sign-in attempts right now (its database does not answer); \
     hint: the site tries again at its next sync; if this lasts, check the central's database";
/// The `Retry-After` of [`LIMITER_UNAVAILABLE`].
pub const LIMITER_UNAVAILABLE_RETRY_SECONDS: u64 = 5;

/// What either central says about a body over its limit (after decompression), with 413.
pub const TOO_LARGE: &str = "request body too large for this central";
