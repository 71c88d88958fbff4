//! Integrate: apply what sync_buffer holds to the site's tables, in one transaction so an
//! invoice and its lines appear together. Upserts go in dependency order, deletes in reverse.
//! A record that cannot be applied is kept in sync_buffer with its reason (quarantined), and the
//! others carry on. Each statement is a hop to SQLite's worker thread, and those hops were most
//! of integration's time (BENCHMARKS.md), so records go a page of one table at a time through
//! the write path ([`records::integrate_page`]: a few statements per page, an outcome per
//! record), are marked integrated with one statement per table pass, and are read
//! a page at a time (memory flat in dataset size). Received rows are logged with
//! `Origin::sync`, so they are never pushed back (echo prevention).
//!
//! Progress goes to memory (other connections cannot see this transaction) after every page
//! and at least every second, and to sync_log when the step ends.
//!
//! Why pages of 250 rows (it was 1,000; issue 14, memory flat, BENCHMARKS.md): a page lives
//! three times over while it is written (the rows' text as read, each record parsed into a JSON
//! map with every V5 field, the bound values), and a realistic record carries its table's full
//! legacy field set, so a page of 1,000 held ~10 MB of small allocations (heaptrack: the parsed
//! maps alone 9.8 MB at the site's peak). Spread over the async workers' malloc arenas and
//! fragmented there, that was ~30 MB of the site's peak RSS: 88.9 → 60.3 MB at 100k records,
//! 135.0 → 109.0 MB at 1M. Integrate's time stayed within this shared machine's noise (100k:
//! 14.2 → 8.6 s; 1M: 97.7 → 115.7 s, load 8–16); a page's fixed costs are its parent lookups
//! and one upsert statement, which for a page below `ROWS_PER_UPSERT` is compiled per page.

use std::time::{Duration, Instant};

use outpost_api::StepKey;
use sqlx::{Connection, SqlitePool};

use super::db;
use crate::records::{self, ChangeAction, Origin, Received, RecordError, Table};
use crate::site::sync::errors::{RunError, Variant};
use crate::site::sync::report::Report;
use crate::site::sync::{buffer, changelog, kv, refusals};

const STEP: StepKey = StepKey::Integration;
const REPORT_EVERY_RECORDS: u64 = 1000;
const REPORT_EVERY: Duration = Duration::from_secs(1);
/// Buffer rows read at a time (see "Why pages of 250" in the module doc).
const PAGE: u32 = 250;

struct Progress<'a> {
    log: &'a Report,
    total: u64,
    done: u64,
    reported: Instant,
    reported_done: u64,
}

impl Progress<'_> {
    fn tick(&mut self, records: u64) {
        self.done += records;
        if self.done - self.reported_done >= REPORT_EVERY_RECORDS || self.reported.elapsed() >= REPORT_EVERY {
            self.log.progress_live(STEP, self.total.saturating_sub(self.done));
            self.reported = Instant::now();
            self.reported_done = self.done;
        }
    }
}

/// `first_sync`: this is the first run's Integrate, which also ends the first sync (see
/// [`finish_first_sync`]) in its own transaction.
pub async fn run(pool: &SqlitePool, log: &Report, first_sync: bool) -> Result<(), RunError> {
    let logerr = db("Error while logging");
    let fail = |e: sqlx::Error| RunError::new(Variant::IntegrationError, "Error while integrating records", e);
    log.step_started(STEP).await.map_err(logerr)?;
    let total = {
        let mut conn = pool.acquire().await.map_err(fail)?;
        buffer::count_to_integrate(&mut conn).await.map_err(fail)?
    };
    log.progress(STEP, total).await.map_err(logerr)?;

    // One connection with a large page cache for the whole transaction (`db::with_writer_cache`).
    crate::db::with_writer_cache(pool, async |conn| integrate_all(conn, log, total, first_sync).await)
        .await
        .map_err(fail)??;
    log.progress(STEP, 0).await.map_err(logerr)?;
    log.step_done(STEP).await.map_err(logerr)
}

