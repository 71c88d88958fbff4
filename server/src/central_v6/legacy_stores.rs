//! Which site each store is active on, learnt the way the reference's V6 central learns it: as a
//! V5 client of the legacy central (reference 3.4, "Other duties"). The V6 central is registered
//! at the legacy central as a site of its own (no stores); with those credentials it calls
//! `GET /sync/v5/site` (to sign in, as every run of the reference's synchroniser does first) and
//! pages through `GET /sync/v5/central_records` (Pull Central), keeping the `store` records'
//! `sync_id_remote_site`. Nothing beyond the reference's V5 routes is asked of the legacy central.
//!
//! Freshness: the mapping is brought up to date whenever a site's credentials are checked anew
//! with the legacy central (its first call after the credential cache expired), otherwise at
//! most every [`REFRESH_AFTER`] when a site calls (a page with nothing new is one small GET), and
//! always before a push is integrated, so the integration's re-check of ownership uses the
//! stores as the legacy central has them then. When
//! the legacy central cannot be reached, the mapping last learnt is used, and the failure logged.
//!
//! Replicas: the mapping and the cursor of what was learnt are rows of the shared database, read
//! on every call, so every replica sees what any of them learnt; only the time of the last
//! refresh is per process, so with several replicas the mapping may be refreshed a little more
//! often, never less.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{AnyConnection, Row};
use tokio::sync::Mutex;

use super::V6State;
use crate::db::CentralDb;
use crate::wire::client::Timeouts;
use crate::wire::v5::{self, Action};
use crate::wire::v5_client::{V5Client, V5Credentials};

/// How stale the mapping may be when a site calls.
pub const REFRESH_AFTER: Duration = Duration::from_secs(2);
/// Page size of the V6 central's Pull Central: larger than the reference's 500, since it keeps
/// only the store records and its first pull reads the whole change log while sites wait.
const PAGE: u32 = 5000;
const CURSOR_KEY: &str = "central_records_cursor";
const HARDWARE_ID_KEY: &str = "hardware_id";

/// The V6 central's own site at the legacy central.
#[derive(Debug, Clone)]
pub struct LegacySite {
    pub name: String,
    pub password_sha256: String,
}

/// Follows the legacy central's `store` records; one refresh at a time.
#[derive(Clone)]
pub struct LegacyStores {
    site: Option<LegacySite>,
    /// When the last refresh began; held while a refresh runs, so callers share it.
    last: Arc<Mutex<Option<Instant>>>,
}

