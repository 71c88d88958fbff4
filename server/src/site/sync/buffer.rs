//! `sync_buffer`: where received records wait for integration, keyed by (table, record id).
//! Pull steps write here in the same transaction as their cursor; integration reads from here;
//! a record integration could not apply stays here with its reason (quarantine) and is tried
//! again on every run until it integrates or a newer copy replaces it.
//!
//! Rows are typed at this edge, both ways: a wire record becomes an [`Incoming`] with the
//! domain's [`Central`] and [`ChangeAction`] (the only place the wire action enums are mapped),
//! and a stored row is decoded once into a [`Pending`], so past here nothing compares the
//! `source` and `action` text.

use chrono::{SecondsFormat, Utc};
// Dynamic SQL here is built from constants only; values are always bound.
use sqlx::{AssertSqlSafe, SqliteConnection, SqlitePool};

use crate::records::{Central, ChangeAction, Table};
use crate::wire::{v5, v6};

/// `sync_buffer.source`: the central whose record shape a row holds.
fn source_text(from: Central) -> &'static str {
    match from {
        Central::V5 => "v5",
        Central::V6 => "v6",
    }
}

/// `sync_buffer.action`: the change's own name (`UPSERT`, `DELETE`), or `MERGE`.
fn action_text(action: Option<ChangeAction>) -> &'static str {
    action.map_or("MERGE", ChangeAction::as_str)
}

/// A record as received, before integration.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub from: Central,
    /// The wire table name (`Location`, `transact`, `asset`).
    pub wire_table: String,
    pub record_id: String,
    /// `None` for a V5 merge: kept, so it is quarantined with its reason, but never applied.
    pub action: Option<ChangeAction>,
    /// The record's JSON text, as it goes into `sync_buffer.data`.
    pub data: Option<String>,
    pub source_site_id: Option<i64>,
}

impl Incoming {
    /// A record from the V5 central: its change log and its queue carry the same fields.
    pub fn v5(
        wire_table: String,
        record_id: String,
        action: v5::Action,
        data: Option<v5::RawJson>,
        source_site_id: Option<i64>,
    ) -> Incoming {
        let action = match action {
            v5::Action::Insert | v5::Action::Update => Some(ChangeAction::Upsert),
            v5::Action::Delete => Some(ChangeAction::Delete),
            v5::Action::Merge => None,
        };
        Incoming {
            from: Central::V5,
            wire_table,
            record_id,
            action,
            data: data.map(v5::RawJson::into_string),
            source_site_id,
        }
    }

    /// A record from the V6 central; a null `record_data` (a delete) stores no data. A merge is
    /// kept as a V5 merge is: quarantined with its reason, never applied.
    pub fn v6(record: v6::Record) -> Incoming {
        let action = match record.action {
            v6::Action::Insert | v6::Action::Update => Some(ChangeAction::Upsert),
            v6::Action::Delete => Some(ChangeAction::Delete),
            // Kept, so it is quarantined with its reason, as a V5 merge is.
            v6::Action::Merge => None,
        };
        Incoming {
            from: Central::V6,
            wire_table: record.table_name,
            record_id: record.record_id,
            action,
            data: Some(record.record_data).filter(|d| !d.is_null()).map(|d| d.to_string()),
            source_site_id: None,
        }
    }

    /// The site's name for the table, so the same record from either central shares one key.
    /// A table this site does not know keeps its wire name and is quarantined at integration.
    pub fn table_name(&self) -> String {
        let table = match self.from {
            Central::V5 => Table::from_v5_name(&self.wire_table),
            Central::V6 => Table::from_v6_name(&self.wire_table),
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
                .bind(source_text(r.from))
                .bind(action_text(r.action))
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

/// One record to integrate, decoded from its buffer row.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Where integration resumes paging (SQLite's row id of the buffer row).
    pub rowid: i64,
    pub table_name: String,
    pub record_id: String,
    pub from: Central,
    /// `None` for a merge, which this site does not apply.
    pub action: Option<ChangeAction>,
    pub data: Option<String>,
    pub source_site_id: Option<i64>,
}

impl Pending {
    pub fn is_merge(&self) -> bool {
        self.action.is_none()
    }
}

/// A buffer row as stored; only [`decode`] reads its text columns.
#[derive(sqlx::FromRow)]
struct Row {
    rowid: i64,
    table_name: String,
    record_id: String,
    source: String,
    action: String,
    data: Option<String>,
    source_site_id: Option<i64>,
}

const COLUMNS: &str = "rowid, table_name, record_id, source, action, data, source_site_id";

/// The typed row; only this site writes the buffer, so another value is a corrupt database.
fn decode(row: Row) -> sqlx::Result<Pending> {
    let corrupt = |what: String| sqlx::Error::Decode(format!("sync_buffer row {}: {what}", row.rowid).into());
    let from = match row.source.as_str() {
        "v5" => Central::V5,
        "v6" => Central::V6,
        other => return Err(corrupt(format!("unknown source {other:?}"))),
    };
    let action = match ChangeAction::parse(&row.action) {
        Some(change) => Some(change),
        None if row.action == action_text(None) => None,
        None => return Err(corrupt(format!("unknown action {:?}", row.action))),
    };
    Ok(Pending {
        rowid: row.rowid,
        table_name: row.table_name,
        record_id: row.record_id,
        from,
        action,
        data: row.data,
        source_site_id: row.source_site_id,
    })
}

const TO_DO: &str = "(integration_datetime IS NULL OR integration_error IS NOT NULL)";

/// Records of one table and action still to integrate, pending and quarantined alike, a page
/// of `limit` after row id `after`: integration holds one page in memory, not the whole
/// table (memory flat in dataset size). Order within a table does not matter: its rows only
/// refer to rows of earlier tables.
pub async fn to_integrate(
    conn: &mut SqliteConnection,
    table_name: &str,
    action: ChangeAction,
    after: i64,
    limit: u32,
) -> sqlx::Result<Vec<Pending>> {
    let rows: Vec<Row> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM sync_buffer
         WHERE table_name = ?1 AND action = ?2 AND {TO_DO} AND rowid > ?3 ORDER BY rowid LIMIT ?4"
    )))
    .bind(table_name)
    .bind(action.as_str())
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(decode).collect()
}

