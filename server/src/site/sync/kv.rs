//! Typed access to `key_value_store`: the sync cursors, the settings and the site's identity.
//! Every key the engine uses is named here, once.

use sqlx::{Executor, Sqlite};

pub const CENTRAL_PULL_CURSOR: &str = "CentralSyncPullCursor";
pub const V5_PUSH_CURSOR: &str = "RemoteSyncPushCursor";
pub const V6_PULL_CURSOR: &str = "SyncPullCursorV6";
pub const V6_PUSH_CURSOR: &str = "SyncPushCursorV6";

pub const URL: &str = "SettingsSyncUrl";
pub const SITE_NAME: &str = "SettingsSyncUsername";
pub const PASSWORD_SHA256: &str = "SettingsSyncPasswordSha256";
pub const INTERVAL_SECONDS: &str = "SettingsSyncIntervalSeconds";
pub const IS_DISABLED: &str = "SettingsSyncIsDisabled";
pub const BATCH_SIZE_PUSH: &str = "SettingsSyncBatchSizePush";
pub const BATCH_SIZE_PULL: &str = "SettingsSyncBatchSizePull";

pub const SITE_UUID: &str = "SettingsSyncSiteUuid";
pub const SITE_ID: &str = "SettingsSyncSiteId";
pub const CENTRAL_SERVER_SITE_ID: &str = "SettingsSyncCentralServerSiteId";
/// This device's id, sent as `msupply-site-uuid`; generated once.
pub const HARDWARE_ID: &str = "SyncHardwareId";
/// Set when the first run succeeded (the reference derives this from sync_log; a flag cannot
/// be fooled by a disabled run that is "finished" without doing anything).
pub const IS_INITIALISED: &str = "SyncIsInitialised";
/// The Argon2id PHC string of the site's admin password (never the password).
pub const ADMIN_PASSWORD_ARGON2ID: &str = "AdminPasswordArgon2id";
/// Set when Prepare finished, so the central is asked to initialise the queue only once.
pub const QUEUE_INITIALISED: &str = "SyncQueueInitialised";
/// Set while the V6 central holds batches of this site's push that no last batch has closed
/// yet, so a run resumed after a crash still sends the last batch that makes it integrate them.
pub const V6_PUSH_UNFINISHED: &str = "SyncPushV6Unfinished";
/// Set from a push's request for integration until the refusals the central answers with its
/// idle `site_status` are recorded (the next integration replaces them on the central).
pub const V5_REFUSALS_UNREAD: &str = "SyncPushV5RefusalsUnread";
pub const V6_REFUSALS_UNREAD: &str = "SyncPushV6RefusalsUnread";

pub async fn get_string<'e>(db: impl Executor<'e, Database = Sqlite>, key: &str) -> sqlx::Result<Option<String>> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT value_string FROM key_value_store WHERE id = ?").bind(key).fetch_optional(db).await?;
    Ok(row.and_then(|r| r.0))
}

pub async fn get_int<'e>(db: impl Executor<'e, Database = Sqlite>, key: &str) -> sqlx::Result<Option<i64>> {
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT value_int FROM key_value_store WHERE id = ?").bind(key).fetch_optional(db).await?;
    Ok(row.and_then(|r| r.0))
}

pub async fn set_string<'e>(db: impl Executor<'e, Database = Sqlite>, key: &str, value: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO key_value_store (id, value_string) VALUES (?1, ?2)
         ON CONFLICT (id) DO UPDATE SET value_string = excluded.value_string",
    )
    .bind(key)
    .bind(value)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_int<'e>(db: impl Executor<'e, Database = Sqlite>, key: &str, value: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO key_value_store (id, value_int) VALUES (?1, ?2)
         ON CONFLICT (id) DO UPDATE SET value_int = excluded.value_int",
    )
    .bind(key)
    .bind(value)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn get_bool<'e>(db: impl Executor<'e, Database = Sqlite>, key: &str) -> sqlx::Result<bool> {
    Ok(get_int(db, key).await?.unwrap_or(0) != 0)
}

pub async fn set_bool<'e>(db: impl Executor<'e, Database = Sqlite>, key: &str, value: bool) -> sqlx::Result<()> {
    set_int(db, key, i64::from(value)).await
}

/// A cursor; 0 when never stored.
pub async fn cursor<'e>(db: impl Executor<'e, Database = Sqlite>, key: &str) -> sqlx::Result<u64> {
    Ok(get_int(db, key).await?.unwrap_or(0).max(0) as u64)
}

pub async fn set_cursor<'e>(db: impl Executor<'e, Database = Sqlite>, key: &str, value: u64) -> sqlx::Result<()> {
    set_int(db, key, value as i64).await
}

/// This device's hardware id, created on first use.
pub async fn hardware_id(db: &sqlx::SqlitePool) -> sqlx::Result<String> {
    if let Some(id) = get_string(db, HARDWARE_ID).await? {
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().to_string();
    // Two first callers racing must agree: keep whichever landed first.
    sqlx::query("INSERT OR IGNORE INTO key_value_store (id, value_string) VALUES (?1, ?2)")
        .bind(HARDWARE_ID)
        .bind(&id)
        .execute(db)
        .await?;
    Ok(get_string(db, HARDWARE_ID).await?.unwrap_or(id))
}
