//! Outgoing refusals: records this site pushed that a central refused (the ownership rule: the
//! record's store moved to another site, an id that belongs to another store...). A refusal is
//! about one record, so it must never stop a run: the push sends the rest of the batch, moves
//! its cursor past the refused records, and the run goes on to the pulls (which is how the site
//! learns, say, that the store moved). Each refused record is kept in `sync_push_refusal` with
//! the central's reason and listed beside the incoming quarantine (`GET /api/sync/quarantine`,
//! `direction: outgoing`), so nothing is dropped silently.
//!
//! Which records? Our centrals name them: the V5 central refuses the whole batch with
//! `sync_record_rejected` and lists every refused record in the envelope's `data.refused`
//! (`[{"tableName","recordId","reason"}]`, an Outpost extension in a field the reference leaves
//! free: a reference site ignores it). A central that refuses a batch without naming the records
//! (the reference's legacy central; our V6 central, whose `otherServerError` is only text) is
//! answered by splitting the batch in halves until each refused record stands alone; that costs
//! about two requests per refused record per halving, and only when something is refused.
//!
//! A central can also refuse a record it had accepted into its buffer, at integration (the
//! ownership rule asked again there: the row or its store changed hands meanwhile). It keeps
//! those in its database and answers them with `site_status` once idle (V6 `refused`, V5
//! `data.refused`); the push steps record them here ([`record_from_integration`]). The site's
//! next final push makes the central replace them, so a push step that asked for an integration
//! keeps a flag (`kv::V5_REFUSALS_UNREAD` / `kv::V6_REFUSALS_UNREAD`) until it has read them, and
//! the next run reads them first if a run ended before it could.
//!
//! A refusal leaves the list when the site sends the record again and the central accepts it,
//! when a pull brings the record anew (or its deletion: the site's copy is the central's again),
//! or when a pull moves the record's store to another site (the record is no longer this
//! site's to send).

use std::future::Future;

use outpost_api::{Direction, QuarantinedRecord};
use sqlx::{SqliteConnection, SqlitePool};

use serde_json::{Value, json};

use super::buffer::now;
use super::changelog::PushRow;
use super::errors::RunError;
use super::kv;
use crate::records::{Central, Table};
use crate::wire::client::{CallError, Problem};
use crate::wire::v5::{RefusedRecord, code};
use crate::wire::v6::ErrorValue;

/// A central refused the request because of (some of) its records.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// (wire table, record id, reason) for each record the central named; empty when it did not.
    pub named: Vec<(String, String, String)>,
    /// What the central said, for records it did not name.
    pub message: String,
}

/// Whether a call failed because the central refused records, and which ones if it said.
pub fn rejection(e: &CallError) -> Option<Rejection> {
    match &e.problem {
        Problem::V5 { error, .. } if error.code == code::SYNC_RECORD_REJECTED => Some(from_body(error)),
        Problem::V6(ErrorValue::LegacyServerError(body)) if body.code == code::SYNC_RECORD_REJECTED => {
            Some(from_body(body))
        }
        Problem::V6(ErrorValue::OtherServerError(text)) if text.starts_with(code::SYNC_RECORD_REJECTED) => {
            Some(Rejection { named: Vec::new(), message: text.clone() })
        }
        _ => None,
    }
}

fn from_body(body: &crate::wire::v5::ErrorBody) -> Rejection {
    let named = body
        .data
        .as_ref()
        .and_then(|d| d.get("refused"))
        .and_then(|r| r.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|r| {
                    let field = |k: &str| r.get(k).and_then(|v| v.as_str()).map(str::to_owned);
                    Some((field("tableName")?, field("recordId")?, field("reason").unwrap_or_default()))
                })
                .collect()
        })
        .unwrap_or_default();
    Rejection { named, message: body.message.clone() }
}

/// What pushing one batch came to.
pub struct Outcome<R> {
    /// The batch went through in one request, as it was.
    pub whole_accepted: bool,
    /// Some part of it was accepted (so the central holds something of this push).
    pub accepted_any: bool,
    /// The records the central refused, each with its reason.
    pub refused: Vec<(R, String)>,
}

