//! Sync settings: stored in `key_value_store`, validated against the V5 central before they are
//! saved, and served by `GET`/`PUT /api/settings/sync`. The password is kept only as the
//! SHA-256 hex the wire needs, and never leaves the server.
//!
//! [`save`] is also the in-process way to configure a site (the demo uses it).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use outpost_api::{SyncSettings, SyncSettingsInput};
use sqlx::SqlitePool;

use super::SiteState;
use super::error::{ApiError, ApiJson};
use super::session::Admin;
use super::sync::errors::{RunError, Variant};
use super::sync::kv;

pub const DEFAULT_INTERVAL_SECONDS: u64 = 300;
pub const DEFAULT_BATCH_SIZE_PUSH: u32 = 1024;
pub const DEFAULT_BATCH_SIZE_PULL: u32 = 500;
const MAX_BATCH_SIZE: u32 = 10_000;
const MAX_INTERVAL_SECONDS: u64 = 7 * 24 * 3600;

/// The settings as the engine uses them.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub url: String,
    pub site_name: String,
    pub password_sha256: String,
    pub interval_seconds: u64,
    pub batch_size_push: u32,
    pub batch_size_pull: u32,
    pub is_disabled: bool,
}

/// The saved settings, or `None` while sync has not been configured.
pub async fn load(db: &SqlitePool) -> sqlx::Result<Option<Stored>> {
    let (Some(url), Some(site_name), Some(password_sha256)) = (
        kv::get_string(db, kv::URL).await?,
        kv::get_string(db, kv::SITE_NAME).await?,
        kv::get_string(db, kv::PASSWORD_SHA256).await?,
    ) else {
        return Ok(None);
    };
    let int = |v: Option<i64>, default: u64| v.map(|v| v.max(1) as u64).unwrap_or(default);
    Ok(Some(Stored {
        url,
        site_name,
        password_sha256,
        interval_seconds: int(kv::get_int(db, kv::INTERVAL_SECONDS).await?, DEFAULT_INTERVAL_SECONDS),
        batch_size_push: int(kv::get_int(db, kv::BATCH_SIZE_PUSH).await?, DEFAULT_BATCH_SIZE_PUSH.into()) as u32,
        batch_size_pull: int(kv::get_int(db, kv::BATCH_SIZE_PULL).await?, DEFAULT_BATCH_SIZE_PULL.into()) as u32,
        is_disabled: kv::get_bool(db, kv::IS_DISABLED).await?,
    }))
}

fn to_api(stored: Option<Stored>) -> SyncSettings {
    match stored {
        Some(s) => SyncSettings {
            url: s.url,
            site_name: s.site_name,
            interval_seconds: s.interval_seconds,
            batch_size_push: s.batch_size_push,
            batch_size_pull: s.batch_size_pull,
            is_disabled: s.is_disabled,
            has_password: true,
        },
        None => SyncSettings {
            interval_seconds: DEFAULT_INTERVAL_SECONDS,
            batch_size_push: DEFAULT_BATCH_SIZE_PUSH,
            batch_size_pull: DEFAULT_BATCH_SIZE_PULL,
            ..SyncSettings::default()
        },
    }
}

/// Routes under `/api/settings`.
pub fn routes() -> Router<SiteState> {
    Router::new().route("/sync", get(get_settings).put(put_settings))
}

async fn get_settings(_: Admin, State(state): State<SiteState>) -> Result<Json<SyncSettings>, ApiError> {
    Ok(Json(to_api(load(&state.db).await?)))
}

async fn put_settings(
    _: Admin,
    State(state): State<SiteState>,
    ApiJson(input): ApiJson<SyncSettingsInput>,
) -> Result<Json<SyncSettings>, ApiError> {
    save(&state, input).await.map(Json)
}

/// Validate and store `input` (see [`store`]), then start a run.
pub async fn save(state: &SiteState, input: SyncSettingsInput) -> Result<SyncSettings, ApiError> {
    let start_run = !input.is_disabled;
    let saved = store(state, input).await?;
    if start_run {
        state.sync.trigger();
    }
    Ok(saved)
}

