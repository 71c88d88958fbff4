//! `sync_buffer`: where received records wait for integration, keyed by (table, record id).
//! Pull steps write here in the same transaction as their cursor; integration reads from here;
//! a record integration could not apply stays here with its reason (quarantine) and is tried
//! again on every run until it integrates or a newer copy replaces it.

use chrono::{SecondsFormat, Utc};
use serde_json::Value;
// Dynamic SQL here is built from constants only; values are always bound.
use sqlx::{AssertSqlSafe, SqliteConnection, SqlitePool};

use crate::records::{Table, ChangeAction};

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
    pub data: Option<Value>,
    pub source_site_id: Option<i64>,
}

impl Incoming {
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

/// Store a batch (inside the caller's transaction). A newer copy replaces an older one,
/// pending or quarantined, and becomes pending again.
pub async fn store(conn: &mut SqliteConnection, records: &[Incoming]) -> sqlx::Result<()> {
    let received = now();
    for r in records {
        sqlx::query(
            "INSERT INTO sync_buffer (table_name, record_id, source, action, data, source_site_id, received_datetime)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (table_name, record_id) DO UPDATE SET source = excluded.source, action = excluded.action,
               data = excluded.data, source_site_id = excluded.source_site_id,
               received_datetime = excluded.received_datetime, integration_datetime = NULL, integration_error = NULL",
        )
        .bind(r.table_name())
        .bind(&r.record_id)
        .bind(r.source.as_str())
        .bind(r.action.as_str())
        .bind(r.data.as_ref().map(Value::to_string))
        .bind(r.source_site_id)
        .bind(&received)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// One record to integrate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Pending {
    pub table_name: String,
    pub record_id: String,
    pub source: String,
    pub action: String,
    pub data: Option<String>,
    pub source_site_id: Option<i64>,
}

const TO_DO: &str = "(integration_datetime IS NULL OR integration_error IS NOT NULL)";

/// Records of one table and action still to integrate: pending and quarantined alike.
pub async fn to_integrate(conn: &mut SqliteConnection, table_name: &str, action: BufferAction) -> sqlx::Result<Vec<Pending>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT table_name, record_id, source, action, data, source_site_id FROM sync_buffer
         WHERE table_name = ?1 AND action = ?2 AND {TO_DO} ORDER BY received_datetime, record_id"
    )))
    .bind(table_name)
    .bind(action.as_str())
    .fetch_all(conn)
    .await
}

/// Records whose table this site does not synchronise (so no pass over `Table::ALL` sees them).
pub async fn unknown_tables(conn: &mut SqliteConnection, known: &[&str]) -> sqlx::Result<Vec<Pending>> {
    let placeholders = vec!["?"; known.len()].join(",");
    let sql = format!(
        "SELECT table_name, record_id, source, action, data, source_site_id FROM sync_buffer
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
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM sync_buffer WHERE {TO_DO}"))).fetch_one(conn).await?;
    Ok(n as u64)
}

pub async fn mark(conn: &mut SqliteConnection, table_name: &str, record_id: &str, error: Option<&str>) -> sqlx::Result<()> {
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
        .map(|(table, record_id, reason, received)| outpost_api::QuarantinedRecord { table, record_id, reason, received })
        .collect())
}
