//! Push V6: walk the pushable changelog rows from the V6 push cursor and send the ones routed
//! to the V6 central (assets), in batches; the cursor moves after each batch the central
//! accepted. Every pushable row is processed (so Push V6 shows the same total as Push), but a
//! row goes to one central only; as in the reference, every batch is sent, even one with no
//! record for the V6 central, and nothing at all when no row is left. Then wait for the central to integrate what it received.
//!
//! Whether batches were sent that no last batch has closed yet is stored (not just known to
//! this run): a run killed after sending batches, resumed where only rows for the V5 central
//! remain, must still send the last batch, or the V6 central never integrates what it holds.

use outpost_api::StepKey;
use serde_json::Value;

use super::{Ctx, call_when_idle, call_when_idle_or, db, v6_idle, wait_until};
use crate::records::{self, Central, ChangeAction};
use crate::site::sync::changelog::PushRow;
use crate::site::sync::errors::{RunError, Variant};
use crate::site::sync::refusals::{self, Refused};
use crate::site::sync::{changelog, kv};
use crate::wire::v6::{Action, BatchRecord, Record, SyncBatch};

const STEP: StepKey = StepKey::PushV6;

pub async fn run(ctx: &Ctx<'_>) -> Result<(), RunError> {
    let log = db("Error while logging");
    if !ctx.plan.initialised {
        return ctx.report.step_skipped(STEP).await.map_err(log);
    }
    let Some(client) = ctx.v6.client()? else {
        return ctx.report.step_skipped(STEP).await.map_err(log);
    };
    ctx.report.step_started(STEP).await.map_err(log)?;
    let read = db("Error while reading the changelog for Push V6");
    let mut conn = ctx.db.acquire().await.map_err(read)?;
    let mut cursor = kv::cursor(&mut *conn, kv::V6_PUSH_CURSOR).await.map_err(read)?;
    let mut unfinished = kv::get_bool(&mut *conn, kv::V6_PUSH_UNFINISHED).await.map_err(read)?;
    let mut sent_any = unfinished;
    let idle = || v6_idle(client);
    if kv::get_bool(&mut *conn, kv::V6_REFUSALS_UNREAD).await.map_err(read)? {
        // A run ended between asking for an integration and reading what it refused; read it
        // now, before this run's last batch makes the central replace it.
        read_refusals(ctx, client, true).await?;
    }
    let mut marked = false;
    loop {
        let remaining = changelog::remaining(&mut conn, cursor).await.map_err(read)?;
        ctx.report.progress(STEP, remaining).await.map_err(log)?;
        if (remaining > 0 || unfinished) && !std::mem::replace(&mut marked, true) {
            kv::set_bool(&mut *conn, kv::V6_REFUSALS_UNREAD, true)
                .await
                .map_err(db("Error while storing the V6 push state"))?;
        }
        if remaining == 0 {
            if unfinished {
                // Batches went out but the rows that were to follow are gone (superseded since):
                // the central still needs the last batch to integrate what it holds.
                let batch = SyncBatch {
                    end_cursor: cursor.saturating_sub(1),
                    total_records: 0,
                    records: Vec::new(),
                    is_last_batch: true,
                };
                call_when_idle(ctx, "Error while pushing to the V6 central", || client.push(batch.clone()), idle)
                    .await?;
                kv::set_bool(&mut *conn, kv::V6_PUSH_UNFINISHED, false)
                    .await
                    .map_err(db("Error while storing the V6 push state"))?;
            }
            break;
        }
        let rows = changelog::batch(&mut conn, cursor, ctx.plan.settings.batch_size_push).await.map_err(read)?;
        let Some(last) = rows.last().map(|r| r.cursor) else { break };
        let mut records = Vec::new();
        let mut unrenderable = Vec::new();
        for row in rows.iter().filter(|r| r.table.push_destination() == Some(Central::V6)) {
            let Some(table_name) = row.table.v6_name() else { continue };
            let data = match row.action {
                ChangeAction::Delete => None,
                ChangeAction::Upsert => match records::to_v6(&mut conn, row.table, &row.record_id).await {
                    Ok(data) => data,
                    Err(e) if e.is_db() => {
                        return Err(RunError::new(Variant::Database, "Error while translating for Push V6", e));
                    }
                    Err(e) => {
                        unrenderable.push((row, format!("cannot be sent: {e}")));
                        continue;
                    }
                },
            };
            let (action, record_data) = match data {
                Some(d) => (Action::Update, d),
                None => (Action::Delete, Value::Null),
            };
            let record = BatchRecord {
                cursor: row.cursor,
                record: Record {
                    table_name: table_name.to_owned(),
                    record_id: row.record_id.clone(),
                    action,
                    record_data,
                },
            };
            records.push((record, row.clone()));
        }
        let keep = db("Error while listing refused records");
        let refused_here: Vec<Refused> = unrenderable.iter().map(|(row, why)| Refused::of(row, why)).collect();
        refusals::record(&mut conn, Central::V6, &refused_here).await.map_err(keep)?;
        let is_last_batch = remaining <= rows.len() as u64;
        // Every batch is sent, even one with nothing for the V6 central, as the reference does
        // (it sends nothing only when no row is left): the last one tells the central to integrate.
        // A batch split because the central refused some of its records goes out in parts
        // that are never last; the last batch then follows empty, once the parts are in.
        let outcome = refusals::send_splitting(
            records.clone(),
            |(r, _)| (r.record.table_name.as_str(), r.record.record_id.as_str()),
            |part, whole| {
                let batch = SyncBatch {
                    end_cursor: last,
                    total_records: remaining,
                    records: part.into_iter().map(|(r, _)| r).collect(),
                    is_last_batch: is_last_batch && whole,
                };
                async move {
                    call_when_idle_or(
                        ctx,
                        "Error while pushing to the V6 central",
                        || client.push(batch.clone()),
                        idle,
                        refusals::rejection,
                    )
                    .await
                    .map(|r| r.map(drop))
                }
            },
        )
        .await?;
        sent_any = true;
        let mut closed = is_last_batch && outcome.whole_accepted;
        if is_last_batch && !closed {
            let batch = SyncBatch { end_cursor: last, total_records: 0, records: Vec::new(), is_last_batch: true };
            call_when_idle(ctx, "Error while pushing to the V6 central", || client.push(batch.clone()), idle).await?;
            closed = true;
        }
        let refused_now: Vec<Refused> = outcome.refused.iter().map(|((_, row), why)| Refused::of(row, why)).collect();
        let carried: Vec<&PushRow> = records.iter().map(|(_, row)| row).collect();
        refusals::settle(&mut conn, Central::V6, &carried, &refused_now).await.map_err(keep)?;
        // Before the cursor moves: a crash in between resends this batch, never skips it.
        unfinished = !closed;
        kv::set_bool(&mut *conn, kv::V6_PUSH_UNFINISHED, unfinished)
            .await
            .map_err(db("Error while storing the V6 push state"))?;
        cursor = last + 1;
        kv::set_cursor(&mut *conn, kv::V6_PUSH_CURSOR, cursor)
            .await
            .map_err(db("Error while storing the V6 push cursor"))?;
    }
    drop(conn);
    if sent_any {
        read_refusals(ctx, client, false).await?;
    }
    ctx.report.step_done(STEP).await.map_err(log)
}

