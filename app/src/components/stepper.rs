//! The horizontal stepper of a sync run: one step per stage in run order, each pending,
//! active, done, error or skipped, with `done / total` under it and, for the active step,
//! its speed and the time left. Every line has a fixed height so nothing moves while polling.

use leptos::prelude::*;
use outpost_api::{StepKey, StepState, SyncStep};

use crate::i18n::{self, Key, t, tf};
use crate::icons;
use crate::time;

/// Speed of the active step, measured by this page between two polls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepSpeed {
    pub key: StepKey,
    pub per_second: f64,
    pub seconds_left: Option<f64>,
}

#[component]
pub fn Stepper(
    #[prop(into)] steps: Signal<Vec<SyncStep>>,
    #[prop(into)] speed: Signal<Option<StepSpeed>>,
) -> impl IntoView {
    view! {
        <ol class="stepper" aria-label=t(Key::StepperLabel)>
            {move || {
                let speed = speed.get();
                steps.get().into_iter().map(|step| step_view(step, speed)).collect_view()
            }}
        </ol>
    }
}

fn state_name(state: StepState) -> &'static str {
    match state {
        StepState::Pending => "pending",
        StepState::Active => "active",
        StepState::Done => "done",
        StepState::Error => "error",
        StepState::Skipped => "skipped",
    }
}

/// The step's name in the reader's language (a step this app does not know keeps the server's label).
pub fn step_label(key: StepKey, server_label: &str) -> String {
    i18n::code("step", key.as_str()).map_or_else(|| server_label.to_owned(), str::to_owned)
}

fn state_text(state: StepState) -> &'static str {
    t(match state {
        StepState::Pending => Key::StepStatePending,
        StepState::Active => Key::StepStateActive,
        StepState::Done => Key::StepStateDone,
        StepState::Error => Key::StepStateError,
        StepState::Skipped => Key::StepStateSkipped,
    })
}

fn step_view(step: SyncStep, speed: Option<StepSpeed>) -> impl IntoView {
    let state = state_name(step.state);
    let progress = match (step.done, step.total) {
        (Some(done), Some(total)) if total > 0 => format!("{} / {}", group(done), group(total)),
        _ => String::new(),
    };
    let speed_text = speed
        .filter(|s| s.key == step.key && step.state == StepState::Active)
        .map(|s| {
            let per_second = group(s.per_second.round() as u64);
            match s.seconds_left {
                Some(left) => tf(Key::SpeedLeft, &[("speed", &per_second), ("left", &time::duration(left))]),
                None => tf(Key::Speed, &[("speed", &per_second)]),
            }
        })
        .unwrap_or_default();
    let label = step_label(step.key, &step.label);
    let aria = format!(
        "{label}: {}{}",
        state_text(step.state),
        if progress.is_empty() { String::new() } else { format!(", {progress}") }
    );
    let glyph = match step.state {
        StepState::Done => icons::check().into_any(),
        StepState::Error => icons::alert().into_any(),
        StepState::Skipped => icons::skip().into_any(),
        _ => match step.key {
            StepKey::PrepareInitial => icons::prepare().into_any(),
            StepKey::PushV6 | StepKey::Push => icons::push().into_any(),
            StepKey::Integration => icons::integrate().into_any(),
            _ => icons::pull().into_any(),
        },
    };
    view! {
        <li
            class=format!("step step-{state}")
            data-step=step.key.as_str()
            data-state=state
            aria-label=aria
            aria-current=(step.state == StepState::Active).then_some("step")
        >
            <span class="step-icon">{glyph}</span>
            <span class="step-label">{label}</span>
            <span class="step-progress" data-testid="step-progress">{progress}</span>
            <span class="step-speed">{speed_text}</span>
        </li>
    }
}

/// 12345 → "12,345" in English, "12 345" in French (grouping keeps big totals readable).
fn group(n: u64) -> String {
    i18n::number(n as f64)
}
