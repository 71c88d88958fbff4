//! The batched write path: a page of received records of ONE table applied with a handful of
//! statements instead of several per record.
//!
//! Why: every statement is a hop from tokio to sqlx's SQLite worker thread and back, and those
//! hops, not SQLite, were most of integration's time (BENCHMARKS.md). Per page this sends one
//! `SELECT … WHERE id IN (…)` per parent table, one multi-row upsert per few hundred rows and one
//! multi-row changelog insert (deletes: one `DELETE … RETURNING` and the changelog insert).
//!
//! Same semantics as the per-record path ([`super::integrate_v5`]/[`super::integrate_v6`]): each
//! record gets the same outcome and the same error text, fields are checked in the same order
//! (the first problem of a record is the one reported), and the rows and changelog rows written
//! are identical, in the same order. A record only refers to rows of earlier tables, so looking
//! its parents up before the page writes sees what one-by-one lookups would. When a page
//! statement still fails on a constraint (a case the checks do not foresee), SQLite has rolled
//! back that statement alone and the page is applied again record by record, so the record at
//! fault is quarantined and the others are not.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use sqlx::error::ErrorKind;
use sqlx::{AssertSqlSafe, Row as _, SqliteConnection};

use super::changelog::{self, ChangeAction, Entry, Origin};
use super::error::RecordError;
use super::schema::{Kind, Spec, StoreOf};
use super::translate::{self, Extra, Val, default_of, malformed, parse_plain};
use super::{Table, v5_spec, v6_spec};

/// Which central's record shape a received record has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Legacy JSON from the V5 central.
    V5,
    /// A snake_case row from the V6 central.
    V6,
}

/// One received record of a page, as the sync buffer holds it.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    pub record_id: &'a str,
    pub wire: Wire,
    /// The record's JSON text (None for a delete).
    pub data: Option<&'a str>,
    pub origin: Origin,
}

/// Per record of a page, in page order: `Ok` or why it was not applied (quarantine it).
pub type Outcomes = Vec<Result<(), RecordError>>;

/// SQLite's default maximum number of `?` in one statement (since 3.32).
const MAX_VARIABLES: usize = 32_766;
/// Rows per multi-row upsert: enough that hops no longer count, small enough that one
/// statement's text and binds stay modest.
const ROWS_PER_UPSERT: usize = 500;
/// Ids per `IN` list (bound as one JSON array, so the statement text never changes).
const IDS_PER_LOOKUP: usize = 5_000;

