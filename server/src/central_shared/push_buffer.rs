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

/// Upsert a batch into the site's push buffer in one statement. A record pushed twice in one
/// batch keeps its last version, as one upsert after another would; a buffered copy is only
/// replaced by one at least as new.
pub async fn put(conn: &mut AnyConnection, backend: Backend, site_id: i64, rows: Vec<PushRow<'_>>) -> sqlx::Result<()> {
    let mut last = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        last.insert((row.0, row.1), i);
    }
    let values: Vec<Value> = rows
        .into_iter()
        .enumerate()
        .filter(|(i, row)| last.get(&(row.0, row.1)) == Some(i))
        .map(|(_, (table, id, action, store, data, version))| json!([table, id, action, store, data, version]))
        .collect();
    if values.is_empty() {
        return Ok(());
    }
    // `WHERE true` keeps SQLite from reading ON CONFLICT as part of the SELECT's join.
    let sql = format!(
        "INSERT INTO push_buffer (site_id, table_name, record_id, action, store_id, data, version)
         SELECT $2, c0, c1, c2, c3, c4, CAST(c5 AS BIGINT) FROM {} WHERE true
         ON CONFLICT (site_id, table_name, record_id) DO UPDATE SET action = excluded.action,
         store_id = excluded.store_id, data = excluded.data, version = excluded.version
         WHERE excluded.version = 0 OR excluded.version >= push_buffer.version",
        expand(backend, 6)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(Value::Array(values).to_string()).bind(site_id).execute(conn).await?;
    Ok(())
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

/// The site starts again from an empty database (its changelog cursors restart from the
/// beginning): forget the versions handled for it, or its new pushes would look old.
pub async fn forget_versions(conn: &mut AnyConnection, site_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM push_applied WHERE site_id = $1").bind(site_id).execute(conn).await?;
    Ok(())
}
