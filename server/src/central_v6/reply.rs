//! The V6 envelope, in one place: every answer is HTTP 200 with `{"data": …}` or
//! `{"error": …}` (reference section 3.2); only an oversized body gets its own status (413).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::wire::v6::{Envelope, ErrorValue};

pub struct Reply<T>(pub Result<T, ErrorValue>);

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        match self.0 {
            Ok(data) => Json(Envelope::Data(data)).into_response(),
            Err(ErrorValue::OtherServerError(message)) if message == TOO_LARGE => {
                (StatusCode::PAYLOAD_TOO_LARGE, Json(Envelope::<T>::Error(ErrorValue::OtherServerError(message)))).into_response()
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
