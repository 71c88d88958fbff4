//! The central's records and the two ways they travel to sites: central data (no owning store:
//! unit, item, name, store, ...) through the global change log, and store data (name_store_join,
//! Location, item_line, transact, trans_line) through the queue of the site the store is active
//! on. Every write goes through here, so the record table, the change log and the queues can
//! never disagree.

use serde_json::Value;
use sqlx::{Any, AnyConnection, Row, Transaction};

use crate::db::CentralDb;

/// Store-owned tables, in the dependency order a site integrates them (and we queue them).
pub const STORE_TABLES: [&str; 5] = ["name_store_join", "Location", "item_line", "transact", "trans_line"];
/// Central tables the admin commands and the seed write.
pub const CENTRAL_TABLES: [&str; 4] = ["unit", "item", "name", "store"];

/// The change log every central-data write appends to, in cursor order.
pub const CHANGE_LOG: &str = "central_change";

/// Start a write transaction whose change-log cursors commit in order.
pub async fn begin(db: &CentralDb) -> sqlx::Result<Transaction<'static, Any>> {
    crate::central_shared::begin_ordered(db, CHANGE_LOG).await
}

/// A legacy record's `ID`.
pub fn record_id_of(data: &Value) -> Option<String> {
    data.get("ID").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn str_field<'a>(data: &'a Value, field: &str) -> Option<&'a str> {
    data.get(field).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The site a store record says it is active on (`sync_id_remote_site`).
pub fn store_active_site(data: &Value) -> Option<i64> {
    data.get("sync_id_remote_site").and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok())).filter(|id| *id > 0)
}

/// Where a record belongs: `Ok(Some(store))` for store data, `Ok(None)` for central data,
/// `Err` when it should have a store and the store cannot be found.
pub async fn owning_store(
    conn: &mut AnyConnection,
    table: &str,
    data: &Value,
) -> sqlx::Result<Result<Option<String>, String>> {
    if table == "trans_line" {
        // Invoice lines carry no store: they belong to their invoice's store.
        let Some(invoice) = str_field(data, "transaction_ID") else {
            return Ok(Err("trans_line without transaction_ID".into()));
        };
        return Ok(invoice_store(conn, invoice)
            .await?
            .map(Some)
            .ok_or_else(|| format!("trans_line refers to unknown transact {invoice}")));
    }
    Ok(Ok(str_field(data, "store_ID").map(str::to_owned)))
}

async fn invoice_store(conn: &mut AnyConnection, invoice: &str) -> sqlx::Result<Option<String>> {
    let row = sqlx::query("SELECT store_id FROM record WHERE table_name = 'transact' AND record_id = $1")
        .bind(invoice)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.and_then(|r| r.get::<Option<String>, _>(0)))
}

/// The store id stored for an existing record (for deletes, which carry no data).
pub async fn stored_owner(conn: &mut AnyConnection, table: &str, id: &str) -> sqlx::Result<Option<Option<String>>> {
    let row = sqlx::query("SELECT store_id FROM record WHERE table_name = $1 AND record_id = $2")
        .bind(table)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.get::<Option<String>, _>(0)))
}

/// The site a store is active on, if any.
pub async fn site_of_store(conn: &mut AnyConnection, store_id: &str) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query("SELECT active_site_id FROM record WHERE table_name = 'store' AND record_id = $1")
        .bind(store_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.and_then(|r| r.get::<Option<i64>, _>(0)))
}

/// Ids of the stores active on a site.
pub async fn stores_of_site(conn: &mut AnyConnection, site_id: i64) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT record_id FROM record WHERE table_name = 'store' AND active_site_id = $1 ORDER BY record_id",
    )
    .bind(site_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
}

/// Insert or replace a record; returns whether it is new.
pub async fn put_record(
    conn: &mut AnyConnection,
    table: &str,
    id: &str,
    store_id: Option<&str>,
    data: &Value,
) -> sqlx::Result<bool> {
    let active_site = if table == "store" { store_active_site(data) } else { None };
    let existed = stored_owner(conn, table, id).await?.is_some();
    sqlx::query(
        "INSERT INTO record (table_name, record_id, store_id, active_site_id, data) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (table_name, record_id) DO UPDATE SET store_id = excluded.store_id,
         active_site_id = excluded.active_site_id, data = excluded.data",
    )
    .bind(table)
    .bind(id)
    .bind(store_id)
    .bind(active_site)
    .bind(data.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(!existed)
}

pub async fn remove_record(conn: &mut AnyConnection, table: &str, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM record WHERE table_name = $1 AND record_id = $2")
        .bind(table)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn log_central_change(
    conn: &mut AnyConnection,
    table: &str,
    id: &str,
    action: &str,
    data: Option<&Value>,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO central_change (table_name, record_id, action, data) VALUES ($1, $2, $3, $4)")
        .bind(table)
        .bind(id)
        .bind(action)
        .bind(data.map(Value::to_string))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn enqueue(
    conn: &mut AnyConnection,
    site_id: i64,
    table: &str,
    id: &str,
    action: &str,
    data: Option<&Value>,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO sync_out (site_id, table_name, record_id, action, data) VALUES ($1, $2, $3, $4, $5)")
        .bind(site_id)
        .bind(table)
        .bind(id)
        .bind(action)
        .bind(data.map(Value::to_string))
        .execute(&mut *conn)
        .await?;
    super::queue_length::added(conn, site_id, 1).await
}

/// A change authored on the central (admin command, seed): store it and send it on its way,
/// through the change log (central data) or the owning site's queue (store data).
pub async fn central_upsert(conn: &mut AnyConnection, table: &str, data: &Value) -> anyhow::Result<String> {
    let id = record_id_of(data).ok_or_else(|| anyhow::anyhow!("{table} record without an \"ID\""))?;
    let store = owning_store(conn, table, data).await?.map_err(anyhow::Error::msg)?;
    let is_new = put_record(conn, table, &id, store.as_deref(), data).await?;
    let action = if is_new { "insert" } else { "update" };
    match store {
        None => log_central_change(conn, table, &id, action, Some(data)).await?,
        Some(store) => {
            if let Some(site) = site_of_store(conn, &store).await? {
                enqueue(conn, site, table, &id, action, Some(data)).await?;
            }
        }
    }
    Ok(id)
}

/// Delete a record authored on the central; returns whether it existed.
pub async fn central_delete(conn: &mut AnyConnection, table: &str, id: &str) -> anyhow::Result<bool> {
    let Some(store) = stored_owner(conn, table, id).await? else {
        return Ok(false);
    };
    remove_record(conn, table, id).await?;
    match store {
        None => log_central_change(conn, table, id, "delete", None).await?,
        Some(store) => {
            if let Some(site) = site_of_store(conn, &store).await? {
                enqueue(conn, site, table, id, "delete", None).await?;
            }
        }
    }
    Ok(true)
}
