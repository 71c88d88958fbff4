//! Pages that change things (Admin › Synchronisation, Store data) are for the site's admin.
//! The gate asks the server whether this browser holds an admin session and shows either the
//! page, with a Sign out button, or the sign-in form. The session lives in an HttpOnly cookie
//! that this code never sees.

use leptos::prelude::*;
use outpost_api::{LoginInput, SessionInfo};

use crate::api;
use crate::components::form::{BusyButton, Field, Task};
use crate::i18n::{Key, t};
use crate::refetch::Refetch;

#[component]
pub fn AdminGate(children: ChildrenFn) -> impl IntoView {
    let session = Refetch::new(api::session);
    let signing_out = Task::new();
    let sign_out = move || {
        signing_out.run(async move {
            session.set(api::sign_out().await?);
            Ok(())
        })
    };
    // Only a change of who is signed in redraws the page (not every answer to a check).
    let admin = Memo::new(move |_| match (session.get(), session.failure()) {
        (Some(info), _) => Ok(Some(info.admin)),
        (None, Some(e)) => Err(e.message),
        (None, None) => Ok(None),
    });
    move || {
        match admin.get() {
        Ok(None) => view! { <p class="muted">{t(Key::CheckingSignIn)}</p> }.into_any(),
        Err(message) => view! { <p class="banner banner-error" role="alert">{message}</p> }.into_any(),
        Ok(Some(false)) => view! { <LoginForm on_signed_in=move |info| session.set(info)/> }.into_any(),
        Ok(Some(true)) => view! {
            <div class="admin-bar">
                <span class="muted">{t(Key::SignedIn)}</span>
                <BusyButton class="button small" testid="sign-out" busy=signing_out label=t(Key::SignOut) busy_label=t(Key::SigningOut) on_click=sign_out/>
            </div>
            {move || signing_out.failure().map(|e| view! { <p class="error-text" role="alert">{e.message}</p> })}
            {children()}
        }
        .into_any(),
    }
    }
}

#[component]
fn LoginForm(#[prop(into)] on_signed_in: Callback<SessionInfo>) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let signing_in = Task::new();
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let input = LoginInput { password: password.get_untracked() };
        signing_in.run(async move {
            let info = api::sign_in(&input).await?;
            password.set(String::new());
            on_signed_in.run(info);
            Ok(())
        });
    };
    let error = Signal::derive(move || signing_in.failure().map(|e| e.message));
    view! {
        <form class="form card" on:submit=submit data-testid="login-form">
            <h2>{t(Key::SignInTitle)}</h2>
            <p class="explain">{t(Key::SignInExplain)}</p>
            <Field id="admin-password" label=t(Key::AdminPassword) kind="password" autocomplete="current-password" value=password error=error/>
            <BusyButton class="button primary" submit=true busy=signing_in label=t(Key::SignIn) busy_label=t(Key::SigningIn)/>
        </form>
    }
}
