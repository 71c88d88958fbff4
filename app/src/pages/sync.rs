//! The Sync page: how many records wait to be pushed, when the last (successful) sync ran,
//! a **Sync now!** button, the live stepper, the error of the last run, and the records
//! integration had to set aside.
//!
//! Polling: every second while a run is active, every 10 seconds when idle, never while the
//! tab is hidden, and at once when it becomes visible again.

use leptos::prelude::*;
use outpost_api::{
    Direction, Initialisation, QuarantinedRecord, RunOutcome, RunTrigger, StepKey, StepState, SyncRun, SyncStatus,
};

use crate::api;
use crate::components::error_details::ErrorDetails;
use crate::components::form::{BusyButton, Task};
use crate::components::stepper::{StepSpeed, Stepper, step_label};
use crate::i18n::{self, Key, t, tf};
use crate::refetch::Refetch;
use crate::sync_watch::{Staleness, SyncWatch};
use crate::time;

/// Speed and time left appear once a step has been watched for this long.
const SPEED_AFTER_MS: f64 = 3_000.0;

#[component]
pub fn SyncPage() -> impl IntoView {
    // The app's one status poller (the header and the navigation badge read it too).
    let watch = SyncWatch::get();
    let (status, pressed, now) = (watch.status, watch.pressed, watch.now);
    let speed = RwSignal::new(None::<StepSpeed>);
    let first_seen = StoredValue::new(None::<(StepKey, f64, u64)>);
    let quarantine = Refetch::new(api::quarantine);
    let history = Refetch::new(api::sync_history);

    watch.listen(move |s: &SyncStatus, old: Option<&SyncStatus>| {
        let t = time::now_ms();
        // A run started or ended since the last poll (even one that started and ended between
        // two polls): the history, and what integration set aside, may have changed.
        let run_key =
            |s: &SyncStatus| s.last_sync.as_ref().map(|l| (l.started.clone(), l.finished.clone(), s.is_syncing));
        if old.is_some_and(|old| run_key(old) != run_key(s)) {
            history.refetch();
            if !s.is_syncing {
                quarantine.refetch();
            }
        }
        match s.steps.iter().find(|st| st.state == StepState::Active) {
            Some(step) => {
                let done = step.done.unwrap_or(0);
                match first_seen.get_value() {
                    Some((key, t0, d0)) if key == step.key => {
                        let elapsed = t - t0;
                        if elapsed >= SPEED_AFTER_MS && done > d0 {
                            let per_second = (done - d0) as f64 / (elapsed / 1000.0);
                            let seconds_left = step
                                .total
                                .filter(|&total| total >= done)
                                .map(|total| (total - done) as f64 / per_second);
                            speed.set(Some(StepSpeed { key, per_second, seconds_left }));
                        }
                    }
                    _ => {
                        first_seen.set_value(Some((step.key, t, done)));
                        speed.set(None);
                    }
                }
            }
            None => {
                first_seen.set_value(None);
                speed.set(None);
            }
        }
    });

    let pressing = Task::new();
    let sync_now = move || {
        let before = status.get_untracked().and_then(|s| s.last_sync.map(|l| l.started));
        pressed.set(Some((before, time::now_ms())));
        pressing.run(async move {
            let queued = api::run_sync().await;
            match queued {
                Ok(_) => status.refetch(),
                Err(_) => pressed.set(None),
            }
            queued.map(drop)
        });
    };

    let configured = move || status.get().is_none_or(|s| s.configured);
    let busy = move || watch.busy();
    let steps = Signal::derive(move || {
        status
            .get()
            .map(|s| {
                let initialised = s.initialisation == Initialisation::Initialised;
                s.steps.into_iter().filter(|st| st.key != StepKey::PrepareInitial || !initialised).collect()
            })
            .unwrap_or_default()
    });

    view! {
        <section class="page sync-page">
            <div class="page-head">
                <h1>{t(Key::SyncTitle)}</h1>
                <BusyButton
                    class="button primary sync-now"
                    testid="sync-now"
                    busy=Signal::derive(busy)
                    disabled=Signal::derive(move || !configured())
                    label=t(Key::SyncNow)
                    busy_label=t(Key::Syncing)
                    on_click=sync_now
                />
            </div>
            <p class="explain">{t(Key::SyncExplain)}</p>
            {move || status.failure().map(|e| view! {
                <p class="banner banner-error" role="alert">{e.message}" "{t(Key::Retrying)}</p>
            })}
            {move || pressing.failure().map(|e| view! {
                <p class="banner banner-error" role="alert" data-testid="press-error">{e.message}</p>
            })}
            {move || (!configured()).then(|| view! {
                <div class="banner banner-info" data-testid="not-configured">
                    {t(Key::NotConfigured)}" "
                    <a href="/admin/sync">{t(Key::AdminSyncLink)}</a>"."
                </div>
            })}
            <StatusSummary watch=watch/>
            <Stepper steps=steps speed=speed/>
            <div class="error-slot">
                {move || status.get().and_then(|s| s.error).map(|error| view! { <ErrorDetails error=error/> })}
            </div>
            <Quarantine records=quarantine/>
            <History runs=history now=now/>
        </section>
    }
}