/// Why a refresh failed (logged; the mapping last learnt stays in use).
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(
        "this central has no site of its own at the legacy central (start it with --legacy-site-name and --legacy-site-password)"
    )]
    NotRegistered,
    #[error("the legacy central refused or failed: {0}")]
    Legacy(#[from] crate::wire::client::CallError),
    #[error("cannot store what the legacy central said: {0}")]
    Db(#[from] sqlx::Error),
    #[error("a store record from the legacy central is not JSON: {0}")]
    Record(#[from] serde_json::Error),
}

impl LegacyStores {
    pub fn new(site: Option<LegacySite>) -> Self {
        LegacyStores { site, last: Default::default() }
    }

    pub fn is_registered(&self) -> bool {
        self.site.is_some()
    }

    /// Refresh when the mapping is older than [`REFRESH_AFTER`], or, with `always`, unless a
    /// refresh began after this call did (it saw everything committed before): callers arriving
    /// together share one. A failure is logged and the mapping last learnt stays in use.
    pub async fn refresh(&self, state: &V6State, always: bool) {
        let asked = Instant::now();
        let mut last = self.last.lock().await;
        let fresh_enough = match *last {
            None => false,
            Some(began) if always => began >= asked,
            Some(began) => began.elapsed() < REFRESH_AFTER,
        };
        if fresh_enough {
            return;
        }
        // A failure counts as a refresh too: during an outage the callers waiting here must not
        // each wait for their own failed attempt.
        *last = Some(Instant::now());
        match self.pull_central(state).await {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot update the store → site mapping from the legacy central; using the one last learnt")
            }
        }
    }

    /// The reference's pre-step and Pull Central, keeping only what the V6 central needs.
    async fn pull_central(&self, state: &V6State) -> Result<(), RefreshError> {
        let site = self.site.as_ref().ok_or(RefreshError::NotRegistered)?;
        let hardware_id = hardware_id(&state.db).await?;
        let creds = V5Credentials {
            url: state.legacy_url.clone(),
            site_name: site.name.clone(),
            password_sha256: site.password_sha256.clone(),
            hardware_id,
            api_version: v5::API_VERSION,
        };
        let timeouts = Timeouts { connect: vec![Duration::from_secs(5)], idle_read: Duration::from_secs(60) };
        let client = V5Client::new(creds, &timeouts, None);
        client.site_info().await?;
        let mut cursor = read_key(&state.db, CURSOR_KEY).await?.and_then(|c| c.parse::<u64>().ok()).unwrap_or(0);
        loop {
            let page = client.central_records(cursor, PAGE).await?;
            let mut tx = state.db.begin_write().await?;
            for record in &page.data {
                if record.table_name == "store" {
                    let data = record.record_data.as_ref().map(|raw| raw.to_value());
                    let site_id = match (record.action, &data) {
                        (Action::Delete, _) | (_, None) => None,
                        (_, Some(data)) => crate::central_v5::data::store_active_site(data),
                    };
                    put_store(&mut tx, &record.record_id, record.action, site_id).await?;
                }
            }
            let last = page.data.last().map(|r| r.id);
            let done = page.data.is_empty() && cursor >= page.max_cursor;
            // As the reference's loop: an empty page below maxCursor is a gap, stepped over.
            cursor = match last {
                Some(id) => id,
                None if done => cursor,
                None => cursor + 1,
            };
            write_key(&mut tx, CURSOR_KEY, &cursor.to_string()).await?;
            tx.commit().await?;
            if done || cursor >= page.max_cursor {
                return Ok(());
            }
        }
    }
}

async fn put_store(conn: &mut AnyConnection, store_id: &str, action: Action, site_id: Option<i64>) -> sqlx::Result<()> {
    if action == Action::Delete {
        sqlx::query("DELETE FROM legacy_store WHERE store_id = $1").bind(store_id).execute(conn).await?;
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO legacy_store (store_id, site_id) VALUES ($1, $2)
         ON CONFLICT (store_id) DO UPDATE SET site_id = excluded.site_id",
    )
    .bind(store_id)
    .bind(site_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The stores active on `site_id`, as last learnt from the legacy central.
pub async fn stores_of_site(db: &CentralDb, site_id: i64) -> sqlx::Result<Vec<String>> {
    let mut conn = db.pool.acquire().await?;
    stores_of_site_in(&mut conn, site_id).await
}

/// [`stores_of_site`] on `conn` (inside a transaction: as that transaction sees them).
pub async fn stores_of_site_in(conn: &mut AnyConnection, site_id: i64) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query("SELECT store_id FROM legacy_store WHERE site_id = $1 ORDER BY store_id")
        .bind(site_id)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
}

async fn read_key(db: &CentralDb, key: &str) -> sqlx::Result<Option<String>> {
    let row = sqlx::query("SELECT value FROM legacy_client WHERE key = $1").bind(key).fetch_optional(&db.pool).await?;
    Ok(row.map(|r| r.get(0)))
}

async fn write_key(conn: &mut AnyConnection, key: &str, value: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO legacy_client (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(conn)
    .await?;
    Ok(())
}

/// This central's device id at the legacy central: made once per database and kept, since the
/// legacy central binds the site to the first one it sees.
pub async fn hardware_id(db: &CentralDb) -> sqlx::Result<String> {
    if let Some(id) = read_key(db, HARDWARE_ID_KEY).await? {
        return Ok(id);
    }
    let mut tx = db.begin_write().await?;
    let fresh = format!("outpost-central-{}", uuid::Uuid::new_v4().simple());
    sqlx::query("INSERT INTO legacy_client (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
        .bind(HARDWARE_ID_KEY)
        .bind(&fresh)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(read_key(db, HARDWARE_ID_KEY).await?.unwrap_or(fresh))
}
