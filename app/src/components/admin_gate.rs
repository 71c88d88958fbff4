//! Pages that change things (Admin › Synchronisation, Store data) are for the site's admin.
//! The gate asks the server whether this browser holds an admin session and shows either the
//! page, with a Sign out button, or the sign-in form. The session lives in an HttpOnly cookie
//! that this code never sees.

use leptos::prelude::*;
use leptos::task::spawn_local;
use outpost_api::{LoginInput, SessionInfo};

use crate::api::{self, Failure};

#[component]
pub fn AdminGate(children: ChildrenFn) -> impl IntoView {
    let version = RwSignal::new(0u32);
    let session = LocalResource::new(move || {
        version.get();
        api::get::<SessionInfo>("/api/session")
    });
    let recheck = move || version.update(|v| *v += 1);
    let sign_out = move |_| {
        spawn_local(async move {
            let _ = api::delete("/api/session").await;
            recheck();
        });
    };
    move || match session.get() {
        None => view! { <p class="muted">"Checking sign-in…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="banner banner-error" role="alert">{e.message}</p> }.into_any(),
        Some(Ok(SessionInfo { admin: false })) => view! { <LoginForm on_signed_in=recheck/> }.into_any(),
        Some(Ok(SessionInfo { admin: true })) => view! {
            <div class="admin-bar">
                <span class="muted">"Signed in as the site's admin"</span>
                <button class="button small" on:click=sign_out data-testid="sign-out">"Sign out"</button>
            </div>
            {children()}
        }
        .into_any(),
    }
}

#[component]
fn LoginForm(on_signed_in: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<Failure>);
    let busy = RwSignal::new(false);
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        busy.set(true);
        let input = LoginInput { password: password.get_untracked() };
        spawn_local(async move {
            match api::post::<_, SessionInfo>("/api/session", &input).await {
                Ok(_) => {
                    password.set(String::new());
                    error.set(None);
                    on_signed_in();
                }
                Err(f) => error.set(Some(f)),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="form card" on:submit=submit data-testid="login-form">
            <h2>"Sign in as the site's admin"</h2>
            <p class="explain">"Changing sync settings and store data needs the admin password of this server."</p>
            <div class="field" class:has-error=move || error.get().is_some()>
                <label for="admin-password">"Admin password"</label>
                <input
                    id="admin-password"
                    type="password"
                    autocomplete="current-password"
                    aria-describedby="admin-password-error"
                    prop:value=move || password.get()
                    on:input=move |e| password.set(event_target_value(&e))
                />
                <p class="field-error" id="admin-password-error" role="alert">{move || error.get().map(|e| e.message)}</p>
            </div>
            <button class="button primary" type="submit" disabled=move || busy.get()>"Sign in"</button>
        </form>
    }
}
