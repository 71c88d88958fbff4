//! Local edits of the site's own records (the Store data page). Each write and its changelog
//! row commit in one transaction, stamped `Origin::LOCAL` so the next push sends them.
//!
//! Updates touch only the modelled columns: the fields a central sent that we do not model stay
//! in the extra column and go back with the next push.

use outpost_api::{Asset, Location};
use sqlx::{Connection, SqliteConnection};

use super::batch::{Received, integrate_one};
use super::changelog::{self, ChangeAction, Origin};
use super::error::RecordError;
use super::{Central, Table};

/// Each local write reads (its store, the old row) before it writes. A deferred transaction
/// whose snapshot is older than a commit of the sync engine cannot upgrade to a writer
/// (`SQLITE_BUSY_SNAPSHOT`, which no busy timeout retries), so take the write lock up front.
const WRITE: &str = "BEGIN IMMEDIATE";

/// Create or update a location, logged for Push (V5).
pub async fn upsert_location(conn: &mut SqliteConnection, location: &Location) -> Result<(), RecordError> {
    let mut tx = conn.begin_with(WRITE).await?;
    require_store(&mut tx, Table::Location, &location.store_id).await?;
    sqlx::query(
        "INSERT INTO location (id, store_id, code, name, on_hold) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET store_id = excluded.store_id, code = excluded.code, \
         name = excluded.name, on_hold = excluded.on_hold",
    )
    .bind(&location.id)
    .bind(&location.store_id)
    .bind(&location.code)
    .bind(&location.name)
    .bind(location.on_hold)
    .execute(&mut *tx)
    .await?;
    changelog::write(
        &mut tx,
        Table::Location,
        &location.id,
        ChangeAction::Upsert,
        Some(&location.store_id),
        Origin::LOCAL,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Create or update an asset, logged for Push V6. `modified_datetime` becomes now, and
/// `created_datetime` is set on creation, in the V6 central's naive UTC format.
pub async fn upsert_asset(conn: &mut SqliteConnection, asset: &Asset) -> Result<(), RecordError> {
    let now = chrono::Utc::now().naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string();
    let mut tx = conn.begin_with(WRITE).await?;
    require_store(&mut tx, Table::Asset, &asset.store_id).await?;
    sqlx::query(
        "INSERT INTO asset (id, store_id, code, serial_number, notes, created_datetime, modified_datetime) \
         VALUES (?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET store_id = excluded.store_id, code = excluded.code, \
         serial_number = excluded.serial_number, notes = excluded.notes, modified_datetime = excluded.modified_datetime",
    )
    .bind(&asset.id)
    .bind(&asset.store_id)
    .bind(&asset.code)
    .bind(&asset.serial_number)
    .bind(&asset.notes)
    .bind(&now)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    changelog::write(&mut tx, Table::Asset, &asset.id, ChangeAction::Upsert, Some(&asset.store_id), Origin::LOCAL)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Delete a location; false when there was none. Refused while stock still refers to it.
pub async fn delete_location(conn: &mut SqliteConnection, id: &str) -> Result<bool, RecordError> {
    delete(conn, Table::Location, Central::V5, id).await
}

/// Delete an asset; false when there was none.
pub async fn delete_asset(conn: &mut SqliteConnection, id: &str) -> Result<bool, RecordError> {
    delete(conn, Table::Asset, Central::V6, id).await
}

/// A local delete is the write path's delete of a page of one, in the shape of the central
/// the table travels with.
async fn delete(conn: &mut SqliteConnection, table: Table, from: Central, id: &str) -> Result<bool, RecordError> {
    let mut tx = conn.begin_with(WRITE).await?;
    let before = changes(&mut tx).await?;
    let record = Received { record_id: id, from, data: None, origin: Origin::LOCAL };
    integrate_one(&mut tx, table, ChangeAction::Delete, record).await?;
    let deleted = changes(&mut tx).await? != before;
    tx.commit().await?;
    Ok(deleted)
}

/// SQLite's count of rows changed on this connection so far; a delete that found its row also
/// wrote a changelog row, so the count moves exactly when something was deleted.
async fn changes(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT total_changes()").fetch_one(conn).await
}

async fn require_store(conn: &mut SqliteConnection, table: Table, store_id: &str) -> Result<(), RecordError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM store WHERE id = ?").bind(store_id).fetch_optional(conn).await?;
    match found {
        Some(_) => Ok(()),
        None => Err(RecordError::MissingParent {
            table: table.name(),
            field: "store_id",
            parent: "store",
            id: store_id.to_owned(),
        }),
    }
}