/// Apply a page of records of `table` (all upserts or all deletes) inside the caller's
/// transaction. `Err` only for a failure of the site (locked, full, I/O), which should end the
/// run; a record's own problem is its entry in the outcomes.
pub async fn integrate_page(
    conn: &mut SqliteConnection,
    table: Table,
    action: ChangeAction,
    page: &[Received<'_>],
) -> Result<Outcomes, RecordError> {
    // Parse every record first: the JSON text and the direction are checked before the action,
    // as the per-record path does.
    let parsed: Vec<Result<Option<Value>, RecordError>> = page
        .iter()
        .map(|r| {
            let data = match r.data {
                Some(text) => Some(
                    serde_json::from_str(text)
                        .map_err(|e| RecordError::Malformed(format!("record data is not JSON: {e}")))?,
                ),
                None => None,
            };
            match r.wire {
                Wire::V5 => v5_spec(table)?,
                Wire::V6 => v6_spec(table)?,
            };
            Ok(data)
        })
        .collect();
    let spec = Spec::of(table);
    let result = match action {
        ChangeAction::Upsert => upsert(conn, spec, page, &parsed).await,
        ChangeAction::Delete => delete(conn, spec, page, &parsed).await,
    };
    match result {
        Err(RecordError::Db(sqlx::Error::Database(e))) if e.kind() != ErrorKind::Other => {
            one_by_one(conn, spec, action, page, &parsed).await
        }
        other => other,
    }
}

/// The per-record path for every record of the page, for a page a statement refused.
async fn one_by_one(
    conn: &mut SqliteConnection,
    spec: &'static Spec,
    action: ChangeAction,
    page: &[Received<'_>],
    parsed: &[Result<Option<Value>, RecordError>],
) -> Result<Outcomes, RecordError> {
    let mut out = Vec::with_capacity(page.len());
    for (r, data) in page.iter().zip(parsed) {
        out.push(match data {
            Err(e) => Err(copy(e)),
            Ok(data) => translate::apply(conn, spec, r.record_id, action, data.as_ref(), r.origin).await,
        });
    }
    Ok(out)
}

/// A record's field values before its parents are looked up.
struct Draft<'a> {
    at: usize,
    obj: &'a Map<String, Value>,
    /// One per field checked so far; references are `Null` until resolved.
    vals: Vec<Val<'a>>,
    /// (field index, target id) of every reference checked so far.
    refs: Vec<(usize, Option<&'a str>)>,
    /// The first problem that does not depend on the database, and the field it was found at;
    /// a missing parent of an earlier field is reported before it.
    stop: Option<RecordError>,
}

async fn upsert(
    conn: &mut SqliteConnection,
    spec: &'static Spec,
    page: &[Received<'_>],
    parsed: &[Result<Option<Value>, RecordError>],
) -> Result<Outcomes, RecordError> {
    let mut out: Outcomes = Vec::with_capacity(page.len());
    let mut drafts: Vec<Draft<'_>> = Vec::with_capacity(page.len());
    for (at, (r, data)) in page.iter().zip(parsed).enumerate() {
        out.push(Ok(()));
        let data = match data {
            Err(e) => {
                out[at] = Err(copy(e));
                continue;
            }
            Ok(Some(data)) => data,
            Ok(None) => {
                out[at] = Err(malformed(spec, format!("upsert of {:?} carries no data", r.record_id)));
                continue;
            }
        };
        match draft(spec, at, r.record_id, data) {
            Ok(d) => drafts.push(d),
            Err(e) => out[at] = Err(e),
        }
    }

    // Every parent the page refers to, one lookup per parent table.
    let mut found: HashMap<Table, HashMap<String, Option<String>>> = HashMap::new();
    for field in spec.fields {
        let Kind::Ref { parent, .. } = field.kind else { continue };
        if found.contains_key(&parent) {
            continue;
        }
        let mut ids: Vec<&str> = Vec::new();
        for d in &drafts {
            for (i, target) in &d.refs {
                if let (Kind::Ref { parent: p, .. }, Some(t)) = (spec.fields[*i].kind, target)
                    && p == parent
                {
                    ids.push(t);
                }
            }
        }
        found.insert(parent, existing(conn, parent, ids).await?);
    }

    let mut rows: Vec<Ready<'_>> = Vec::with_capacity(drafts.len());
    for d in drafts {
        match resolve(spec, d, &found) {
            Ok(row) => rows.push(row),
            Err((at, e)) => out[at] = Err(e),
        }
    }

    let per_statement = (MAX_VARIABLES / spec.columns().len()).min(ROWS_PER_UPSERT);
    for chunk in rows.chunks(per_statement) {
        let full = chunk.len() == per_statement;
        let mut q = if full {
            sqlx::query(full_upsert_sql(spec, per_statement))
        } else {
            sqlx::query(AssertSqlSafe(spec.upsert_rows_sql(chunk.len()))).persistent(false)
        };
        for row in chunk {
            q = q.bind(page[row.at].record_id);
            for val in &row.vals {
                q = translate::bind(q, val);
            }
            q = q.bind(&row.extra);
        }
        q.execute(&mut *conn).await?;
    }

    let entries: Vec<Entry<'_>> = rows
        .iter()
        .map(|row| Entry {
            record_id: page[row.at].record_id,
            store_id: row.store(spec, page[row.at].record_id),
            origin: page[row.at].origin,
        })
        .collect();
    changelog::write_many(conn, spec.table, ChangeAction::Upsert, &entries).await?;
    Ok(out)
}

/// The cached text of a full chunk's upsert, one per table, so it is prepared once.
fn full_upsert_sql(spec: &'static Spec, rows: usize) -> &'static str {
    static FULL: [std::sync::OnceLock<String>; Table::ALL.len()] =
        [const { std::sync::OnceLock::new() }; Table::ALL.len()];
    let slot = Table::ALL.iter().position(|t| *t == spec.table).unwrap_or_default();
    FULL[slot].get_or_init(|| spec.upsert_rows_sql(rows))
}

/// A record ready to write.
struct Ready<'a> {
    at: usize,
    vals: Vec<Val<'a>>,
    extra: String,
}

impl Ready<'_> {
    /// The changelog's store of this row, as the per-record path derives it.
    fn store<'s>(&'s self, spec: &Spec, id: &'s str) -> Option<&'s str> {
        match spec.store {
            StoreOf::Nothing => None,
            StoreOf::Itself => Some(id),
            StoreOf::Parent => match self.vals.last() {
                Some(Val::Owned(s)) => s.as_deref(),
                _ => None,
            },
            StoreOf::Column => {
                spec.fields.iter().position(|f| f.column == "store_id").and_then(|i| match &self.vals[i] {
                    Val::Text(s) => Some(*s),
                    _ => None,
                })
            }
        }
    }
}

/// Check a record's shape and every field that needs no lookup, in field order.
fn draft<'a>(spec: &Spec, at: usize, id: &str, data: &'a Value) -> Result<Draft<'a>, RecordError> {
    let obj = data.as_object().ok_or_else(|| malformed(spec, "the record is not a JSON object".into()))?;
    match obj.get(spec.id_key) {
        Some(Value::String(s)) if s == id => {}
        Some(other) => {
            return Err(malformed(spec, format!("its {} {other} does not match the record id {id:?}", spec.id_key)));
        }
        None => return Err(malformed(spec, format!("it has no {} field", spec.id_key))),
    }
    let mut d = Draft { at, obj, vals: Vec::with_capacity(spec.fields.len() + 1), refs: Vec::new(), stop: None };
    for (i, field) in spec.fields.iter().enumerate() {
        let raw = obj.get(field.key);
        let val = match field.kind {
            Kind::Ref { required, .. } => {
                let target = match raw {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) if s.is_empty() => None,
                    Some(Value::String(s)) => Some(s.as_str()),
                    Some(other) => {
                        d.stop = Some(malformed(spec, format!("{} should be an id, not {other}", field.key)));
                        break;
                    }
                };
                if target.is_none() && required {
                    d.stop = Some(malformed(spec, format!("{} is empty", field.key)));
                    break;
                }
                d.refs.push((i, target));
                Val::Null
            }
            kind => match parse_plain(spec, field, kind, raw) {
                Ok(v) => v,
                Err(e) => {
                    d.stop = Some(e);
                    break;
                }
            },
        };
        d.vals.push(val);
    }
    Ok(d)
}

