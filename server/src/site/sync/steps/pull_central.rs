//! Pull Central: page through the V5 central's change log (central data: units, items, names,
//! stores) by cursor into sync_buffer. Each page and the cursor after it are stored in one
//! transaction, so an interrupted pull neither loses nor repeats a page.
//!
//! Why the next page is fetched while the current one is stored: the pull was a strict
//! sequence (the central reads and compresses, the site parses, then writes) with both cores
//! half idle. The next page's request only needs the cursor the current page ends at, which
//! the page itself tells, and a `central_records` request changes nothing on the central, so
//! it can run beside the store. At most one page is stored and one fetched at a time (memory
//! stays flat), and the cursor still advances only in the transaction that stores its page:
//! a run that stops mid-way throws the prefetched page away and asks for it again.
//!
//! Page sizes adapt to the link ([`super::batch`]): each request's duration and size set the
//! next's, an answer over the site's cap is asked again at once much smaller (a single record
//! over it fails the run with `RECORD_TOO_LARGE`), and Pull Remote starts from the size this
//! step reached.

use std::time::Instant;

use outpost_api::StepKey;

use super::{Ctx, db};
use crate::site::sync::buffer::{self, Incoming};
use crate::site::sync::errors::RunError;
use crate::site::sync::kv;
use crate::wire::client::CallError;
use crate::wire::v5::CentralRecords;
use crate::wire::v5_client::V5Client;

const STEP: StepKey = StepKey::PullCentral;

pub async fn run(ctx: &Ctx<'_>) -> Result<(), RunError> {
    let log = db("Error while logging");
    let store = db("Error while storing central records");
    ctx.report.step_started(STEP).await.map_err(log)?;
    let mut cursor = kv::cursor(ctx.db, kv::CENTRAL_PULL_CURSOR).await.map_err(store)?;
    let source_site_id = Some(ctx.site.m_supply_central_site_id);
    // Shared by the page fetched now and the one prefetched beside its store (never at once),
    // and then by Pull Remote.
    let batch = ctx.pull_batch;
    let fetch = |from: u64| async move {
        let batch = || batch.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let limit = batch().size();
            let start = Instant::now();
            match ctx.v5.central_records_sized(from, limit).await {
                Ok((page, transfer)) => {
                    batch().observe(limit, page.data.len(), transfer, start.elapsed());
                    return Ok(page);
                }
                // The same page again, smaller (see `batch`, "shrunk when an answer is too large").
                Err(e) if V5Client::is_too_large(&e) && batch().too_large(limit) => continue,
                Err(e) => return Err(e),
            }
        }
    };
    let mut prefetched: Option<Result<CentralRecords, CallError>> = None;
    loop {
        let page = match prefetched.take() {
            Some(page) => page,
            None => fetch(cursor).await,
        }
        .map_err(|e| pull_error(cursor, &e))?;
        ctx.report.progress(STEP, page.max_cursor.saturating_sub(cursor)).await.map_err(log)?;
        let Some(last_id) = page.data.iter().map(|r| r.id).max() else {
            let Some(next) = next_cursor(cursor, &page) else { break };
            cursor = next;
            kv::set_cursor(ctx.db, kv::CENTRAL_PULL_CURSOR, cursor).await.map_err(store)?;
            continue;
        };
        let max_cursor = page.max_cursor;
        let records: Vec<Incoming> = page
            .data
            .into_iter()
            .map(|r| Incoming::v5(r.table_name, r.record_id, r.action, r.record_data, source_site_id))
            .collect();
        // The page's progress is reported as soon as it is stored, not when the prefetch ends.
        let stored = async {
            let mut tx = ctx.db.begin().await.map_err(store)?;
            buffer::store(&mut tx, &records).await.map_err(store)?;
            kv::set_cursor(&mut *tx, kv::CENTRAL_PULL_CURSOR, last_id).await.map_err(store)?;
            tx.commit().await.map_err(store)?;
            ctx.report.progress(STEP, max_cursor.saturating_sub(last_id)).await.map_err(log)
        };
        // The store decides: a failed store ends the run at once (the prefetch is dropped, not
        // waited for), and a failed prefetch is reported only when its page is needed, as an
        // unprefetched one was.
        let next = async { Ok::<_, RunError>(fetch(last_id).await) };
        let ((), next) = tokio::try_join!(stored, next)?;
        prefetched = Some(next);
        cursor = last_id;
    }
    ctx.report.step_done(STEP).await.map_err(log)
}

/// The run's error for a failed `central_records` call from `cursor`: one still over the cap
/// was for a single record (`batch::PullBatch::too_large`), named as such with where it is.
fn pull_error(cursor: u64, e: &CallError) -> RunError {
    const PULLING: &str = "Error while pulling central records";
    if V5Client::is_too_large(e) {
        let place = format!("The central's change log record after cursor {cursor} alone is over this site's cap");
        return RunError::record_too_large(PULLING, &place, e);
    }
    RunError::call(PULLING, e)
}

/// Where the next `central_records` call starts after `page`: the last id received; on an
/// empty page below `maxCursor`, one past the cursor (a gap in the central's log: stepped over
/// rather than asked for forever); `None` when the log is drained.
///
/// Stepping over is safe only because the central reads `maxCursor` before the page and its
/// ids commit in id order (`central_v5::changelog`, "Why no committed row is passed"): every id
/// up to `maxCursor` was committed before the page was read, so an id the page lacks is one
/// that will never come (a rolled-back insert).
pub fn next_cursor(cursor: u64, page: &CentralRecords) -> Option<u64> {
    match page.data.iter().map(|r| r.id).max() {
        Some(last_id) => Some(last_id),
        None if cursor >= page.max_cursor => None,
        None => Some(cursor + 1),
    }
}
