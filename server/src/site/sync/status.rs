//! Where a run stands, for people watching it: one `sync_log` row per run (with a
//! `sync_log_step` row per step), mirrored in memory so the status API can show live progress
//! even while integration holds its one long transaction (other connections cannot see
//! uncommitted rows, and SQLite lets only one connection write).
//!
//! The rule from the reference: the first progress report of a step sets its total, later
//! reports set done = total − remaining (the total never changes, and done never goes back).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use outpost_api::{Initialisation, RunTimes, StepKey, StepState, SyncStep};
use sqlx::SqlitePool;

use super::errors::{RunError, Variant};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepRecord {
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub total: Option<u64>,
    pub done: Option<u64>,
    pub skipped: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: i64,
    pub started: DateTime<Utc>,
    pub finished: Option<DateTime<Utc>>,
    pub steps: [StepRecord; 7],
    pub error: Option<RunError>,
}

impl RunRecord {
    fn step_mut(&mut self, key: StepKey) -> &mut StepRecord {
        &mut self.steps[index(key)]
    }

    pub fn step(&self, key: StepKey) -> &StepRecord {
        &self.steps[index(key)]
    }
}

fn index(key: StepKey) -> usize {
    StepKey::ALL.iter().position(|k| *k == key).unwrap_or(0)
}

/// The engine's memory of runs, shared by the run, the watchdog and the status API.
#[derive(Debug)]
pub struct Live {
    pub running: bool,
    pub latest: Option<RunRecord>,
    pub last_success: Option<RunTimes>,
    pub initialised: bool,
    /// The last time anything moved: a progress report, a step change, bytes from a central.
    pub last_beat: Instant,
}

pub type SharedLive = Arc<Mutex<Live>>;

pub fn beat(live: &SharedLive) {
    live.lock().expect("status lock").last_beat = Instant::now();
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_ts(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok()).map(|t| t.with_timezone(&Utc))
}

fn seconds(started: DateTime<Utc>, finished: Option<DateTime<Utc>>) -> f64 {
    let end = finished.unwrap_or_else(Utc::now);
    (end - started).num_milliseconds().max(0) as f64 / 1000.0
}

fn times(started: DateTime<Utc>, finished: Option<DateTime<Utc>>) -> RunTimes {
    RunTimes { started: ts(started), finished: finished.map(ts), duration_seconds: seconds(started, finished) }
}

/// Load what the last process left: the latest run, the last success, and mark a run that was
/// cut short by a stop (a crash, a power cut, `kill -9`) as failed with `INTERRUPTED` and the
/// step it was in, so it is neither shown as syncing forever nor failed silently.
pub async fn load(db: &SqlitePool, initialised: bool) -> sqlx::Result<Live> {
    let interrupted = RunError::new(Variant::Interrupted, "Run interrupted", "the server stopped during this run");
    // The step: the last one started and neither finished nor skipped (steps run in order).
    sqlx::query(
        "UPDATE sync_log SET error_code = ?1, error_message = ?2, error_full = ?3, error_hint = ?4,
           error_step = (SELECT s.step FROM sync_log_step s WHERE s.sync_log_id = sync_log.id
                         AND s.started_datetime IS NOT NULL AND s.finished_datetime IS NULL AND s.skipped = 0
                         ORDER BY s.started_datetime DESC LIMIT 1)
         WHERE finished_datetime IS NULL AND error_code IS NULL",
    )
    .bind(interrupted.variant.code())
    .bind(interrupted.variant.message())
    .bind(&interrupted.full)
    .bind(interrupted.variant.hint())
    .execute(db)
    .await?;
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
    let last_success = success.and_then(|(s, f)| Some(times(parse_ts(Some(s))?, parse_ts(f))));
    Ok(Live { running: false, latest, last_success, initialised, last_beat: Instant::now() })
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
    let mut run = RunRecord {
        id,
        started: parse_ts(Some(started)).unwrap_or_else(Utc::now),
        finished: parse_ts(finished),
        steps: Default::default(),
        error: code.map(|c| RunError {
            variant: Variant::from_code(&c),
            step: step.and_then(|s| StepKey::ALL.into_iter().find(|k| k.as_str() == s)),
            full: full.unwrap_or_default(),
        }),
    };
    let steps: Vec<StepRow> = sqlx::query_as(
        "SELECT step, started_datetime, finished_datetime, progress_total, progress_done, skipped
         FROM sync_log_step WHERE sync_log_id = ?",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    for (key, started, finished, total, done, skipped) in steps {
        if let Some(key) = StepKey::ALL.into_iter().find(|k| k.as_str() == key) {
            *run.step_mut(key) = StepRecord {
                started: parse_ts(started),
                finished: parse_ts(finished),
                total: total.map(|t| t as u64),
                done: done.map(|d| d as u64),
                skipped: skipped != 0,
            };
        }
    }
    Ok(Some(run))
}

