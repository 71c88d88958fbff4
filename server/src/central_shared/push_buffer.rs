//! The push buffer: what a site pushed and the central has not integrated yet, per site, the
//! same table on both centrals (on the site, `sync_buffer` means records it *received*). A
//! record pushed again replaces its earlier version; integration reads a site's rows and clears
//! them in the transaction that applies them. Each site may hold at most a capped number of
//! bytes here (`--max-push-buffer-mb`), kept count of in `push_buffer_usage`, so no site can
//! fill the central's disk by pushing and never finishing.

use std::collections::HashMap;

use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use super::bulk::expand;
use crate::db::Backend;

/// One row for [`put`]: table, record id, action, owning store, the record as JSON text.
pub type PushRow<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<String>);

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

/// What a row costs against the cap: the bytes of its table name, record id and JSON text (the
/// same sum the usage migration made of rows already waiting).
fn row_bytes(table: &str, id: &str, data: Option<&str>) -> u64 {
    (table.len() + id.len() + data.map_or(0, str::len)) as u64
}

/// Upsert a batch into the site's push buffer in one statement. A record pushed twice in one
/// batch keeps its last version, as one upsert after another would. Refused with
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
    let mut adding = 0u64;
    let mut keys = Vec::with_capacity(last.len());
    let values: Vec<Value> = rows
        .into_iter()
        .enumerate()
        .filter(|(i, row)| last.get(&(row.0, row.1)) == Some(i))
        .map(|(_, (table, id, action, store, data))| {
            adding += row_bytes(table, id, data.as_deref());
            keys.push(json!([table, id]));
            json!([table, id, action, store, data])
        })
        .collect();
    if values.is_empty() {
        return Ok(());
    }
    let replaced = held_bytes(conn, backend, site_id, keys).await?;
    let delta = adding as i64 - replaced as i64;
    // Counted first, in one statement that locks the site's row, so two pushes at once cannot
    // both pass a cap that only one of them fits under.
    let held: i64 = sqlx::query_scalar(
        "INSERT INTO push_buffer_usage (site_id, bytes) VALUES ($1, $2)
         ON CONFLICT (site_id) DO UPDATE SET bytes = push_buffer_usage.bytes + excluded.bytes RETURNING bytes",
    )
    .bind(site_id)
    .bind(delta)
    .fetch_one(&mut *conn)
    .await?;
    if delta > 0 && held as u64 > cap {
        return Err(PutError::Full(BufferFull { held: (held - delta).max(0) as u64, adding: delta as u64, cap }));
    }
    // `WHERE true` keeps SQLite from reading ON CONFLICT as part of the SELECT's join.
    let sql = format!(
        "INSERT INTO push_buffer (site_id, table_name, record_id, action, store_id, data)
         SELECT $2, c0, c1, c2, c3, c4 FROM {} WHERE true
         ON CONFLICT (site_id, table_name, record_id) DO UPDATE SET action = excluded.action,
         store_id = excluded.store_id, data = excluded.data",
        expand(backend, 5)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(Value::Array(values).to_string()).bind(site_id).execute(conn).await?;
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

/// (table, record id, action, owning store, JSON text) of one buffered record.
pub type Buffered = (String, String, String, Option<String>, Option<String>);

/// The site's buffered records, ordered by table and record id.
pub async fn read(conn: &mut AnyConnection, site_id: i64) -> sqlx::Result<Vec<Buffered>> {
    let rows = sqlx::query(
        "SELECT table_name, record_id, action, store_id, data FROM push_buffer WHERE site_id = $1
         ORDER BY table_name, record_id",
    )
    .bind(site_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))).collect())
}

/// Forget the site's buffered records (once integrated), and what they counted against its cap.
pub async fn clear(conn: &mut AnyConnection, site_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM push_buffer WHERE site_id = $1").bind(site_id).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM push_buffer_usage WHERE site_id = $1").bind(site_id).execute(conn).await?;
    Ok(())
}
