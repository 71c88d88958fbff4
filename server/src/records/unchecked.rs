//! The floor under integration's cost, for the benchmark's "physical limit": records of one
//! table written straight into the site's tables with their changelog rows, with no checks,
//! no parent lookups and none of the fidelity bookkeeping of [`super::integrate_page`]. That is
//! the work a site cannot avoid, done the fastest straightforward way.
//!
//! Never a sync path: a record this refuses or mangles is not reported, and a statement that
//! fails fails the whole call. It lives here, next to the real path, so the benchmark measures
//! the same tables, columns and changelog without reaching into the schema.

use serde::ser::{Serialize, Serializer};
use serde_json::{Map, Value};
use sqlx::{AssertSqlSafe, SqliteConnection};

use super::Table;
use super::changelog::{self, ChangeAction, Entry, Origin};
use super::error::RecordError;
use super::schema::{Kind, Spec, StoreOf};

/// Upsert `records` (id, wire object) of `table` with multi-row statements prepared once per
/// table (the write path's chunk size; before issue 14 each chunk was a statement of as many
/// rows as SQLite's variable limit allows, compiled anew every time), plus their changelog
/// rows stamped `origin`, inside the caller's transaction. Returns how many rows were written.
pub async fn write_unchecked(
    conn: &mut SqliteConnection,
    table: Table,
    records: &[(&str, &Map<String, Value>)],
    origin: Origin,
) -> Result<u64, RecordError> {
    let spec = Spec::of(table);
    let per_statement = super::batch::rows_per_upsert(spec);
    for chunk in records.chunks(per_statement) {
        let mut q = if chunk.len() == per_statement {
            sqlx::query(super::batch::full_upsert_sql(spec, per_statement))
        } else {
            sqlx::query(AssertSqlSafe(spec.upsert_rows_sql(chunk.len()))).persistent(false)
        };
        for (id, obj) in chunk {
            q = q.bind(*id);
            for field in spec.fields {
                q = match (obj.get(field.key), field.kind) {
                    (None | Some(Value::Null), _) => q.bind(None::<&str>),
                    (Some(Value::String(s)), Kind::Ref { .. } | Kind::Date) if s.is_empty() || s == "0000-00-00" => {
                        q.bind(None::<&str>)
                    }
                    (Some(Value::String(s)), _) => q.bind(s.as_str()),
                    (Some(Value::Bool(b)), _) => q.bind(*b),
                    (Some(Value::Number(n)), _) => match n.as_i64() {
                        Some(i) => q.bind(i),
                        None => q.bind(n.as_f64()),
                    },
                    (Some(other), _) => q.bind(other.to_string()),
                };
            }
            if spec.store == StoreOf::Parent {
                q = q.bind(None::<&str>);
            }
            let extra = serde_json::to_string(&Unmodelled { obj, spec })
                .map_err(|e| RecordError::Malformed(format!("unserialisable fields: {e}")))?;
            q = q.bind(extra);
        }
        q.execute(&mut *conn).await?;
    }
    let store_key = spec.fields.iter().find(|f| f.column == "store_id").map(|f| f.key);
    let entries: Vec<Entry<'_>> = records
        .iter()
        .map(|(id, obj)| Entry {
            record_id: id,
            store_id: match spec.store {
                StoreOf::Itself => Some(id),
                StoreOf::Column => store_key.and_then(|k| obj.get(k)).and_then(Value::as_str),
                StoreOf::Nothing | StoreOf::Parent => None,
            },
            origin,
        })
        .collect();
    changelog::write_many(conn, table, ChangeAction::Upsert, &entries).await?;
    Ok(records.len() as u64)
}

/// The fields a table does not model, serialised straight from the parsed record.
struct Unmodelled<'a> {
    obj: &'a Map<String, Value>,
    spec: &'a Spec,
}

impl Serialize for Unmodelled<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.obj.iter().filter(|(k, _)| !self.spec.models(k)))
    }
}