#[component]
fn StatusSummary(watch: SyncWatch) -> impl IntoView {
    let (status, now) = (watch.status, watch.now);
    let records = move || match status.get() {
        None => "…".to_owned(),
        Some(s) => i18n::number(s.records_to_push as f64),
    };
    let last = move || {
        let s = status.get()?;
        let run = s.last_sync?;
        let when = format!("{} ({})", time::relative(&run.started, now.get()), time::absolute(&run.started));
        let key = if run.finished.is_some() || !s.is_syncing { Key::RunTook } else { Key::RunRunning };
        Some(tf(key, &[("when", &when), ("duration", &time::duration(run.duration_seconds))]))
    };
    let success = move || {
        let run = status.get()?.last_successful_sync?;
        let finished = run.finished.clone().unwrap_or(run.started.clone());
        let when = format!("{} ({})", time::relative(&finished, now.get()), time::absolute(&finished));
        Some(tf(Key::RunCompleted, &[("when", &when), ("duration", &time::duration(run.duration_seconds))]))
    };
    let age_class = move || match watch.staleness() {
        Staleness::Error => "value age-error",
        Staleness::Warning => "value age-warning",
        Staleness::Fresh => "value",
    };
    view! {
        <dl class="status-grid">
            <div class="status-item">
                <dt>{t(Key::RecordsToPush)}</dt>
                <dd class="value big" data-testid="records-to-push">{records}</dd>
            </div>
            <div class="status-item">
                <dt>{t(Key::LastSync)}</dt>
                <dd class="value" data-testid="last-sync">{move || last().unwrap_or_else(|| t(Key::Never).into())}</dd>
            </div>
            <div class="status-item">
                <dt>{t(Key::LastSuccessfulSync)}</dt>
                <dd class=age_class data-testid="last-successful-sync">
                    {move || success().unwrap_or_else(|| t(Key::Never).into())}
                    {move || match watch.staleness() {
                        Staleness::Error => Some(view! { <span class="age-note">" "{t(Key::AgeOver3Days)}</span> }),
                        Staleness::Warning => Some(view! { <span class="age-note">" "{t(Key::AgeOver1Day)}</span> }),
                        Staleness::Fresh => None,
                    }}
                </dd>
            </div>
        </dl>
    }
}

