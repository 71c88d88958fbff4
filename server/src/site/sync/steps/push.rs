//! Push (to V5): the same pushable changelog rows as Push V6, from the V5 push cursor, sending
//! the ones routed to the V5 central (locations, stock lines, invoices and their lines). As in
//! the reference, a final push with `queueLength: 0` and no records asks the central to
//! integrate, and the step waits until it says it is idle.
//!
//! Records the central refuses are set aside as outgoing refusals ([`refusals`]) and the push
//! goes on without them; the cursor moves past them with their batch.

use outpost_api::StepKey;

use super::{Ctx, call_when_idle, call_when_idle_or, db, wait_until};
use crate::records::{self, Central, ChangeAction};
use crate::site::sync::errors::{RunError, Variant};
use crate::site::sync::refusals::{self, Refused};
use crate::site::sync::{changelog, kv};
use crate::wire::client::Problem;
use crate::wire::v5::{PushAction, PushRecord, PushRequest, SiteStatusCode, code};

const STEP: StepKey = StepKey::Push;

pub async fn run(ctx: &Ctx<'_>) -> Result<(), RunError> {
    let log = db("Error while logging");
    if !ctx.plan.initialised {
        return ctx.report.step_skipped(STEP).await.map_err(log);
    }
    ctx.report.step_started(STEP).await.map_err(log)?;
    let read = db("Error while reading the changelog for Push");
    let mut conn = ctx.db.acquire().await.map_err(read)?;
    let mut cursor = kv::cursor(&mut *conn, kv::V5_PUSH_CURSOR).await.map_err(read)?;
    if kv::get_bool(&mut *conn, kv::V5_REFUSALS_UNREAD).await.map_err(read)? {
        // A run ended between asking for an integration and reading what it refused; read it
        // now, before this run's final push makes the central replace it.
        read_refusals(ctx, true).await?;
    }
    loop {
        let remaining = changelog::remaining(&mut conn, cursor).await.map_err(read)?;
        ctx.report.progress(STEP, remaining).await.map_err(log)?;
        if remaining == 0 {
            kv::set_bool(&mut *conn, kv::V5_REFUSALS_UNREAD, true)
                .await
                .map_err(db("Error while storing the push state"))?;
            let request = PushRequest { queue_length: 0, data: vec![] };
            let reply =
                call_when_idle(ctx, "Error while pushing records", || ctx.v5.push(&request), || v5_idle(ctx)).await?;
            if !reply.integration_started {
                return Err(RunError::new(
                    Variant::Unknown,
                    "Error while pushing records",
                    "Total remaining sent to server is 0 but integration not started",
                ));
            }
            break;
        }
        let rows = changelog::batch(&mut conn, cursor, ctx.plan.settings.batch_size_push).await.map_err(read)?;
        let Some(last) = rows.last().map(|r| r.cursor) else { break };
        let mut data = Vec::new();
        let mut unrenderable = Vec::new();
        for row in rows.iter().filter(|r| r.table.push_destination() == Some(Central::V5)) {
            let Some(table_name) = row.table.v5_name() else { continue };
            let record_data = match row.action {
                ChangeAction::Delete => None,
                ChangeAction::Upsert => match records::to_v5(&mut conn, row.table, &row.record_id).await {
                    Ok(data) => data,
                    Err(e) if e.is_db() => {
                        return Err(RunError::new(Variant::Database, "Error while translating for Push", e));
                    }
                    Err(e) => {
                        unrenderable.push((row, format!("cannot be sent: {e}")));
                        continue;
                    }
                },
            };
            let record = PushRecord {
                sync_out_id: row.cursor.to_string(),
                table_name: table_name.to_owned(),
                record_id: row.record_id.clone(),
                action: if record_data.is_some() { PushAction::Update } else { PushAction::Delete },
                record_data,
            };
            data.push((record, row.clone()));
        }
        let keep = db("Error while listing refused records");
        let refused_here: Vec<Refused> = unrenderable.iter().map(|(row, why)| Refused::of(row, why)).collect();
        refusals::record(&mut conn, Central::V5, &refused_here).await.map_err(keep)?;
        if data.is_empty() {
            // Sent even when nothing in the batch is for the V5 central, as the reference does:
            // the central sees the count go down, and the loop makes the same requests whatever
            // routes where.
            let request = PushRequest { queue_length: remaining, data: Vec::new() };
            call_when_idle(ctx, "Error while pushing records", || ctx.v5.push(&request), || v5_idle(ctx)).await?;
        } else {
            let outcome = refusals::send_splitting(
                data.clone(),
                |(r, _)| (r.table_name.as_str(), r.record_id.as_str()),
                |part, _| {
                    let request =
                        PushRequest { queue_length: remaining, data: part.into_iter().map(|(r, _)| r).collect() };
                    async move {
                        call_when_idle_or(
                            ctx,
                            "Error while pushing records",
                            || ctx.v5.push(&request),
                            || v5_idle(ctx),
                            refusals::rejection,
                        )
                        .await
                        .map(|r| r.map(drop))
                    }
                },
            )
            .await?;
            let refused: Vec<Refused> = outcome.refused.iter().map(|((_, row), why)| Refused::of(row, why)).collect();
            let carried: Vec<&changelog::PushRow> = data.iter().map(|(_, row)| row).collect();
            refusals::settle(&mut conn, Central::V5, &carried, &refused).await.map_err(keep)?;
        }
        cursor = last + 1;
        kv::set_cursor(&mut *conn, kv::V5_PUSH_CURSOR, cursor)
            .await
            .map_err(db("Error while storing the push cursor"))?;
    }
    drop(conn);
    read_refusals(ctx, false).await?;
    ctx.report.step_done(STEP).await.map_err(log)
}

