//! The Sync page: how many records wait to be pushed, when the last (successful) sync ran,
//! a **Sync now!** button, the live stepper, the error of the last run, and the records
//! integration had to set aside.
//!
//! Polling: every second while a run is active, every 10 seconds when idle, never while the
//! tab is hidden, and at once when it becomes visible again.

use leptos::prelude::*;
use outpost_api::{Initialisation, QuarantinedRecord, StepKey, StepState, SyncStatus};
use std::time::Duration;

use crate::api;
use crate::components::error_details::ErrorDetails;
use crate::components::form::{BusyButton, Task};
use crate::components::stepper::{StepSpeed, Stepper};
use crate::i18n::{self, Key, t, tf};
use crate::refetch::Refetch;
use crate::time;

const ACTIVE_POLL_MS: f64 = 1_000.0;
const IDLE_POLL_MS: f64 = 10_000.0;
/// Speed and time left appear once a step has been watched for this long.
const SPEED_AFTER_MS: f64 = 3_000.0;

#[component]
pub fn SyncPage() -> impl IntoView {
    // Set between a press of Sync now! and the moment the page sees that run; holds the start
    // time of the last run before the press, so a run that starts and ends between two polls
    // still clears the spinner.
    let pressed = RwSignal::new(None::<(Option<String>, f64)>);
    let now = RwSignal::new(time::now_ms());
    let speed = RwSignal::new(None::<StepSpeed>);
    let first_seen = StoredValue::new(None::<(StepKey, f64, u64)>);
    let quarantine = Refetch::new(api::quarantine);

    let on_status = move |s: &SyncStatus, old: Option<&SyncStatus>| {
        let t = time::now_ms();
        if let Some((before, pressed_at)) = pressed.get_untracked() {
            let new_run = s.last_sync.as_ref().map(|l| &l.started) != before.as_ref();
            if s.is_syncing || new_run || t - pressed_at > 15_000.0 {
                pressed.set(None);
            }
        }
        // A run ended since the last poll (even one that started and ended between two polls):
        // what integration set aside may have changed.
        let run_key = |s: &SyncStatus| s.last_sync.as_ref().map(|l| (l.started.clone(), l.finished.clone()));
        if !s.is_syncing && old.is_some_and(|old| old.is_syncing || run_key(old) != run_key(s)) {
            quarantine.refetch();
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
    };
    let status = Refetch::with_hook(api::sync_status, on_status);
    status.poll(move || {
        let busy = pressed.get_untracked().is_some() || status.get_untracked().is_some_and(|s| s.is_syncing);
        if busy { ACTIVE_POLL_MS } else { IDLE_POLL_MS }
    });
    // The relative times ("3 minutes ago") move on by themselves, except while nobody looks.
    if let Ok(handle) = set_interval_with_handle(
        move || {
            if !document().hidden() {
                now.set(time::now_ms());
            }
        },
        Duration::from_millis(1_000),
    ) {
        on_cleanup(move || handle.clear());
    }

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
    let busy = move || pressed.get().is_some() || status.get().is_some_and(|s| s.is_syncing);
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
            <StatusSummary status=status.into() now=now/>
            <Stepper steps=steps speed=speed/>
            <div class="error-slot">
                {move || status.get().and_then(|s| s.error).map(|error| view! { <ErrorDetails error=error/> })}
            </div>
            <Quarantine records=quarantine/>
        </section>
    }
}

#[component]
fn StatusSummary(status: Signal<Option<SyncStatus>>, now: RwSignal<f64>) -> impl IntoView {
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
    let success_age = move || {
        status
            .get()
            .and_then(|s| s.last_successful_sync)
            .and_then(|r| r.finished.or(Some(r.started)))
            .and_then(|f| time::age_days(&f, now.get()))
    };
    let success = move || {
        let run = status.get()?.last_successful_sync?;
        let finished = run.finished.clone().unwrap_or(run.started.clone());
        let when = format!("{} ({})", time::relative(&finished, now.get()), time::absolute(&finished));
        Some(tf(Key::RunCompleted, &[("when", &when), ("duration", &time::duration(run.duration_seconds))]))
    };
    let age_class = move || match success_age() {
        Some(d) if d > 3.0 => "value age-error",
        Some(d) if d > 1.0 => "value age-warning",
        _ => "value",
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
                    {move || match success_age() {
                        Some(d) if d > 3.0 => Some(view! { <span class="age-note">" "{t(Key::AgeOver3Days)}</span> }),
                        Some(d) if d > 1.0 => Some(view! { <span class="age-note">" "{t(Key::AgeOver1Day)}</span> }),
                        _ => None,
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
                    <thead><tr><th>{t(Key::ColTable)}</th><th>{t(Key::ColRecord)}</th><th>{t(Key::ColReason)}</th><th>{t(Key::ColReceived)}</th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|r| view! {
                            <tr><td>{r.table}</td><td class="mono">{r.record_id}</td><td>{r.reason}</td><td>{time::absolute(&r.received)}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <BusyButton busy=retrying label=t(Key::Retry) busy_label=t(Key::RetryingNow) on_click=retry/>
                {move || retrying.failure().map(|e| view! { <p class="error-text" role="alert">{e.message}</p> })}
            </details>
        })
    }
}