/// Wait until the V6 central is not integrating, then record the records it refused at
/// integration (its `site_status`'s `refused`) and clear the unread flag; a failed integration
/// ends the run as `INTEGRATION_ERROR`. `left_over`: reading what an earlier run left unread; a
/// failed integration there refused nothing (it committed nothing) and is left to this run's
/// push, which integrates again.
async fn read_refusals(
    ctx: &Ctx<'_>,
    client: &crate::wire::v6_client::V6Client,
    left_over: bool,
) -> Result<(), RunError> {
    let timeout = RunError::new(
        Variant::IntegrationTimeoutReached,
        "Error while waiting for the V6 central to integrate",
        format!("still integrating after {} seconds", ctx.config.push_wait.as_secs()),
    );
    let answered = std::sync::Mutex::new(Vec::new());
    wait_until(ctx.config.push_poll, ctx.config.push_wait, timeout, || async {
        let status =
            client.site_status().await.map_err(|e| RunError::call("Error while polling the V6 central", &e))?;
        if status.is_integrating {
            return Ok(false);
        }
        match status.integration_error {
            None => *answered.lock().unwrap_or_else(|e| e.into_inner()) = status.refused,
            Some(_) if left_over => {}
            Some(why) => {
                // The central still holds the batches; the next run sends the last batch again
                // (even with nothing new to send), so they are integrated then.
                kv::set_bool(ctx.db, kv::V6_PUSH_UNFINISHED, true)
                    .await
                    .map_err(db("Error while storing the V6 push state"))?;
                return Err(RunError::new(
                    Variant::IntegrationError,
                    "Error while waiting for the V6 central to integrate",
                    format!("the V6 central could not integrate this site's push: {why}"),
                ));
            }
        }
        Ok(true)
    })
    .await?;
    let answered = answered.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut conn = ctx.db.acquire().await.map_err(db("Error while listing refused records"))?;
    refusals::record_from_integration(&mut conn, Central::V6, &answered)
        .await
        .map_err(db("Error while listing refused records"))?;
    kv::set_bool(&mut *conn, kv::V6_REFUSALS_UNREAD, false).await.map_err(db("Error while storing the V6 push state"))
}
