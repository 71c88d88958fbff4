//! The global change log of central data (unit, item, name, store, ...), paged by cursor for
//! `GET /sync/v5/central_records`. The cursor is the log row id; a page holds rows after it.
//!
//! # Why no committed row is passed
//!
//! The site moves its cursor to the last id of a page, and over an empty page up to
//! `maxCursor` one id at a time (`steps::pull_central::next_cursor`), so every answer promises:
//! every id up to `maxCursor` that will ever exist is committed already. Two rules keep it.
//!
//! - **Ids commit in id order.** Every write of `central_change` runs in a transaction from
//!   `data::begin`, which on PostgreSQL locks the log (`central_shared::begin_ordered`) before
//!   its first row takes an id and until it commits: the ids (a sequence, taken at insert) of
//!   concurrent transactions would otherwise commit in any order. PostgreSQL makes a commit
//!   visible before it releases its locks, so a reader that sees id N sees every id below N.
//!   SQLite has one writer at a time, so its rowids are taken in commit order.
//! - **The end is read before the page.** `maxCursor` is read first, the page (bounded by it)
//!   by a later statement, which sees at least what the first saw: all ids up to `maxCursor`.
//!   A missing id in that range is a rolled-back insert, never a row still to come.

use sqlx::Row;

use crate::db::CentralDb;
use crate::wire::v5::{Action, CentralRecord, CentralRecords, RawJson};

pub async fn max_cursor(db: &CentralDb) -> sqlx::Result<i64> {
    let row = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM central_change").fetch_one(&db.pool).await?;
    Ok(row.get(0))
}

/// Up to `limit` changes with an id greater than `cursor`, and the current largest id.
pub async fn page(db: &CentralDb, cursor: i64, limit: u64) -> anyhow::Result<CentralRecords> {
    // The max first, the page by a later statement (see "Why no committed row is passed").
    let max = max_cursor(db).await?;
    let rows = sqlx::query("SELECT id, table_name, record_id, action, data FROM central_change WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3")
        .bind(cursor)
        .bind(max)
        .bind(limit as i64)
        .fetch_all(&db.pool)
        .await?;
    let data = rows
        .iter()
        .map(|r| {
            let action = match r.get::<String, _>(3).as_str() {
                "insert" => Action::Insert,
                "delete" => Action::Delete,
                "merge" => Action::Merge,
                _ => Action::Update,
            };
            let raw: Option<String> = r.get(4);
            Ok(CentralRecord {
                id: r.get::<i64, _>(0) as u64,
                table_name: r.get(1),
                record_id: r.get(2),
                action,
                record_data: if action == Action::Delete { None } else { raw.map(RawJson::from_string).transpose()? },
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(CentralRecords { max_cursor: max.max(0) as u64, data })
}
