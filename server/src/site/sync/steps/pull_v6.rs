//! Pull V6: page through the V6 central's changelog by cursor into sync_buffer (assets). On
//! the first sync `isInitialised` is false, so the central also returns records this site
//! pushed before, which restores its data. Page and cursor are stored in one transaction.

use outpost_api::StepKey;

use super::{Ctx, call_when_idle, db, v6_idle};
use crate::site::sync::buffer::{self, Incoming};
use crate::site::sync::errors::RunError;
use crate::site::sync::kv;
use crate::wire::v6::SyncBatch;

const STEP: StepKey = StepKey::PullV6;

pub async fn run(ctx: &Ctx<'_>) -> Result<(), RunError> {
    let log = db("Error while logging");
    let store = db("Error while storing V6 records");
    // The V6 central itself has no V6 pull; the reference does not even log the step.
    let Some(client) = ctx.v6.client()? else { return Ok(()) };
    ctx.report.step_started(STEP).await.map_err(log)?;
    let mut cursor = kv::cursor(ctx.db, kv::V6_PULL_CURSOR).await.map_err(store)?;
    loop {
        // A central still integrating (a duplicated final push started a second integration
        // after Push V6 saw it idle) answers IntegrationInProgress: wait for it, as Pull Remote
        // does with the V5 central, instead of failing the run.
        let batch = call_when_idle(
            ctx,
            "Error while pulling from the V6 central",
            || client.pull(cursor, ctx.plan.settings.batch_size_pull, ctx.plan.initialised),
            || v6_idle(client),
        )
        .await?;
        ctx.report.progress(STEP, batch.total_records).await.map_err(log)?;
        let next = next_cursor(cursor, &batch);
        let records: Vec<Incoming> = batch.records.into_iter().map(|r| Incoming::v6(r.record)).collect();
        let count = records.len() as u64;
        let mut tx = ctx.db.begin().await.map_err(store)?;
        buffer::store(&mut tx, &records).await.map_err(store)?;
        kv::set_cursor(&mut *tx, kv::V6_PULL_CURSOR, next).await.map_err(store)?;
        tx.commit().await.map_err(store)?;
        cursor = next;
        if batch.is_last_batch {
            ctx.report.progress(STEP, 0).await.map_err(log)?;
            break;
        }
        ctx.report.progress(STEP, batch.total_records.saturating_sub(count)).await.map_err(log)?;
    }
    ctx.report.step_done(STEP).await.map_err(log)
}

/// Where the next pull starts after `batch`: its `endCursor` + 1, never backwards. This skips
/// nothing only because the central promises that every row it will ever serve at or below
/// `endCursor` is committed and visible already (`central_v6::pull`, "Why no row is passed").
pub fn next_cursor(cursor: u64, batch: &SyncBatch) -> u64 {
    (batch.end_cursor + 1).max(cursor)
}
