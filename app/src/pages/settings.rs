//! Admin › Synchronisation: where the central server, the site's name and password, and the
//! sync interval are entered. The server checks them against the V5 central before saving;
//! its messages appear beside the field they concern.

use leptos::prelude::*;
use outpost_api::{SyncSettings, SyncSettingsInput};

use crate::api;
use crate::components::form::{BusyButton, Field, Task};
use crate::i18n::{Key, t};
use crate::refetch::Refetch;

/// The form's fields, by the names the server uses for them in its errors.
const FIELDS: [&str; 4] = ["url", "siteName", "password", "intervalSeconds"];

#[component]
pub fn SettingsPage() -> impl IntoView {
    let url = RwSignal::new(String::new());
    let site_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let interval = RwSignal::new("300".to_owned());
    // What this page found wrong before sending anything, by field.
    let found = RwSignal::new(Vec::<(&'static str, String)>::new());
    let saving = Task::new();
    let saved = RwSignal::new(false);
    let existing = Refetch::with_hook(api::sync_settings, move |s: &SyncSettings, _| {
        url.set(s.url.clone());
        site_name.set(s.site_name.clone());
        if s.interval_seconds > 0 {
            interval.set(s.interval_seconds.to_string());
        }
    });
    let loaded = move || existing.get().is_some() || existing.failure().is_some();

    let validate = move || {
        let mut found = Vec::new();
        let u = url.get_untracked();
        if u.trim().is_empty() {
            found.push(("url", t(Key::CheckUrlEmpty).into()));
        } else if !(u.starts_with("http://") || u.starts_with("https://")) {
            found.push(("url", t(Key::CheckUrlScheme).into()));
        }
        if site_name.get_untracked().trim().is_empty() {
            found.push(("siteName", t(Key::CheckSiteName).into()));
        }
        if password.get_untracked().is_empty() {
            found.push(("password", t(Key::CheckPassword).into()));
        }
        match interval.get_untracked().trim().parse::<u64>() {
            Ok(n) if n >= 1 => {}
            _ => found.push(("intervalSeconds", t(Key::CheckInterval).into())),
        }
        found
    };

    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        saved.set(false);
        saving.clear();
        let errors = validate();
        let ok = errors.is_empty();
        found.set(errors);
        if !ok {
            return;
        }
        let previous = existing.get_untracked();
        let input = SyncSettingsInput {
            url: url.get_untracked().trim().to_owned(),
            site_name: site_name.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
            interval_seconds: interval.get_untracked().trim().parse().unwrap_or(300),
            batch_size_push: previous.as_ref().map(|p| p.batch_size_push),
            batch_size_pull: previous.as_ref().map(|p| p.batch_size_pull),
            is_disabled: previous.as_ref().is_some_and(|p| p.is_disabled),
        };
        saving.run(async move {
            existing.set(api::save_sync_settings(&input).await?);
            password.set(String::new());
            saved.set(true);
            Ok(())
        });
    };

    // A field's error: what this page found, or what the server said about that field.
    let error = move |id: &'static str| {
        Signal::derive(move || {
            let server = saving.failure().filter(|f| f.field.as_deref() == Some(id)).map(|f| f.message);
            server.or_else(|| found.with(|f| f.iter().find(|(field, _)| *field == id).map(|(_, m)| m.clone())))
        })
    };
    // Anything else the server said (a field this form does not show counts as the form's).
    let form_error = move || saving.failure().filter(|f| !f.field.as_deref().is_some_and(|id| FIELDS.contains(&id)));

    view! {
        <section class="page settings-page">
            <h1>{t(Key::SettingsTitle)}</h1>
            <p class="explain">{t(Key::SettingsExplain)}</p>
            <form class="form" on:submit=submit novalidate=true aria-busy=move || (!loaded()).to_string()>
                <Field id="url" label=t(Key::FieldUrl) kind="url" value=url error=error("url")
                    help=t(Key::HelpUrl)/>
                <Field id="siteName" label=t(Key::FieldSiteName) value=site_name error=error("siteName")
                    help=t(Key::HelpSiteName)/>
                <Field id="password" label=t(Key::FieldPassword) kind="password" autocomplete="new-password" value=password
                    error=error("password") help=t(Key::HelpPassword)/>
                <Field id="intervalSeconds" label=t(Key::FieldInterval) kind="number" value=interval
                    error=error("intervalSeconds") help=t(Key::HelpInterval)/>
                <div class="form-actions">
                    <BusyButton class="button primary" submit=true testid="save-settings" busy=saving label=t(Key::Save) busy_label=t(Key::Saving)/>
                    {move || saved.get().then(|| view! { <p class="success-text" role="status" data-testid="settings-saved">{t(Key::SettingsSaved)}</p> })}
                </div>
                {move || form_error().map(|e| view! { <p class="banner banner-error" role="alert" data-testid="settings-error">{e.message}</p> })}
            </form>
        </section>
    }
}
