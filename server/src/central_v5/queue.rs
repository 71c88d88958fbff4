//! Each site's outgoing queue (sync_out): filled with all of its stores' data on `initialise`,
//! added to when the central changes store data, drained by `queued_records` and emptied by
//! `acknowledged_records`. A row leaves the queue only when that same site acknowledges it.
//!
//! # Why no committed row is passed
//!
//! The queue has no cursor: a page is the oldest rows still queued, and a row leaves only when
//! the site acknowledges its `syncOutId` after storing it. A row committed late (on PostgreSQL a
//! lower id can commit after a higher one was read) is simply in the next page; nothing moves
//! past it. Order still matters for two versions of one record (the later must be applied
//! last): queue rows are written in transactions from `data::begin` (the preparation here,
//! `data::central_upsert`), which commit one after another on PostgreSQL too, so a later
//! version always has the higher id; the site applies a record's versions in that order.
//!
//! # The queue's length
//!
//! Every page answers `queueLength`, the rows still queued. It is kept in `sync_out_length`,
//! changed by every statement that adds or removes queue rows ([`added`], [`removed`]), in the
//! same transaction as the rows, rather than counted: a `COUNT(*)` per page read the whole
//! remaining queue each time, which made draining a queue quadratic in its length. On
//! PostgreSQL the counter's row lock serialises a site's acknowledgements with changes queued
//! for it, and each commits its own delta, so the count stays exact.

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::data::{self, STORE_TABLES};
use super::queue_length as length;
use crate::central_shared::activity::BusyGuard;
use crate::db::CentralDb;
use crate::wire::v5::{Action, QueuedRecord, QueuedRecords, RawJson};

/// Records copied into the queue per transaction while preparing a site.
pub const PREPARE_CHUNK: i64 = 2000;

/// Replace the site's queue with every record of the stores active on it, in dependency order;
/// returns the queue length.
///
/// Why in chunks, each its own short transaction: a preparation of a large site (500k records)
/// in one transaction held the central's write lock for all of it (SQLite's only writer; on
/// PostgreSQL the change-log lock), so every other site's pushes, acknowledgements and
/// integrations waited. Chunks are safe because nothing reads this site's queue meanwhile (the
/// site is marked initialising, and its queue routes answer "sync is running"), and each chunk
/// copies the records as they are *when it commits*, under the same lock as a change to them
/// (`data::begin`): a record changed during the preparation is either copied after the change
/// (its new data) or queued again by the change after the copy (a higher id, applied last).
///
/// Every transaction first checks that `claim` is still this replica's (`BusyGuard::fence`,
/// failing with `ClaimLost` when not): a preparation taken over by another replica (this one
/// stalled past its lease) stops rather than run beside the new one and queue records twice.
pub async fn initialise(
    db: &CentralDb,
    site_id: i64,
    pause: std::time::Duration,
    claim: &BusyGuard,
) -> anyhow::Result<u64> {
    {
        let mut tx = data::begin(db).await?;
        claim.fence(&mut tx).await?;
        sqlx::query("DELETE FROM sync_out WHERE site_id = $1").bind(site_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM sync_out_length WHERE site_id = $1").bind(site_id).execute(&mut *tx).await?;
        // A site asks to be prepared from a new database, whose changelog cursors (the versions
        // of what it pushes) start again from the beginning.
        crate::central_shared::push_buffer::forget_versions(&mut tx, site_id).await?;
        tx.commit().await?;
    }
    for table in STORE_TABLES {
        copy_table(db, site_id, table, pause, claim).await?;
    }
    // Store data of tables we do not know by name still belongs to the site.
    let known = STORE_TABLES.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(",");
    let others: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT DISTINCT table_name FROM record WHERE table_name NOT IN ({known}) AND store_id IN ({SITE_STORES})
         ORDER BY table_name"
    )))
    .bind(site_id)
    .fetch_all(&db.pool)
    .await?;
    for table in &others {
        copy_table(db, site_id, table, pause, claim).await?;
    }
    let mut conn = db.pool.acquire().await?;
    Ok(length::read(&mut conn, site_id).await?)
}