/// Send `items` with `send(part, is_whole)`; when the central refuses the part, take out the
/// records it names, or split the part in two when it names none, and send what is left; a
/// record refused on its own is refused. Errors other than a refusal end the push as before.
/// `key` gives a record's (wire table, id) to match the central's names.
pub async fn send_splitting<R, S, F>(
    items: Vec<R>,
    key: fn(&R) -> (&str, &str),
    mut send: S,
) -> Result<Outcome<R>, RunError>
where
    R: Clone,
    S: FnMut(Vec<R>, bool) -> F,
    F: Future<Output = Result<Result<(), Rejection>, RunError>>,
{
    let mut outcome = Outcome { whole_accepted: false, accepted_any: false, refused: Vec::new() };
    // A stack of parts still to send, the next on top, so records keep their order.
    let mut parts = vec![items];
    let mut first = true;
    while let Some(mut part) = parts.pop() {
        let whole = std::mem::take(&mut first);
        if part.is_empty() && !whole {
            continue;
        }
        let rejection = match send(part.clone(), whole).await? {
            Ok(()) => {
                outcome.whole_accepted |= whole;
                outcome.accepted_any |= !part.is_empty();
                continue;
            }
            Err(rejection) => rejection,
        };
        let named = |r: &R| {
            let (table, id) = key(r);
            rejection.named.iter().find(|(t, i, _)| t == table && i == id).map(|(_, _, why)| why.clone())
        };
        let before = part.len();
        let mut rest = Vec::with_capacity(before);
        for record in part.drain(..) {
            match named(&record) {
                Some(why) => {
                    outcome.refused.push((record, if why.is_empty() { rejection.message.clone() } else { why }))
                }
                None => rest.push(record),
            }
        }
        if rest.len() < before {
            parts.push(rest);
        } else if rest.len() == 1 {
            let record = rest.pop().expect("one record");
            outcome.refused.push((record, rejection.message.clone()));
        } else if rest.is_empty() {
            // A refused batch without records: nothing to take out, so it is a failure.
            return Err(RunError::new(
                super::errors::Variant::SyncRecordRejected,
                "Error while pushing records",
                rejection.message,
            ));
        } else {
            let second = rest.split_off(rest.len() / 2);
            parts.push(second);
            parts.push(rest);
        }
    }
    Ok(outcome)
}

/// One refused record, as the site names it.
pub struct Refused<'a> {
    pub table: &'a str,
    pub record_id: &'a str,
    pub store_id: Option<&'a str>,
    pub reason: &'a str,
}

impl<'a> Refused<'a> {
    /// The changelog row a push step could not get across, and why.
    pub fn of(row: &'a PushRow, reason: &'a str) -> Self {
        Refused { table: row.table.name(), record_id: &row.record_id, store_id: row.store_id.as_deref(), reason }
    }
}

