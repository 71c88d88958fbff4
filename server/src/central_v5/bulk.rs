//! Set-based statements for the V5 central's push and integration paths. A site's push used to
//! cost two statements per record (an ownership lookup and an upsert), and integration two more;
//! with a fleet pushing at once, those round trips to the database were most of the central's
//! work. Here a whole batch travels as one JSON text parameter that the database expands itself
//! (`json_array_elements` on PostgreSQL, `json_each` on SQLite): the `Any` driver only carries
//! basic types, and a text parameter works the same on both backends.

use std::collections::HashMap;

use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use crate::db::Backend;

/// (table, record id) → the stored record's owning store (`None` inside: central data).
pub type Owners = HashMap<(String, String), Option<String>>;

/// Rows of a JSON array parameter, each a JSON array, as `k` with columns `c0`, `c1`, ...
fn expand(backend: Backend, columns: usize) -> String {
    let cols: Vec<String> = (0..columns)
        .map(|i| match backend {
            Backend::Postgres => format!("e->>{i} AS c{i}"),
            Backend::Sqlite => format!("json_extract(e.value, '$[{i}]') AS c{i}"),
        })
        .collect();
    match backend {
        Backend::Postgres => format!("(SELECT {} FROM json_array_elements($1::text::json) e) k", cols.join(", ")),
        Backend::Sqlite => format!("(SELECT {} FROM json_each($1) e) k", cols.join(", ")),
    }
}

/// The owning stores of those of `keys` that exist in the central's tables, in one statement.
pub async fn stored_owners<'a>(
    conn: &mut AnyConnection,
    backend: Backend,
    keys: impl Iterator<Item = (&'a str, &'a str)>,
) -> sqlx::Result<Owners> {
    let keys: Vec<Value> = keys.map(|(t, id)| json!([t, id])).collect();
    if keys.is_empty() {
        return Ok(Owners::new());
    }
    // One primary-key probe per key. Left to itself PostgreSQL hash-joins the expanded keys
    // against a sequential scan of every record; the LIMIT keeps the lateral subquery a probe.
    // SQLite's CROSS JOIN fixes the keys as the outer loop, which does the same.
    let sql = match backend {
        Backend::Postgres => format!(
            "SELECT k.c0, k.c1, r.store_id FROM {} CROSS JOIN LATERAL (SELECT store_id FROM record
             WHERE table_name = k.c0 AND record_id = k.c1 LIMIT 1) r",
            expand(backend, 2)
        ),
        Backend::Sqlite => format!(
            "SELECT r.table_name, r.record_id, r.store_id FROM {} CROSS JOIN record r
             WHERE r.table_name = k.c0 AND r.record_id = k.c1",
            expand(backend, 2)
        ),
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(Value::Array(keys).to_string()).fetch_all(conn).await?;
    Ok(rows.iter().map(|r| ((r.get(0), r.get(1)), r.get::<Option<String>, _>(2))).collect())
}

/// One row for `buffer_pushes`: table, record id, action, owning store, legacy JSON text.
pub type PushRow<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<String>);

/// Upsert a batch into the site's push buffer in one statement. A record pushed twice in one
/// batch keeps its last version, as one upsert after another would.
pub async fn buffer_pushes(
    conn: &mut AnyConnection,
    backend: Backend,
    site_id: i64,
    rows: Vec<PushRow<'_>>,
) -> sqlx::Result<()> {
    let mut last = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        last.insert((row.0, row.1), i);
    }
    let values: Vec<Value> = rows
        .into_iter()
        .enumerate()
        .filter(|(i, row)| last.get(&(row.0, row.1)) == Some(i))
        .map(|(_, (table, id, action, store, data))| json!([table, id, action, store, data]))
        .collect();
    if values.is_empty() {
        return Ok(());
    }
    // `WHERE true` keeps SQLite from reading ON CONFLICT as part of the SELECT's join.
    let sql = format!(
        "INSERT INTO push_buffer (site_id, table_name, record_id, action, store_id, data)
         SELECT $2, c0, c1, c2, c3, c4 FROM {} WHERE true
         ON CONFLICT (site_id, table_name, record_id) DO UPDATE SET action = excluded.action,
         store_id = excluded.store_id, data = excluded.data",
        expand(backend, 5)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(Value::Array(values).to_string()).bind(site_id).execute(conn).await?;
    Ok(())
}

/// One row for `put_records`: table, record id, owning store, active site (store records),
/// legacy JSON text. Keys must be distinct.
pub type RecordRow<'a> = (&'a str, &'a str, Option<&'a str>, Option<i64>, &'a str);

/// Insert or replace many records in the central's tables in one statement.
pub async fn put_records(conn: &mut AnyConnection, backend: Backend, rows: &[RecordRow<'_>]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let values: Vec<Value> = rows.iter().map(|r| json!([r.0, r.1, r.2, r.3, r.4])).collect();
    let site = match backend {
        Backend::Postgres => "c3::bigint",
        Backend::Sqlite => "c3",
    };
    let sql = format!(
        "INSERT INTO record (table_name, record_id, store_id, active_site_id, data)
         SELECT c0, c1, c2, {site}, c4 FROM {} WHERE true
         ON CONFLICT (table_name, record_id) DO UPDATE SET store_id = excluded.store_id,
         active_site_id = excluded.active_site_id, data = excluded.data",
        expand(backend, 5)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(Value::Array(values).to_string()).execute(conn).await?;
    Ok(())
}
