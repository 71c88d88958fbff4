//! The run log on disk: one `sync_log` row per run and one `sync_log_step` row per step, as in
//! the reference. It outlives the process, so it is how a restarted site knows its last run
//! and its last success ([`recover`]), and how a run cut short by a stop (a crash, a power
//! cut, `kill -9`) is shown failed with `INTERRUPTED` instead of syncing forever.
//!
//! Only SQL lives here; what the rows mean while a run goes is the progress model
//! ([`super::progress`]), which the run writes first and persists through a [`RunLog`].

use chrono::{DateTime, Utc};
use outpost_api::{RunOutcome, RunStepCount, RunTrigger, StepKey, SyncRun};
use sqlx::SqlitePool;

use super::errors::{RunError, Variant};
use super::progress::{self, Progress, RunRecord, StepRecord, ts};

fn parse_ts(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok()).map(|t| t.with_timezone(&Utc))
}

/// What the last process left: the latest run and the last success. A run that never ended
/// is marked failed with `INTERRUPTED`, at the step it was in (the model decides which).
pub async fn recover(db: &SqlitePool, initialised: bool) -> sqlx::Result<Progress> {
    let cut_short: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM sync_log WHERE finished_datetime IS NULL AND error_code IS NULL")
            .fetch_all(db)
            .await?;
    for id in cut_short {
        if let Some(mut run) = load_run(db, id).await? {
            let error =
                run.fail(RunError::new(Variant::Interrupted, "Run interrupted", "the server stopped during this run"));
            write_error(db, id, error, false).await?;
        }
    }
    let latest = match sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(id) FROM sync_log").fetch_one(db).await? {
        Some(id) => load_run(db, id).await?,
        None => None,
    };
    let success: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT started_datetime, finished_datetime FROM sync_log
         WHERE finished_datetime IS NOT NULL AND error_code IS NULL ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(db)
    .await?;
    let last_success = success.and_then(|(s, f)| Some(progress::times(parse_ts(Some(s))?, parse_ts(f))));
    Ok(Progress { running: false, latest, last_success, initialised })
}

type LogRow = (i64, String, Option<String>, Option<String>, Option<String>, Option<String>);
type StepRow = (String, Option<String>, Option<String>, Option<i64>, Option<i64>, i64);

async fn load_run(db: &SqlitePool, id: i64) -> sqlx::Result<Option<RunRecord>> {
    let row: Option<LogRow> = sqlx::query_as(
        "SELECT id, started_datetime, finished_datetime, error_code, error_full, error_step FROM sync_log WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    let Some((id, started, finished, code, full, step)) = row else { return Ok(None) };
    let error = code.map(|c| RunError {
        variant: Variant::from_code(&c),
        step: step.and_then(|s| step_key(&s)),
        full: full.unwrap_or_default(),
    });
    let rows: Vec<StepRow> = sqlx::query_as(
        "SELECT step, started_datetime, finished_datetime, progress_total, progress_done, skipped
         FROM sync_log_step WHERE sync_log_id = ?",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    let mut steps: [StepRecord; 7] = Default::default();
    for (key, started, finished, total, done, skipped) in rows {
        if let Some(key) = step_key(&key) {
            steps[progress::index(key)] = StepRecord {
                started: parse_ts(started),
                finished: parse_ts(finished),
                total: total.map(|t| t as u64),
                done: done.map(|d| d as u64),
                skipped: skipped != 0,
            };
        }
    }
    let started = parse_ts(Some(started)).unwrap_or_else(Utc::now);
    Ok(Some(RunRecord::from_log(id, started, parse_ts(finished), steps, error)))
}

fn step_key(s: &str) -> Option<StepKey> {
    StepKey::ALL.into_iter().find(|k| k.as_str() == s)
}

/// The error columns of a run; `with_duration` also closes the run's duration (a run failing
/// now, not one found interrupted at start, whose end is unknown).
async fn write_error(db: &SqlitePool, id: i64, error: &RunError, with_duration: bool) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE sync_log SET error_code = ?2, error_message = ?3, error_full = ?4, error_hint = ?5, error_step = ?6,
           duration_in_seconds = CASE WHEN ?7 THEN (julianday('now') - julianday(started_datetime)) * 86400.0
                                      ELSE duration_in_seconds END
         WHERE id = ?1",
    )
    .bind(id)
    .bind(error.variant.code())
    .bind(error.variant.message())
    .bind(&error.full)
    .bind(error.variant.hint())
    .bind(error.step.map(|s| s.as_str()))
    .bind(with_duration)
    .execute(db)
    .await?;
    Ok(())
}

/// How long runs are kept: "sync has been failing since Tuesday" needs weeks, not years.
pub const KEEP_DAYS: i64 = 90;

type HistoryRow =
    (i64, String, Option<String>, Option<f64>, Option<String>, Option<String>, Option<String>, Option<String>);