/// Keep refused records (a record refused again gets the newer reason).
pub async fn record(conn: &mut SqliteConnection, central: Central, refused: &[Refused<'_>]) -> sqlx::Result<()> {
    let when = now();
    let central = match central {
        Central::V5 => "v5",
        Central::V6 => "v6",
    };
    for r in refused {
        tracing::warn!(
            table = r.table,
            id = r.record_id,
            central,
            reason = r.reason,
            "record refused by the central; listed as an outgoing refusal"
        );
        sqlx::query(
            "INSERT INTO sync_push_refusal (table_name, record_id, central, store_id, reason, refused_datetime)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (table_name, record_id) DO UPDATE SET central = excluded.central,
             store_id = excluded.store_id, reason = excluded.reason, refused_datetime = excluded.refused_datetime",
        )
        .bind(r.table)
        .bind(r.record_id)
        .bind(central)
        .bind(r.store_id)
        .bind(r.reason)
        .bind(&when)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Records the central refused at integration (after it had accepted them into its buffer),
/// answered by its `site_status` once idle; wire table names become the site's.
pub async fn record_from_integration(
    conn: &mut SqliteConnection,
    central: Central,
    answered: &[RefusedRecord],
) -> sqlx::Result<()> {
    let refused: Vec<Refused> = answered
        .iter()
        .map(|r| {
            let table = match central {
                Central::V5 => Table::from_v5_name(&r.table_name),
                Central::V6 => Table::from_v6_name(&r.table_name),
            };
            Refused {
                table: match table {
                    Some(t) => t.name(),
                    None => r.table_name.as_str(),
                },
                record_id: &r.record_id,
                store_id: r.store_id.as_deref(),
                reason: &r.reason,
            }
        })
        .collect();
    record(conn, central, &refused).await
}

/// The refusals a V5 `site_status` carries in its `data.refused` (an Outpost extension).
pub fn from_v5_status(data: Option<&Value>) -> Vec<RefusedRecord> {
    data.and_then(|d| d.get("refused")).and_then(|r| serde_json::from_value(r.clone()).ok()).unwrap_or_default()
}

/// After a batch: the records it carried that the central took are no longer refused (one
/// statement per batch, so a push that refuses nothing costs next to nothing more), and the
/// ones it refused are kept.
pub async fn settle(
    conn: &mut SqliteConnection,
    central: Central,
    carried: &[&PushRow],
    refused: &[Refused<'_>],
) -> sqlx::Result<()> {
    let taken: Vec<Value> = carried
        .iter()
        .filter(|row| !refused.iter().any(|r| r.table == row.table.name() && r.record_id == row.record_id))
        .map(|row| json!([row.table.name(), row.record_id]))
        .collect();
    if !taken.is_empty() {
        sqlx::query(
            "DELETE FROM sync_push_refusal WHERE (table_name, record_id) IN
               (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1))",
        )
        .bind(Value::Array(taken).to_string())
        .execute(&mut *conn)
        .await?;
    }
    record(conn, central, refused).await
}

/// Inside Integrate's transaction, before it applies the buffer: a refused record that a pull
/// brings anew (or deletes) is the central's version again, so it is resolved.
pub async fn resolve_pulled(conn: &mut SqliteConnection) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM sync_push_refusal WHERE EXISTS (SELECT 1 FROM sync_buffer b
           WHERE b.table_name = sync_push_refusal.table_name AND b.record_id = sync_push_refusal.record_id
             AND (b.integration_datetime IS NULL OR b.integration_error IS NOT NULL))",
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Inside Integrate's transaction, after it applied the buffer: a refused record whose store
/// is no longer on this site (the store moved) is no longer this site's to send.
pub async fn resolve_moved(conn: &mut SqliteConnection) -> sqlx::Result<u64> {
    let sql = format!(
        "DELETE FROM sync_push_refusal WHERE store_id IS NOT NULL AND store_id NOT IN
           (SELECT id FROM store WHERE site_id = (SELECT value_int FROM key_value_store WHERE id = '{}'))",
        kv::SITE_ID
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(conn).await?;
    Ok(done.rows_affected())
}

/// The outgoing half of `GET /api/sync/quarantine`.
pub async fn list(db: &SqlitePool) -> sqlx::Result<Vec<QuarantinedRecord>> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name, record_id, reason, refused_datetime FROM sync_push_refusal
         ORDER BY refused_datetime, table_name, record_id",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(table, record_id, reason, received)| QuarantinedRecord {
            direction: Direction::Outgoing,
            table,
            record_id,
            reason,
            received,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A central that refuses any request holding one of `bad`, naming them or not.
    async fn push(items: Vec<u32>, bad: &[u32], names: bool) -> (Outcome<String>, usize) {
        let items: Vec<String> = items.iter().map(u32::to_string).collect();
        let bad: Vec<String> = bad.iter().map(u32::to_string).collect();
        let mut calls = 0;
        let outcome = send_splitting(
            items,
            |r| ("t", r.as_str()),
            |part, _| {
                calls += 1;
                let refused: Vec<String> = part.into_iter().filter(|r| bad.contains(r)).collect();
                async move {
                    if refused.is_empty() {
                        return Ok(Ok(()));
                    }
                    let named = if names {
                        refused.iter().map(|r| ("t".to_owned(), r.clone(), format!("no {r}"))).collect()
                    } else {
                        Vec::new()
                    };
                    Ok(Err(Rejection { named, message: "refused".into() }))
                }
            },
        )
        .await
        .unwrap();
        (outcome, calls)
    }

    #[tokio::test]
    async fn splitting_finds_exactly_the_refused_records_whether_or_not_the_central_names_them() {
        for names in [true, false] {
            let (outcome, calls) = push((0..16).collect(), &[3, 11, 12], names).await;
            let refused: Vec<&str> = outcome.refused.iter().map(|r| r.0.as_str()).collect();
            assert_eq!(refused, ["3", "11", "12"], "names {names}");
            assert!(outcome.accepted_any && !outcome.whole_accepted);
            if names {
                assert_eq!(calls, 2, "named refusals cost one more request");
                assert_eq!(outcome.refused[0].1, "no 3");
            } else {
                assert!(calls <= 2 * 3 * 4 + 1, "{calls} requests");
                assert_eq!(outcome.refused[0].1, "refused");
            }
        }
        let (clean, calls) = push((0..8).collect(), &[], false).await;
        assert!(clean.whole_accepted && clean.refused.is_empty() && calls == 1);
        let (all, _) = push((0..4).collect(), &[0, 1, 2, 3], false).await;
        assert_eq!(all.refused.len(), 4);
        assert!(!all.accepted_any);
    }
}
