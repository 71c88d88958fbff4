//! The admin sign-in form: a password field and a button. It posts to `/api/session` (a JSON
//! body, so it passes the server's CSRF rule) and on success the server sets the HttpOnly
//! session cookie, which this code never sees. On failure it shows the server's own message
//! (wrong password, too many attempts).

use leptos::prelude::*;
use outpost_api::{LoginInput, SessionInfo};

use crate::api;

/// `on_signed_in` runs after a successful login (e.g. to reload the settings page).
#[component]
pub fn LoginForm(#[prop(into)] on_signed_in: Callback<()>) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let message = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        let input = LoginInput { password: password.get_untracked() };
        leptos::task::spawn_local(async move {
            match api::post::<_, SessionInfo>("/api/session", &input).await {
                Ok(_) => {
                    password.set(String::new());
                    message.set(None);
                    on_signed_in.run(());
                }
                Err(e) => message.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="login-form" on:submit=submit>
            <label>
                "Admin password"
                <input type="password" autocomplete="current-password"
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev)) />
            </label>
            <button type="submit" disabled=move || busy.get()>"Sign in"</button>
            {move || message.get().map(|m| view! { <p class="error" role="alert">{m}</p> })}
        </form>
    }
}
