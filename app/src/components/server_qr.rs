//! The server's address and its QR code, top right of every page, so a phone or a
//! cold-chain sensor can be pointed at this server. A click or tap enlarges the code; Esc, a
//! click outside it, or its close button shrinks it again.

use leptos::ev;
use leptos::prelude::*;

use crate::api;
use crate::i18n::{Key, t};
use crate::refetch::Refetch;

#[component]
pub fn ServerQr() -> impl IntoView {
    let info = Refetch::new(api::server_info);
    let open = RwSignal::new(false);
    let handle = window_event_listener(ev::keydown, move |e| {
        if e.key() == "Escape" {
            open.set(false);
        }
    });
    on_cleanup(move || handle.remove());

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
                                >
                                    <div class="qr-large" inner_html=big.clone()></div>
                                    <p class="qr-caption">{info.url.clone()}</p>
                                    <button class="button" on:click=move |_| open.set(false)>{t(Key::Close)}</button>
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