/// Integrate's transaction, on `conn`.
async fn integrate_all(
    conn: &mut sqlx::SqliteConnection,
    log: &Report,
    total: u64,
    first_sync: bool,
) -> Result<(), RunError> {
    let fail = |e: sqlx::Error| RunError::new(Variant::IntegrationError, "Error while integrating records", e);
    // IMMEDIATE: take the write lock up front, so a write elsewhere between our first read and
    // first write cannot make the transaction fail half-way.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(fail)?;
    // A refused outgoing record that arrives anew is the central's version again.
    refusals::resolve_pulled(&mut tx).await.map_err(fail)?;
    let mut progress = Progress { log, total, done: 0, reported: Instant::now(), reported_done: 0 };
    let forwards = Table::ALL.into_iter().map(|t| (t, ChangeAction::Upsert));
    let backwards = Table::ALL.into_iter().rev().map(|t| (t, ChangeAction::Delete));
    for (table, action) in forwards.chain(backwards) {
        let mut failed: Vec<(String, String)> = Vec::new();
        let mut after = 0;
        loop {
            let page = buffer::to_integrate(&mut tx, table.name(), action, after, PAGE).await.map_err(fail)?;
            let Some(last) = page.last() else { break };
            after = last.rowid;
            let outcomes = apply(&mut tx, table, &page, action).await?;
            for (row, outcome) in page.iter().zip(outcomes) {
                if let Some(reason) = outcome {
                    failed.push((row.record_id.clone(), reason));
                }
            }
            progress.tick(page.len() as u64);
        }
        buffer::mark_all_done(&mut tx, table.name(), action).await.map_err(fail)?;
        for (record_id, reason) in &failed {
            buffer::mark(&mut tx, table.name(), record_id, Some(reason)).await.map_err(fail)?;
        }
    }
    let known: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
    for row in buffer::unknown_tables(&mut tx, &known).await.map_err(fail)? {
        let reason = if row.is_merge() {
            "Ignored: merge records are not supported by this site".to_owned()
        } else {
            RecordError::UnknownTable(row.table_name.clone()).to_string()
        };
        buffer::mark(&mut tx, &row.table_name, &row.record_id, Some(&reason)).await.map_err(fail)?;
        progress.tick(1);
    }
    // A refused outgoing record whose store moved to another site is no longer this site's.
    refusals::resolve_moved(&mut tx).await.map_err(fail)?;
    if first_sync {
        finish_first_sync(&mut tx).await.map_err(db("Error while finishing initialisation"))?;
    }
    tx.commit().await.map_err(fail)?;
    Ok(())
}

/// Apply a page of one table and action; per record, `Some(reason)` when it must be
/// quarantined. Errors that are about the site rather than the record end the run.
async fn apply(
    conn: &mut sqlx::SqliteConnection,
    table: Table,
    page: &[buffer::Pending],
    action: ChangeAction,
) -> Result<Vec<Option<String>>, RunError> {
    let received: Vec<Received<'_>> = page
        .iter()
        .map(|row| Received {
            record_id: &row.record_id,
            from: row.from,
            data: row.data.as_deref(),
            origin: Origin::sync(row.source_site_id),
        })
        .collect();
    let outcomes = records::integrate_page(conn, table, action, &received).await.map_err(|e| {
        RunError::new(
            Variant::IntegrationError,
            "Error while integrating records",
            format!("{} page: {e}", table.name()),
        )
    })?;
    Ok(outcomes.into_iter().map(|outcome| outcome.err().map(|e| e.to_string())).collect())
}

/// The end of the first sync: both push cursors jump to the end of the changelog (what was just
/// integrated came from the centrals and is never pushed back) and `SyncIsInitialised` is set.
///
/// Why inside Integrate's transaction: that transaction holds the site's write lock from its
/// first statement (`BEGIN IMMEDIATE`) to its commit, so the end read here is exactly the
/// changelog as integration leaves it. The jump used to be a transaction of its own after
/// Integrate committed: a store edit committed in between got a cursor below the end and was
/// never pushed. A crash here rolls the jump back with the integration; the next run redoes both.
async fn finish_first_sync(tx: &mut sqlx::SqliteConnection) -> sqlx::Result<()> {
    let end = changelog::end_cursor(tx).await?;
    kv::set_cursor(&mut *tx, kv::V5_PUSH_CURSOR, end).await?;
    kv::set_cursor(&mut *tx, kv::V6_PUSH_CURSOR, end).await?;
    kv::set_bool(&mut *tx, kv::IS_INITIALISED, true).await?;
    crate::site::sync::kill_point::reached("first-sync-jump").await;
    Ok(())
}
