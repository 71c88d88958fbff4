//! The global change log of central data (unit, item, name, store, ...), paged by cursor for
//! `GET /sync/v5/central_records`. The cursor is the log row id; a page holds rows after it.

use sqlx::Row;

use crate::db::CentralDb;
use crate::wire::v5::{Action, CentralRecord, CentralRecords, RawJson};

pub async fn max_cursor(db: &CentralDb) -> sqlx::Result<i64> {
    let row = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM central_change").fetch_one(&db.pool).await?;
    Ok(row.get(0))
}

/// Up to `limit` changes with an id greater than `cursor`, and the current largest id.
pub async fn page(db: &CentralDb, cursor: i64, limit: u64) -> anyhow::Result<CentralRecords> {
    // Read the max first: every row we return is then at most max_cursor, so a site that stops
    // at max_cursor never skips a row committed in between.
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
