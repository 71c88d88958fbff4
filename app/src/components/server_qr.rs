//! The server's address and its QR code, top right of every page, so a phone or a
//! cold-chain sensor can be pointed at this server. A click or tap enlarges the code; Esc, a
//! click outside it, or its close button shrinks it again. The enlarged code is a modal dialog:
//! focus moves into it, stays in it (Tab cannot leave), and goes back to the small code after.

use leptos::ev;
use leptos::prelude::*;

use crate::i18n::{Key, t};
use crate::sync_watch::SyncWatch;

#[component]
pub fn ServerQr() -> impl IntoView {
    let info = SyncWatch::get().info;
    let open = RwSignal::new(false);
    let handle = window_event_listener(ev::keydown, move |e| {
        if e.key() == "Escape" {
            open.set(false);
        }
    });
    on_cleanup(move || handle.remove());
    let opener = NodeRef::<leptos::html::Button>::new();
    let close = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |was_open: Option<bool>| {
        let is_open = open.get();
        if is_open {
            // The dialog is drawn after this runs.
            request_animation_frame(move || {
                if let Some(button) = close.get_untracked() {
                    let _ = button.focus();
                }
            });
        } else if was_open == Some(true)
            && let Some(button) = opener.get_untracked()
        {
            let _ = button.focus();
        }
        is_open
    });
    // The dialog's one control keeps the focus: Tab and Shift+Tab stay on it.
    let trap = move |e: ev::KeyboardEvent| {
        if e.key() == "Tab" {
            e.prevent_default();
            if let Some(button) = close.get_untracked() {
                let _ = button.focus();
            }
        }
    };

    view! {
        <div class="server-info">
            {move || match (info.get(), info.failure()) {
                (None, None) => view! { <span class="muted">{t(Key::QrLoading)}</span> }.into_any(),
                (None, Some(e)) => view! { <span class="error-text" role="alert">{e.message}</span> }.into_any(),
                (Some(info), _) => {
                    let big = info.qr_svg.clone();
                    view! {
                        <span class="server-url">{t(Key::QrServer)}" "<strong data-testid="server-url">{info.url.clone()}</strong></span>
                        <button
                            class="qr-small"
                            node_ref=opener
                            data-testid="qr-open"
                            title=t(Key::QrExpandTitle)
                            aria-label=t(Key::QrExpandLabel)
                            aria-expanded=move || open.get().to_string()
                            on:click=move |_| open.update(|o| *o = !*o)
                            inner_html=info.qr_svg
                        ></button>
                        <Show when=move || open.get()>
                            <div class="qr-backdrop" data-testid="qr-backdrop" on:click=move |_| open.set(false)>
                                <div
                                    class="qr-dialog"
                                    role="dialog"
                                    aria-modal="true"
                                    aria-label=t(Key::QrDialogLabel)
                                    on:click=|e| e.stop_propagation()
                                    on:keydown=trap
                                >
                                    <div class="qr-large" inner_html=big.clone()></div>
                                    <p class="qr-caption">{info.url.clone()}</p>
                                    <button class="button" node_ref=close data-testid="qr-close" on:click=move |_| open.set(false)>{t(Key::Close)}</button>
                                </div>
                            </div>
                        </Show>
                    }
                    .into_any()
                }
            }}
        </div>
    }
}