/// Fill in a draft's references from the lookups; the record's first problem otherwise.
fn resolve<'a>(
    spec: &Spec,
    mut d: Draft<'a>,
    found: &HashMap<Table, HashMap<String, Option<String>>>,
) -> Result<Ready<'a>, (usize, RecordError)> {
    let mut parent_store: Option<String> = None;
    for (i, target) in &d.refs {
        let field = &spec.fields[*i];
        let Kind::Ref { parent, required } = field.kind else { continue };
        let Some(target) = target else { continue };
        match found.get(&parent).and_then(|ids| ids.get(*target)) {
            Some(store) => {
                // The owning parent is the first required reference (see `StoreOf::Parent`).
                if spec.store == StoreOf::Parent && required && parent_store.is_none() {
                    parent_store = store.clone();
                }
                d.vals[*i] = Val::Text(target);
            }
            None if required => {
                let e = RecordError::MissingParent {
                    table: spec.table.name(),
                    field: field.key,
                    parent: parent.name(),
                    id: (*target).to_owned(),
                };
                return Err((d.at, e));
            }
            None => {}
        }
    }
    if let Some(e) = d.stop {
        return Err((d.at, e));
    }
    let keep: Vec<&'static str> = spec
        .fields
        .iter()
        .zip(&d.vals)
        .filter(|(f, v)| matches!(v, Val::Null) && d.obj.get(f.key).is_some_and(|r| *r != default_of(f.kind)))
        .map(|(f, _)| f.key)
        .collect();
    if spec.store == StoreOf::Parent {
        d.vals.push(Val::Owned(parent_store));
    }
    let extra = serde_json::to_string(&Extra { obj: d.obj, spec, keep: &keep })
        .map_err(|e| (d.at, malformed(spec, format!("unserialisable fields: {e}"))))?;
    Ok(Ready { at: d.at, vals: d.vals, extra })
}

