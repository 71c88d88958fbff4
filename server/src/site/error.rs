//! The one error type of the site's JSON API and its mapping to HTTP: every failure leaves
//! the server as `{"error": {"variant", "message", "field"?, "code"?, "params"?}}` with a fitting
//! status; `code` and `params` let the app word a form error in the reader's language.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use outpost_api::{ApiError as Body, ApiErrorBody};
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    /// Bad input in a form's `field`; `code` (with `params`) lets the app say it in the
    /// reader's language, `message` is the English.
    #[error("{message}")]
    Validation { field: String, message: String, code: Option<&'static str>, params: Vec<(String, String)> },
    #[error("{0}")]
    NotConfigured(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    /// No admin session (or a wrong admin password).
    #[error("{0}")]
    Unauthenticated(String),
    /// Refused whoever asks (a request that fails the CSRF rule).
    #[error("{0}")]
    Forbidden(String),
    /// Too many failed logins from this address: wait this many seconds.
    #[error("Too many failed sign-in attempts; try again in {0} seconds.")]
    TooManyRequests(u64),
    #[error("The request body is larger than this server accepts ({0} bytes).")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The `Host` is not one of this site's names (DNS rebinding guard, `site::host`).
    #[error("{0}")]
    MisdirectedRequest(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

impl ApiError {
    /// Bad input whose message carries details only the server knows (kept in English).
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation { field: field.to_owned(), message: message.into(), code: None, params: Vec::new() }
    }

    /// Bad input the app words itself from `code` (`invalid-<code>` in its catalogues) and
    /// `params`; `message` is the same in English for other callers.
    pub fn invalid(field: &str, code: &'static str, params: &[(&str, String)], message: impl Into<String>) -> Self {
        let params = params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        ApiError::Validation { field: field.to_owned(), message: message.into(), code: Some(code), params }
    }

    fn status_and_variant(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            ApiError::Validation { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION"),
            ApiError::NotConfigured(_) => (StatusCode::CONFLICT, "NOT_CONFIGURED"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            ApiError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            ApiError::MisdirectedRequest(_) => (StatusCode::MISDIRECTED_REQUEST, "MISDIRECTED_REQUEST"),
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
        let retry_after = match &self {
            ApiError::TooManyRequests(seconds) => Some(*seconds),
            _ => None,
        };
        let (field, code, params) = match self {
            ApiError::Validation { field, code, params, .. } => (Some(field), code.map(str::to_owned), params),
            _ => (None, None, Vec::new()),
        };
        let body = ApiErrorBody { error: Body { variant: variant.to_owned(), message, field, code, params } };
        let mut response = (status, Json(body)).into_response();
        if let Some(value) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Largest request body the site's API accepts; larger ones get 413. Settings and store-data
/// forms are a few hundred bytes, so a megabyte is generous and still cheap to refuse.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON body whose rejections (bad JSON, wrong shape, too large) are `ApiError`s, so every
/// failure of the API has the one JSON shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES)),
            Err(e) => Err(ApiError::BadRequest(format!("The request body is not valid: {}", e.body_text()))),
        }
    }
}

#[cfg(test)]
mod tests {
    /// The codes of form errors the site's API can send, read from the code that sends them
    /// (`ApiError::invalid(field, "code", …)` and store data's `required(value, field, "code", …)`).
    fn sent_codes() -> Vec<String> {
        let sources = [include_str!("settings.rs"), include_str!("store_data.rs")];
        let mut codes = Vec::new();
        for source in sources {
            for (call, position) in [("ApiError::invalid(", 1), ("required(&", 2)] {
                for (at, _) in source.match_indices(call) {
                    let args = &source[at + call.len()..];
                    let arg = args.split(',').nth(position).unwrap_or_default().trim();
                    if let Some(code) = arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
                        codes.push(code.to_owned());
                    }
                }
            }
        }
        codes
    }

    /// A form error is said in the reader's language: every code the API sends has its
    /// `invalid-<code>` line in each of the app's catalogues (`sync-check` is worded from the
    /// sync error variants, which their own test covers).
    #[test]
    fn every_form_error_code_has_words_in_every_app_language() {
        let codes = sent_codes();
        assert!(codes.len() >= 12, "the scan finds the codes: {codes:?}");
        let catalogues = [include_str!("../../../app/locales/en.ftl"), include_str!("../../../app/locales/fr.ftl")];
        for catalogue in catalogues {
            for code in codes.iter().filter(|c| *c != "sync-check") {
                let key = format!("invalid-{code} = ");
                assert!(catalogue.lines().any(|l| l.starts_with(&key)), "app catalogue lacks invalid-{code}");
            }
        }
    }
}
