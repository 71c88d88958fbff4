//! The one error type of the V5 central, and its single mapping to HTTP: a status plus the
//! legacy envelope `{"error":{"code","message","data"}}` (reference section 3.1), so every
//! route reports failures the way a real legacy central does. Internal failures leave it as
//! `internal_error` with a fixed text and the id they are logged under.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::central_shared::error::{
    LIMITER_UNAVAILABLE, LIMITER_UNAVAILABLE_RETRY_SECONDS, TOO_LARGE, internal_message, respond,
    too_many_attempts_message,
};
use crate::central_shared::push_buffer::{BufferFull, PutError};
use crate::wire::v5::{ErrorBody, ErrorEnvelope, SUPPORTED_VERSIONS, code};

#[derive(Debug, thiserror::Error)]
pub enum V5Error {
    #[error("site name not found")]
    SiteNameNotFound,
    #[error("incorrect password")]
    IncorrectPassword,
    #[error("site is bound to another hardware id")]
    IncorrectHardwareId,
    #[error("site has no store")]
    SiteHasNoStore,
    #[error("sync API version {0:?} is not supported")]
    VersionIncompatible(Option<String>),
    #[error("sync is running for this site ({0})")]
    SyncIsRunning(&'static str),
    /// Records the site may not write: the first one's name and reason, and every refused
    /// record as `{"tableName","recordId","reason"}` (sent as the envelope's `data.refused`).
    #[error("record rejected: {0}")]
    RecordRejected(String, Vec<Value>),
    /// The site's last push could not be integrated (reported by `site_status`); the text
    /// carries the id the failure is logged under.
    #[error("{0}")]
    IntegrationFailed(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("{}", TOO_LARGE)]
    PayloadTooLarge,
    /// The site's push buffer would pass its cap; the message says by how much, and the hint.
    #[error("{0}")]
    PushBufferFull(BufferFull),
    /// Too many failed logins for this site or from this address (see `crate::ratelimit`).
    #[error("{}", too_many_attempts_message(*.0))]
    TooManyAttempts(u64),
    /// The failure limiter's shared table cannot be reached, so no attempt is admitted (503).
    #[error("{}", LIMITER_UNAVAILABLE)]
    LimiterUnavailable,
    /// Logged with an id; the caller gets a fixed text and the id.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for V5Error {
    fn from(e: sqlx::Error) -> Self {
        V5Error::Internal(e.into())
    }
}

impl From<crate::ratelimit::Refusal> for V5Error {
    fn from(refusal: crate::ratelimit::Refusal) -> Self {
        match refusal {
            crate::ratelimit::Refusal::TooMany(wait) => {
                V5Error::TooManyAttempts(crate::ratelimit::retry_after_seconds(wait))
            }
            crate::ratelimit::Refusal::Unavailable => V5Error::LimiterUnavailable,
        }
    }
}

impl From<PutError> for V5Error {
    fn from(e: PutError) -> Self {
        match e {
            PutError::Full(full) => V5Error::PushBufferFull(full),
            PutError::Db(e) => e.into(),
        }
    }
}

impl V5Error {
    fn parts(&self) -> (StatusCode, &'static str, Option<Value>) {
        match self {
            V5Error::SiteNameNotFound => (StatusCode::UNAUTHORIZED, code::SITE_NAME_NOT_FOUND, None),
            V5Error::IncorrectPassword => (StatusCode::UNAUTHORIZED, code::SITE_INCORRECT_PASSWORD, None),
            V5Error::IncorrectHardwareId => (StatusCode::UNAUTHORIZED, code::SITE_INCORRECT_HARDWARE_ID, None),
            V5Error::SiteHasNoStore => (StatusCode::UNAUTHORIZED, code::SITE_HAS_NO_STORE, None),
            V5Error::VersionIncompatible(received) => (
                StatusCode::CONFLICT,
                code::API_VERSION_INCOMPATIBLE,
                Some(
                    json!({"minVersion": SUPPORTED_VERSIONS.0, "maxVersion": SUPPORTED_VERSIONS.1, "receivedVersion": received}),
                ),
            ),
            V5Error::SyncIsRunning(_) => (StatusCode::SERVICE_UNAVAILABLE, code::SYNC_IS_RUNNING, None),
            V5Error::RecordRejected(_, refused) => (
                StatusCode::FORBIDDEN,
                code::SYNC_RECORD_REJECTED,
                (!refused.is_empty()).then(|| json!({ "refused": refused })),
            ),
            V5Error::IntegrationFailed(_) => (StatusCode::INTERNAL_SERVER_ERROR, code::INTEGRATION_ERROR, None),
            V5Error::BadRequest(_) => (StatusCode::BAD_REQUEST, code::BAD_REQUEST, None),
            V5Error::TooManyAttempts(_) => (StatusCode::TOO_MANY_REQUESTS, code::SITE_AUTH_TIMEOUT, None),
            V5Error::LimiterUnavailable => (StatusCode::SERVICE_UNAVAILABLE, code::INTERNAL_ERROR, None),
            V5Error::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, code::PAYLOAD_TOO_LARGE, None),
            V5Error::PushBufferFull(full) => (
                StatusCode::INSUFFICIENT_STORAGE,
                code::PUSH_BUFFER_FULL,
                Some(json!({"heldBytes": full.held, "addingBytes": full.adding, "maxBytes": full.cap})),
            ),
            V5Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL_ERROR, None),
        }
    }
}

impl IntoResponse for V5Error {
    fn into_response(self) -> Response {
        let (status, code, data) = self.parts();
        let message = match &self {
            V5Error::Internal(e) => internal_message("legacy-central", e),
            other => other.to_string(),
        };
        let retry_after = match self {
            V5Error::TooManyAttempts(seconds) => Some(seconds),
            V5Error::LimiterUnavailable => Some(LIMITER_UNAVAILABLE_RETRY_SECONDS),
            _ => None,
        };
        respond(status, ErrorEnvelope { error: ErrorBody { code: code.to_owned(), message, data } }, retry_after)
    }
}

pub type V5Result<T> = Result<T, V5Error>;
