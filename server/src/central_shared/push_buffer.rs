//! The push buffer: what a site pushed and the central has not integrated yet, per site, the
//! same table on both centrals (on the site, `sync_buffer` means records it *received*). A
//! record pushed again replaces its earlier version; integration reads a site's rows and clears
//! them in the transaction that applies them.
//!
//! Two rules, because a push can arrive while integration runs (a duplicated or late request
//! that passed the "not integrating" check first; on PostgreSQL they run side by side):
//!
//! - **Cleared by what was read.** Every buffered copy carries its version (the site's
//!   changelog cursor of that copy, which grows with every change the site makes). Integration
//!   deletes exactly the (record, version) pairs it read ([`settle`]), never "everything of this
//!   site": a copy pushed after the read has another version and stays for the next integration.
//! - **Never older over newer.** An older copy never replaces a newer buffered one ([`put`]),
//!   and integration skips a copy older than the last one it handled for that record
//!   (`push_applied`), so a late duplicate of an older batch cannot undo a newer change. The
//!   same version again (a batch resent after a lost answer) is the same copy and applies as
//!   before; a copy without a version (0: the site sent no usable one) is never held back.
//!
//! Each site may hold at most a capped number of bytes here (`--max-push-buffer-mb`), kept count
//! of in `push_buffer_usage`, so no site can fill the central's disk by pushing and never finishing.

use std::collections::HashMap;

use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use super::bulk::expand;
use crate::db::Backend;

/// One row for [`put`]: table, record id, action, owning store, the record as JSON text, and
/// its version (the site's changelog cursor of this copy; 0 when unknown).
pub type PushRow<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<String>, i64);

/// A V5 `syncOutId` as a version: our sites send their changelog cursor; anything else is 0.
pub fn version_of(sync_out_id: &str) -> i64 {
    sync_out_id.trim().parse::<i64>().ok().filter(|v| *v > 0).unwrap_or(0)
}

/// The default of `--max-push-buffer-mb`: what one site may hold in a central's push buffer
/// before integration. Far above a usual push (500 records are well under 1 MB), so only a site
/// that pushes without ever finishing, or on purpose, meets it.
pub const DEFAULT_MAX_BYTES: u64 = 2048 * 1024 * 1024;

/// A push that would take the site's buffer past its cap; nothing of it was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferFull {
    /// Bytes the site holds already, what the batch would add, and the cap.
    pub held: u64,
    pub adding: u64,
    pub cap: u64,
}

impl std::fmt::Display for BufferFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mb = |b: u64| b.div_ceil(1024 * 1024);
        write!(
            f,
            "push buffer full: this site already has {} MB of pushed records waiting to be integrated, \
             and this batch would add {} MB, over the central's limit of {} MB per site. \
             Hint: the site keeps its records and pushes them again; the central's operator can raise \
             --max-push-buffer-mb",
            mb(self.held),
            mb(self.adding),
            mb(self.cap)
        )
    }
}

/// Why [`put`] kept nothing.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    #[error("{0}")]
    Full(BufferFull),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Upsert a batch into the site's push buffer in one statement. A record pushed twice in one
