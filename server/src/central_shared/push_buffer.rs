//! The push buffer: what a site pushed and the central has not integrated yet, per site, the
//! same table on both centrals (on the site, `sync_buffer` means records it *received*). A
//! record pushed again replaces its earlier version; integration reads a site's rows and clears
//! them in the transaction that applies them.

use std::collections::HashMap;

use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use super::bulk::expand;
use crate::db::Backend;

/// One row for [`put`]: table, record id, action, owning store, the record as JSON text.
pub type PushRow<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<String>);

/// Upsert a batch into the site's push buffer in one statement. A record pushed twice in one
/// batch keeps its last version, as one upsert after another would.
pub async fn put(conn: &mut AnyConnection, backend: Backend, site_id: i64, rows: Vec<PushRow<'_>>) -> sqlx::Result<()> {
    let mut last = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        last.insert((row.0, row.1), i);
    }
    let values: Vec<Value> = rows
        .into_iter()
        .enumerate()
        .filter(|(i, row)| last.get(&(row.0, row.1)) == Some(i))
        .map(|(_, (table, id, action, store, data))| json!([table, id, action, store, data]))
        .collect();
    if values.is_empty() {
        return Ok(());
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

/// Forget the site's buffered records (once integrated).
pub async fn clear(conn: &mut AnyConnection, site_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM push_buffer WHERE site_id = $1").bind(site_id).execute(conn).await?;
    Ok(())
}
