//! A sync error as one red line: what went wrong, and an `i` button whose tooltip gives the
//! hint (what to do, in bold) and the full error for support. The tooltip opens on hover, on
//! keyboard focus, and on a tap, because tablets have no hover.

use leptos::prelude::*;
use outpost_api::SyncError;

use crate::icons;

#[component]
pub fn ErrorDetails(error: SyncError) -> impl IntoView {
    let open = RwSignal::new(false);
    let hint = error
        .hint
        .clone()
        .unwrap_or_else(|| "Try again; if it keeps failing, send the details below to your support contact.".into());
    view! {
        <div class="sync-error" role="alert" data-testid="sync-error" data-variant=error.variant.clone()>
            <span class="sync-error-icon">{icons::alert()}</span>
            <span class="sync-error-message">{error.message.clone()}</span>
            <span class="info-wrap" class:open=move || open.get() on:mouseleave=move |_| open.set(false)>
                <button
                    class="info-button"
                    aria-label="Error details"
                    aria-describedby="sync-error-tooltip"
                    aria-expanded=move || open.get().to_string()
                    data-testid="error-info"
                    on:click=move |_| open.update(|o| *o = !*o)
                    on:keydown=move |e| if e.key() == "Escape" { open.set(false) }
                >
                    "i"
                </button>
                <span class="tooltip" role="tooltip" id="sync-error-tooltip" data-testid="error-tooltip">
                    <strong class="tooltip-hint">{hint}</strong>
                    <span class="tooltip-full">{error.full_error.clone()}</span>
                </span>
            </span>
        </div>
    }
}