/// batch keeps its last version, as one upsert after another would, and a buffered copy is only
/// replaced by one at least as new. Refused with
/// [`PutError::Full`] when the site's buffer would grow past `cap` bytes: the caller's
/// transaction then rolls back, keeping nothing of the batch (a record replacing one already
/// buffered costs only the difference, so a site pushing the same records again never fills it).
pub async fn put(
    conn: &mut AnyConnection,
    backend: Backend,
    site_id: i64,
    rows: Vec<PushRow<'_>>,
    cap: u64,
) -> Result<(), PutError> {
    let mut last = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        last.insert((row.0, row.1), i);
    }
    let mut keys = Vec::with_capacity(last.len());
    let values: Vec<Value> = rows
        .into_iter()
        .enumerate()
        .filter(|(i, row)| last.get(&(row.0, row.1)) == Some(i))
        .map(|(_, (table, id, action, store, data, version))| {
            keys.push(json!([table, id]));
            json!([table, id, action, store, data, version])
        })
        .collect();
    if values.is_empty() {
        return Ok(());
    }
    // The site's usage row is locked first (an update to itself), so pushes of one site take
    // turns from here on and each one's before/after below sees the others' committed rows.
    sqlx::query(
        "INSERT INTO push_buffer_usage (site_id, bytes) VALUES ($1, 0)
         ON CONFLICT (site_id) DO UPDATE SET bytes = push_buffer_usage.bytes",
    )
    .bind(site_id)
    .execute(&mut *conn)
    .await?;
    // Counted from what the upsert really changed, not from what the batch offered: a copy
    // older than the buffered one is not written, and counting it as a replacement let a site
    // lower its count (below zero) while the bigger copy stayed, and then pass the cap at will.
    let before = held_bytes(conn, backend, site_id, keys.clone()).await?;
    // `WHERE true` keeps SQLite from reading ON CONFLICT as part of the SELECT's join.
    let sql = format!(
        "INSERT INTO push_buffer (site_id, table_name, record_id, action, store_id, data, version)
         SELECT $2, c0, c1, c2, c3, c4, CAST(c5 AS BIGINT) FROM {} WHERE true
         ON CONFLICT (site_id, table_name, record_id) DO UPDATE SET action = excluded.action,
         store_id = excluded.store_id, data = excluded.data, version = excluded.version
         WHERE excluded.version = 0 OR excluded.version >= push_buffer.version",
        expand(backend, 6)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(Value::Array(values).to_string())
        .bind(site_id)
        .execute(&mut *conn)
        .await?;
    let after = held_bytes(conn, backend, site_id, keys).await?;
    let delta = after as i64 - before as i64;
    let held: i64 =
        sqlx::query_scalar("UPDATE push_buffer_usage SET bytes = bytes + $2 WHERE site_id = $1 RETURNING bytes")
            .bind(site_id)
            .bind(delta)
            .fetch_one(&mut *conn)
            .await?;
    // The caller's transaction rolls back on this error, so the rows written above go too.
    if delta > 0 && held.max(0) as u64 > cap {
        return Err(PutError::Full(BufferFull { held: (held - delta).max(0) as u64, adding: delta as u64, cap }));
    }
    Ok(())
}

/// The bytes the site's buffer holds now under `keys` (each a `[table, record id]`), which the
/// batch replaces: one primary-key probe per key, as in [`super::bulk::stored_owners`].
async fn held_bytes(conn: &mut AnyConnection, backend: Backend, site_id: i64, keys: Vec<Value>) -> sqlx::Result<u64> {
    let sql = match backend {
        Backend::Postgres => format!(
            "SELECT COALESCE(SUM(octet_length(p.table_name) + octet_length(p.record_id)
             + COALESCE(octet_length(p.data), 0)), 0)::BIGINT FROM {} CROSS JOIN LATERAL
             (SELECT table_name, record_id, data FROM push_buffer
              WHERE site_id = $2 AND table_name = k.c0 AND record_id = k.c1 LIMIT 1) p",
            expand(backend, 2)
        ),
        Backend::Sqlite => format!(
            "SELECT COALESCE(SUM(length(CAST(p.table_name AS BLOB)) + length(CAST(p.record_id AS BLOB))
             + COALESCE(length(CAST(p.data AS BLOB)), 0)), 0) FROM {} CROSS JOIN push_buffer p
             WHERE p.site_id = $2 AND p.table_name = k.c0 AND p.record_id = k.c1",
            expand(backend, 2)
        ),
    };
    let held: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(Value::Array(keys).to_string())
        .bind(site_id)
        .fetch_one(conn)
        .await?;
    Ok(held.max(0) as u64)
}

/// (table, record id, action, owning store, JSON text, version) of one buffered record.
pub type Buffered = (String, String, String, Option<String>, Option<String>, i64);

/// What integration read from a site's buffer: the copies to integrate, ordered by table and
/// record id, and every (table, record id, version) read, for [`settle`].
pub struct Read {
    pub rows: Vec<Buffered>,
    read: Vec<(String, String, i64)>,
    /// Late copies older than one already handled (not in `rows`).
    pub stale: usize,
}

