//! What every form is made of: labelled fields (text, select, checkbox), a button that shows
//! its action running (disabled, with a spinner, a 44 px touch target like every `.button`), and
//! the [`Task`] behind such a button: one run at a time, its failure kept for the page to show.
//!
//! These components take plain signals and callbacks rather than generic parameters, so each is
//! compiled once however many pages use it (the wasm size budget is tight).

use std::future::Future;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{Answer, Failure};

/// An action a person started (save, sign in, retry): one run at a time, and the failure of
/// the last run kept until the next one starts.
#[derive(Clone, Copy)]
pub struct Task {
    running: RwSignal<bool>,
    failure: RwSignal<Option<Failure>>,
}

impl Default for Task {
    fn default() -> Self {
        Task::reporting_to(RwSignal::new(None))
    }
}

impl Task {
    pub fn new() -> Self {
        Task::default()
    }

    /// A task that reports to a failure slot it shares with other tasks (the actions of one
    /// table: saving and deleting), so the message on screen is always the latest one's.
    pub fn reporting_to(failure: RwSignal<Option<Failure>>) -> Self {
        Task { running: RwSignal::new(false), failure }
    }

    pub fn running(self) -> bool {
        self.running.get()
    }

    pub fn failure(self) -> Option<Failure> {
        self.failure.get()
    }

    /// Forget the last failure (a form that found errors itself before sending anything).
    pub fn clear(self) {
        self.failure.set(None);
    }

    /// Start the job, unless a run is still going (a double tap sends one request).
    pub fn run(self, job: impl Future<Output = Answer<()>> + 'static) {
        if self.running.get_untracked() {
            return;
        }
        self.running.set(true);
        self.clear();
        spawn_local(async move {
            let failure = job.await.err();
            // The page may be gone by now (a person navigated away): nothing to update then.
            self.failure.try_set(failure);
            self.running.try_set(false);
        });
    }
}

impl From<Task> for Signal<bool> {
    fn from(task: Task) -> Self {
        task.running.into()
    }
}

/// A button whose action takes a while: while `busy` it is disabled and shows a spinner and
/// `busy_label…` (the spinner is a status named `busy_label`, so assistive technology and the
/// browser tests can see the action running).
#[component]
pub fn BusyButton(
    #[prop(into)] busy: Signal<bool>,
    #[prop(into)] label: Signal<String>,
    /// What the button says while busy, without the ellipsis: "Saving".
    busy_label: &'static str,
    #[prop(default = "button")] class: &'static str,
    /// A form's submit button (the form runs the action) rather than a plain button.
    #[prop(optional)]
    submit: bool,
    /// Disabled for another reason too (nothing to act on yet).
    #[prop(optional, into)]
    disabled: Signal<bool>,
    #[prop(optional, into)] on_click: Option<Callback<()>>,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    view! {
        <button
            class=class
            type=if submit { "submit" } else { "button" }
            data-testid=testid
            aria-busy=move || busy.get().to_string()
            disabled=move || busy.get() || disabled.get()
            on:click=move |_| {
                if let Some(action) = on_click {
                    action.run(());
                }
            }
        >
            {move || if busy.get() {
                view! { <span class="spinner" role="status" aria-label=busy_label></span><span>{busy_label}"…"</span> }.into_any()
            } else {
                view! { <span>{label.get()}</span> }.into_any()
            }}
        </button>
    }
}

/// A labelled text input (text, password, url, number) bound to a signal, with an optional
/// help line and an optional error line that says what is wrong with this field.
#[component]
pub fn Field(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional)] help: Option<&'static str>,
    #[prop(optional)] error: Option<Signal<Option<String>>>,
) -> impl IntoView {
    let has_error = move || error.is_some_and(|e| e.get().is_some());
    let help_id = help.map(|_| format!("{id}-help"));
    let error_id = error.map(|_| format!("{id}-error"));
    let described_by = [help_id.clone(), error_id.clone()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    view! {
        <div class="field" class:has-error=has_error>
            <label for=id>{label}</label>
            <input
                id=id
                name=id
                type=kind
                autocomplete=autocomplete
                aria-invalid=move || error.map(|_| has_error().to_string())
                aria-describedby=(!described_by.is_empty()).then_some(described_by)
                prop:value=move || value.get()
                on:input=move |e| value.set(event_target_value(&e))
            />
            {help.map(|help| view! { <p class="field-help" id=help_id>{help}</p> })}
            {error.map(|error| view! {
                <p class="field-error" id=error_id data-testid=format!("error-{id}") role="alert">{move || error.get()}</p>
            })}
        </div>
    }
}

/// A labelled choice among a few values (a store), bound to a signal.
#[component]
pub fn SelectField(
    id: &'static str,
    label: &'static str,
    options: Vec<String>,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <select id=id prop:value=move || value.get() on:change=move |e| value.set(event_target_value(&e))>
                {options.into_iter().map(|o| view! { <option value=o.clone()>{o.clone()}</option> }).collect_view()}
            </select>
        </div>
    }
}

/// A checkbox with its label, bound to a signal.
#[component]
pub fn CheckField(label: &'static str, value: RwSignal<bool>) -> impl IntoView {
    view! {
        <div class="field checkbox">
            <label>
                <input type="checkbox" prop:checked=move || value.get() on:change=move |e| value.set(event_target_checked(&e))/>
                {label}
            </label>
        </div>
    }
}
