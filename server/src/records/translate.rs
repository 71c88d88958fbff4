//! The generic translator: a wire record (V5 legacy JSON or V6 snake_case row) into its site
//! row plus changelog entry, and a site row back into the wire record.
//!
//! Fidelity rule: what a central sends comes back unchanged. Unmodelled fields live in the
//! extra JSON column. A modelled field whose value had to be stored as NULL (an optional
//! reference to nothing, a legacy zero date sent as `""`, a `null` where we expect a number) also
//! keeps its original value in the extra column, used whenever the column is still NULL.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Number, Value};
use sqlx::error::ErrorKind;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::changelog::{self, ChangeAction, Origin};
use super::error::RecordError;
use super::schema::{Field, Kind, Spec, StoreOf, parent_sql};

/// A value about to be bound; borrows from the wire JSON so parsing does not copy strings.
pub(super) enum Val<'a> {
    Null,
    Text(&'a str),
    Owned(Option<String>),
    Int(i64),
    Real(f64),
    Bool(bool),
}

/// V5's "no date".
const NO_DATE: &str = "0000-00-00";

/// Apply one received or local record to its table and log it with `origin`.
pub(crate) async fn apply(
    conn: &mut SqliteConnection,
    spec: &'static Spec,
    record_id: &str,
    action: ChangeAction,
    data: Option<&Value>,
    origin: Origin,
) -> Result<(), RecordError> {
    match action {
        ChangeAction::Delete => delete(conn, spec, record_id, origin).await,
        ChangeAction::Upsert => {
            let data = data.ok_or_else(|| malformed(spec, format!("upsert of {record_id:?} carries no data")))?;
            upsert(conn, spec, record_id, data, origin).await
        }
    }
}

async fn delete(conn: &mut SqliteConnection, spec: &'static Spec, id: &str, origin: Origin) -> Result<(), RecordError> {
    let deleted = sqlx::query(spec.delete_sql()).bind(id).fetch_optional(&mut *conn).await;
    let row = match deleted {
        Ok(row) => row,
        Err(sqlx::Error::Database(e)) if e.kind() == ErrorKind::ForeignKeyViolation => {
            return Err(RecordError::Refused(format!(
                "{} {id:?} cannot be deleted while other records still refer to it",
                spec.table.name()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    // Deleting a row that is not here changes nothing, so it logs nothing.
    if let Some(row) = row {
        let store: Option<String> = row.try_get(0)?;
        changelog::write(conn, spec.table, id, ChangeAction::Delete, store.as_deref(), origin).await?;
    }
    Ok(())
}

async fn upsert(
    conn: &mut SqliteConnection,
    spec: &'static Spec,
    id: &str,
    data: &Value,
    origin: Origin,
) -> Result<(), RecordError> {
    let obj = data.as_object().ok_or_else(|| malformed(spec, "the record is not a JSON object".into()))?;
    match obj.get(spec.id_key) {
        Some(Value::String(s)) if s == id => {}
        Some(other) => {
            return Err(malformed(spec, format!("its {} {other} does not match the record id {id:?}", spec.id_key)));
        }
        None => return Err(malformed(spec, format!("it has no {} field", spec.id_key))),
    }

    let mut vals: Vec<Val<'_>> = Vec::with_capacity(spec.fields.len() + 1);
    // Modelled keys whose original value must be kept because the column holds NULL.
    let mut keep: Vec<&'static str> = Vec::new();
    let mut parent_store: Option<String> = None;
    for field in spec.fields {
        let raw = obj.get(field.key);
        let val = match field.kind {
            Kind::Ref { parent, required } => {
                let target = match raw {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) if s.is_empty() => None,
                    Some(Value::String(s)) => Some(s.as_str()),
                    Some(other) => return Err(malformed(spec, format!("{} should be an id, not {other}", field.key))),
                };
                let found = match target {
                    Some(target) => sqlx::query(parent_sql(parent)).bind(target).fetch_optional(&mut *conn).await?,
                    None => None,
                };
                match (target, found) {
                    (Some(target), Some(row)) => {
                        // The owning parent is the first required reference (see `StoreOf::Parent`).
                        if spec.store == StoreOf::Parent && required && parent_store.is_none() {
                            parent_store = row.try_get(0)?;
                        }
                        Val::Text(target)
                    }
                    (Some(target), None) if required => {
                        return Err(RecordError::MissingParent {
                            table: spec.table.name(),
                            field: field.key,
                            parent: parent.name(),
                            id: target.to_owned(),
                        });
                    }
                    (None, _) if required => return Err(malformed(spec, format!("{} is empty", field.key))),
                    _ => Val::Null,
                }
            }
            kind => parse_plain(spec, field, kind, raw)?,
        };
        if matches!(val, Val::Null) && raw.is_some_and(|r| *r != default_of(field.kind)) {
            keep.push(field.key);
        }
        vals.push(val);
    }
    if spec.store == StoreOf::Parent {
        vals.push(Val::Owned(parent_store));
    }
    let extra = serde_json::to_string(&Extra { obj, spec, keep: &keep })
        .map_err(|e| malformed(spec, format!("unserialisable fields: {e}")))?;

    let mut query = sqlx::query(spec.upsert_sql()).bind(id);
    for val in &vals {
        query = bind(query, val);
    }
    query.bind(extra).execute(&mut *conn).await?;

    let store = match spec.store {
        StoreOf::Nothing => None,
        StoreOf::Itself => Some(id),
        StoreOf::Parent => vals.last().and_then(|v| if let Val::Owned(s) = v { s.as_deref() } else { None }),
        StoreOf::Column => spec.fields.iter().position(|f| f.column == "store_id").and_then(|i| match &vals[i] {
            Val::Text(s) => Some(*s),
            _ => None,
        }),
    };
    changelog::write(conn, spec.table, id, ChangeAction::Upsert, store, origin).await?;
    Ok(())
}

/// Bind one value, as its SQLite type.
pub(super) fn bind<'q>(
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    val: &Val<'_>,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    match val {
        Val::Null => query.bind(None::<&str>),
        Val::Text(s) => query.bind(*s),
        Val::Owned(s) => query.bind(s.as_deref()),
        Val::Int(i) => query.bind(*i),
        Val::Real(r) => query.bind(*r),
        Val::Bool(b) => query.bind(*b),
    }
}

/// A non-reference field's value; a type we cannot store is a malformed record.
pub(super) fn parse_plain<'a>(
    spec: &Spec,
    field: &Field,
    kind: Kind,
    raw: Option<&'a Value>,
) -> Result<Val<'a>, RecordError> {
    let Some(raw) = raw else { return Ok(Val::Null) };
    let wrong = |what: &str| malformed(spec, format!("{} should be {what}, not {raw}", field.key));
    Ok(match (kind, raw) {
        (_, Value::Null) => Val::Null,
        (Kind::Text, Value::String(s)) => Val::Text(s),
        (Kind::Text, _) => return Err(wrong("a string")),
        (Kind::Date, Value::String(s)) if s.is_empty() || s == NO_DATE => Val::Null,
        (Kind::Date, Value::String(s)) => Val::Text(s),
        (Kind::Date, _) => return Err(wrong("a date")),
        (Kind::Bool, Value::Bool(b)) => Val::Bool(*b),
        (Kind::Bool, _) => return Err(wrong("true or false")),
        (Kind::Int, Value::Number(n)) => match n.as_i64() {
            Some(i) => Val::Int(i),
            // 4D sends some whole numbers as reals (`2.0`).
            None => match n.as_f64() {
                Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Val::Int(x as i64),
                _ => return Err(wrong("a whole number")),
            },
        },
        (Kind::Int, _) => return Err(wrong("a whole number")),
        (Kind::Real, Value::Number(n)) => Val::Real(n.as_f64().ok_or_else(|| wrong("a number"))?),
        (Kind::Real, _) => return Err(wrong("a number")),
        (Kind::Ref { .. }, _) => unreachable!("references are parsed by the caller"),
    })
}

