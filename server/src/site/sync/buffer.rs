//! `sync_buffer`: where received records wait for integration, keyed by (table, record id).
//! Pull steps write here in the same transaction as their cursor; integration reads from here;
//! a record integration could not apply stays here with its reason (quarantine) and is tried
//! again on every run until it integrates or a newer copy replaces it.

use chrono::{SecondsFormat, Utc};
// Dynamic SQL here is built from constants only; values are always bound.
use sqlx::{AssertSqlSafe, SqliteConnection, SqlitePool};

use crate::records::{ChangeAction, Table};

/// Which protocol's record shape a buffer row holds, so integration picks the right translator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    V5,
    V6,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::V5 => "v5",
            Source::V6 => "v6",
        }
    }
}

/// `UPSERT`, `DELETE` or `MERGE` (merges are received but not supported by this site's tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferAction {
    Upsert,
    Delete,
    Merge,
}

impl BufferAction {
    pub fn as_str(self) -> &'static str {
        match self {
            BufferAction::Upsert => "UPSERT",
            BufferAction::Delete => "DELETE",
            BufferAction::Merge => "MERGE",
        }
    }

    pub fn change(self) -> Option<ChangeAction> {
        match self {
            BufferAction::Upsert => Some(ChangeAction::Upsert),
            BufferAction::Delete => Some(ChangeAction::Delete),
            BufferAction::Merge => None,
        }
    }
}

impl From<crate::wire::v5::Action> for BufferAction {
    fn from(a: crate::wire::v5::Action) -> Self {
        use crate::wire::v5::Action;
        match a {
            Action::Insert | Action::Update => BufferAction::Upsert,
            Action::Delete => BufferAction::Delete,
            Action::Merge => BufferAction::Merge,
        }
    }
}

impl From<crate::wire::v6::Action> for BufferAction {
    fn from(a: crate::wire::v6::Action) -> Self {
        match a {
            crate::wire::v6::Action::Upsert => BufferAction::Upsert,
            crate::wire::v6::Action::Delete => BufferAction::Delete,
        }
    }
}

/// A record as received, before integration.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub source: Source,
    /// The wire table name (`Location`, `transact`, `asset`).
    pub wire_table: String,
    pub record_id: String,
    pub action: BufferAction,
    /// The record's JSON text, as it goes into `sync_buffer.data`.
    pub data: Option<String>,
    pub source_site_id: Option<i64>,
}

impl Incoming {
    /// A record from the V5 central: its change log and its queue carry the same fields.
    pub fn v5(
        wire_table: String,
        record_id: String,
        action: crate::wire::v5::Action,
        data: Option<crate::wire::v5::RawJson>,
        source_site_id: Option<i64>,
    ) -> Incoming {
        Incoming {
            source: Source::V5,
            wire_table,
            record_id,
            action: action.into(),
            data: data.map(crate::wire::v5::RawJson::into_string),
            source_site_id,
        }
    }

    /// The site's name for the table, so the same record from either central shares one key.
    /// A table this site does not know keeps its wire name and is quarantined at integration.
    pub fn table_name(&self) -> String {
        let table = match self.source {
            Source::V5 => Table::from_v5_name(&self.wire_table),
            Source::V6 => Table::from_v6_name(&self.wire_table),
        };
        table.map(|t| t.name().to_owned()).unwrap_or_else(|| self.wire_table.clone())
    }
}

pub fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Rows per INSERT: each statement is one hop to SQLite's worker thread, and those hops, not
/// SQLite, were most of a pull's time (profile in BENCHMARKS.md). 7 binds a row stays far
/// below SQLite's limit of 32,766 variables.
const ROWS_PER_INSERT: usize = 200;