/// The site's buffered records, without the stale copies (see the module doc).
pub async fn read(conn: &mut AnyConnection, site_id: i64) -> sqlx::Result<Read> {
    let rows = sqlx::query(
        "SELECT b.table_name, b.record_id, b.action, b.store_id, b.data, b.version,
                COALESCE((SELECT a.version FROM push_applied a WHERE a.site_id = b.site_id
                          AND a.table_name = b.table_name AND a.record_id = b.record_id), 0)
         FROM push_buffer b WHERE b.site_id = $1 ORDER BY b.table_name, b.record_id",
    )
    .bind(site_id)
    .fetch_all(conn)
    .await?;
    let mut out = Read { rows: Vec::with_capacity(rows.len()), read: Vec::with_capacity(rows.len()), stale: 0 };
    for r in &rows {
        let (table, id, version, handled): (String, String, i64, i64) = (r.get(0), r.get(1), r.get(5), r.get(6));
        out.read.push((table.clone(), id.clone(), version));
        if version > 0 && version < handled {
            out.stale += 1;
            continue;
        }
        out.rows.push((table, id, r.get(2), r.get(3), r.get(4), version));
    }
    Ok(out)
}

/// Once integrated (in the same transaction): delete exactly the copies `read` read, and
/// remember the newest version handled per record.
pub async fn settle(conn: &mut AnyConnection, backend: Backend, site_id: i64, read: &Read) -> sqlx::Result<()> {
    if read.read.is_empty() {
        return Ok(());
    }
    let all: Vec<Value> = read.read.iter().map(|(t, id, v)| json!([t, id, v])).collect();
    // A row-value IN over the expanded list: both databases build it once (a hash or a
    // temporary index), where a correlated EXISTS would scan the list once per buffered row.
    let sql = format!(
        "DELETE FROM push_buffer WHERE site_id = $2 AND (table_name, record_id, version) IN
         (SELECT c0, c1, CAST(c2 AS BIGINT) FROM {})",
        expand(backend, 3)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(Value::Array(all).to_string()).bind(site_id).execute(&mut *conn).await?;
    recount(conn, backend, site_id).await?;
    let handled: Vec<Value> =
        read.rows.iter().filter(|r| r.5 > 0).map(|(t, id, _, _, _, v)| json!([t, id, v])).collect();
    if handled.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO push_applied (site_id, table_name, record_id, version)
         SELECT $2, c0, c1, CAST(c2 AS BIGINT) FROM {} WHERE true
         ON CONFLICT (site_id, table_name, record_id) DO UPDATE SET version = excluded.version
         WHERE excluded.version > push_applied.version",
        expand(backend, 3)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(Value::Array(handled).to_string()).bind(site_id).execute(conn).await?;
    Ok(())
}

/// Count again what the site's buffer holds against its cap, once integration removed what it read
/// (copies pushed meanwhile stay, and keep counting).
async fn recount(conn: &mut AnyConnection, backend: Backend, site_id: i64) -> sqlx::Result<()> {
    let bytes = match backend {
        Backend::Postgres => "octet_length(table_name) + octet_length(record_id) + COALESCE(octet_length(data), 0)",
        Backend::Sqlite => {
            "length(CAST(table_name AS BLOB)) + length(CAST(record_id AS BLOB)) + COALESCE(length(CAST(data AS BLOB)), 0)"
        }
    };
    let sql = format!(
        "UPDATE push_buffer_usage SET bytes = (SELECT CAST(COALESCE(SUM({bytes}), 0) AS BIGINT) FROM push_buffer
         WHERE site_id = $1) WHERE site_id = $1"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(site_id).execute(conn).await?;
    Ok(())
}

/// The site starts again from an empty database (its changelog cursors restart from the
/// beginning): forget the versions handled for it, or its new pushes would look old.
pub async fn forget_versions(conn: &mut AnyConnection, site_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM push_applied WHERE site_id = $1").bind(site_id).execute(conn).await?;
    Ok(())
}
