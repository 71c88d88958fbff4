//! A sync error as one red line: what went wrong, and an `i` button whose tooltip gives the
//! hint (what to do, in bold) and the full error for support. The tooltip opens on hover, on
//! keyboard focus, and on a tap, because tablets have no hover. The latest run's error is an
//! alert; a past run's (the history table) is the same pattern, compact and quiet.

use leptos::prelude::*;
use outpost_api::SyncError;

use crate::i18n::{self, Key, t};
use crate::icons;

#[component]
pub fn ErrorDetails(
    error: SyncError,
    /// Unique per page when several errors are shown (it names the tooltip).
    #[prop(optional, into)]
    id: Option<String>,
    /// A past run's error in a table row: no alert, no icon, test ids prefixed `run-`.
    #[prop(optional)]
    compact: bool,
) -> impl IntoView {
    let open = RwSignal::new(false);
    // The server's variant says it in the reader's language; a variant this app does not know
    // yet (a newer server) keeps the server's English words.
    let message = i18n::code("error", &error.variant).map_or_else(|| error.message.clone(), str::to_owned);
    let hint = i18n::code("hint", &error.variant)
        .map(str::to_owned)
        .or_else(|| error.hint.clone())
        .unwrap_or_else(|| t(Key::ErrorDefaultHint).into());
    let tooltip_id = format!("{}-tooltip", id.unwrap_or_else(|| "sync-error".into()));
    let testid = |name: &str| if compact { format!("run-{name}") } else { name.to_owned() };
    view! {
        <div
            class="sync-error"
            class:compact=compact
            role=(!compact).then_some("alert")
            data-testid=if compact { "run-error".to_owned() } else { "sync-error".to_owned() }
            data-variant=error.variant.clone()
        >
            {(!compact).then(|| view! { <span class="sync-error-icon">{icons::alert()}</span> })}
            <span class="sync-error-message">{message}</span>
            <span class="info-wrap" class:open=move || open.get() on:mouseleave=move |_| open.set(false)>
                <button
                    class="info-button"
                    aria-label=t(Key::ErrorDetails)
                    aria-describedby=tooltip_id.clone()
                    aria-expanded=move || open.get().to_string()
                    data-testid=testid("error-info")
                    on:click=move |_| open.update(|o| *o = !*o)
                    on:keydown=move |e| if e.key() == "Escape" { open.set(false) }
                >
                    "i"
                </button>
                <span class="tooltip" role="tooltip" id=tooltip_id data-testid=testid("error-tooltip")>
                    <strong class="tooltip-hint">{hint}</strong>
                    <span class="tooltip-full">{error.full_error.clone()}</span>
                </span>
            </span>
        </div>
    }
}
