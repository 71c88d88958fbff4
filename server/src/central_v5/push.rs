//! `POST /sync/v5/queued_records`: what a site pushes. Each batch is checked against the
//! ownership rule (`central_shared::ownership`: a site writes only its own stores' rows) and kept
//! in the site's push buffer. A batch with refused records is refused whole with
//! `sync_record_rejected`, as the reference's central does, and (an Outpost extension in the
//! envelope's free `data` field) names every refused record in `data.refused`, so the site can
//! set those aside and send the rest without splitting the batch to find them. The final empty
//! batch (`queueLength` 0) starts integration into the central's tables in the background,
//! during which the site sees `integration_in_progress` / `sync_is_running`.

use std::collections::HashMap;

use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use super::V5State;
use super::bulk;
use super::data::{self, STORE_TABLES};
use super::error::{V5Error, V5Result};
use super::sites::SiteRow;
use crate::central_shared::bulk::{Owners, stored_owners};
use crate::central_shared::ownership::{self, Change, Protocol, Refusal};
use crate::central_shared::push_buffer::{self, Buffered};
use crate::central_shared::push_refused::{self, RefusedRecord};
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
    data::owning_store(conn, table, data).await?.map_err(|e| V5Error::RecordRejected(e, Vec::new()))
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
    // Every refused record is named, so the site can set exactly those aside and send the rest.
    let mut refused: Vec<(String, Value)> = Vec::new();
    for record in &request.data {
        if record.action == PushAction::Update && record.record_data.is_none() {
            return Err(V5Error::BadRequest(format!(
                "{} {}: Update without recordData",
                record.table_name, record.record_id
            )));
        }
        let mut refuse = |why: String| {
            let text = format!("{} {}: {why} (site {})", record.table_name, record.record_id, site.name);
            let named = json!({"tableName": record.table_name, "recordId": record.record_id, "reason": why});
            refused.push((text, named));
        };
        // The table first, so central data is refused for what it is, whatever its fields say.
        if !ownership::site_writable(Protocol::V5, &record.table_name) {
            refuse(Refusal::CentralTable.to_string());
            continue;
        }
        let store = match pushed_owner(&mut tx, site.site_id, &batch_invoices, &previous, record).await {
            Ok(store) => store,
            Err(V5Error::RecordRejected(why, _)) => {
                refuse(why);
                continue;
            }
            Err(other) => return Err(other),
        };
        let stored = previous.get(&(record.table_name.clone(), record.record_id.clone())).map(Option::as_deref);
        if let Err(why) = ownership::decide(
            &stores,
            Protocol::V5,
            &record.table_name,
            change_of(record.action),
            stored,
            store.as_deref(),
        ) {
            refuse(why.to_string());
            continue;
        }
        if record.table_name == "transact" {
            batch_invoices.insert(record.record_id.clone(), store.clone());
        }
        checked.push((record, store));
    }
    // As the reference's central does, a batch with a refused record is refused whole (nothing
    // of it is buffered); the site sends it again without the records named here.
    if let Some((first, _)) = refused.first() {
        let more = match refused.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        let message = format!("{first}{more}");
        return Err(V5Error::RecordRejected(message, refused.into_iter().map(|(_, named)| named).collect()));
    }
    let rows = checked
        .iter()
        .map(|(record, store)| {
            let action = match record.action {
                PushAction::Update => "update",
                PushAction::Delete => "delete",
            };
            let data = record.record_data.as_ref().map(Value::to_string);
            let version = push_buffer::version_of(&record.sync_out_id);
            (record.table_name.as_str(), record.record_id.as_str(), action, store.as_deref(), data, version)
        })
        .collect();
    push_buffer::put(&mut tx, state.db.backend, site.site_id, rows, state.limits.max_push_buffer_bytes).await?;
    tx.commit().await?;
    state.metrics.pushed(site.site_id, checked.len());
    if request.queue_length > 0 || !request.data.is_empty() {
        return Ok(PushResponse { integration_started: false });
    }
    start_integration(state, site.site_id).await?;
    Ok(PushResponse { integration_started: true })
}

