//! The Outpost browser app: client-side rendered Leptos, compiled to WebAssembly and served
//! by the site server. The shell (navigation, server address and QR code) frames three pages:
//! Sync, Admin › Synchronisation, and Store data.

mod api;
mod components;
mod i18n;
mod icons;
mod pages;
mod refetch;
mod sync_watch;
mod time;

use leptos::prelude::*;
use leptos_router::components::{A, Redirect, Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::path;
use wasm_bindgen::prelude::wasm_bindgen;

use components::admin_gate::AdminGate;
use components::server_qr::ServerQr;
use i18n::{Key, LanguageSwitch, t};
use pages::settings::SettingsPage;
use pages::store_data::StoreDataPage;
use pages::sync::SyncPage;
use sync_watch::{HeaderStatus, SyncNavLabel, SyncWatch};

#[cfg(not(test))]
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    // A change of language redraws everything, so no view has to track it.
    let lang = i18n::current();
    move || {
        lang.track();
        shell()
    }
}

fn shell() -> impl IntoView {
    SyncWatch::start();
    view! {
        <Router>
            <div class="shell">
                <header class="topbar">
                    <a class="brand" href="/sync">
                        <span class="brand-mark" aria-hidden="true">"◆"</span>
                        {t(Key::Brand)}
                    </a>
                    <HeaderStatus/>
                    <div class="topbar-end">
                        <LanguageSwitch/>
                        <ServerQr/>
                    </div>
                </header>
                <nav class="sidenav" aria-label=t(Key::NavLabel)>
                    <div class="nav-section">
                        <A href="/store-data">{icons::boxes()}<span>{t(Key::NavStoreData)}</span></A>
                        <p class="nav-heading">{t(Key::NavAdmin)}</p>
                        <A href="/admin/sync">{icons::gear()}<span>{t(Key::NavAdminSync)}</span></A>
                    </div>
                    <div class="nav-section nav-lower">
                        <A href="/sync"><SyncNavLabel/></A>
                    </div>
                </nav>
                <FocusOnRouteChange/>
                <main class="content" id="main" tabindex="-1">
                    <Routes fallback=|| view! { <NotFound/> }>
                        <Route path=path!("/") view=|| view! { <Redirect path="/sync"/> }/>
                        <Route path=path!("/sync") view=SyncPage/>
                        <Route path=path!("/admin/sync") view=|| view! { <AdminGate><SettingsPage/></AdminGate> }/>
                        <Route path=path!("/store-data") view=|| view! { <AdminGate><StoreDataPage/></AdminGate> }/>
                    </Routes>
                </main>
            </div>
        </Router>
    }
}

/// After a move to another page, focus goes to its heading (or the main area until the
/// heading is drawn), so a screen reader announces the new page and Tab starts from there.
#[component]
fn FocusOnRouteChange() -> impl IntoView {
    let location = use_location();
    Effect::new(move |previous: Option<String>| {
        let path = location.pathname.get();
        if previous.is_some_and(|p| p != path) {
            request_animation_frame(|| {
                let target = document()
                    .query_selector("main h1")
                    .ok()
                    .flatten()
                    .or_else(|| document().get_element_by_id("main"));
                if let Some(element) = target {
                    let _ = element.set_attribute("tabindex", "-1");
                    if let Ok(element) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(element) {
                        let _ = element.focus();
                    }
                }
            });
        }
        path
    });
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <section class="page">
            <h1>{t(Key::NotFoundTitle)}</h1>
            <p>{t(Key::NotFoundText)}</p>
        </section>
    }
}
