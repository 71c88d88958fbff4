//! The site server's JSON API as typed functions, one per endpoint: the only place in the app
//! that knows a URL, sends the CSRF header or reads an error body. Every failure becomes a
//! [`Failure`] carrying the server's own message (and the form field it concerns), so pages can
//! always say what went wrong and what to do.

use gloo_net::http::{Method, RequestBuilder};
use outpost_api::{
    ApiErrorBody, Asset, AssetInput, CSRF_HEADER, Location, LocationInput, LoginInput, QuarantinedRecord, RunQueued,
    ServerInfo, SessionInfo, StoreData, SyncRun, SyncSettings, SyncSettingsInput, SyncStatus,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::i18n::{self, Key, t, tf};

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub variant: String,
    pub message: String,
    pub field: Option<String>,
}

impl Failure {
    fn network(e: gloo_net::Error) -> Self {
        Failure {
            variant: "NETWORK".into(),
            message: tf(Key::FailureNetwork, &[("detail", &e.to_string())]),
            field: None,
        }
    }
}

pub type Answer<T> = Result<T, Failure>;

/// `GET /api/server-info`: the address people use to reach this server, and its QR code.
pub async fn server_info() -> Answer<ServerInfo> {
    call(Method::GET, "/api/server-info", None).await
}

/// `GET /api/session`: whether this browser holds an admin session.
pub async fn session() -> Answer<SessionInfo> {
    call(Method::GET, "/api/session", None).await
}

/// `POST /api/session`: sign in as the site's admin.
pub async fn sign_in(input: &LoginInput) -> Answer<SessionInfo> {
    call(Method::POST, "/api/session", json(input)?).await.map_err(|f| match f.variant.as_str() {
        "UNAUTHENTICATED" => Failure { message: t(Key::WrongPassword).into(), ..f },
        _ => f,
    })
}

/// `DELETE /api/session`: sign out.
pub async fn sign_out() -> Answer<SessionInfo> {
    call(Method::DELETE, "/api/session", None).await
}

/// `GET /api/sync/status`: what the Sync page shows, polled.
pub async fn sync_status() -> Answer<SyncStatus> {
    call(Method::GET, "/api/sync/status", None).await
}

/// `POST /api/sync/run`: Sync now!
pub async fn run_sync() -> Answer<RunQueued> {
    call(Method::POST, "/api/sync/run", Some(EMPTY.into())).await.map_err(|f| match f.variant.as_str() {
        // The one conflict this call can meet.
        "CONFLICT" => Failure { message: t(Key::SyncDisabled).into(), ..f },
        _ => f,
    })
}

/// `GET /api/sync/history`: the last runs, newest first.
pub async fn sync_history() -> Answer<Vec<SyncRun>> {
    call(Method::GET, "/api/sync/history", None).await
}

/// `GET /api/sync/quarantine`: records integration could not apply.
pub async fn quarantine() -> Answer<Vec<QuarantinedRecord>> {
    call(Method::GET, "/api/sync/quarantine", None).await
}

/// `POST /api/sync/quarantine/retry`: integrate the quarantined records again now.
pub async fn retry_quarantine() -> Answer<RunQueued> {
    call(Method::POST, "/api/sync/quarantine/retry", Some(EMPTY.into())).await
}

/// `GET /api/settings/sync` (never the password).
pub async fn sync_settings() -> Answer<SyncSettings> {
    call(Method::GET, "/api/settings/sync", None).await
}

/// `PUT /api/settings/sync`: the server checks the details with the central before saving.
pub async fn save_sync_settings(input: &SyncSettingsInput) -> Answer<SyncSettings> {
    call(Method::PUT, "/api/settings/sync", json(input)?).await
}

/// `GET /api/store-data`: everything the Store data page shows.
pub async fn store_data() -> Answer<StoreData> {
    call(Method::GET, "/api/store-data", None).await
}

/// `POST /api/store-data/locations`
pub async fn create_location(input: &LocationInput) -> Answer<Location> {
    call(Method::POST, "/api/store-data/locations", json(input)?).await
}

/// `PUT /api/store-data/locations/{id}`
pub async fn update_location(id: &str, input: &LocationInput) -> Answer<Location> {
    call(Method::PUT, &record_url("locations", id), json(input)?).await
}