/// Integrate `site_id`'s push buffer in the background; `SyncIsRunning` when it is already
/// being integrated (on any replica).
pub async fn start_integration(state: &V5State, site_id: i64) -> Result<(), V5Error> {
    let owned = state.clone();
    let job = async move {
        crate::central_shared::integration::retry_while_site_locked(site_id, || integrate(&owned, site_id)).await
    };
    crate::central_shared::integration::integrate_in_background(
        &state.activity,
        &state.metrics,
        &state.db,
        site_id,
        "legacy-central",
        job,
    )
    .await?
    .map_err(|_| V5Error::SyncIsRunning("integration"))
}

fn table_rank(table: &str) -> usize {
    STORE_TABLES.iter().position(|t| *t == table).map_or(0, |p| p + 1)
}

fn change_of(action: PushAction) -> Change {
    match action {
        PushAction::Update => Change::Upsert,
        PushAction::Delete => Change::Delete,
    }
}

/// Move the site's push buffer into the central's tables, in one transaction, asking the
/// ownership rule again against the rows and the site's stores as they are now: a record
/// refused here is skipped and kept for the site (`push_refused`, answered by `site_status`),
/// the others apply. What passes is always
/// store data of the site's own stores, so integration never writes the central change log,
/// and the fleet's integrations need not queue behind each other. The records are written with
/// one statement.
pub async fn integrate(state: &V5State, site_id: i64) -> anyhow::Result<usize> {
    let backend = state.db.backend;
    let mut tx = state.db.begin_write().await?;
    crate::central_shared::integration::lock_site(&mut tx, backend, site_id).await?;
    let stores = data::stores_of_site(&mut tx, site_id).await?;
    let read = push_buffer::read(&mut tx, site_id).await?;
    let mut rows: Vec<Buffered> = read.rows.clone();
    rows.sort_by_key(|r| (r.2 == "delete", table_rank(&r.0)));
    let keys = rows.iter().map(|r| (r.0.as_str(), r.1.as_str()));
    let owners = stored_owners(&mut tx, backend, keys).await?;
    let exists = |table: &str, id: &str| owners.contains_key(&(table.to_owned(), id.to_owned()));
    let mut refused = Vec::new();
    rows.retain(|(table, id, action, store, _, _)| {
        let change = if action == "delete" { Change::Delete } else { Change::Upsert };
        let stored = owners.get(&(table.clone(), id.clone())).map(Option::as_deref);
        match ownership::decide(&stores, Protocol::V5, table, change, stored, store.as_deref()) {
            Ok(()) => true,
            Err(why) => {
                tracing::warn!(site_id, table = %table, id = %id, reason = %why, "pushed record refused at integration; not applied");
                refused.push(RefusedRecord {
                    table_name: table.clone(),
                    record_id: id.clone(),
                    store_id: store.clone(),
                    reason: format!("refused at integration: {why}"),
                });
                false
            }
        }
    });
    push_refused::replace(&mut tx, site_id, &refused).await?;
    let mut puts = Vec::new();
    for (table, id, action, store, raw, _) in &rows {
        if let ("update", Some(raw)) = (action.as_str(), raw) {
            puts.push((table.as_str(), id.as_str(), store.as_deref(), None, raw.as_str()));
        }
    }
    bulk::put_records(&mut tx, backend, &puts).await?;
    for (table, id, action, _, raw, _) in &rows {
        if matches!((action.as_str(), raw), ("update", Some(_))) || !exists(table, id) {
            continue;
        }
        data::remove_record(&mut tx, table, id).await?;
    }
    crate::central_shared::kill_point::reached("legacy-central-integrating").await;
    push_buffer::settle(&mut tx, backend, site_id, &read).await?;
    tx.commit().await?;
    tracing::info!(site_id, records = rows.len(), stale = read.stale, "integrated pushed records");
    Ok(rows.len())
}
