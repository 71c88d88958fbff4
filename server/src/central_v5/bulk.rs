//! Set-based writes of the V5 central's integration (see `central_shared::bulk` for why a batch
//! travels as one JSON parameter).

use serde_json::{Value, json};
use sqlx::AnyConnection;

use crate::central_shared::bulk::expand;
use crate::db::Backend;

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
