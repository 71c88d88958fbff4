//! The write path of received records: a page of records of ONE table applied with a handful
//! of statements instead of several per record. A single record (a local delete, a record a
//! page statement refused) goes through the same code as a page of one.
//!
//! Why pages: every statement is a hop from tokio to sqlx's SQLite worker thread and back, and
//! those hops, not SQLite, were most of integration's time (BENCHMARKS.md). Per page this sends
//! one `SELECT … WHERE id IN (…)` per parent table, one multi-row upsert per few hundred rows and
//! one multi-row changelog insert (deletes: one `DELETE … RETURNING` and the changelog insert).
//!
//! Each record gets its own outcome: fields are checked in order and the first problem of a
//! record is the one reported; a missing parent of an earlier field is reported before a
//! problem of a later one. A record only refers to rows of earlier tables, so looking its
//! parents up before the page writes sees what one-by-one lookups would. When a page statement
//! still fails on a constraint (a case the checks do not foresee), SQLite has rolled back that
//! statement alone and the page is applied again as pages of one, so the record at fault is
//! quarantined and the others are not.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::{AssertSqlSafe, Row as _, SqliteConnection};

use super::changelog::{self, ChangeAction, Entry, Origin};
use super::error::RecordError;
use super::schema::{Kind, Spec, StoreOf};
use super::translate::{self, Extra, Val, default_of, malformed, parse_plain};
use super::{Central, Table, spec_for};

/// One received record of a page, as the sync buffer holds it.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    pub record_id: &'a str,
    /// The central whose record shape `data` has (V5 legacy JSON or a V6 snake_case row).
    pub from: Central,
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
/// run; a record's own problem, including a constraint it breaks, is its entry in the outcomes.
pub async fn integrate_page(
    conn: &mut SqliteConnection,
    table: Table,
    action: ChangeAction,
    page: &[Received<'_>],
) -> Result<Outcomes, RecordError> {
    if let [one] = page {
        return Ok(vec![integrate_alone(conn, table, action, *one).await?]);
    }
    match write_page(conn, table, action, page).await {
        Err(RecordError::Db(sqlx::Error::Database(e))) if e.kind() != ErrorKind::Other => {
            let mut out = Vec::with_capacity(page.len());
            for one in page {
                out.push(integrate_alone(conn, table, action, *one).await?);
            }
            Ok(out)
        }
        other => other,
    }
}

/// Apply one record as a page of one (a local delete, a record seeded by a test); `Err` is the
/// record's problem or, when [`RecordError::is_db`], the site's.
pub async fn integrate_one(
    conn: &mut SqliteConnection,
    table: Table,
    action: ChangeAction,
    record: Received<'_>,
) -> Result<(), RecordError> {
    integrate_alone(conn, table, action, record).await?
}

/// A page of one: a constraint its statement breaks is the record's own outcome.
async fn integrate_alone(
    conn: &mut SqliteConnection,
    table: Table,
    action: ChangeAction,
    record: Received<'_>,
) -> Result<Result<(), RecordError>, RecordError> {
    match write_page(conn, table, action, &[record]).await {
        Ok(mut outcomes) => Ok(outcomes.pop().unwrap_or(Ok(()))),
        Err(RecordError::Db(sqlx::Error::Database(e))) if e.kind() != ErrorKind::Other => {
            Ok(Err(refused(table, action, record.record_id, e)))
        }
        Err(e) => Err(e),
    }
}

/// The reason a record whose statement broke a constraint is quarantined with.
fn refused(table: Table, action: ChangeAction, id: &str, e: Box<dyn DatabaseError>) -> RecordError {
    if action == ChangeAction::Delete && e.kind() == ErrorKind::ForeignKeyViolation {
        return RecordError::Refused(format!(
            "{} {id:?} cannot be deleted while other records still refer to it",
            table.name()
        ));
    }
    RecordError::Db(sqlx::Error::Database(e))
}

/// Parse and check every record, then write the page; a statement's failure is the page's.
async fn write_page(
    conn: &mut SqliteConnection,
    table: Table,
    action: ChangeAction,
    page: &[Received<'_>],
) -> Result<Outcomes, RecordError> {
    // The JSON text and the direction are checked before the action.
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
            spec_for(table, r.from)?;
            Ok(data)
        })
        .collect();
    let spec = Spec::of(table);
    match action {
        ChangeAction::Upsert => upsert(conn, spec, page, parsed).await,
        ChangeAction::Delete => delete(conn, spec, page, parsed).await,
    }
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
    parsed: Vec<Result<Option<Value>, RecordError>>,
) -> Result<Outcomes, RecordError> {
    let (mut out, values) = split(parsed);
    let mut drafts: Vec<Draft<'_>> = Vec::with_capacity(page.len());
    for (at, (r, data)) in page.iter().zip(&values).enumerate() {
        if out[at].is_err() {
            continue;
        }
        let Some(data) = data else {
            out[at] = Err(malformed(spec, format!("upsert of {:?} carries no data", r.record_id)));
            continue;
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

    let per_statement = rows_per_upsert(spec);
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

/// Rows of `spec`'s table per multi-row upsert.
pub(super) fn rows_per_upsert(spec: &Spec) -> usize {
    (MAX_VARIABLES / spec.columns().len()).min(ROWS_PER_UPSERT)
}

/// The cached text of a full chunk's upsert ([`rows_per_upsert`] rows), one per table, so it
/// is prepared once.
pub(super) fn full_upsert_sql(spec: &'static Spec, rows: usize) -> &'static str {
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
    parsed: Vec<Result<Option<Value>, RecordError>>,
) -> Result<Outcomes, RecordError> {
    let (out, _) = split(parsed);
    let ids: Vec<&str> = page.iter().zip(&out).filter(|(_, o)| o.is_ok()).map(|(r, _)| r.record_id).collect();
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

/// The outcomes so far (a record that did not parse has its error) and the parsed data.
fn split(parsed: Vec<Result<Option<Value>, RecordError>>) -> (Outcomes, Vec<Option<Value>>) {
    parsed
        .into_iter()
        .map(|p| match p {
            Ok(data) => (Ok(()), data),
            Err(e) => (Err(e), None),
        })
        .unzip()
}