#[component]
fn Quarantine(records: Refetch<Vec<QuarantinedRecord>>) -> impl IntoView {
    let retrying = Task::new();
    let retry = move || {
        retrying.run(async move {
            let retried = api::retry_quarantine().await;
            records.refetch();
            retried.map(drop)
        })
    };
    move || {
        let list = match records.get() {
            Some(list) if !list.is_empty() => list,
            _ => return None,
        };
        let count = list.len();
        Some(view! {
            <details class="quarantine" data-testid="quarantine">
                <summary>{i18n::plural(Key::QuarantineOne, Key::QuarantineOther, count as u64)}</summary>
                <p class="explain">{t(Key::QuarantineExplain)}</p>
                <table class="table">
                    <thead><tr><th>{t(Key::ColDirection)}</th><th>{t(Key::ColTable)}</th><th>{t(Key::ColRecord)}</th><th>{t(Key::ColReason)}</th><th>{t(Key::ColWhen)}</th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|r| view! {
                            <tr><td>{t(if r.direction == Direction::Outgoing { Key::DirectionOutgoing } else { Key::DirectionIncoming })}</td><td>{r.table}</td><td class="mono">{r.record_id}</td><td>{r.reason}</td><td>{time::absolute(&r.received)}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <BusyButton busy=retrying label=t(Key::Retry) busy_label=t(Key::RetryingNow) on_click=retry/>
                {move || retrying.failure().map(|e| view! { <p class="error-text" role="alert">{e.message}</p> })}
            </details>
        })
    }
}

/// The last runs as a table: when each started, how long it took, how it ended (and where,
/// and why, behind the same `i` as the latest error), what it moved, and what started it.
#[component]
fn History(runs: Refetch<Vec<SyncRun>>, now: RwSignal<f64>) -> impl IntoView {
    let row = move |run: SyncRun| {
        let (outcome_key, outcome) = match run.outcome {
            RunOutcome::Success => (Key::OutcomeSuccess, "success"),
            RunOutcome::Failed => (Key::OutcomeFailed, "failed"),
            RunOutcome::Running => (Key::OutcomeRunning, "running"),
        };
        let kind = run.kind.map(|k| {
            t(match k {
                RunTrigger::Scheduled => Key::KindScheduled,
                RunTrigger::Manual => Key::KindManual,
                RunTrigger::AtStart => Key::KindAtStart,
            })
        });
        let step = run.error.as_ref().and_then(|e| e.step).map(|k| step_label(k, k.as_str()));
        let started = run.started.clone();
        view! {
            <tr data-testid="history-run" data-outcome=outcome>
                <td data-label=t(Key::ColStarted)>
                    <span>
                        <span class="history-when">{move || time::relative(&started, now.get())}</span>
                        <span class="history-abs muted">{time::absolute(&run.started)}</span>
                    </span>
                </td>
                <td class="num" data-label=t(Key::ColDuration)>{run.duration_seconds.map(time::duration).unwrap_or_else(|| "—".into())}</td>
                <td data-label=t(Key::ColOutcome)><span class=format!("outcome outcome-{outcome}")>{t(outcome_key)}</span></td>
                <td data-label=t(Key::ColFailedStep)>{step.unwrap_or_else(|| "—".into())}</td>
                <td class="history-error" data-label=t(Key::ColError)>
                    {run.error.map(|error| view! { <ErrorDetails error=error id=format!("run-{}", run.id) compact=true/> })}
                </td>
                <td class="num" data-label=t(Key::ColPushed)>{i18n::number(run.pushed as f64)}</td>
                <td class="num" data-label=t(Key::ColPulled)>{i18n::number(run.pulled as f64)}</td>
                <td data-label=t(Key::ColKind)>{kind.unwrap_or("—")}</td>
            </tr>
        }
    };
    view! {
        <section class="history" aria-labelledby="history-heading" data-testid="history">
            <h2 id="history-heading">{t(Key::HistoryTitle)}</h2>
            {move || match runs.get() {
                None => None,
                Some(list) if list.is_empty() => Some(view! { <p class="muted">{t(Key::HistoryEmpty)}</p> }.into_any()),
                Some(list) => Some(view! {
                    <div>
                        <table class="table history-table">
                            <thead><tr>
                                <th>{t(Key::ColStarted)}</th><th>{t(Key::ColDuration)}</th><th>{t(Key::ColOutcome)}</th>
                                <th>{t(Key::ColFailedStep)}</th><th>{t(Key::ColError)}</th><th>{t(Key::ColPushed)}</th>
                                <th>{t(Key::ColPulled)}</th><th>{t(Key::ColKind)}</th>
                            </tr></thead>
                            <tbody>{list.into_iter().map(row).collect_view()}</tbody>
                        </table>
                    </div>
                }.into_any()),
            }}
        </section>
    }
}
