//! The V6 central's rows and change log. Every write goes through `upsert`/`delete` here, so
//! each change gets its changelog row (with its store and the site it came from) in the same
//! transaction. Also the library entry points the demo and tests use to author central data.

use serde_json::Value;
use sqlx::{Any, AnyConnection, Row, Transaction};

use crate::db::CentralDb;

/// The change log pull pages through, in cursor order.
pub const CHANGE_LOG: &str = "changelog";

/// Start a write transaction whose changelog cursors commit in order.
pub async fn begin(db: &CentralDb) -> sqlx::Result<Transaction<'static, Any>> {
    crate::central_shared::begin_ordered(db, CHANGE_LOG).await
}

/// A V6 row's owning store: its snake_case `store_id`, if any.
pub fn store_of(data: &Value) -> Option<String> {
    data.get("store_id").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

pub async fn stored_store(conn: &mut AnyConnection, table: &str, id: &str) -> sqlx::Result<Option<Option<String>>> {
    let row = sqlx::query("SELECT store_id FROM record WHERE table_name = $1 AND record_id = $2")
        .bind(table)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.get::<Option<String>, _>(0)))
}

/// Write a row and its changelog entry; returns the new cursor.
pub async fn upsert(
    conn: &mut AnyConnection,
    table: &str,
    id: &str,
    data: &Value,
    source_site_id: Option<i64>,
) -> sqlx::Result<i64> {
    let store = store_of(data);
    sqlx::query(
        "INSERT INTO record (table_name, record_id, store_id, data) VALUES ($1, $2, $3, $4)
         ON CONFLICT (table_name, record_id) DO UPDATE SET store_id = excluded.store_id, data = excluded.data",
    )
    .bind(table)
    .bind(id)
    .bind(store.as_deref())
    .bind(data.to_string())
    .execute(&mut *conn)
    .await?;
    log(conn, table, id, "upsert", store.as_deref(), source_site_id).await
}

/// Delete a row (if present) and log it with the store the row had; returns the new cursor.
pub async fn delete(
    conn: &mut AnyConnection,
    table: &str,
    id: &str,
    source_site_id: Option<i64>,
) -> sqlx::Result<Option<i64>> {
    let Some(store) = stored_store(conn, table, id).await? else {
        return Ok(None);
    };
    sqlx::query("DELETE FROM record WHERE table_name = $1 AND record_id = $2")
        .bind(table)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(Some(log(conn, table, id, "delete", store.as_deref(), source_site_id).await?))
}

async fn log(
    conn: &mut AnyConnection,
    table: &str,
    id: &str,
    action: &str,
    store: Option<&str>,
    source: Option<i64>,
) -> sqlx::Result<i64> {
    let row = sqlx::query(
        "INSERT INTO changelog (table_name, record_id, row_action, store_id, source_site_id) VALUES ($1, $2, $3, $4, $5) RETURNING cursor",
    )
    .bind(table)
    .bind(id)
    .bind(action)
    .bind(store)
    .bind(source)
    .fetch_one(conn)
    .await?;
    Ok(row.get(0))
}

/// Upsert one row on the central (authored here, so no source site); returns its cursor.
pub async fn upsert_record(db: &CentralDb, table: &str, record_id: &str, data: &Value) -> anyhow::Result<i64> {
    let mut tx = begin(db).await?;
    let cursor = upsert(&mut tx, table, record_id, data, None).await?;
    tx.commit().await?;
    Ok(cursor)
}

/// Upsert an `asset` row (snake_case, with `id` and `store_id`, like the shared fixture);
/// `source_site_id` says which site it came from (None: authored on the central).
pub async fn upsert_asset(db: &CentralDb, asset: &Value, source_site_id: Option<i64>) -> anyhow::Result<i64> {
    let id = asset.get("id").and_then(Value::as_str).ok_or_else(|| anyhow::anyhow!("asset without \"id\""))?;
    let mut tx = begin(db).await?;
    let cursor = upsert(&mut tx, "asset", id, asset, source_site_id).await?;
    tx.commit().await?;
    Ok(cursor)
}

/// Delete one row on the central; returns whether it existed.
pub async fn delete_record(db: &CentralDb, table: &str, record_id: &str) -> anyhow::Result<bool> {
    let mut tx = begin(db).await?;
    let done = delete(&mut tx, table, record_id, None).await?.is_some();
    tx.commit().await?;
    Ok(done)
}
