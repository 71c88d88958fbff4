//! The synced tables of a site: their names on each wire, the order integration must follow,
//! the V5 (legacy) and V6 translators, and writes that keep the changelog in the same
//! transaction as the change.
//!
//! The sync engine integrates received records a page at a time with [`batch::integrate_page`]
//! (inside its own transaction, so nothing here begins or commits); [`integrate_v5`]/
//! [`integrate_v6`] apply one record with the same semantics, and the engine calls
//! [`to_v5`]/[`to_v6`] for records to push. The Store data API uses the local writes in
//! [`local`], which do run their own transaction.

pub mod batch;
mod changelog;
mod error;
pub mod local;
mod schema;
mod table;
mod translate;

#[cfg(test)]
mod batch_tests;
#[cfg(test)]
mod tests;

use serde_json::Value;
use sqlx::SqliteConnection;

pub use changelog::{ChangeAction, Origin};
pub use error::RecordError;
pub use local::{delete_asset, delete_location, upsert_asset, upsert_location};
pub use table::{Central, Table};

// Public for the bench's "limit" (tools/bench/src/limit.rs), which writes the same rows the
// fastest straightforward way, without integration's checks, to measure what a site cannot avoid.
pub use changelog::{Entry as ChangelogEntry, write_many as write_changelog};
pub use schema::{Field, Kind, Spec, StoreOf};

/// The key of this site's numeric id in key_value_store (from V5 `/sync/v5/site`).
pub const SITE_ID_KEY: &str = "SettingsSyncSiteId";

/// Apply one record received from the V5 central (legacy JSON) and log it with `origin`.
pub async fn integrate_v5(
    conn: &mut SqliteConnection,
    table: Table,
    record_id: &str,
    action: ChangeAction,
    data: Option<&Value>,
    origin: Origin,
) -> Result<(), RecordError> {
    translate::apply(conn, v5_spec(table)?, record_id, action, data, origin).await
}

/// Apply one record received from the V6 central (snake_case row) and log it with `origin`.
pub async fn integrate_v6(
    conn: &mut SqliteConnection,
    table: Table,
    record_id: &str,
    action: ChangeAction,
    data: Option<&Value>,
    origin: Origin,
) -> Result<(), RecordError> {
    translate::apply(conn, v6_spec(table)?, record_id, action, data, origin).await
}

/// The V5 record to push for the current state of a row; `Ok(None)` when it no longer exists.
pub async fn to_v5(conn: &mut SqliteConnection, table: Table, record_id: &str) -> Result<Option<Value>, RecordError> {
    translate::render(conn, v5_spec(table)?, record_id).await
}

/// The V6 row to push for the current state of a row; `Ok(None)` when it no longer exists.
pub async fn to_v6(conn: &mut SqliteConnection, table: Table, record_id: &str) -> Result<Option<Value>, RecordError> {
    translate::render(conn, v6_spec(table)?, record_id).await
}

/// A V5 wire table name as a [`Table`], or the `UnknownTable` error integration records.
pub fn table_from_v5(name: &str) -> Result<Table, RecordError> {
    Table::from_v5_name(name).ok_or_else(|| RecordError::UnknownTable(name.to_owned()))
}

/// A V6 wire table name as a [`Table`], or the `UnknownTable` error integration records.
pub fn table_from_v6(name: &str) -> Result<Table, RecordError> {
    Table::from_v6_name(name).ok_or_else(|| RecordError::UnknownTable(name.to_owned()))
}

/// The site's own stores: those whose `site_id` (V5 `sync_id_remote_site`) is this site's id.
pub async fn own_store_ids(conn: &mut SqliteConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM store WHERE site_id = (SELECT value_int FROM key_value_store WHERE id = ?) ORDER BY id",
    )
    .bind(SITE_ID_KEY)
    .fetch_all(conn)
    .await
}

fn v5_spec(table: Table) -> Result<&'static Spec, RecordError> {
    match table.v5_name() {
        Some(_) => Ok(Spec::of(table)),
        None => Err(RecordError::Refused(format!("{} travels only with the V6 central", table.name()))),
    }
}

fn v6_spec(table: Table) -> Result<&'static Spec, RecordError> {
    match table.v6_name() {
        Some(_) => Ok(Spec::of(table)),
        None => Err(RecordError::Refused(format!("{} travels only with the V5 central", table.name()))),
    }
}