/// The last `limit` runs, newest first, each with what its steps did (`GET /api/sync/history`).
pub async fn history(db: &SqlitePool, limit: u32) -> sqlx::Result<Vec<SyncRun>> {
    let rows: Vec<HistoryRow> = sqlx::query_as(
        "SELECT id, started_datetime, finished_datetime, duration_in_seconds, kind, error_code, error_full, error_step
         FROM sync_log ORDER BY id DESC LIMIT ?",
    )
    .bind(limit)
    .fetch_all(db)
    .await?;
    let mut runs = Vec::with_capacity(rows.len());
    for (id, started, finished, duration, kind, code, full, step) in rows {
        let steps: Vec<(String, Option<i64>, Option<i64>, i64)> = sqlx::query_as(
            "SELECT step, progress_done, progress_total, skipped FROM sync_log_step WHERE sync_log_id = ?",
        )
        .bind(id)
        .fetch_all(db)
        .await?;
        let mut steps: Vec<RunStepCount> = steps
            .into_iter()
            .filter_map(|(key, done, total, skipped)| {
                Some(RunStepCount {
                    key: step_key(&key)?,
                    done: done.map(|d| d.max(0) as u64),
                    total: total.map(|t| t.max(0) as u64),
                    skipped: skipped != 0,
                })
            })
            .collect();
        steps.sort_by_key(|s| progress::index(s.key));
        let done = |key: StepKey| steps.iter().find(|s| s.key == key && !s.skipped).and_then(|s| s.done).unwrap_or(0);
        // Both push steps go through the same changed rows, each sending its share to its own
        // central, so the rows sent are those of the step that got furthest, not the sum.
        let pushed = done(StepKey::PushV6).max(done(StepKey::Push));
        let pulled = done(StepKey::PullCentral) + done(StepKey::PullRemote) + done(StepKey::PullV6);
        let error = code.map(|c| {
            RunError {
                variant: Variant::from_code(&c),
                step: step.and_then(|s| step_key(&s)),
                full: full.unwrap_or_default(),
            }
            .to_api()
        });
        let outcome = match (&error, &finished) {
            (Some(_), _) => RunOutcome::Failed,
            (None, Some(_)) => RunOutcome::Success,
            (None, None) => RunOutcome::Running,
        };
        runs.push(SyncRun {
            id,
            started,
            finished,
            duration_seconds: duration.filter(|_| outcome != RunOutcome::Running),
            kind: kind.and_then(|k| RunTrigger::ALL.into_iter().find(|t| t.as_str() == k)),
            outcome,
            error,
            pushed,
            pulled,
            steps,
        });
    }
    Ok(runs)
}

/// Forget runs that started more than [`KEEP_DAYS`] before `now` (and their steps).
pub async fn prune(db: &SqlitePool, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let cutoff = ts(now - chrono::Duration::days(KEEP_DAYS));
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM sync_log_step WHERE sync_log_id IN (SELECT id FROM sync_log WHERE started_datetime < ?)")
        .bind(&cutoff)
        .execute(&mut *tx)
        .await?;
    let gone = sqlx::query("DELETE FROM sync_log WHERE started_datetime < ?").bind(&cutoff).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(gone.rows_affected())
}

/// The rows of one run.
pub struct RunLog {
    db: SqlitePool,
    id: i64,
}

impl RunLog {
    /// Insert the run's row (and forget runs past [`KEEP_DAYS`]); the run as the model starts it.
    pub async fn start(db: &SqlitePool, kind: RunTrigger) -> sqlx::Result<(RunLog, RunRecord)> {
        let started = Utc::now();
        prune(db, started).await?;
        let id: i64 = sqlx::query_scalar("INSERT INTO sync_log (started_datetime, kind) VALUES (?, ?) RETURNING id")
            .bind(ts(started))
            .bind(kind.as_str())
            .fetch_one(db)
            .await?;
        Ok((RunLog { db: db.clone(), id }, RunRecord::new(id, started)))
    }

    pub async fn write_step(&self, key: StepKey, s: &StepRecord) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO sync_log_step (sync_log_id, step, started_datetime, finished_datetime, progress_total, progress_done, skipped)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (sync_log_id, step) DO UPDATE SET started_datetime = excluded.started_datetime,
               finished_datetime = excluded.finished_datetime, progress_total = excluded.progress_total,
               progress_done = excluded.progress_done, skipped = excluded.skipped",
        )
        .bind(self.id)
        .bind(key.as_str())
        .bind(s.started.map(ts))
        .bind(s.finished.map(ts))
        .bind(s.total.map(|t| t as i64))
        .bind(s.done.map(|d| d as i64))
        .bind(s.skipped)
        .execute(&self.db)
        .await?;
        Ok(())
    }

    async fn write_steps(&self, steps: &[StepRecord; 7]) -> sqlx::Result<()> {
        for key in StepKey::ALL {
            self.write_step(key, &steps[progress::index(key)]).await?;
        }
        Ok(())
    }

    /// The run failed: every step as it stood (integration's progress was only in memory),
    /// and the error.
    pub async fn write_failure(&self, steps: &[StepRecord; 7], error: &RunError) -> sqlx::Result<()> {
        self.write_steps(steps).await?;
        write_error(&self.db, self.id, error, true).await
    }

    /// The run succeeded.
    pub async fn write_success(&self, run: &RunRecord) -> sqlx::Result<()> {
        self.write_steps(&run.steps).await?;
        sqlx::query("UPDATE sync_log SET finished_datetime = ?2, duration_in_seconds = ?3 WHERE id = ?1")
            .bind(self.id)
            .bind(run.finished.map(ts))
            .bind(progress::seconds(run.started, run.finished))
            .execute(&self.db)
            .await?;
        Ok(())
    }
}
