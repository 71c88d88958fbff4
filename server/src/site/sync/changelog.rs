//! Reading the changelog for the push steps: which rows a push processes, which it actually
//! sends, and how many records are waiting.
//!
//! The push filter (reference §2.5): the latest row of each record (a later row, local or
//! received, supersedes it), written locally (`is_sync_update = 0`), of a store this site
//! owns or of no store, and of a table that is pushed at all. Both push steps walk these same
//! rows with their own cursors; each sends only the rows routed to its central.
//!
//! Why a push cursor never passes a committed row: a push step reads a batch from its cursor
//! with one statement and moves the cursor to one past the batch's last row. The site's
//! database is SQLite, which has one writer at a time, so a row's cursor (its rowid, taken at
//! insert) is always above every row committed before it: a row committed after the batch was
//! read is above the batch's last row, and the next batch starts at or below it.

// The SQL is built from table names of `Table` (constants); values are always bound.
use sqlx::{AssertSqlSafe, SqliteConnection};

use crate::records::{Central, ChangeAction, Table};

/// One changelog row a push step processes.
#[derive(Debug, Clone)]
pub struct PushRow {
    pub cursor: u64,
    pub table: Table,
    pub record_id: String,
    pub action: ChangeAction,
    /// The store the change belongs to (kept with a refusal, which a store move resolves).
    pub store_id: Option<String>,
}

fn tables_sql(tables: impl Iterator<Item = Table>) -> String {
    tables.map(|t| format!("'{}'", t.name())).collect::<Vec<_>>().join(",")
}

/// The WHERE clause of the push filter over `changelog c`, for the tables given.
fn filter(tables: &str) -> String {
    format!(
        "c.cursor >= ?1 AND c.is_sync_update = 0 AND c.table_name IN ({tables})
         AND (c.store_id IS NULL OR c.store_id IN (
               SELECT id FROM store WHERE site_id = (SELECT value_int FROM key_value_store WHERE id = '{site}')))
         AND NOT EXISTS (SELECT 1 FROM changelog d
                         WHERE d.table_name = c.table_name AND d.record_id = c.record_id AND d.cursor > c.cursor)",
        site = super::kv::SITE_ID
    )
}

fn pushed_tables() -> String {
    tables_sql(Table::ALL.into_iter().filter(|t| t.push_destination().is_some()))
}

fn tables_for(central: Central) -> String {
    tables_sql(Table::ALL.into_iter().filter(|t| t.push_destination() == Some(central)))
}

/// The next batch of rows a push step processes, from `cursor` (inclusive).
pub async fn batch(conn: &mut SqliteConnection, cursor: u64, limit: u32) -> sqlx::Result<Vec<PushRow>> {
    let sql = format!(
        "SELECT c.cursor, c.table_name, c.record_id, c.row_action, c.store_id FROM changelog c WHERE {}
         ORDER BY c.cursor LIMIT ?2",
        filter(&pushed_tables())
    );
    let rows: Vec<(i64, String, String, String, Option<String>)> =
        sqlx::query_as(AssertSqlSafe(sql)).bind(cursor as i64).bind(limit).fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(cursor, table, record_id, action, store_id)| {
            Some(PushRow {
                cursor: cursor as u64,
                table: Table::from_name(&table)?,
                record_id,
                action: ChangeAction::parse(&action)?,
                store_id,
            })
        })
        .collect())
}

/// Rows a push step still has to process from `cursor` (this is its progress "remaining").
pub async fn remaining(conn: &mut SqliteConnection, cursor: u64) -> sqlx::Result<u64> {
    count(conn, cursor, &pushed_tables()).await
}

/// Records that will really be sent to `central` from `cursor`.
pub async fn to_send(conn: &mut SqliteConnection, cursor: u64, central: Central) -> sqlx::Result<u64> {
    count(conn, cursor, &tables_for(central)).await
}

async fn count(conn: &mut SqliteConnection, cursor: u64, tables: &str) -> sqlx::Result<u64> {
    let sql = format!("SELECT COUNT(*) FROM changelog c WHERE {}", filter(tables));
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql)).bind(cursor as i64).fetch_one(conn).await?;
    Ok(n as u64)
}

/// The cursor after the last changelog row (where both push cursors jump after initialising).
pub async fn end_cursor(conn: &mut SqliteConnection) -> sqlx::Result<u64> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(cursor) FROM changelog").fetch_one(conn).await?;
    Ok(max.unwrap_or(0) as u64 + 1)
}
