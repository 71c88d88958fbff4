//! The horizontal stepper of a sync run: one step per stage in run order, each pending,
//! active, done, error or skipped, with `done / total` under it and, for the active step,
//! its speed and the time left. Every line has a fixed height so nothing moves while polling.

use leptos::prelude::*;
use outpost_api::{StepKey, StepState, SyncStep};

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
        <ol class="stepper" aria-label="Sync steps">
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

fn step_view(step: SyncStep, speed: Option<StepSpeed>) -> impl IntoView {
    let state = state_name(step.state);
    let progress = match (step.done, step.total) {
        (Some(done), Some(total)) if total > 0 => format!("{} / {}", group(done), group(total)),
        _ => String::new(),
    };
    let speed_text = speed
        .filter(|s| s.key == step.key && step.state == StepState::Active)
        .map(|s| match s.seconds_left {
            Some(left) => format!("{}/s · {} left", group(s.per_second.round() as u64), time::duration(left)),
            None => format!("{}/s", group(s.per_second.round() as u64)),
        })
        .unwrap_or_default();
    let aria = format!(
        "{}: {}{}",
        step.label,
        state,
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
            <span class="step-label">{step.label}</span>
            <span class="step-progress" data-testid="step-progress">{progress}</span>
            <span class="step-speed">{speed_text}</span>
        </li>
    }
}

/// 12345 → "12,345" (thin grouping keeps big totals readable on a tablet).
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
