//! `POST /sync/v5/queued_records`: what a site pushes. Each batch is checked (a site may only
//! push data of the stores active on it) and kept in the site's push buffer; the final empty
//! batch (`queueLength` 0) starts integration into the central's tables in the background,
//! during which the site sees `integration_in_progress` / `sync_is_running`.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::{AnyConnection, Row};

use super::V5State;
use super::bulk;
use super::data::{self, STORE_TABLES};
use super::error::{V5Error, V5Result};
use super::sites::SiteRow;
use crate::central_shared::bulk::{Owners, stored_owners};
use crate::central_shared::push_buffer::{self, Buffered};
use crate::wire::v5::{PushAction, PushRecord, PushRequest, PushResponse};

async fn buffered_invoice_store(conn: &mut AnyConnection, site_id: i64, invoice: &str) -> sqlx::Result<Option<String>> {
    let row = sqlx::query(
        "SELECT store_id FROM push_buffer WHERE site_id = $1 AND table_name = 'transact' AND record_id = $2",
    )
    .bind(site_id)
    .bind(invoice)
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|r| r.get::<Option<String>, _>(0)))
}

/// The store a pushed record belongs to, looking for a trans_line's invoice in this batch,
/// then in what the site pushed before, then in the central's tables.
async fn pushed_owner(
    conn: &mut AnyConnection,
    site_id: i64,
    batch_invoices: &HashMap<String, Option<String>>,
    previous: &Owners,
    record: &PushRecord,
) -> V5Result<Option<String>> {
    let (table, record_id, data) = (record.table_name.as_str(), record.record_id.as_str(), record.record_data.as_ref());
    if record.action == PushAction::Delete || data.is_none() {
        return Ok(previous.get(&(table.to_owned(), record_id.to_owned())).cloned().flatten());
    }
    let data = data.unwrap_or(&Value::Null);
    if table == "trans_line"
        && let Some(invoice) = data.get("transaction_ID").and_then(Value::as_str)
    {
        if let Some(store) = batch_invoices.get(invoice) {
            return Ok(store.clone());
        }
        if let Some(store) = buffered_invoice_store(conn, site_id, invoice).await? {
            return Ok(Some(store));
        }
    }
    data::owning_store(conn, table, data)
        .await?
        .map_err(|e| V5Error::RecordRejected(format!("{table} {record_id}: {e}")))
}

/// Check and buffer one batch; start integration on the final empty batch.
pub async fn receive(state: &V5State, site: &SiteRow, request: PushRequest) -> V5Result<PushResponse> {
    let mut tx = state.db.begin_write().await?;
    let stores = data::stores_of_site(&mut tx, site.site_id).await?;
    // What the batch's records belong to today, looked up once for the whole batch (records
    // earlier in this batch are only buffered, so this is what a lookup per record would see).
    let keys = request.data.iter().map(|r| (r.table_name.as_str(), r.record_id.as_str()));
    let previous = stored_owners(&mut tx, state.db.backend, keys).await?;
    let mut batch_invoices = HashMap::new();
    let mut checked = Vec::with_capacity(request.data.len());
    for record in &request.data {
        if record.action == PushAction::Update && record.record_data.is_none() {
            return Err(V5Error::BadRequest(format!(
                "{} {}: Update without recordData",
                record.table_name, record.record_id
            )));
        }
        let store = pushed_owner(&mut tx, site.site_id, &batch_invoices, &previous, record).await?;
        let rejected =
            |why: String| V5Error::RecordRejected(format!("{} {}: {why}", record.table_name, record.record_id));
        if let Some(store) = &store
            && !stores.contains(store)
        {
            return Err(rejected(format!("store {store} is not active on site {}", site.name)));
        }
        // Nor may it take over a record that today belongs to another site's store.
        if let Some(Some(previous)) = previous.get(&(record.table_name.clone(), record.record_id.clone()))
            && !stores.contains(previous)
        {
            return Err(rejected(format!("record belongs to store {previous}, not active on site {}", site.name)));
        }
        if record.table_name == "store" {
            // Store records are central data; a site may only touch its own stores, and may
            // not move them to another site.
            if !stores.contains(&record.record_id) {
                return Err(rejected(format!("store is not active on site {}", site.name)));
            }
            if let Some(data) = &record.record_data
                && data::store_active_site(data) != Some(site.site_id)
            {
                return Err(rejected("sync_id_remote_site must stay this site's id".into()));
            }
        }
        if record.table_name == "transact" {
            batch_invoices.insert(record.record_id.clone(), store.clone());
        }
        checked.push((record, store));
    }
    let rows = checked
        .iter()
        .map(|(record, store)| {
            let action = match record.action {
                PushAction::Update => "update",
                PushAction::Delete => "delete",
            };
            let data = record.record_data.as_ref().map(Value::to_string);
            (record.table_name.as_str(), record.record_id.as_str(), action, store.as_deref(), data)
        })
        .collect();
    push_buffer::put(&mut tx, state.db.backend, site.site_id, rows).await?;
    tx.commit().await?;
    if request.queue_length > 0 || !request.data.is_empty() {
        return Ok(PushResponse { integration_started: false });
    }
    let (owned, site_id) = (state.clone(), site.site_id);
    let job = async move { integrate(&owned, site_id).await };
    crate::central_shared::integration::integrate_in_background(&state.activity, site.site_id, "legacy-central", job)
        .await
        .map_err(|_| V5Error::SyncIsRunning("integration"))?;
    Ok(PushResponse { integration_started: true })
}