/// Which of `ids` exist in `parent`, with their store for invoices (see `StoreOf::Parent`).
async fn existing(
    conn: &mut SqliteConnection,
    parent: Table,
    mut ids: Vec<&str>,
) -> Result<HashMap<String, Option<String>>, sqlx::Error> {
    ids.sort_unstable();
    ids.dedup();
    let store = if parent == Table::Invoice { "store_id" } else { "NULL" };
    let sql = format!("SELECT id, {store} FROM {} WHERE id IN (SELECT value FROM json_each(?))", parent.name());
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_LOOKUP) {
        let list = serde_json::to_string(chunk).unwrap_or_default();
        for row in sqlx::query(AssertSqlSafe(sql.clone())).bind(list).fetch_all(&mut *conn).await? {
            found.insert(row.try_get(0)?, row.try_get(1)?);
        }
    }
    Ok(found)
}

async fn delete(
    conn: &mut SqliteConnection,
    spec: &'static Spec,
    page: &[Received<'_>],
    parsed: &[Result<Option<Value>, RecordError>],
) -> Result<Outcomes, RecordError> {
    let mut out: Outcomes = Vec::with_capacity(page.len());
    let mut ids: Vec<&str> = Vec::with_capacity(page.len());
    for (r, data) in page.iter().zip(parsed) {
        match data {
            Err(e) => out.push(Err(copy(e))),
            Ok(_) => {
                out.push(Ok(()));
                ids.push(r.record_id);
            }
        }
    }
    let store = match spec.store {
        StoreOf::Nothing => "NULL",
        StoreOf::Column | StoreOf::Parent => "store_id",
        StoreOf::Itself => "id",
    };
    let sql =
        format!("DELETE FROM {} WHERE id IN (SELECT value FROM json_each(?)) RETURNING id, {store}", spec.table.name());
    let mut gone: HashMap<String, Option<String>> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_LOOKUP) {
        let list = serde_json::to_string(chunk).unwrap_or_default();
        for row in sqlx::query(AssertSqlSafe(sql.clone())).bind(list).fetch_all(&mut *conn).await? {
            gone.insert(row.try_get(0)?, row.try_get(1)?);
        }
    }
    // Deleting a row that is not here changes nothing, so it logs nothing; a second delete of
    // the same id in the page finds nothing either.
    let mut logged: HashSet<&str> = HashSet::with_capacity(gone.len());
    let mut entries: Vec<Entry<'_>> = Vec::with_capacity(gone.len());
    for (r, outcome) in page.iter().zip(&out) {
        if outcome.is_ok()
            && let Some(store) = gone.get(r.record_id)
            && logged.insert(r.record_id)
        {
            entries.push(Entry { record_id: r.record_id, store_id: store.as_deref(), origin: r.origin });
        }
    }
    changelog::write_many(conn, spec.table, ChangeAction::Delete, &entries).await?;
    Ok(out)
}

/// A record error again, for a record whose problem was found before the page was split
/// (errors are not `Clone` because of the database variant).
fn copy(e: &RecordError) -> RecordError {
    match e {
        RecordError::UnknownTable(s) => RecordError::UnknownTable(s.clone()),
        RecordError::Malformed(s) => RecordError::Malformed(s.clone()),
        RecordError::MissingParent { table, field, parent, id } => {
            RecordError::MissingParent { table, field, parent, id: id.clone() }
        }
        RecordError::Refused(s) => RecordError::Refused(s.clone()),
        RecordError::Db(e) => RecordError::Malformed(e.to_string()),
    }
}
