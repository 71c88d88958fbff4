//! The site's HTTP surface: the JSON API under `/api`, and the browser app for every other
//! path (client-side routes fall back to `index.html`).
//!
//! Who may do what: the Sync page's data (`/api/sync/status`, `/api/sync/run`, the quarantine
//! list), health, server info and reading store data are open to anyone who can reach the
//! server; sync settings, store-data writes and the quarantine retry need an admin session
//! (`session::Admin`). Every state-changing request passes the CSRF guard first.

use std::path::Path;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use outpost_api::Health;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use super::error::{ApiError, MAX_BODY_BYTES};
use super::host::{self, AllowedHosts};
use super::{SiteState, server_info, session, settings, store_data, sync};

/// `hosts` guards everything, the app included: a rebound page must not even load it.
/// `app_dir`: serve the app from this folder (`--app-dir`); `None`: the app inside the binary.
pub fn router(state: SiteState, app_dir: Option<&Path>, hosts: AllowedHosts) -> Router {
    let readiness = crate::readiness::Readiness::default();
    let ready = move |State(state): State<SiteState>| async move {
        readiness.answer(|| async { sqlx::query("SELECT 1").execute(&state.db).await.map(|_| ()) }).await
    };
    let api = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/server-info", get(server_info::get))
        .nest("/sync", sync::routes())
        .nest("/settings", settings::routes())
        .nest("/store-data", store_data::routes())
        .nest("/session", session::routes())
        .fallback(|| async { ApiError::NotFound("no such API route".into()) })
        .method_not_allowed_fallback(|method: Method| async move {
            ApiError::MethodNotAllowed(format!("{method} is not supported on this API route."))
        })
        .with_state(state)
        .layer(middleware::from_fn(session::csrf_guard))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CompressionLayer::new());
    let routes = Router::new().nest("/api", api);
    let routes = match app_dir {
        Some(dir) => routes.fallback_service(
            ServeDir::new(dir).precompressed_br().precompressed_gzip().fallback(ServeFile::new(dir.join("index.html"))),
        ),
        None => routes.fallback(super::app::serve),
    };
    routes
        .layer(middleware::from_fn(move |req, next| host::guard(hosts.clone(), req, next)))
        .layer(middleware::map_response(forbid_framing))
        .layer(TraceLayer::new_for_http())
}

/// No other origin may frame the site (clickjacking: a page in a LAN user's browser framing
/// the Settings page under a decoy button). The host guard cannot stop it, since the site
/// answers every IP literal. Both headers: old browsers know only `X-Frame-Options`.
async fn forbid_framing(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY"));
    headers
        .insert(HeaderName::from_static("content-security-policy"), HeaderValue::from_static("frame-ancestors 'none'"));
    response
}

async fn health(State(state): State<SiteState>) -> Result<Json<Health>, ApiError> {
    sqlx::query("SELECT 1").execute(&state.db).await?;
    Ok(Json(Health { status: "ok".into(), role: "site".into(), version: env!("CARGO_PKG_VERSION").into() }))
}