/// The log of one run: every change goes to memory at once and to `sync_log` (except
/// [`RunLog::progress_live`], used while integration holds the database).
pub struct RunLog {
    db: SqlitePool,
    live: SharedLive,
    id: i64,
}

impl RunLog {
    pub async fn start(db: &SqlitePool, live: &SharedLive) -> sqlx::Result<RunLog> {
        let started = Utc::now();
        let id: i64 = sqlx::query_scalar("INSERT INTO sync_log (started_datetime) VALUES (?) RETURNING id")
            .bind(ts(started))
            .fetch_one(db)
            .await?;
        let mut l = live.lock().expect("status lock");
        l.running = true;
        l.last_beat = Instant::now();
        l.latest = Some(RunRecord { id, started, finished: None, steps: Default::default(), error: None });
        drop(l);
        Ok(RunLog { db: db.clone(), live: live.clone(), id })
    }

    pub fn live(&self) -> &SharedLive {
        &self.live
    }

    fn update(&self, key: StepKey, f: impl FnOnce(&mut StepRecord)) -> StepRecord {
        let mut l = self.live.lock().expect("status lock");
        l.last_beat = Instant::now();
        let run = l.latest.as_mut().expect("a run is logging");
        let step = run.step_mut(key);
        f(step);
        step.clone()
    }

