//! When runs happen: one task owns sync, so two runs never overlap. It runs at start when
//! configured, then waits for a trigger or the interval (from the engine's copy of the
//! settings, and restarted after every run); a trigger during a run queues one follow-up (the
//! channel holds one). A stall watchdog ends a run in which nothing moved for `stall_timeout`.
//!
//! The driver owns the progress model's [`Publisher`] and lends it to each run: nothing else
//! writes the model.

use std::sync::Arc;
use std::time::{Duration, Instant};

use outpost_api::RunTrigger;
use tokio::sync::{mpsc, watch};

use super::errors::{RunError, Variant};
use super::plan::Plan;
use super::progress::{Activity, Progress, Publisher};
use super::report::Report;
use super::run;
use super::{RunKind, SyncEngine};
use crate::site::settings;

pub(crate) async fn drive(engine: SyncEngine, mut triggers: mpsc::Receiver<RunKind>, out: Publisher) {
    let out = Arc::new(out);
    // What the run does, and what started it (the run history shows it).
    let mut next = if engine.config().run_at_start { Some((RunKind::Full, RunTrigger::AtStart)) } else { None };
    loop {
        if let Some((kind, trigger)) = next.take() {
            run_once(&engine, &out, kind, trigger).await;
        }
        let initialised = out.current().initialised;
        // Before initialisation only a trigger starts a run (saving settings sends one).
        let interval = match engine.settings() {
            Some(s) if initialised => Some(Duration::from_secs(s.interval_seconds.max(1))),
            _ => None,
        };
        next = match interval {
            Some(every) => tokio::select! {
                t = triggers.recv() => match t { Some(k) => Some((k, RunTrigger::Manual)), None => return },
                _ = tokio::time::sleep(every) => Some((RunKind::Full, RunTrigger::Scheduled)),
            },
            None => match triggers.recv().await {
                Some(k) => Some((k, RunTrigger::Manual)),
                None => return,
            },
        };
    }
}

/// One run, unless sync is unconfigured or disabled (then nothing is logged: a disabled site
/// has nothing to show, and must not look initialised).
async fn run_once(engine: &SyncEngine, out: &Arc<Publisher>, kind: RunKind, trigger: RunTrigger) {
    let covers = engine.requests_so_far();
    let db = engine.db();
    // The one read of the settings for this run; the engine's copy follows it.
    let stored = match engine.read_settings(settings::load(db)).await {
        Ok(s) => s,
        // No run this time; the engine keeps the settings it knew (a passing read error must
        // not make the status say "not configured").
        Err(e) => {
            tracing::error!(error = %e, "cannot read sync settings");
            None
        }
    };
    let Some(plan) = Plan::decide(stored, out.current().initialised, kind) else {
        engine.run_completed(covers);
        return;
    };
    let report = match Report::start(db, out.clone(), trigger).await {
        Ok(report) => report,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a sync log row");
            engine.run_completed(covers);
            return;
        }
    };
    let outcome = tokio::select! {
        r = run::execute(engine, &report, &plan) => r,
        e = watchdog(out.subscribe(), engine.activity(), engine.config().stall_timeout) => Err(e),
    };
    let written = match outcome {
        Ok(()) => report.finish().await,
        Err(e) => report.fail(e).await,
    };
    if let Err(e) = written {
        tracing::error!(error = %e, "cannot record the end of a sync run");
    }
    engine.run_completed(covers);
}

/// Resolves when for `limit` neither the progress model changed nor bytes came from a central.
async fn watchdog(mut progress: watch::Receiver<Progress>, activity: &Activity, limit: Duration) -> RunError {
    let tick = (limit / 10).clamp(Duration::from_millis(20), Duration::from_secs(1));
    let mut moved = Instant::now();
    loop {
        tokio::select! {
            Ok(()) = progress.changed() => moved = Instant::now(),
            _ = tokio::time::sleep(tick) => {}
        }
        let last = moved.max(activity.last());
        if Instant::now().duration_since(last) >= limit {
            return RunError::new(
                Variant::Timeout,
                "Sync stalled",
                format!("no progress for {} seconds; the run was stopped", limit.as_secs_f64()),
            );
        }
    }
}
