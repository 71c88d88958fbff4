//! Admin sign-in for the site's browser app: `POST /api/session` (login), `DELETE` (logout),
//! `GET` (who am I), the [`Admin`] extractor that guards settings and store-data writes, and the
//! CSRF guard on every state-changing request.
//!
//! Why this is CSRF-safe: the session cookie is `SameSite=Strict` (a browser does not send it
//! from another site's page), and every POST/PUT/DELETE/PATCH must also carry either a JSON
//! content type or the `x-outpost-csrf` header, neither of which a plain HTML form can send
//! cross-site without a CORS preflight, which this server never grants.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use outpost_api::{CSRF_HEADER, LoginInput, SessionInfo};

use super::SiteState;
use super::admin;
use super::error::{ApiError, ApiJson};

pub const COOKIE_NAME: &str = "outpost_session";

/// Routes under `/api/session`.
pub fn routes() -> Router<SiteState> {
    Router::new().route("/", get(who_am_i).post(login).delete(logout))
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn cookie(token: &str, max_age: u64) -> HeaderValue {
    // Not `Secure`: sites are reached over plain HTTP on their LAN; put HTTPS in front to add it.
    HeaderValue::from_str(&format!("{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}"))
        .unwrap_or_else(|_| HeaderValue::from_static("outpost_session=; Max-Age=0; Path=/"))
}

async fn who_am_i(State(state): State<SiteState>, headers: HeaderMap) -> Result<Json<SessionInfo>, ApiError> {
    let admin = match session_token(&headers) {
        Some(token) => admin::session_is_valid(&state.db, &token).await?,
        None => false,
    };
    Ok(Json(SessionInfo { admin }))
}

async fn login(
    State(state): State<SiteState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(input): ApiJson<LoginInput>,
) -> Result<Response, ApiError> {
    // Counted before the (slow) verification and refunded on success, so parallel guesses
    // cannot all pass the check before any of them is recorded.
    let keys = [crate::ratelimit::address_key(peer.ip())];
    let too_many = |wait| ApiError::TooManyRequests(crate::ratelimit::retry_after_seconds(wait));
    state.login_failures.check(&keys).map_err(too_many)?;
    let verified = state
        .login_failures
        .counted(&keys, async {
            let verified = admin::verify_password(&state.db, &input.password).await;
            // An internal error is not a guess.
            let failed = matches!(verified, Ok(false));
            (verified, failed)
        })
        .await
        .map_err(|refusal| match refusal {
            crate::ratelimit::Refusal::TooMany(wait) => too_many(wait),
            // Never: the site's limiter is in memory.
            crate::ratelimit::Refusal::Unavailable => too_many(std::time::Duration::from_secs(1)),
        })??;
    if !verified {
        tracing::info!("admin login failed");
        return Err(ApiError::Unauthenticated("Wrong admin password.".into()));
    }
    let token = admin::open_session(&state.db).await?;
    tracing::info!("admin signed in");
    let mut response = Json(SessionInfo { admin: true }).into_response();
    response.headers_mut().insert(SET_COOKIE, cookie(&token, admin::SESSION_LIFETIME.as_secs()));
    Ok(response)
}

async fn logout(State(state): State<SiteState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = session_token(&headers) {
        admin::close_session(&state.db, &token).await?;
    }
    let mut response = Json(SessionInfo { admin: false }).into_response();
    response.headers_mut().insert(SET_COOKIE, cookie("", 0));
    Ok(response)
}

/// Proof that the request comes from a signed-in admin; a handler that takes it is guarded.
pub struct Admin;

impl FromRequestParts<SiteState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SiteState) -> Result<Self, Self::Rejection> {
        match session_token(&parts.headers) {
            Some(token) if admin::session_is_valid(&state.db, &token).await? => Ok(Admin),
            _ => Err(ApiError::Unauthenticated("Sign in as the site's admin to do this.".into())),
        }
    }
}

/// Refuse state-changing requests that carry neither a JSON content type nor the CSRF header.
pub async fn csrf_guard(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let has_header = headers.get(CSRF_HEADER).is_some_and(|v| v.as_bytes() == b"1");
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if has_header || is_json {
        next.run(request).await
    } else {
        ApiError::Forbidden(format!("State-changing requests must send a JSON body or the header `{CSRF_HEADER}: 1`."))
            .into_response()
    }
}
