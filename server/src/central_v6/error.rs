//! The one error type of the V6 central, and its single mapping to HTTP. Every answer is
//! HTTP 200 with `{"data": …}` or `{"error": …}` (reference section 3.2); only an oversized body
//! (413), a lock-out after too many failed logins (429 with `Retry-After`), a full body budget
//! (503 with `Retry-After`) and a body too slow to arrive (408) get their own status. Those are
//! also the answers given before the body is read whole, so they say `Connection: close`: the
//! rest of the body is never read, and the connection cannot carry another request. Internal failures become `otherServerError` with a fixed text and the id they are
//! logged under.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::central_shared::error::{
    LIMITER_UNAVAILABLE, LIMITER_UNAVAILABLE_RETRY_SECONDS, TOO_LARGE, internal_message, respond,
    too_many_attempts_message,
};
use crate::central_shared::push_buffer::{BufferFull, PutError};
use crate::wire::v5::{ErrorBody, code};
use crate::wire::v6::{Envelope, ErrorValue, SUPPORTED_VERSIONS};

/// What [`V6Error::Busy`] says, with its hint.
pub const BUSY: &str = "the central is busy reading other requests; hint: the site tries again at its next sync";
/// The `Retry-After` of [`V6Error::Busy`] and [`V6Error::CallerBusy`].
pub const BUSY_RETRY_SECONDS: u64 = 5;
/// What [`V6Error::CallerBusy`] says, with its hint.
pub const CALLER_BUSY: &str = "the central is already reading as many unfinished request bodies from your address as it reads from one address; hint: the site tries again at its next sync (sites behind one NAT address share this)";

/// What [`V6Error::BodyTooSlow`] says, with its hint.
pub fn body_too_slow_message(seconds: u64) -> String {
    format!(
        "the request body did not arrive whole within {seconds} seconds; hint: the link is too slow for this batch: lower the push batch size or sync over a faster link"
    )
}

#[derive(Debug, thiserror::Error)]
pub enum V6Error {
    /// `syncV6Version` missing or outside [`SUPPORTED_VERSIONS`]; holds what was received.
    #[error("sync V6 version {0} is not supported")]
    VersionMismatch(u32),
    /// The site's last push is still being integrated.
    #[error("integration in progress")]
    IntegrationInProgress,
    #[error("{}", TOO_LARGE)]
    PayloadTooLarge,
    /// The site's push buffer would pass its cap; the message says by how much, and the hint.
    #[error("{0}")]
    PushBufferFull(BufferFull),
    #[error("{0}")]
    BadRequest(String),
    /// A pushed record the site may not write; says which record and why.
    #[error("{0}")]
    RecordRejected(String),
    /// Bodies not yet vouched for hold the central's whole budget for them; retry shortly.
    #[error("{BUSY}")]
    Busy,
    /// Bodies from the caller's address hold that address's whole share of the budget.
    #[error("{CALLER_BUSY}")]
    CallerBusy,
    /// The body was not whole within its deadline (this many seconds; see `body_budget`).
    #[error("{}", body_too_slow_message(*.0))]
    BodyTooSlow(u64),
    /// Too many failed logins, counted here or by the V5 central; wait this many seconds.
    #[error("{}", too_many_attempts_message(*.0))]
    TooManyAttempts(u64),
    /// The failure limiter's shared table cannot be reached, so no attempt is admitted (503).
    #[error("{}", LIMITER_UNAVAILABLE)]
    LimiterUnavailable,
    /// The V5 central refused the credentials, in its own words.
    #[error("the legacy central refused: {}", .0.code)]
    LegacyRefused(ErrorBody),
    #[error("cannot connect to the legacy central: {0}")]
    LegacyUnreachable(String),
    #[error("unexpected answer from the legacy central: {0}")]
    LegacyOther(String),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for V6Error {
    fn from(e: sqlx::Error) -> Self {
        V6Error::Internal(e.into())
    }
}

pub type V6Result<T> = Result<Data<T>, V6Error>;

/// A successful answer: `{"data": …}`.
pub struct Data<T>(pub T);

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        Json(Envelope::Data(self.0)).into_response()
    }
}

impl From<crate::ratelimit::Refusal> for V6Error {
    fn from(refusal: crate::ratelimit::Refusal) -> Self {
        match refusal {
            crate::ratelimit::Refusal::TooMany(wait) => {
                V6Error::TooManyAttempts(crate::ratelimit::retry_after_seconds(wait))
            }
            crate::ratelimit::Refusal::Unavailable => V6Error::LimiterUnavailable,
        }
    }
}

impl From<PutError> for V6Error {
    fn from(e: PutError) -> Self {
        match e {
            PutError::Full(full) => V6Error::PushBufferFull(full),
            PutError::Db(e) => e.into(),
        }
    }
}

