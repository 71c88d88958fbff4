//! Set-based statements on the tables both centrals have (`record`, `push_buffer`). A site's
//! push used to cost two statements per record (an ownership lookup and an upsert), and
//! integration two more; with a fleet pushing at once, those round trips to the database were
//! most of a central's work. Here a whole batch travels as one JSON text parameter that the
//! database expands itself (`json_array_elements` on PostgreSQL, `json_each` on SQLite): the
//! `Any` driver only carries basic types, and a text parameter works the same on both backends.

use std::collections::HashMap;

use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use crate::db::Backend;

/// (table, record id) → the stored record's owning store (`None` inside: central data).
pub type Owners = HashMap<(String, String), Option<String>>;

/// Rows of a JSON array parameter, each a JSON array, as `k` with columns `c0`, `c1`, ...
pub fn expand(backend: Backend, columns: usize) -> String {
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
