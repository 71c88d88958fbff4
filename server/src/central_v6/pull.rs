//! `pull`: a page of the deduplicated changelog (latest row per record) that the site may see,
//! as reference section 3.4 describes: rows without a store (central data) and rows of the
//! site's own stores; once initialised, not the rows the site itself pushed.
//!
//! # Why no committed row is passed
//!
//! The site's next pull starts at `endCursor + 1` (`steps::pull_v6::next_cursor`), so every
//! answer promises: no row the site may see will ever appear at or below `endCursor` later.
//! Two rules keep that promise.
//!
//! - **Cursors commit in cursor order.** Every changelog write runs in a transaction from
//!   `records::begin`, which on PostgreSQL locks the changelog (`central_shared::begin_ordered`)
//!   before its first row takes a cursor and until it commits: a BIGSERIAL value is taken at
//!   insert, so without the lock a transaction holding cursor 10 could commit after one holding
//!   11 had been read, and a reader at 12 would never see 10. With it, the transactions that
//!   write the changelog run one after another, and PostgreSQL makes a commit visible before it
//!   releases its locks, so any snapshot that sees cursor N sees every cursor below N. SQLite
//!   has one writer at a time: its rowids are taken in commit order already.
//! - **One snapshot per answer.** The count, the page and, on an empty page, the log's end
//!   (`MAX(cursor)`) are read in one read transaction (`CentralDb::begin_read`). The end
//!   used to be read by a later statement: a row committed between the empty page and that
//!   read was stepped over, and "nothing new" is the answer to most pulls. In one snapshot, the
//!   end is a row the snapshot sees, so (first rule) every row below it is seen too, and the
//!   empty page proves none of them is for this site.

use serde_json::Value;
use sqlx::{AssertSqlSafe, Row};

use super::legacy_auth::Caller;
use crate::db::CentralDb;
use crate::wire::v6::{Action, BatchRecord, Record, SyncBatch};

/// The shared WHERE clause; `$1` cursor, `$2` exclude-own flag, `$3` site id, `$4..` stores.
fn filter(stores: usize) -> String {
    let store_list = (0..stores).map(|i| format!("${}", i + 4)).collect::<Vec<_>>().join(",");
    let store_clause = if stores == 0 {
        "c.store_id IS NULL".to_owned()
    } else {
        format!("(c.store_id IS NULL OR c.store_id IN ({store_list}))")
    };
    format!(
        "c.cursor >= $1
         AND c.cursor = (SELECT MAX(d.cursor) FROM changelog d WHERE d.table_name = c.table_name AND d.record_id = c.record_id)
         AND {store_clause}
         AND ($2 = 0 OR c.source_site_id IS NULL OR c.source_site_id <> $3)"
    )
}

pub async fn page(
    db: &CentralDb,
    caller: &Caller,
    cursor: i64,
    batch_size: u64,
    is_initialised: bool,
) -> anyhow::Result<SyncBatch> {
    let where_ = filter(caller.store_ids.len());
    let bind_all = |sql: String| {
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(cursor).bind(i64::from(is_initialised)).bind(caller.site_id);
        for store in &caller.store_ids {
            q = q.bind(store.clone());
        }
        q
    };
    // Count, page and end of log in one snapshot (see "Why no committed row is passed").
    let mut tx = db.begin_read().await?;
    let total: i64 =
        bind_all(format!("SELECT COUNT(*) FROM changelog c WHERE {where_}")).fetch_one(&mut *tx).await?.get(0);
    let rows = bind_all(format!(
        "SELECT c.cursor, c.table_name, c.record_id, c.row_action, r.data FROM changelog c
         LEFT JOIN record r ON r.table_name = c.table_name AND r.record_id = c.record_id
         WHERE {where_} ORDER BY c.cursor LIMIT {batch_size}"
    ))
    .fetch_all(&mut *tx)
    .await?;
    let mut records = Vec::with_capacity(rows.len());
    for r in &rows {
        let raw: Option<String> = r.get(4);
        let action = if r.get::<String, _>(3) == "delete" { Action::Delete } else { Action::Update };
        records.push(BatchRecord {
            cursor: r.get::<i64, _>(0) as u64,
            record: Record {
                table_name: r.get(1),
                record_id: r.get(2),
                action,
                record_data: match (action, raw) {
                    (Action::Update, Some(raw)) => serde_json::from_str(&raw)?,
                    _ => Value::Null,
                },
            },
        });
    }
    let end_cursor = match records.last() {
        Some(last) => last.cursor,
        None => {
            sqlx::query("SELECT COALESCE(MAX(cursor), 0) FROM changelog").fetch_one(&mut *tx).await?.get::<i64, _>(0)
                as u64
        }
    };
    tx.commit().await?;
    let total = total.max(0) as u64;
    Ok(SyncBatch { end_cursor, total_records: total, records, is_last_batch: total <= batch_size })
}