/// `DELETE /api/store-data/locations/{id}`
pub async fn delete_location(id: &str) -> Answer<()> {
    call::<Ignored>(Method::DELETE, &record_url("locations", id), None).await.map(drop)
}

/// `POST /api/store-data/assets`
pub async fn create_asset(input: &AssetInput) -> Answer<Asset> {
    call(Method::POST, "/api/store-data/assets", json(input)?).await
}

/// `PUT /api/store-data/assets/{id}`
pub async fn update_asset(id: &str, input: &AssetInput) -> Answer<Asset> {
    call(Method::PUT, &record_url("assets", id), json(input)?).await
}

/// `DELETE /api/store-data/assets/{id}`
pub async fn delete_asset(id: &str) -> Answer<()> {
    call::<Ignored>(Method::DELETE, &record_url("assets", id), None).await.map(drop)
}

/// One record of a store-data collection; the id is encoded, as record ids come from centrals.
fn record_url(collection: &str, id: &str) -> String {
    format!("/api/store-data/{collection}/{}", js_sys::encode_uri_component(id))
}

/// An answer whose body does not matter (it is still checked for an error).
type Ignored = serde::de::IgnoredAny;

/// The body of a POST that carries nothing.
const EMPTY: &str = "{}";

/// A request body as JSON text (one [`call`] per answer type, not per pair of types: the wasm
/// size budget notices).
fn json<B: Serialize>(body: &B) -> Answer<Option<String>> {
    serde_json::to_string(body).map(Some).map_err(|e| Failure {
        variant: "BAD_REQUEST".into(),
        message: tf(Key::FailureRequest, &[("detail", &e.to_string())]),
        field: None,
    })
}

/// One request, its answer decoded: only the decoding is generic, so each answer type adds its
/// parser and nothing more.
async fn call<T: DeserializeOwned>(method: Method, url: &str, body: Option<String>) -> Answer<T> {
    let text = send(method, url, body).await?;
    let text = if text.trim().is_empty() { "null" } else { &text };
    serde_json::from_str(text).map_err(|e| Failure {
        variant: "BAD_RESPONSE".into(),
        message: tf(Key::FailureResponse, &[("detail", &e.to_string())]),
        field: None,
    })
}

/// Every request says it comes from this app: the server refuses state-changing requests
/// without it (a form on another site cannot set the header), which keeps CSRF out. A refusal
/// becomes a [`Failure`] with the server's message; a success gives the body's text.
async fn send(method: Method, url: &str, body: Option<String>) -> Answer<String> {
    let request = RequestBuilder::new(url).method(method).header(CSRF_HEADER, "1");
    let sent = match body {
        Some(body) => {
            request.header("content-type", "application/json").body(body).map_err(Failure::network)?.send().await
        }
        None => request.send().await,
    };
    let response = sent.map_err(Failure::network)?;
    let status = response.status();
    let text = response.text().await.map_err(Failure::network)?;
    if response.ok() {
        return Ok(text);
    }
    match serde_json::from_str::<ApiErrorBody>(&text) {
        Ok(body) => {
            // Errors with a code, and variants whose text is fixed, are said in the reader's
            // language; the others carry details only the server knows, so its words are kept.
            let error = body.error;
            let message = in_reader_language(&error).unwrap_or(error.message);
            Err(Failure { variant: error.variant, message, field: error.field })
        }
        Err(_) => Err(Failure {
            variant: format!("HTTP_{status}"),
            message: tf(Key::FailureHttp, &[("status", &status.to_string()), ("text", &response.status_text())]),
            field: None,
        }),
    }
}

/// The error in the reader's language, when the catalogue has its code (a form error) or its
/// variant. A failed check of the sync settings is worded like the Sync page's errors.
fn in_reader_language(error: &outpost_api::ApiError) -> Option<String> {
    let param = |name: &str| error.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    match error.code.as_deref() {
        Some("sync-check") => {
            let variant = param("variant")?;
            let message = i18n::code("error", variant)?;
            let hint = i18n::code("hint", variant).unwrap_or_default();
            Some(format!("{message}. {hint} ({})", param("details").unwrap_or_default()))
        }
        Some(code) => i18n::code("invalid", code)
            .map(|text| i18n::fill(text, error.params.iter().map(|(k, v)| (k.as_str(), v.as_str())))),
        None => i18n::code("api", &error.variant).map(str::to_owned),
    }
}