/// Store a batch (inside the caller's transaction). A newer copy replaces an older one,
/// pending or quarantined, and becomes pending again.
pub async fn store(conn: &mut SqliteConnection, records: &[Incoming]) -> sqlx::Result<()> {
    let received = now();
    for chunk in records.chunks(ROWS_PER_INSERT) {
        let mut q = sqlx::query(AssertSqlSafe(insert_sql(chunk.len())));
        for r in chunk {
            q = q
                .bind(r.table_name())
                .bind(&r.record_id)
                .bind(r.source.as_str())
                .bind(r.action.as_str())
                .bind(r.data.as_deref())
                .bind(r.source_site_id)
                .bind(&received);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The multi-row upsert for `rows` records; a full chunk's text is built once and reused, so
/// the statement cache prepares it once.
fn insert_sql(rows: usize) -> String {
    static FULL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let build = |rows: usize| {
        let values = vec!["(?, ?, ?, ?, ?, ?, ?)"; rows].join(", ");
        format!(
            "INSERT INTO sync_buffer (table_name, record_id, source, action, data, source_site_id, received_datetime)
             VALUES {values}
             ON CONFLICT (table_name, record_id) DO UPDATE SET source = excluded.source, action = excluded.action,
               data = excluded.data, source_site_id = excluded.source_site_id,
               received_datetime = excluded.received_datetime, integration_datetime = NULL, integration_error = NULL"
        )
    };
    if rows == ROWS_PER_INSERT { FULL.get_or_init(|| build(rows)).clone() } else { build(rows) }
}

/// One record to integrate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Pending {
    /// Where integration resumes paging (SQLite's row id of the buffer row).
    pub rowid: i64,
    pub table_name: String,
    pub record_id: String,
    pub source: String,
    pub action: String,
    pub data: Option<String>,
    pub source_site_id: Option<i64>,
}

const TO_DO: &str = "(integration_datetime IS NULL OR integration_error IS NOT NULL)";

/// Records of one table and action still to integrate, pending and quarantined alike, a page
/// of `limit` after row id `after`: integration holds one page in memory, not the whole
/// table (memory flat in dataset size). Order within a table does not matter: its rows only
/// refer to rows of earlier tables.
pub async fn to_integrate(
    conn: &mut SqliteConnection,
    table_name: &str,
    action: BufferAction,
    after: i64,
    limit: u32,
) -> sqlx::Result<Vec<Pending>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT rowid, table_name, record_id, source, action, data, source_site_id FROM sync_buffer
         WHERE table_name = ?1 AND action = ?2 AND {TO_DO} AND rowid > ?3 ORDER BY rowid LIMIT ?4"
    )))
    .bind(table_name)
    .bind(action.as_str())
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Records whose table this site does not synchronise (so no pass over `Table::ALL` sees them).
pub async fn unknown_tables(conn: &mut SqliteConnection, known: &[&str]) -> sqlx::Result<Vec<Pending>> {
    let placeholders = vec!["?"; known.len()].join(",");
    let sql = format!(
        "SELECT rowid, table_name, record_id, source, action, data, source_site_id FROM sync_buffer
         WHERE {TO_DO} AND (table_name NOT IN ({placeholders}) OR action = 'MERGE')"
    );
    let mut q = sqlx::query_as(AssertSqlSafe(sql));
    for k in known {
        q = q.bind(*k);
    }
    q.fetch_all(conn).await
}

/// How many records integration has to look at (the Integrate step's total).
pub async fn count_to_integrate(conn: &mut SqliteConnection) -> sqlx::Result<u64> {
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM sync_buffer WHERE {TO_DO}")))
        .fetch_one(conn)
        .await?;
    Ok(n as u64)
}

/// Mark every record of one table and action still to do as integrated (the records that
/// failed are marked with their reason after this, one by one): one statement for a whole pass.
pub async fn mark_all_done(conn: &mut SqliteConnection, table_name: &str, action: BufferAction) -> sqlx::Result<()> {
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE sync_buffer SET integration_datetime = ?3, integration_error = NULL
         WHERE table_name = ?1 AND action = ?2 AND {TO_DO}"
    )))
    .bind(table_name)
    .bind(action.as_str())
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn mark(
    conn: &mut SqliteConnection,
    table_name: &str,
    record_id: &str,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE sync_buffer SET integration_datetime = ?3, integration_error = ?4 WHERE table_name = ?1 AND record_id = ?2")
        .bind(table_name)
        .bind(record_id)
        .bind(now())
        .bind(error)
        .execute(conn)
        .await?;
    Ok(())
}

/// `GET /api/sync/quarantine`.
pub async fn quarantined(db: &SqlitePool) -> sqlx::Result<Vec<outpost_api::QuarantinedRecord>> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name, record_id, integration_error, received_datetime FROM sync_buffer
         WHERE integration_error IS NOT NULL ORDER BY received_datetime, table_name, record_id",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(table, record_id, reason, received)| outpost_api::QuarantinedRecord {
            table,
            record_id,
            reason,
            received,
        })
        .collect())
}
