//! Integrate: apply what sync_buffer holds to the site's tables, in one transaction so an
//! invoice and its lines appear together. Upserts go in dependency order, deletes in reverse.
//! Each record runs in its own SAVEPOINT: a record that cannot be applied is rolled back alone
//! and kept in sync_buffer with its reason (quarantined), and the others carry on. Received
//! rows are logged with `Origin::sync`, so they are never pushed back (echo prevention).
//!
//! Progress goes to memory (other connections cannot see this transaction) at least every
//! 1,000 records and every second, and to sync_log when the step ends.

use std::time::{Duration, Instant};

use outpost_api::StepKey;
use serde_json::Value;
use sqlx::{SqliteConnection, SqlitePool};

use super::db;
use crate::records::{self, Origin, RecordError, Table};
use crate::site::sync::buffer::{self, BufferAction, Pending};
use crate::site::sync::errors::{RunError, Variant};
use crate::site::sync::status::RunLog;

const STEP: StepKey = StepKey::Integration;
const REPORT_EVERY_RECORDS: u64 = 1000;
const REPORT_EVERY: Duration = Duration::from_secs(1);

struct Progress<'a> {
    log: &'a RunLog,
    total: u64,
    done: u64,
    reported: Instant,
    reported_done: u64,
}

impl Progress<'_> {
    fn tick(&mut self) {
        self.done += 1;
        if self.done - self.reported_done >= REPORT_EVERY_RECORDS || self.reported.elapsed() >= REPORT_EVERY {
            self.log.progress_live(STEP, self.total.saturating_sub(self.done));
            self.reported = Instant::now();
            self.reported_done = self.done;
        }
    }
}

pub async fn run(pool: &SqlitePool, log: &RunLog) -> Result<(), RunError> {
    let logerr = db("Error while logging");
    let fail = |e: sqlx::Error| RunError::new(Variant::IntegrationError, "Error while integrating records", e);
    log.step_started(STEP).await.map_err(logerr)?;
    let total = {
        let mut conn = pool.acquire().await.map_err(fail)?;
        buffer::count_to_integrate(&mut conn).await.map_err(fail)?
    };
    log.progress(STEP, total).await.map_err(logerr)?;

    // IMMEDIATE: take the write lock up front, so a write elsewhere between our first read and
    // first write cannot make the transaction fail half-way.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(fail)?;
    let mut progress = Progress { log, total, done: 0, reported: Instant::now(), reported_done: 0 };
    for table in Table::ALL {
        for row in buffer::to_integrate(&mut tx, table.name(), BufferAction::Upsert).await.map_err(fail)? {
            apply(&mut tx, table, &row, BufferAction::Upsert).await?;
            progress.tick();
        }
    }
    for table in Table::ALL.into_iter().rev() {
        for row in buffer::to_integrate(&mut tx, table.name(), BufferAction::Delete).await.map_err(fail)? {
            apply(&mut tx, table, &row, BufferAction::Delete).await?;
            progress.tick();
        }
    }
    let known: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
    for row in buffer::unknown_tables(&mut tx, &known).await.map_err(fail)? {
        let reason = if row.action == BufferAction::Merge.as_str() {
            "Ignored: merge records are not supported by this site".to_owned()
        } else {
            RecordError::UnknownTable(row.table_name.clone()).to_string()
        };
        buffer::mark(&mut tx, &row.table_name, &row.record_id, Some(&reason)).await.map_err(fail)?;
        progress.tick();
    }
    tx.commit().await.map_err(fail)?;
    log.progress(STEP, 0).await.map_err(logerr)?;
    log.step_done(STEP).await.map_err(logerr)
}

/// Apply one record inside its own savepoint and record the outcome on its buffer row.
async fn apply(conn: &mut SqliteConnection, table: Table, row: &Pending, action: BufferAction) -> Result<(), RunError> {
    let fail = |e: sqlx::Error| RunError::new(Variant::IntegrationError, "Error while integrating records", e);
    sqlx::query("SAVEPOINT record").execute(&mut *conn).await.map_err(fail)?;
    let outcome = integrate_one(conn, table, row, action).await;
    let error = match outcome {
        Ok(()) => {
            sqlx::query("RELEASE record").execute(&mut *conn).await.map_err(fail)?;
            None
        }
        Err(e) => {
            sqlx::query("ROLLBACK TO record").execute(&mut *conn).await.map_err(fail)?;
            sqlx::query("RELEASE record").execute(&mut *conn).await.map_err(fail)?;
            if is_site_failure(&e) {
                return Err(RunError::new(
                    Variant::IntegrationError,
                    "Error while integrating records",
                    format!("{} {}: {e}", row.table_name, row.record_id),
                ));
            }
            Some(e.to_string())
        }
    };
    buffer::mark(conn, &row.table_name, &row.record_id, error.as_deref()).await.map_err(fail)
}

async fn integrate_one(conn: &mut SqliteConnection, table: Table, row: &Pending, action: BufferAction) -> Result<(), RecordError> {
    let data: Option<Value> = match &row.data {
        Some(text) => Some(serde_json::from_str(text).map_err(|e| RecordError::Malformed(format!("record data is not JSON: {e}")))?),
        None => None,
    };
    let change = action.change().ok_or_else(|| RecordError::Refused("merge records are not supported".into()))?;
    let origin = Origin::sync(row.source_site_id);
    if row.source == "v6" {
        records::integrate_v6(conn, table, &row.record_id, change, data.as_ref(), origin).await
    } else {
        records::integrate_v5(conn, table, &row.record_id, change, data.as_ref(), origin).await
    }
}

/// A constraint violation is about the record (quarantine it); anything else the database
/// says (locked, full, I/O) is about the site, and ends the run.
fn is_site_failure(e: &RecordError) -> bool {
    match e {
        RecordError::Db(sqlx::Error::Database(d)) => matches!(d.kind(), sqlx::error::ErrorKind::Other),
        other => other.is_db(),
    }
}