/// What a NULL column is sent back as when no original value was kept: the value 4D itself
/// uses for "nothing" in a field of that kind.
pub(super) fn default_of(kind: Kind) -> Value {
    match kind {
        Kind::Text => Value::Null,
        Kind::Bool => Value::Bool(false),
        Kind::Int | Kind::Real => Value::from(0),
        Kind::Date => Value::from(NO_DATE),
        Kind::Ref { .. } => Value::from(""),
    }
}

/// The extra column's JSON: every field of `obj` except the modelled ones (and the id), plus
/// the modelled ones listed in `keep`. Serialised straight from the borrowed record.
pub(super) struct Extra<'a> {
    pub obj: &'a Map<String, Value>,
    pub spec: &'a Spec,
    pub keep: &'a [&'static str],
}

impl Serialize for Extra<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.obj {
            let keep = key != self.spec.id_key && (!self.spec.models(key) || self.keep.contains(&key.as_str()));
            if keep {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// The wire record of the current row, or None when it is gone.
pub(crate) async fn render(
    conn: &mut SqliteConnection,
    spec: &'static Spec,
    id: &str,
) -> Result<Option<Value>, RecordError> {
    let Some(row) = sqlx::query(spec.select_sql()).bind(id).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let extra: &str = row.try_get(spec.fields.len())?;
    let mut out: Map<String, Value> = serde_json::from_str(extra).map_err(|e| {
        RecordError::Malformed(format!("{} {id:?} has a corrupt {}: {e}", spec.table.name(), spec.extra_column))
    })?;
    for (i, field) in spec.fields.iter().enumerate() {
        let kept = out.remove(field.key);
        let value = column_value(&row, i, field.kind)?.or(kept).unwrap_or_else(|| default_of(field.kind));
        out.insert(field.key.to_owned(), value);
    }
    out.insert(spec.id_key.to_owned(), Value::from(id));
    Ok(Some(Value::Object(out)))
}

fn column_value(row: &SqliteRow, i: usize, kind: Kind) -> Result<Option<Value>, sqlx::Error> {
    Ok(match kind {
        Kind::Text | Kind::Date | Kind::Ref { .. } => row.try_get::<Option<String>, _>(i)?.map(Value::from),
        Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map(Value::from),
        Kind::Int => row.try_get::<Option<i64>, _>(i)?.map(Value::from),
        Kind::Real => row.try_get::<Option<f64>, _>(i)?.map(real_to_json),
    })
}

/// V5 does not tell whole reals from integers (`"Volume": 0` and `10.0` both occur), so a
/// whole value goes back as an integer, the common form; anything else as a float.
fn real_to_json(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        Number::from_f64(x).map(Value::Number).unwrap_or(Value::Null)
    }
}

pub(super) fn malformed(spec: &Spec, why: String) -> RecordError {
    RecordError::Malformed(format!("{} record: {why}", spec.table.name()))
}
