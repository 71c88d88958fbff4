//! Pull Remote: drain this site's V5 queue (its own records on initialisation, store-specific
//! central data, transfers) into sync_buffer. A batch is acknowledged only after it is stored;
//! if the acknowledgement is lost the central sends it again and the upsert makes that harmless.
//! Page sizes adapt to the link ([`super::batch`]): each request's duration and size set the
//! next's, starting from the size Pull Central reached over the same link; an answer over the
//! site's cap is asked again at once much smaller (nothing of it was acknowledged; a single
//! record over it fails the run with `RECORD_TOO_LARGE`). A request is
//! timed from when it is sent, not from before the waits for a busy central.

use std::time::Instant;

use outpost_api::StepKey;

use super::push::v5_idle;
use super::{Ctx, call_when_idle, call_when_idle_or, db};
use crate::site::sync::buffer::{self, Incoming};
use crate::site::sync::errors::RunError;
use crate::wire::client::CallError;
use crate::wire::v5_client::V5Client;

const STEP: StepKey = StepKey::PullRemote;

pub async fn run(ctx: &Ctx<'_>) -> Result<(), RunError> {
    let log = db("Error while logging");
    let store = db("Error while storing queued records");
    ctx.report.step_started(STEP).await.map_err(log)?;
    let source_site_id = Some(ctx.site.m_supply_central_site_id);
    let batch = || ctx.pull_batch.lock().unwrap_or_else(|e| e.into_inner());
    const PULLING: &str = "Error while pulling remote records";
    loop {
        let limit = batch().size();
        let timed = || async {
            let start = Instant::now();
            ctx.v5.queued_records_sized(limit).await.map(|(page, transfer)| (page, transfer, start.elapsed()))
        };
        let too_large = |e: &CallError| {
            let place = "The first record in this site's queue at the central alone is over this site's cap";
            V5Client::is_too_large(e).then(|| RunError::record_too_large(PULLING, place, e))
        };
        // A central still integrating (a duplicated final push, a restart) answers "sync is
        // running": wait for it, as the push steps do, instead of failing the run.
        let (page, transfer, took) = match call_when_idle_or(ctx, PULLING, timed, || v5_idle(ctx), too_large).await? {
            Ok(page) => page,
            // The same page again, smaller (see `batch`, "shrunk when an answer is too large").
            Err(_) if batch().too_large(limit) => continue,
            Err(e) => return Err(e),
        };
        batch().observe(limit, page.data.len(), transfer, took);
        ctx.report.progress(STEP, page.queue_length).await.map_err(log)?;
        if page.data.is_empty() {
            break;
        }
        let batch_len = page.data.len() as u64;
        let ids: Vec<String> = page.data.iter().map(|r| r.sync_out_id.clone()).collect();
        let records: Vec<Incoming> = page
            .data
            .into_iter()
            .map(|r| Incoming::v5(r.table_name, r.record_id, r.action, r.record_data, source_site_id))
            .collect();
        let mut tx = ctx.db.begin().await.map_err(store)?;
        buffer::store(&mut tx, &records).await.map_err(store)?;
        tx.commit().await.map_err(store)?;
        call_when_idle(
            ctx,
            "Error while acknowledging remote records",
            || ctx.v5.acknowledge(ids.clone()),
            || v5_idle(ctx),
        )
        .await?;
        ctx.report.progress(STEP, page.queue_length.saturating_sub(batch_len)).await.map_err(log)?;
    }
    ctx.report.step_done(STEP).await.map_err(log)
}
