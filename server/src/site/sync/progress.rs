//! Where runs stand, in memory: the model the status API shows and the stall watchdog watches,
//! published through one `tokio::sync::watch` channel whose only writer is the run (the
//! driver opens and closes the run through the same [`Publisher`] it hands to the run). Readers
//! hold a receiver and never lock anything the run waits on.
//!
//! The model's rules:
//! - the first progress report of a step sets its total; later reports set done = total −
//!   remaining, and done never goes back (a central that grows during a pull makes
//!   `remaining` jump up, not the bar);
//! - the step a run failed in is the step the run was in when it failed (see
//!   [`RunRecord::fail`]); this is the only place that decides it.
//!
//! Bytes arriving from a central are not progress of the model, but they do show the run is
//! alive: they go to [`Activity`], a separate cheap signal only the watchdog reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use outpost_api::{RunTimes, StepKey};
use tokio::sync::watch;

use super::errors::RunError;

/// A time as the API and the run log write it (RFC 3339, milliseconds, UTC).
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One step of one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepRecord {
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub total: Option<u64>,
    pub done: Option<u64>,
    pub skipped: bool,
}

impl StepRecord {
    /// Whether the step began and neither finished nor was skipped.
    pub fn is_open(&self) -> bool {
        self.started.is_some() && self.finished.is_none() && !self.skipped
    }

    /// Report what is left: the first report sets the total, later ones move done forward.
    fn report(&mut self, remaining: u64) {
        match self.total {
            None => {
                self.total = Some(remaining);
                self.done = Some(0);
            }
            Some(total) => {
                let now = total.saturating_sub(remaining);
                self.done = Some(self.done.map_or(now, |done| done.max(now)));
            }
        }
    }
}

/// One run: the latest one is what the Sync page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: i64,
    pub started: DateTime<Utc>,
    pub finished: Option<DateTime<Utc>>,
    pub steps: [StepRecord; 7],
    pub error: Option<RunError>,
    /// The step the run is in: entered and not yet left. Not every step a run enters shows as
    /// started (a step can fail on the way in, before it logs its start), so this is kept
    /// apart from the step records.
    in_step: Option<StepKey>,
}

impl RunRecord {
    /// A run that has just started.
    pub fn new(id: i64, started: DateTime<Utc>) -> RunRecord {
        RunRecord { id, started, finished: None, steps: Default::default(), error: None, in_step: None }
    }

    /// A run read back from `sync_log`. The step it was in is the one it left open (steps
    /// run in order, so at most one is).
    pub fn from_log(
        id: i64,
        started: DateTime<Utc>,
        finished: Option<DateTime<Utc>>,
        steps: [StepRecord; 7],
        error: Option<RunError>,
    ) -> RunRecord {
        let in_step = StepKey::ALL.into_iter().rev().find(|k| steps[index(*k)].is_open());
        RunRecord { id, started, finished, steps, error, in_step }
    }

    pub fn step(&self, key: StepKey) -> &StepRecord {
        &self.steps[index(key)]
    }

    fn step_mut(&mut self, key: StepKey) -> &mut StepRecord {
        &mut self.steps[index(key)]
    }

    /// End the run with `error`, at the step it was in unless the error already names one
    /// (an error raised before any step, e.g. the site-info call, names none).
    pub fn fail(&mut self, error: RunError) -> &RunError {
        let error = match self.in_step {
            Some(step) => error.at(step),
            None => error,
        };
        self.error.insert(error)
    }

    /// The step this run failed in, if it failed in one.
    pub fn failed_step(&self) -> Option<StepKey> {
        self.error.as_ref().and_then(|e| e.step)
    }

    pub fn times(&self) -> RunTimes {
        times(self.started, self.finished)
    }
}

pub(crate) fn index(key: StepKey) -> usize {
    StepKey::ALL.iter().position(|k| *k == key).unwrap_or(0)
}

pub(crate) fn times(started: DateTime<Utc>, finished: Option<DateTime<Utc>>) -> RunTimes {
    RunTimes { started: ts(started), finished: finished.map(ts), duration_seconds: seconds(started, finished) }
}

pub(crate) fn seconds(started: DateTime<Utc>, finished: Option<DateTime<Utc>>) -> f64 {
    let end = finished.unwrap_or_else(Utc::now);
    (end - started).num_milliseconds().max(0) as f64 / 1000.0
}

/// The engine's memory of runs.
#[derive(Debug, Clone)]
pub struct Progress {
    pub running: bool,
    pub latest: Option<RunRecord>,
    pub last_success: Option<RunTimes>,
    /// Whether the site's first run succeeded (mirrors the stored flag; the run sets both).
    pub initialised: bool,
}

/// The one writer of [`Progress`]. Owned by the driver, lent to the run it starts.
pub struct Publisher {
    tx: watch::Sender<Progress>,
}

impl Publisher {
    /// A channel holding `start`; the receiver is for readers (status API, watchdog).
    pub fn new(start: Progress) -> (Publisher, watch::Receiver<Progress>) {
        let (tx, rx) = watch::channel(start);
        (Publisher { tx }, rx)
    }

