//! When runs happen: one task owns sync, so two runs never overlap. It runs at start when
//! configured, then waits for a trigger or the interval (re-read from the settings each time,
//! and restarted after every run); a trigger during a run queues one follow-up (the channel
//! holds one). A stall watchdog ends a run in which nothing moved for `stall_timeout`.

use std::time::{Duration, Instant};

use outpost_api::StepKey;
use tokio::sync::mpsc;

use super::errors::{RunError, Variant};
use super::status::RunLog;
use super::{RunKind, SyncEngine, kv, run};
use crate::site::settings;

pub(crate) async fn drive(engine: SyncEngine, mut triggers: mpsc::Receiver<RunKind>) {
    let db = engine.db().clone();
    let mut next = if engine.config().run_at_start { Some(RunKind::Full) } else { None };
    loop {
        if let Some(kind) = next.take() {
            run_once(&engine, kind).await;
        }
        let stored = settings::load(&db).await.ok().flatten();
        let initialised = kv::get_bool(&db, kv::IS_INITIALISED).await.unwrap_or(false);
        // Before initialisation only a trigger starts a run (saving settings sends one).
        let interval = match &stored {
            Some(s) if initialised => Some(Duration::from_secs(s.interval_seconds.max(1))),
            _ => None,
        };
        next = match interval {
            Some(every) => tokio::select! {
                t = triggers.recv() => match t { Some(k) => Some(k), None => return },
                _ = tokio::time::sleep(every) => Some(RunKind::Full),
            },
            None => match triggers.recv().await {
                Some(k) => Some(k),
                None => return,
            },
        };
    }
}

/// One run, unless sync is unconfigured or disabled (then nothing is logged: a disabled site
/// has nothing to show, and must not look initialised).
async fn run_once(engine: &SyncEngine, kind: RunKind) {
    let covers = engine.requests_so_far();
    let db = engine.db();
    let stored = match settings::load(db).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot read sync settings");
            None
        }
    };
    let stored = match stored {
        Some(s) if !s.is_disabled || kind == RunKind::IntegrateOnly => s,
        _ => {
            engine.run_completed(covers);
            return;
        }
    };
    let log = match RunLog::start(db, &engine.inner().live).await {
        Ok(log) => log,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a sync log row");
            engine.run_completed(covers);
            return;
        }
    };
    let outcome = tokio::select! {
        r = run::execute(engine, &log, &stored, kind) => r,
        e = watchdog(engine) => Err(e),
    };
    let written = match &outcome {
        Ok(()) => log.finish().await,
        Err(e) => {
            let e = match e.step {
                Some(_) => e.clone(),
                None => match active_step(engine) {
                    Some(step) => e.clone().at(step),
                    None => e.clone(),
                },
            };
            tracing::warn!(error = %e, "sync run failed");
            log.fail(&e).await
        }
    };
    if let Err(e) = written {
        tracing::error!(error = %e, "cannot record the end of a sync run");
    }
    engine.run_completed(covers);
}

/// The step that was going when the run failed (started, not finished).
fn active_step(engine: &SyncEngine) -> Option<StepKey> {
    let live = engine.inner().live.lock().expect("status lock");
    let run = live.latest.as_ref()?;
    StepKey::ALL.into_iter().rev().find(|k| {
        let s = run.step(*k);
        s.started.is_some() && s.finished.is_none()
    })
}

/// Resolves when nothing has moved for `stall_timeout`.
async fn watchdog(engine: &SyncEngine) -> RunError {
    let limit = engine.config().stall_timeout;
    let tick = (limit / 10).clamp(Duration::from_millis(20), Duration::from_secs(1));
    loop {
        tokio::time::sleep(tick).await;
        let last = engine.inner().live.lock().expect("status lock").last_beat;
        if Instant::now().duration_since(last) >= limit {
            return RunError::new(
                Variant::Timeout,
                "Sync stalled",
                format!("no progress for {} seconds; the run was stopped", limit.as_secs_f64()),
            );
        }
    }
}