/// Wait until the V5 central is idle (done integrating), then record the records it refused at
/// integration, which its idle `site_status` carries, and clear the unread flag. `left_over`:
/// reading what an earlier run's push left unread, where a failed integration (which refused
/// nothing: it committed nothing) is not this run's error; the final push integrates again.
async fn read_refusals(ctx: &Ctx<'_>, left_over: bool) -> Result<(), RunError> {
    let timeout = RunError::new(
        Variant::IntegrationTimeoutReached,
        "Error while waiting for the V5 central to integrate",
        format!("still integrating after {} seconds", ctx.config.push_wait.as_secs()),
    );
    let answered = std::sync::Mutex::new(Vec::new());
    wait_until(ctx.config.push_poll, ctx.config.push_wait, timeout, || async {
        let status = match ctx.v5.site_status().await {
            Ok(status) => status,
            Err(e)
                if left_over
                    && matches!(&e.problem, Problem::V5 { error, .. } if error.code == code::INTEGRATION_ERROR) =>
            {
                return Ok(true);
            }
            Err(e) => return Err(RunError::call("Error while polling the central's site status", &e)),
        };
        if status.code != SiteStatusCode::Idle {
            return Ok(false);
        }
        *answered.lock().unwrap_or_else(|e| e.into_inner()) = refusals::from_v5_status(status.data.as_ref());
        Ok(true)
    })
    .await?;
    let answered = answered.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut conn = ctx.db.acquire().await.map_err(db("Error while listing refused records"))?;
    refusals::record_from_integration(&mut conn, Central::V5, &answered)
        .await
        .map_err(db("Error while listing refused records"))?;
    kv::set_bool(&mut *conn, kv::V5_REFUSALS_UNREAD, false).await.map_err(db("Error while storing the push state"))
}

pub(crate) async fn v5_idle(ctx: &Ctx<'_>) -> Result<bool, RunError> {
    let status =
        ctx.v5.site_status().await.map_err(|e| RunError::call("Error while polling the central's site status", &e))?;
    Ok(status.code == SiteStatusCode::Idle)
}