    /// What is published now (the writer reading its own state).
    pub fn current(&self) -> watch::Ref<'_, Progress> {
        self.tx.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        self.tx.subscribe()
    }

    pub(crate) fn run_started(&self, run: RunRecord) {
        self.tx.send_modify(|p| {
            p.running = true;
            p.latest = Some(run);
        });
    }

    /// Change the running run; returns what `f` returns.
    fn with_run<T>(&self, f: impl FnOnce(&mut RunRecord) -> T) -> T {
        let mut out = None;
        self.tx.send_modify(|p| out = Some(f(p.latest.as_mut().expect("a run is going"))));
        out.expect("send_modify runs its closure")
    }

    /// The step is entered (not logged: see [`RunRecord`]'s `in_step`).
    pub(crate) fn enter(&self, key: StepKey) {
        self.with_run(|r| r.in_step = Some(key));
    }

    /// The step ended well.
    pub(crate) fn leave(&self) {
        self.with_run(|r| r.in_step = None);
    }

    /// Change a step; returns the step as it now is (to persist).
    pub(crate) fn step(&self, key: StepKey, f: impl FnOnce(&mut StepRecord)) -> StepRecord {
        self.with_run(|r| {
            let step = r.step_mut(key);
            f(step);
            step.clone()
        })
    }

    pub(crate) fn report(&self, key: StepKey, remaining: u64) -> StepRecord {
        self.step(key, |s| s.report(remaining))
    }

    /// End the run with an error (see [`RunRecord::fail`]); the steps and the error as
    /// decided, to persist.
    pub(crate) fn failed(&self, error: RunError) -> ([StepRecord; 7], RunError) {
        let mut out = None;
        self.tx.send_modify(|p| {
            p.running = false;
            let run = p.latest.as_mut().expect("a run is going");
            let error = run.fail(error).clone();
            out = Some((run.steps.clone(), error));
        });
        out.expect("send_modify runs its closure")
    }

    /// End the run well; the run as it ended, to persist.
    pub(crate) fn finished(&self, at: DateTime<Utc>) -> RunRecord {
        let mut out = None;
        self.tx.send_modify(|p| {
            let run = p.latest.as_mut().expect("a run is going");
            run.finished = Some(at);
            run.in_step = None;
            p.last_success = Some(run.times());
            p.running = false;
            out = Some(run.clone());
        });
        out.expect("send_modify runs its closure")
    }

    pub(crate) fn initialised(&self) {
        self.tx.send_modify(|p| p.initialised = true);
    }
}

/// When bytes last arrived from a central: written by the wire clients' activity hook, read by
/// the stall watchdog. An atomic, so a hook called per chunk costs next to nothing.
#[derive(Clone)]
pub struct Activity {
    origin: Instant,
    /// Microseconds from `origin` to the last arrival.
    last: Arc<AtomicU64>,
}

impl Default for Activity {
    fn default() -> Self {
        Activity { origin: Instant::now(), last: Arc::new(AtomicU64::new(0)) }
    }
}

impl Activity {
    pub fn beat(&self) {
        let micros = u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.last.fetch_max(micros, Ordering::Relaxed);
    }

    pub fn last(&self) -> Instant {
        self.origin + Duration::from_micros(self.last.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::sync::errors::Variant;

    fn run() -> (Publisher, watch::Receiver<Progress>) {
        let (p, rx) = Publisher::new(Progress { running: false, latest: None, last_success: None, initialised: false });
        p.run_started(RunRecord::new(1, Utc::now()));
        (p, rx)
    }

    #[test]
    fn the_first_report_sets_the_total_and_done_never_goes_back() {
        let (p, _rx) = run();
        assert_eq!(p.report(StepKey::PullCentral, 10).total, Some(10));
        assert_eq!(p.report(StepKey::PullCentral, 4).done, Some(6));
        // The central grew: more remains than before, but the bar stays where it was.
        let s = p.report(StepKey::PullCentral, 8);
        assert_eq!((s.total, s.done), (Some(10), Some(6)));
        assert_eq!(p.report(StepKey::PullCentral, 0).done, Some(10));
    }

    #[test]
    fn a_failure_is_placed_at_the_step_the_run_was_in_even_before_that_step_logged_its_start() {
        let (p, rx) = run();
        p.enter(StepKey::PullV6);
        let (_, error) = p.failed(RunError::new(Variant::CentralV6NotConfigured, "c", "d"));
        assert_eq!(error.step, Some(StepKey::PullV6));
        assert!(!rx.borrow().running);
        assert_eq!(rx.borrow().latest.as_ref().unwrap().failed_step(), Some(StepKey::PullV6));
    }

    #[test]
    fn a_failure_between_steps_names_no_step() {
        let (p, _rx) = run();
        p.enter(StepKey::Integration);
        p.step(StepKey::Integration, |s| s.started = Some(Utc::now()));
        p.step(StepKey::Integration, |s| s.finished = Some(Utc::now()));
        p.leave();
        let (_, error) = p.failed(RunError::new(Variant::Unknown, "c", "d"));
        assert_eq!(error.step, None);
    }

    #[test]
    fn a_run_read_back_from_the_log_was_in_the_step_it_left_open() {
        let mut steps: [StepRecord; 7] = Default::default();
        steps[index(StepKey::PrepareInitial)] =
            StepRecord { started: Some(Utc::now()), finished: Some(Utc::now()), ..Default::default() };
        steps[index(StepKey::Push)] = StepRecord { started: Some(Utc::now()), ..Default::default() };
        let mut run = RunRecord::from_log(1, Utc::now(), None, steps, None);
        assert_eq!(run.fail(RunError::new(Variant::Interrupted, "c", "d")).step, Some(StepKey::Push));
    }

    #[test]
    fn activity_only_moves_forward() {
        let a = Activity::default();
        let before = a.last();
        a.beat();
        assert!(a.last() >= before);
    }
}