/// The stores active on site `$1`.
const SITE_STORES: &str = "SELECT s.record_id FROM record s WHERE s.table_name = 'store' AND s.active_site_id = $1";

/// Queue the site's records of `table`, [`PREPARE_CHUNK`] at a time in record id order, waiting
/// `pause` before each chunk (zero, except in tests that need a slow preparation).
async fn copy_table(
    db: &CentralDb,
    site_id: i64,
    table: &str,
    pause: std::time::Duration,
    claim: &BusyGuard,
) -> anyhow::Result<()> {
    let mut after = String::new();
    loop {
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let mut tx = data::begin(db).await?;
        claim.fence(&mut tx).await?;
        // Only constant SQL and placeholders are spliced in.
        let last: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT MAX(record_id) FROM (SELECT record_id FROM record WHERE table_name = $2 AND store_id IN ({SITE_STORES})
             AND record_id > $3 ORDER BY record_id LIMIT $4) chunk"
        )))
        .bind(site_id)
        .bind(table)
        .bind(&after)
        .bind(PREPARE_CHUNK)
        .fetch_one(&mut *tx)
        .await?;
        let Some(last) = last else { return Ok(()) };
        let copied = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO sync_out (site_id, table_name, record_id, action, data)
             SELECT $1, table_name, record_id, 'update', data FROM record
             WHERE table_name = $2 AND store_id IN ({SITE_STORES}) AND record_id > $3 AND record_id <= $4
             ORDER BY record_id"
        )))
        .bind(site_id)
        .bind(table)
        .bind(&after)
        .bind(&last)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        length::added(&mut tx, site_id, copied).await?;
        tx.commit().await?;
        after = last;
    }
}

fn parse_action(action: &str) -> Action {
    match action {
        "insert" => Action::Insert,
        "delete" => Action::Delete,
        "merge" => Action::Merge,
        _ => Action::Update,
    }
}

/// The first `limit` queued records and the queue length (including them).
pub async fn read(conn: &mut AnyConnection, site_id: i64, limit: u64) -> anyhow::Result<QueuedRecords> {
    let queue_length = length::read(conn, site_id).await?;
    let rows = sqlx::query(
        "SELECT id, table_name, record_id, action, data FROM sync_out WHERE site_id = $1 ORDER BY id LIMIT $2",
    )
    .bind(site_id)
    .bind(limit as i64)
    .fetch_all(conn)
    .await?;
    let data = rows
        .iter()
        .map(|r| {
            let raw: Option<String> = r.get(4);
            Ok(QueuedRecord {
                sync_out_id: r.get::<i64, _>(0).to_string(),
                table_name: r.get(1),
                record_id: r.get(2),
                action: parse_action(&r.get::<String, _>(3)),
                record_data: raw.map(RawJson::from_string).transpose()?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(QueuedRecords { queue_length, data })
}

/// Remove acknowledged rows of this site's queue. Ids of other sites' rows, and ids that are
/// not numbers, match nothing: a site can only ever shorten its own queue.
pub async fn acknowledge(db: &CentralDb, site_id: i64, ids: &[String]) -> anyhow::Result<u64> {
    let ids: Vec<i64> = ids.iter().filter_map(|s| s.trim().parse().ok()).collect();
    let mut tx = db.begin_write().await?;
    let mut removed = 0;
    for chunk in ids.chunks(500) {
        let placeholders = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(",");
        let sql = format!("DELETE FROM sync_out WHERE site_id = $1 AND id IN ({placeholders})");
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(site_id);
        for id in chunk {
            q = q.bind(*id);
        }
        removed += q.execute(&mut *tx).await?.rows_affected();
    }
    length::removed(&mut tx, site_id, removed).await?;
    tx.commit().await?;
    Ok(removed)
}
