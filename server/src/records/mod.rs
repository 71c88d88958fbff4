//! The synced tables of a site: their names on each wire, the order integration must follow,
//! the V5 (legacy) and V6 translators, and writes that keep the changelog in the same
//! transaction as the change.
//!
//! Received records have one write path, [`integrate_page`] (in [`batch`]): a page of one
//! table at a time, inside the engine's transaction, so nothing here begins or commits; a single
//! record is a page of one ([`integrate_one`]). The engine calls [`to_v5`]/[`to_v6`] for records
//! to push. The Store data API uses the local writes in [`local`], which do run their own
//! transaction. The benchmark's physical limit uses [`write_unchecked`], never the engine.

mod batch;
mod changelog;
mod error;
pub mod local;
mod schema;
mod table;
mod translate;
mod unchecked;

#[cfg(test)]
mod batch_tests;
#[cfg(test)]
mod tests;

use serde_json::Value;
use sqlx::SqliteConnection;

pub use batch::{Outcomes, Received, integrate_one, integrate_page};
pub use changelog::{ChangeAction, Origin};
pub use error::RecordError;
pub use local::{delete_asset, delete_location, upsert_asset, upsert_location};
pub use table::{Central, Table};
pub use unchecked::write_unchecked;

use schema::Spec;

/// The key of this site's numeric id in key_value_store (from V5 `/sync/v5/site`).
pub const SITE_ID_KEY: &str = "SettingsSyncSiteId";

/// The V5 record to push for the current state of a row; `Ok(None)` when it no longer exists.
pub async fn to_v5(conn: &mut SqliteConnection, table: Table, record_id: &str) -> Result<Option<Value>, RecordError> {
    translate::render(conn, spec_for(table, Central::V5)?, record_id).await
}

/// The V6 row to push for the current state of a row; `Ok(None)` when it no longer exists.
pub async fn to_v6(conn: &mut SqliteConnection, table: Table, record_id: &str) -> Result<Option<Value>, RecordError> {
    translate::render(conn, spec_for(table, Central::V6)?, record_id).await
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

/// The table's translator for records of `central`'s shape; a table that does not travel
/// with that central is refused.
fn spec_for(table: Table, central: Central) -> Result<&'static Spec, RecordError> {
    let (name, other) = match central {
        Central::V5 => (table.v5_name(), "V6"),
        Central::V6 => (table.v6_name(), "V5"),
    };
    match name {
        Some(_) => Ok(Spec::of(table)),
        None => Err(RecordError::Refused(format!("{} travels only with the {other} central", table.name()))),
    }
}