fn table_rank(table: &str) -> usize {
    STORE_TABLES.iter().position(|t| *t == table).map_or(0, |p| p + 1)
}

/// Move the site's push buffer into the central's tables, in one transaction. Central data a
/// site pushes goes on the change log so every site receives it; store data stays the site's.
/// The records are written with one statement; only the change log is written per row, and
/// only a push that carries central data locks it (store data never touches it, so the
/// fleet's integrations need not queue behind each other).
pub async fn integrate(state: &V5State, site_id: i64) -> anyhow::Result<usize> {
    let backend = state.db.backend;
    let mut tx = state.db.begin_write().await?;
    let mut rows: Vec<Buffered> = push_buffer::read(&mut tx, site_id).await?;
    rows.sort_by_key(|r| (r.2 == "delete", table_rank(&r.0)));
    if rows.iter().any(|r| r.3.is_none()) {
        // Same lock as `data::begin`, taken before this transaction's first change-log row.
        crate::central_shared::lock_change_log(&mut tx, backend, data::CHANGE_LOG).await?;
    }
    let keys = rows.iter().map(|r| (r.0.as_str(), r.1.as_str()));
    let owners = stored_owners(&mut tx, backend, keys).await?;
    let exists = |table: &str, id: &str| owners.contains_key(&(table.to_owned(), id.to_owned()));
    let mut puts = Vec::new();
    let mut logged = Vec::new();
    for (table, id, action, store, raw) in &rows {
        if let ("update", Some(raw)) = (action.as_str(), raw) {
            // Parsed only where something reads it: a store's site, a change-log row.
            let value: Option<Value> =
                if table == "store" || store.is_none() { Some(serde_json::from_str(raw)?) } else { None };
            let active_site = value.as_ref().filter(|_| table == "store").and_then(data::store_active_site);
            puts.push((table.as_str(), id.as_str(), store.as_deref(), active_site, raw.as_str()));
            if let (None, Some(value)) = (store, value) {
                logged.push((table.as_str(), id.as_str(), if exists(table, id) { "update" } else { "insert" }, value));
            }
        }
    }
    bulk::put_records(&mut tx, backend, &puts).await?;
    for (table, id, action, value) in &logged {
        data::log_central_change(&mut tx, table, id, action, Some(value)).await?;
    }
    for (table, id, action, store, raw) in &rows {
        if matches!((action.as_str(), raw), ("update", Some(_))) || !exists(table, id) {
            continue;
        }
        data::remove_record(&mut tx, table, id).await?;
        if store.is_none() {
            data::log_central_change(&mut tx, table, id, "delete", None).await?;
        }
    }
    push_buffer::clear(&mut tx, site_id).await?;
    tx.commit().await?;
    tracing::info!(site_id, records = rows.len(), "integrated pushed records");
    Ok(rows.len())
}