/// Validate `input` (shape, then with the V5 central when the credentials changed) and store
/// it, without starting a run (the demo prepares a site that waits for its first Sync now!).
/// Bad input is a 422 naming the field.
pub async fn store(state: &SiteState, input: SyncSettingsInput) -> Result<SyncSettings, ApiError> {
    let db = &state.db;
    let url = input.url.trim().trim_end_matches('/').to_owned();
    let parsed =
        reqwest::Url::parse(&url).map_err(|e| ApiError::invalid("url", "url", &[], format!("Invalid url: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ApiError::invalid("url", "url", &[], "Invalid url: use http://host:port or https://host"));
    }
    let site_name = input.site_name.trim().to_owned();
    if site_name.is_empty() {
        return Err(ApiError::invalid("siteName", "site-name", &[], "Enter the site name"));
    }
    if input.interval_seconds < 1 || input.interval_seconds > MAX_INTERVAL_SECONDS {
        return Err(ApiError::invalid(
            "intervalSeconds",
            "interval",
            &[("max", MAX_INTERVAL_SECONDS.to_string())],
            format!("The interval must be between 1 and {MAX_INTERVAL_SECONDS} seconds"),
        ));
    }
    let batch = |field: &str, v: Option<u32>, default: u32| match v.unwrap_or(default) {
        n if (1..=MAX_BATCH_SIZE).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(
            field,
            "batch-size",
            &[("max", MAX_BATCH_SIZE.to_string())],
            format!("The batch size must be between 1 and {MAX_BATCH_SIZE}"),
        )),
    };
    let batch_size_push = batch("batchSizePush", input.batch_size_push, DEFAULT_BATCH_SIZE_PUSH)?;
    let batch_size_pull = batch("batchSizePull", input.batch_size_pull, DEFAULT_BATCH_SIZE_PULL)?;

    let previous = load(db).await?;
    // An empty password keeps the saved one, so changing only the interval needs no retyping;
    // but never for a new URL or site name: the saved hash is this site's credential and must
    // not be sent to another server.
    let password_sha256 = match (input.password.is_empty(), &previous) {
        (false, _) => crate::wire::v5::password_sha256(&input.password),
        (true, Some(p)) if p.url == url && p.site_name == site_name => p.password_sha256.clone(),
        (true, Some(_)) => {
            return Err(ApiError::invalid(
                "password",
                "password-again",
                &[],
                "Enter the site password again: the URL or site name changed",
            ));
        }
        (true, None) => return Err(ApiError::invalid("password", "password", &[], "Enter the site password")),
    };
    let credentials_changed = previous
        .as_ref()
        .is_none_or(|p| p.url != url || p.site_name != site_name || p.password_sha256 != password_sha256);

    if credentials_changed {
        let client = state.sync.v5_client(&url, &site_name, &password_sha256).await?;
        let info = client.site_info().await.map_err(|e| {
            let run = RunError::call("Error while checking the sync settings", &e);
            settings_error(&run)
        })?;
        let initialised = state.sync.is_initialised();
        let known_uuid = kv::get_string(db, kv::SITE_UUID).await?;
        if initialised && known_uuid.as_deref().is_some_and(|u| u != info.id) {
            return Err(ApiError::invalid(
                "siteName",
                "other-site",
                &[("name", info.name.clone())],
                format!(
                    "{}: this server holds the data of another site; these settings belong to site {:?}",
                    Variant::SiteUuidIsBeingChanged.message(),
                    info.name
                ),
            ));
        }
        kv::set_string(db, kv::SITE_UUID, &info.id).await?;
        kv::set_int(db, kv::SITE_ID, info.site_id).await?;
    }

    // The status API answers `configured` from the engine's copy, not from the database.
    let saved = state
        .sync
        .read_settings(async {
            let mut tx = db.begin().await?;
            kv::set_string(&mut *tx, kv::URL, &url).await?;
            kv::set_string(&mut *tx, kv::SITE_NAME, &site_name).await?;
            kv::set_string(&mut *tx, kv::PASSWORD_SHA256, &password_sha256).await?;
            kv::set_int(&mut *tx, kv::INTERVAL_SECONDS, input.interval_seconds as i64).await?;
            kv::set_int(&mut *tx, kv::BATCH_SIZE_PUSH, batch_size_push.into()).await?;
            kv::set_int(&mut *tx, kv::BATCH_SIZE_PULL, batch_size_pull.into()).await?;
            kv::set_bool(&mut *tx, kv::IS_DISABLED, input.is_disabled).await?;
            tx.commit().await?;
            load(db).await
        })
        .await?;
    Ok(to_api(saved))
}

/// A failed check against the central, as a 422 on the field a person should fix.
fn settings_error(e: &RunError) -> ApiError {
    let field = match e.variant {
        Variant::SiteNameNotFound | Variant::HardwareIdMismatch | Variant::SiteHasNoStore => "siteName",
        Variant::IncorrectPassword => "password",
        _ => "url",
    };
    // The app words the variant (`error-`/`hint-` like the Sync page) and keeps the details.
    ApiError::invalid(
        field,
        "sync-check",
        &[("variant", e.variant.code().to_owned()), ("details", e.full.clone())],
        format!("{}. {} ({})", e.variant.message(), e.variant.hint(), e.full),
    )
}