    async fn persist_step(&self, key: StepKey, s: &StepRecord) -> sqlx::Result<()> {
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

    pub async fn step_started(&self, key: StepKey) -> sqlx::Result<()> {
        let s = self.update(key, |s| s.started = Some(Utc::now()));
        self.persist_step(key, &s).await
    }

    pub async fn step_done(&self, key: StepKey) -> sqlx::Result<()> {
        let s = self.update(key, |s| {
            s.started.get_or_insert_with(Utc::now);
            s.finished = Some(Utc::now());
        });
        self.persist_step(key, &s).await
    }

    pub async fn step_skipped(&self, key: StepKey) -> sqlx::Result<()> {
        let now = Utc::now();
        let s = self.update(key, |s| {
            s.skipped = true;
            s.started = Some(now);
            s.finished = Some(now);
        });
        self.persist_step(key, &s).await
    }

    fn apply_progress(&self, key: StepKey, remaining: u64) -> StepRecord {
        self.update(key, |s| match s.total {
            None => {
                s.total = Some(remaining);
                s.done = Some(0);
            }
            // A source that grows during the step (a central writing while we pull) makes
            // `remaining` jump up; done still only moves forward, so progress never goes back.
            Some(total) => {
                let now = total.saturating_sub(remaining);
                s.done = Some(s.done.map_or(now, |done| done.max(now)));
            }
        })
    }

    /// Report what is left of a step; the first report of a run sets the total.
    pub async fn progress(&self, key: StepKey, remaining: u64) -> sqlx::Result<()> {
        let s = self.apply_progress(key, remaining);
        self.persist_step(key, &s).await
    }

    /// Like [`RunLog::progress`] but in memory only, for when the database is busy with the
    /// integration transaction; the step is persisted when it finishes.
    pub fn progress_live(&self, key: StepKey, remaining: u64) {
        self.apply_progress(key, remaining);
    }

    /// Set the total outright (integration knows its total before the first record).
    pub fn set_total_live(&self, key: StepKey, total: u64, done: u64) {
        self.update(key, |s| {
            s.total = Some(total);
            s.done = Some(done);
        });
    }

    pub async fn fail(&self, error: &RunError) -> sqlx::Result<()> {
        let (steps, error) = {
            let mut l = self.live.lock().expect("status lock");
            l.running = false;
            let run = l.latest.as_mut().expect("a run is logging");
            run.error = Some(error.clone());
            (run.steps.clone(), error.clone())
        };
        for key in StepKey::ALL {
            self.persist_step(key, &steps[index(key)]).await?;
        }
        sqlx::query(
            "UPDATE sync_log SET error_code = ?2, error_message = ?3, error_full = ?4, error_hint = ?5, error_step = ?6,
               duration_in_seconds = (julianday('now') - julianday(started_datetime)) * 86400.0 WHERE id = ?1",
        )
        .bind(self.id)
        .bind(error.variant.code())
        .bind(error.variant.message())
        .bind(&error.full)
        .bind(error.variant.hint())
        .bind(error.step.map(|s| s.as_str()))
        .execute(&self.db)
        .await?;
        Ok(())
    }

    pub async fn finish(&self) -> sqlx::Result<()> {
        let finished = Utc::now();
        let (started, steps) = {
            let mut l = self.live.lock().expect("status lock");
            let run = l.latest.as_mut().expect("a run is logging");
            run.finished = Some(finished);
            let out = (run.started, run.steps.clone());
            l.last_success = Some(times(out.0, Some(finished)));
            l.running = false;
            out
        };
        for key in StepKey::ALL {
            self.persist_step(key, &steps[index(key)]).await?;
        }
        sqlx::query("UPDATE sync_log SET finished_datetime = ?2, duration_in_seconds = ?3 WHERE id = ?1")
            .bind(self.id)
            .bind(ts(finished))
            .bind(seconds(started, Some(finished)))
            .execute(&self.db)
            .await?;
        Ok(())
    }
}

fn step_state(run: &RunRecord, running: bool, key: StepKey, step: &StepRecord) -> StepState {
    if step.skipped {
        StepState::Skipped
    } else if step.finished.is_some() {
        StepState::Done
    } else if step.started.is_some() {
        if running && run.error.is_none() { StepState::Active } else { StepState::Error }
    } else if run.error.as_ref().is_some_and(|e| e.step == Some(key)) {
        // Failed on the way in (e.g. no V6 central to pull from).
        StepState::Error
    } else {
        StepState::Pending
    }
}

/// The status the API returns, from memory plus the two values only the caller knows.
pub fn snapshot(live: &Live, configured: bool, records_to_push: u64) -> outpost_api::SyncStatus {
    let steps = StepKey::ALL
        .into_iter()
        .map(|key| {
            let (state, record) = match &live.latest {
                Some(run) => (step_state(run, live.running, key, run.step(key)), run.step(key).clone()),
                None => (StepState::Pending, StepRecord::default()),
            };
            SyncStep {
                key,
                label: key.label().to_owned(),
                state,
                started: record.started.map(ts),
                finished: record.finished.map(ts),
                total: record.total,
                done: record.done,
            }
        })
        .collect();
    let initialisation = if live.initialised {
        Initialisation::Initialised
    } else if live.latest.is_some() {
        Initialisation::Initialising
    } else {
        Initialisation::PreInitialisation
    };
    outpost_api::SyncStatus {
        configured,
        is_syncing: live.running,
        initialisation,
        records_to_push,
        last_sync: live.latest.as_ref().map(|r| times(r.started, r.finished)),
        last_successful_sync: live.last_success.clone(),
        steps,
        error: live.latest.as_ref().and_then(|r| r.error.as_ref()).map(RunError::to_api),
    }
}
