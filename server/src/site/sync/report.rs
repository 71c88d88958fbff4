//! [`Report`] is the run's one way to say where it stands: each change goes to the progress
//! model first (what people watch) and then to the run log on disk. The run and its steps
//! hold it; nothing else writes either.

use std::future::Future;
use std::sync::Arc;

use chrono::Utc;
use outpost_api::{RunTrigger, StepKey};
use sqlx::SqlitePool;

use super::errors::RunError;
use super::progress::Publisher;
use super::run_log::RunLog;

/// Where the run stands, as the run tells it.
pub struct Report {
    log: RunLog,
    out: Arc<Publisher>,
}

impl Report {
    /// Open the run: a `sync_log` row, then the model shows it going.
    pub async fn start(db: &SqlitePool, out: Arc<Publisher>, kind: RunTrigger) -> sqlx::Result<Report> {
        let (log, run) = RunLog::start(db, kind).await?;
        out.run_started(run);
        Ok(Report { log, out })
    }

    /// Run one step: while `step` goes, the run is in `key`, so a failure (its own, or the
    /// watchdog's) is placed there.
    pub async fn step(&self, key: StepKey, step: impl Future<Output = Result<(), RunError>>) -> Result<(), RunError> {
        self.out.enter(key);
        step.await?;
        self.out.leave();
        Ok(())
    }

    pub async fn step_started(&self, key: StepKey) -> sqlx::Result<()> {
        let s = self.out.step(key, |s| s.started = Some(Utc::now()));
        self.log.write_step(key, &s).await
    }

    pub async fn step_done(&self, key: StepKey) -> sqlx::Result<()> {
        let s = self.out.step(key, |s| {
            s.started.get_or_insert_with(Utc::now);
            s.finished = Some(Utc::now());
        });
        self.log.write_step(key, &s).await
    }

    pub async fn step_skipped(&self, key: StepKey) -> sqlx::Result<()> {
        let now = Utc::now();
        let s = self.out.step(key, |s| {
            s.skipped = true;
            s.started = Some(now);
            s.finished = Some(now);
        });
        self.log.write_step(key, &s).await
    }

    /// Report what is left of a step; the first report of a run sets the total.
    pub async fn progress(&self, key: StepKey, remaining: u64) -> sqlx::Result<()> {
        let s = self.out.report(key, remaining);
        self.log.write_step(key, &s).await
    }

    /// Like [`Report::progress`] but in memory only, for when the database is busy with the
    /// integration transaction; the step is written when it finishes.
    pub fn progress_live(&self, key: StepKey, remaining: u64) {
        self.out.report(key, remaining);
    }

    /// The first run succeeded (the stored flag is already set).
    pub(super) fn initialised(&self) {
        self.out.initialised();
    }

    /// End the run with `error`, placed at the step the run was in.
    pub async fn fail(&self, error: RunError) -> sqlx::Result<()> {
        let (steps, error) = self.out.failed(error);
        tracing::warn!(error = %error, "sync run failed");
        self.log.write_failure(&steps, &error).await
    }

    pub async fn finish(&self) -> sqlx::Result<()> {
        let run = self.out.finished(Utc::now());
        self.log.write_success(&run).await
    }
}
