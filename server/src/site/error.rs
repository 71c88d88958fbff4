//! The one error type of the site's JSON API and its mapping to HTTP: every failure leaves
//! the server as `{"error": {"variant", "message", "field"?}}` with a fitting status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use outpost_api::{ApiError as Body, ApiErrorBody};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Validation { field: String, message: String },
    #[error("{0}")]
    NotConfigured(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

impl ApiError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation { field: field.to_owned(), message: message.into() }
    }

    fn status_and_variant(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            ApiError::Validation { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION"),
            ApiError::NotConfigured(_) => (StatusCode::CONFLICT, "NOT_CONFIGURED"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, variant) = self.status_and_variant();
        let message = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "request failed");
                "The server hit an internal problem; see its log for details.".to_owned()
            }
            other => other.to_string(),
        };
        let field = match self {
            ApiError::Validation { field, .. } => Some(field),
            _ => None,
        };
        let body = ApiErrorBody { error: Body { variant: variant.to_owned(), message, field } };
        (status, Json(body)).into_response()
    }
}
