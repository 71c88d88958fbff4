//! The generic translator, field by field: a wire record's values (V5 legacy JSON or a V6
//! snake_case row) as the site stores them, for the write path in [`super::batch`], and a site
//! row back into the wire record, for push ([`render`]).
//!
//! Fidelity rule: what a central sends comes back unchanged. Unmodelled fields live in the
//! extra JSON column. A modelled field whose value had to be stored as NULL (an optional
//! reference to nothing, a legacy zero date sent as `""`, a `null` where we expect a number) also
//! keeps its original value in the extra column, used whenever the column is still NULL.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Number, Value};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::error::RecordError;
use super::schema::{Field, Kind, Spec};

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
pub(super) async fn render(
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