impl V6Error {
    /// The variant name only, so logs never repeat what a legacy server said about credentials.
    fn kind(&self) -> &'static str {
        match self {
            V6Error::VersionMismatch(_) => "versionMismatch",
            V6Error::IntegrationInProgress => "integrationInProgress",
            V6Error::PayloadTooLarge => "payloadTooLarge",
            V6Error::PushBufferFull(_) => "pushBufferFull",
            V6Error::BadRequest(_) => "badRequest",
            V6Error::RecordRejected(_) => "recordRejected",
            V6Error::Busy => "busy",
            V6Error::CallerBusy => "callerBusy",
            V6Error::BodyTooSlow(_) => "bodyTooSlow",
            V6Error::TooManyAttempts(_) => "tooManyAttempts",
            V6Error::LimiterUnavailable => "limiterUnavailable",
            V6Error::LegacyRefused(_) => "legacyRefused",
            V6Error::LegacyUnreachable(_) => "legacyUnreachable",
            V6Error::LegacyOther(_) => "legacyOther",
            V6Error::Internal(_) => "internal",
        }
    }

    /// The status, the `{"error": …}` value, and how long to ask the caller to wait.
    fn parts(self) -> (StatusCode, ErrorValue, Option<u64>) {
        match self {
            V6Error::VersionMismatch(received) => (
                StatusCode::OK,
                ErrorValue::SyncVersionMismatch(SUPPORTED_VERSIONS.0, SUPPORTED_VERSIONS.1, received),
                None,
            ),
            V6Error::IntegrationInProgress => (StatusCode::OK, ErrorValue::IntegrationInProgress, None),
            V6Error::PayloadTooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorValue::OtherServerError(TOO_LARGE.into()), None)
            }
            // The reference's error values are a closed set its sites parse: the named error
            // travels as `otherServerError` with its message.
            V6Error::PushBufferFull(full) => (StatusCode::OK, ErrorValue::OtherServerError(full.to_string()), None),
            V6Error::Busy => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorValue::OtherServerError(BUSY.into()), Some(BUSY_RETRY_SECONDS))
            }
            V6Error::LimiterUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorValue::OtherServerError(LIMITER_UNAVAILABLE.into()),
                Some(LIMITER_UNAVAILABLE_RETRY_SECONDS),
            ),
            V6Error::CallerBusy => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorValue::OtherServerError(CALLER_BUSY.into()),
                Some(BUSY_RETRY_SECONDS),
            ),
            V6Error::BodyTooSlow(seconds) => {
                (StatusCode::REQUEST_TIMEOUT, ErrorValue::OtherServerError(body_too_slow_message(seconds)), None)
            }
            V6Error::BadRequest(message) | V6Error::RecordRejected(message) => {
                (StatusCode::OK, ErrorValue::OtherServerError(message), None)
            }
            // The V5 central's lock-out in its own words, so the site shows the same variant
            // whichever central refused it.
            V6Error::TooManyAttempts(seconds) => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorValue::LegacyServerError(ErrorBody {
                    code: code::SITE_AUTH_TIMEOUT.into(),
                    message: too_many_attempts_message(seconds),
                    data: Some(serde_json::json!({ "retryAfter": seconds })),
                }),
                Some(seconds),
            ),
            V6Error::LegacyRefused(body) => (StatusCode::OK, ErrorValue::LegacyServerError(body), None),
            // What went wrong names the legacy central's address or quotes its answer: internal
            // details, logged under an id rather than sent to whoever called.
            V6Error::LegacyUnreachable(detail) => (
                StatusCode::OK,
                ErrorValue::CannotConnectToLegacyServer(logged("cannot reach the legacy central", &detail)),
                None,
            ),
            V6Error::LegacyOther(detail) => (
                StatusCode::OK,
                ErrorValue::OtherLegacyServerError(logged("unexpected answer from the legacy central", &detail)),
                None,
            ),
            V6Error::Internal(e) => {
                (StatusCode::OK, ErrorValue::OtherServerError(internal_message("central", &e)), None)
            }
        }
    }
}

/// Log `detail` under a fresh id; the caller gets `text` and that id.
fn logged(text: &str, detail: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    tracing::warn!(error_id = %id, detail, "{text}");
    format!("{text}; the central's log says why under id {id}")
}

impl IntoResponse for V6Error {
    fn into_response(self) -> Response {
        if !matches!(self, V6Error::Internal(_)) {
            tracing::info!(error = self.kind(), "central request refused");
        }
        let body_unread = matches!(
            self,
            V6Error::PayloadTooLarge
                | V6Error::Busy
                | V6Error::CallerBusy
                | V6Error::BodyTooSlow(_)
                | V6Error::TooManyAttempts(_)
        );
        let (status, error, retry_after) = self.parts();
        let mut response = respond(status, Envelope::<()>::Error(error), retry_after);
        if body_unread {
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}
