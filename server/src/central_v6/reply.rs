//! The V6 envelope, in one place: every answer is HTTP 200 with `{"data": …}` or
//! `{"error": …}` (reference section 3.2); only an oversized body (413) and a lock-out after too
//! many failed logins (429 with `Retry-After`) get their own status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::wire::v5::code;
use crate::wire::v6::{Envelope, ErrorValue};

pub struct Reply<T>(pub Result<T, ErrorValue>);

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        match self.0 {
            Ok(data) => Json(Envelope::Data(data)).into_response(),
            Err(ErrorValue::OtherServerError(message)) if message == TOO_LARGE => {
                (StatusCode::PAYLOAD_TOO_LARGE, Json(Envelope::<T>::Error(ErrorValue::OtherServerError(message))))
                    .into_response()
            }
            Err(ErrorValue::LegacyServerError(body)) if body.code == code::SITE_AUTH_TIMEOUT => {
                let seconds =
                    body.data.as_ref().and_then(|d| d.get("retryAfter")).and_then(|v| v.as_u64()).unwrap_or(60);
                tracing::info!("central request refused: too many failed authentication attempts");
                let mut response =
                    (StatusCode::TOO_MANY_REQUESTS, Json(Envelope::<T>::Error(ErrorValue::LegacyServerError(body))))
                        .into_response();
                if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            Err(error) => {
                tracing::info!(error = ?error_kind(&error), "central request refused");
                Json(Envelope::<T>::Error(error)).into_response()
            }
        }
    }
}

pub const TOO_LARGE: &str = "request body too large for this central";

/// Internal failures become `otherServerError` with their message (no credentials in them).
pub fn internal(e: impl std::fmt::Display) -> ErrorValue {
    tracing::error!(error = %e, "central request failed");
    ErrorValue::OtherServerError(e.to_string())
}

/// The variant name only, so logs never repeat what a legacy server said about credentials.
fn error_kind(e: &ErrorValue) -> &'static str {
    match e {
        ErrorValue::NotACentralServer => "notACentralServer",
        ErrorValue::IntegrationInProgress => "integrationInProgress",
        ErrorValue::SyncVersionMismatch(..) => "syncVersionMismatch",
        ErrorValue::OtherServerError(_) => "otherServerError",
        ErrorValue::LegacyServerError(_) => "legacyServerError",
        ErrorValue::CannotConnectToLegacyServer(_) => "cannotConnectToLegacyServer",
        ErrorValue::OtherLegacyServerError(_) => "otherLegacyServerError",
        ErrorValue::ParsingSyncRecordError(_) => "parsingSyncRecordError",
        ErrorValue::SyncFileNotFound(_) => "syncFileNotFound",
    }
}
