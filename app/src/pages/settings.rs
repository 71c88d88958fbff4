//! Admin › Synchronisation: where the central server, the site's name and password, and the
//! sync interval are entered. The server checks them against the V5 central before saving;
//! its messages appear beside the field they concern.

use leptos::prelude::*;
use leptos::task::spawn_local;
use outpost_api::{SyncSettings, SyncSettingsInput};

use crate::api::{self, Failure};

#[derive(Clone, Default, PartialEq)]
struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    fn get(&self, field: &str) -> Option<String> {
        self.0.iter().find(|(f, _)| f == field).map(|(_, m)| m.clone())
    }
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let url = RwSignal::new(String::new());
    let site_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let interval = RwSignal::new("300".to_owned());
    let errors = RwSignal::new(FieldErrors::default());
    let form_error = RwSignal::new(None::<Failure>);
    let saving = RwSignal::new(false);
    let saved = RwSignal::new(false);
    let loaded = RwSignal::new(false);
    let existing = RwSignal::new(None::<SyncSettings>);

    spawn_local(async move {
        if let Ok(s) = api::get::<SyncSettings>("/api/settings/sync").await {
            url.set(s.url.clone());
            site_name.set(s.site_name.clone());
            if s.interval_seconds > 0 {
                interval.set(s.interval_seconds.to_string());
            }
            existing.set(Some(s));
        }
        loaded.set(true);
    });

    let validate = move || {
        let mut found = Vec::new();
        let u = url.get_untracked();
        if u.trim().is_empty() {
            found.push(("url".into(), "Enter the central server's URL, e.g. http://central.example.org:8001".into()));
        } else if !(u.starts_with("http://") || u.starts_with("https://")) {
            found.push(("url".into(), "The URL must start with http:// or https://".into()));
        }
        if site_name.get_untracked().trim().is_empty() {
            found.push(("siteName".into(), "Enter this site's name as registered on the central server".into()));
        }
        if password.get_untracked().is_empty() {
            found.push(("password".into(), "Enter the site password (it is not shown again after saving)".into()));
        }
        match interval.get_untracked().trim().parse::<u64>() {
            Ok(n) if n >= 1 => {}
            _ => found.push(("intervalSeconds".into(), "Enter a whole number of seconds, 1 or more".into())),
        }
        FieldErrors(found)
    };

    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        saved.set(false);
        form_error.set(None);
        let found = validate();
        let ok = found.0.is_empty();
        errors.set(found);
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
        saving.set(true);
        spawn_local(async move {
            match api::put::<_, SyncSettings>("/api/settings/sync", &input).await {
                Ok(s) => {
                    existing.set(Some(s));
                    password.set(String::new());
                    saved.set(true);
                }
                Err(f) => match f.field.clone() {
                    Some(field) => errors.set(FieldErrors(vec![(field, f.message)])),
                    None => form_error.set(Some(f)),
                },
            }
            saving.set(false);
        });
    };

    let field = move |id: &'static str,
                      label: &'static str,
                      kind: &'static str,
                      value: RwSignal<String>,
                      help: &'static str| {
        let error = move || errors.get().get(id);
        view! {
            <div class="field" class:has-error=move || error().is_some()>
                <label for=id>{label}</label>
                <input
                    id=id
                    name=id
                    type=kind
                    autocomplete=if kind == "password" { "new-password" } else { "off" }
                    aria-invalid=move || error().is_some().to_string()
                    aria-describedby=format!("{id}-help {id}-error")
                    prop:value=move || value.get()
                    on:input=move |e| value.set(event_target_value(&e))
                />
                <p class="field-help" id=format!("{id}-help")>{help}</p>
                <p class="field-error" id=format!("{id}-error") data-testid=format!("error-{id}") role="alert">{error}</p>
            </div>
        }
    };

    view! {
        <section class="page settings-page">
            <h1>"Admin › Synchronisation"</h1>
            <p class="explain">"How this server reaches the central servers. Saving checks the details with the central server first."</p>
            <form class="form" on:submit=submit novalidate=true aria-busy=move || (!loaded.get()).to_string()>
                {field("url", "Central server URL", "url", url, "The mSupply central server, for example http://central.example.org:8001")}
                {field("siteName", "Site name", "text", site_name, "This site's name as registered on the central server")}
                {field("password", "Site password", "password", password, "Re-enter it each time you save; it is never shown")}
                {field("intervalSeconds", "Interval (seconds)", "number", interval, "How often this server syncs on its own")}
                <div class="form-actions">
                    <button class="button primary" type="submit" disabled=move || saving.get() data-testid="save-settings">
                        {move || if saving.get() {
                            view! { <span class="spinner" role="status" aria-label="Saving"></span><span>"Saving…"</span> }.into_any()
                        } else {
                            view! { <span>"Save"</span> }.into_any()
                        }}
                    </button>
                    {move || saved.get().then(|| view! { <p class="success-text" role="status" data-testid="settings-saved">"Sync settings saved. A sync has started."</p> })}
                </div>
                {move || form_error.get().map(|e| view! { <p class="banner banner-error" role="alert" data-testid="settings-error">{e.message}</p> })}
            </form>
        </section>
    }
}