/// Records whose table this site does not synchronise (so no pass over `Table::ALL` sees them).
pub async fn unknown_tables(conn: &mut SqliteConnection, known: &[&str]) -> sqlx::Result<Vec<Pending>> {
    let placeholders = vec!["?"; known.len()].join(",");
    let sql = format!(
        "SELECT {COLUMNS} FROM sync_buffer
         WHERE {TO_DO} AND (table_name NOT IN ({placeholders}) OR action = ?)"
    );
    let mut q = sqlx::query_as(AssertSqlSafe(sql));
    for k in known {
        q = q.bind(*k);
    }
    let rows: Vec<Row> = q.bind(action_text(None)).fetch_all(conn).await?;
    rows.into_iter().map(decode).collect()
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
pub async fn mark_all_done(conn: &mut SqliteConnection, table_name: &str, action: ChangeAction) -> sqlx::Result<()> {
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
            direction: outpost_api::Direction::Incoming,
            table,
            record_id,
            reason,
            received,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[tokio::test]
    async fn rows_are_stored_as_the_same_text_and_read_back_typed() {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::db::open_sqlite(&dir.path().join("site.db"), &crate::site::MIGRATIONS).await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let data = Some(v5::RawJson::from_string(r#"{"ID":"L1"}"#.into()).unwrap());
        let asset = v6::Record {
            table_name: "asset".into(),
            record_id: "A1".into(),
            action: v6::Action::Delete,
            record_data: Value::Null,
        };
        let received = [
            Incoming::v5("Location".into(), "L1".into(), v5::Action::Insert, data, Some(3)),
            Incoming::v5("Location".into(), "L2".into(), v5::Action::Merge, None, Some(3)),
            Incoming::v5("Location_type".into(), "T1".into(), v5::Action::Update, None, None),
            Incoming::v6(asset),
        ];
        store(&mut conn, &received).await.unwrap();

        let stored: Vec<(String, String, String, String)> =
            sqlx::query_as("SELECT table_name, record_id, source, action FROM sync_buffer ORDER BY record_id")
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        let text = |t: &str, id: &str, s: &str, a: &str| (t.to_owned(), id.to_owned(), s.to_owned(), a.to_owned());
        assert_eq!(
            stored,
            [
                text("asset", "A1", "v6", "DELETE"),
                text("location", "L1", "v5", "UPSERT"),
                text("location", "L2", "v5", "MERGE"),
                text("Location_type", "T1", "v5", "UPSERT"),
            ]
        );

        let upserts = to_integrate(&mut conn, "location", ChangeAction::Upsert, 0, 10).await.unwrap();
        assert_eq!(upserts.len(), 1, "the merge is not an upsert");
        let l1 = &upserts[0];
        assert_eq!((l1.record_id.as_str(), l1.from, l1.action), ("L1", Central::V5, Some(ChangeAction::Upsert)));
        assert_eq!((l1.data.as_deref(), l1.source_site_id), (Some(r#"{"ID":"L1"}"#), Some(3)));

        let deletes = to_integrate(&mut conn, "asset", ChangeAction::Delete, 0, 10).await.unwrap();
        let a1 = &deletes[0];
        assert_eq!(
            (a1.record_id.as_str(), a1.from, a1.action, a1.data.as_deref()),
            ("A1", Central::V6, Some(ChangeAction::Delete), None)
        );

        let mut odd = unknown_tables(&mut conn, &["location", "asset"]).await.unwrap();
        odd.sort_by(|a, b| a.record_id.cmp(&b.record_id));
        let odd: Vec<(&str, bool)> = odd.iter().map(|r| (r.record_id.as_str(), r.is_merge())).collect();
        assert_eq!(odd, [("L2", true), ("T1", false)]);
    }
}
