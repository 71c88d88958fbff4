//! The progress model as the API shows it (`GET /api/sync/status`): a projection, deciding
//! nothing the model has not decided (which step failed comes from the run's error).

use outpost_api::{Initialisation, StepKey, StepState, SyncStep};

use super::errors::RunError;
use super::progress::ts;
use super::progress::{Progress, RunRecord, StepRecord};

fn step_state(run: &RunRecord, running: bool, key: StepKey, step: &StepRecord) -> StepState {
    if step.skipped {
        StepState::Skipped
    } else if step.finished.is_some() {
        StepState::Done
    } else if run.failed_step() == Some(key) {
        // Also a step that failed on the way in, before it logged its start (no V6 central).
        StepState::Error
    } else if step.started.is_some() && running {
        StepState::Active
    } else {
        StepState::Pending
    }
}

/// The status, from the model plus the two values the model does not hold.
pub fn status(progress: &Progress, configured: bool, records_to_push: u64) -> outpost_api::SyncStatus {
    let steps = StepKey::ALL
        .into_iter()
        .map(|key| {
            let (state, record) = match &progress.latest {
                Some(run) => (step_state(run, progress.running, key, run.step(key)), run.step(key).clone()),
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
    let initialisation = if progress.initialised {
        Initialisation::Initialised
    } else if progress.latest.is_some() {
        Initialisation::Initialising
    } else {
        Initialisation::PreInitialisation
    };
    outpost_api::SyncStatus {
        configured,
        is_syncing: progress.running,
        initialisation,
        records_to_push,
        last_sync: progress.latest.as_ref().map(RunRecord::times),
        last_successful_sync: progress.last_success.clone(),
        steps,
        error: progress.latest.as_ref().and_then(|r| r.error.as_ref()).map(RunError::to_api),
    }
}
