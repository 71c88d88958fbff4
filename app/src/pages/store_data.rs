//! Store data: the locations and assets of this site's stores (create, edit, delete — each
//! change becomes a record to push), and its stock lines and invoices (read-only).

use leptos::prelude::*;
use leptos::task::spawn_local;
use outpost_api::{Asset, AssetInput, Location, LocationInput, StoreData};
use serde::Serialize;

use crate::api::{self, Failure};

#[component]
pub fn StoreDataPage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let data = LocalResource::new(move || {
        version.get();
        api::get::<StoreData>("/api/store-data")
    });
    let reload = move || version.update(|v| *v += 1);
    view! {
        <section class="page store-page">
            <h1>"Store data"</h1>
            {move || match data.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="banner banner-error" role="alert">{e.message}</p> }.into_any(),
                Some(Ok(d)) if d.store_ids.is_empty() => view! {
                    <p class="banner banner-info" data-testid="no-stores">
                        "This site has no stores yet. They arrive with the first sync: configure it in "
                        <a href="/admin/sync">"Admin › Synchronisation"</a>" and press Sync now! on the Sync page."
                    </p>
                }.into_any(),
                Some(Ok(d)) => view! {
                    <Locations data=d.clone() on_change=reload/>
                    <Assets data=d.clone() on_change=reload/>
                    <ReadOnly data=d/>
                }.into_any(),
            }}
        </section>
    }
}

/// The shared edit form state of a section: `None` id = creating.
#[derive(Clone, Default, PartialEq)]
struct Draft {
    id: Option<String>,
    store_id: String,
    a: String,
    b: String,
    c: String,
    flag: bool,
}

fn store_select(stores: Vec<String>, value: RwSignal<Draft>, id: &'static str) -> impl IntoView {
    view! {
        <select id=id prop:value=move || value.get().store_id on:change=move |e| value.update(|d| d.store_id = event_target_value(&e))>
            {stores.into_iter().map(|s| view! { <option value=s.clone()>{s.clone()}</option> }).collect_view()}
        </select>
    }
}

fn text_input(id: &'static str, value: RwSignal<Draft>, get: fn(&Draft) -> String, set: fn(&mut Draft, String)) -> impl IntoView {
    view! { <input id=id type="text" prop:value=move || get(&value.get()) on:input=move |e| value.update(|d| set(d, event_target_value(&e)))/> }
}

async fn save<B: Serialize>(kind: &str, draft: Draft, body: B) -> Result<(), Failure> {
    match draft.id {
        Some(id) => api::put::<_, serde_json::Value>(&format!("/api/store-data/{kind}/{id}"), &body).await.map(|_| ()),
        None => api::post::<_, serde_json::Value>(&format!("/api/store-data/{kind}"), &body).await.map(|_| ()),
    }
}

#[component]
fn Locations(data: StoreData, on_change: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let first_store = data.store_ids.first().cloned().unwrap_or_default();
    let draft = RwSignal::new(Draft { store_id: first_store.clone(), ..Default::default() });
    let error = RwSignal::new(None::<Failure>);
    let busy = RwSignal::new(false);
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let d = draft.get_untracked();
        let body = LocationInput { id: None, store_id: d.store_id.clone(), code: d.a.clone(), name: d.b.clone(), on_hold: d.flag };
        busy.set(true);
        spawn_local(async move {
            match save("locations", d.clone(), body).await {
                Ok(()) => {
                    error.set(None);
                    draft.set(Draft { store_id: d.store_id, ..Default::default() });
                    on_change();
                }
                Err(f) => error.set(Some(f)),
            }
            busy.set(false);
        });
    };
    let remove = move |id: String| {
        spawn_local(async move {
            match api::delete(&format!("/api/store-data/locations/{id}")).await {
                Ok(()) => on_change(),
                Err(f) => error.set(Some(f)),
            }
        });
    };
    let rows = data.locations.clone();
    view! {
        <section class="card" aria-labelledby="locations-heading">
            <h2 id="locations-heading">"Locations"</h2>
            <form class="inline-form" on:submit=submit data-testid="location-form">
                <div class="field"><label for="loc-code">"Code"</label>{text_input("loc-code", draft, |d| d.a.clone(), |d, v| d.a = v)}</div>
                <div class="field"><label for="loc-name">"Name"</label>{text_input("loc-name", draft, |d| d.b.clone(), |d, v| d.b = v)}</div>
                <div class="field"><label for="loc-store">"Store"</label>{store_select(data.store_ids.clone(), draft, "loc-store")}</div>
                <div class="field checkbox"><label><input type="checkbox" prop:checked=move || draft.get().flag on:change=move |e| draft.update(|d| d.flag = event_target_checked(&e))/>"On hold"</label></div>
                <button class="button primary" type="submit" disabled=move || busy.get()>{move || if draft.get().id.is_some() { "Save location" } else { "Add location" }}</button>
                {move || draft.get().id.is_some().then(|| view! { <button class="button" type="button" on:click=move |_| draft.update(|d| *d = Draft { store_id: d.store_id.clone(), ..Default::default() })>"Cancel"</button> })}
            </form>
            {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e.message}</p> })}
            <table class="table" data-testid="locations">
                <thead><tr><th>"Code"</th><th>"Name"</th><th>"Store"</th><th>"On hold"</th><th><span class="visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|l: Location| {
                        let edit = l.clone();
                        let id = l.id.clone();
                        view! {
                            <tr>
                                <td>{l.code.clone()}</td><td>{l.name.clone()}</td><td>{l.store_id.clone()}</td><td>{if l.on_hold { "Yes" } else { "No" }}</td>
                                <td class="actions">
                                    <button class="button small" aria-label=format!("Edit location {}", l.code) on:click=move |_| draft.set(Draft { id: Some(edit.id.clone()), store_id: edit.store_id.clone(), a: edit.code.clone(), b: edit.name.clone(), c: String::new(), flag: edit.on_hold })>"Edit"</button>
                                    <button class="button small danger" aria-label=format!("Delete location {}", l.code) on:click=move |_| remove(id.clone())>"Delete"</button>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn Assets(data: StoreData, on_change: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let first_store = data.store_ids.first().cloned().unwrap_or_default();
    let draft = RwSignal::new(Draft { store_id: first_store.clone(), ..Default::default() });
    let error = RwSignal::new(None::<Failure>);
    let busy = RwSignal::new(false);
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let d = draft.get_untracked();
        let body = AssetInput { id: None, store_id: d.store_id.clone(), code: d.a.clone(), serial_number: d.b.clone(), notes: d.c.clone() };
        busy.set(true);
        spawn_local(async move {
            match save("assets", d.clone(), body).await {
                Ok(()) => {
                    error.set(None);
                    draft.set(Draft { store_id: d.store_id, ..Default::default() });
                    on_change();
                }
                Err(f) => error.set(Some(f)),
            }
            busy.set(false);
        });
    };
    let remove = move |id: String| {
        spawn_local(async move {
            match api::delete(&format!("/api/store-data/assets/{id}")).await {
                Ok(()) => on_change(),
                Err(f) => error.set(Some(f)),
            }
        });
    };
    let rows = data.assets.clone();
    view! {
        <section class="card" aria-labelledby="assets-heading">
            <h2 id="assets-heading">"Assets"</h2>
            <form class="inline-form" on:submit=submit data-testid="asset-form">
                <div class="field"><label for="asset-code">"Code"</label>{text_input("asset-code", draft, |d| d.a.clone(), |d, v| d.a = v)}</div>
                <div class="field"><label for="asset-serial">"Serial number"</label>{text_input("asset-serial", draft, |d| d.b.clone(), |d, v| d.b = v)}</div>
                <div class="field"><label for="asset-notes">"Notes"</label>{text_input("asset-notes", draft, |d| d.c.clone(), |d, v| d.c = v)}</div>
                <div class="field"><label for="asset-store">"Store"</label>{store_select(data.store_ids.clone(), draft, "asset-store")}</div>
                <button class="button primary" type="submit" disabled=move || busy.get()>{move || if draft.get().id.is_some() { "Save asset" } else { "Add asset" }}</button>
                {move || draft.get().id.is_some().then(|| view! { <button class="button" type="button" on:click=move |_| draft.update(|d| *d = Draft { store_id: d.store_id.clone(), ..Default::default() })>"Cancel"</button> })}
            </form>
            {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e.message}</p> })}
            <table class="table" data-testid="assets">
                <thead><tr><th>"Code"</th><th>"Serial number"</th><th>"Notes"</th><th>"Store"</th><th><span class="visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|a: Asset| {
                        let edit = a.clone();
                        let id = a.id.clone();
                        view! {
                            <tr>
                                <td>{a.code.clone()}</td><td>{a.serial_number.clone()}</td><td>{a.notes.clone()}</td><td>{a.store_id.clone()}</td>
                                <td class="actions">
                                    <button class="button small" aria-label=format!("Edit asset {}", a.code) on:click=move |_| draft.set(Draft { id: Some(edit.id.clone()), store_id: edit.store_id.clone(), a: edit.code.clone(), b: edit.serial_number.clone(), c: edit.notes.clone(), flag: false })>"Edit"</button>
                                    <button class="button small danger" aria-label=format!("Delete asset {}", a.code) on:click=move |_| remove(id.clone())>"Delete"</button>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn ReadOnly(data: StoreData) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="stock-heading">
            <h2 id="stock-heading">"Stock lines"</h2>
            <table class="table" data-testid="stock-lines">
                <thead><tr><th>"Item"</th><th>"Batch"</th><th>"Expiry"</th><th>"Packs"</th><th>"Location"</th><th>"Store"</th></tr></thead>
                <tbody>
                    {data.stock_lines.into_iter().map(|s| view! {
                        <tr><td>{s.item_name}</td><td>{s.batch}</td><td>{s.expiry_date.unwrap_or_default()}</td><td>{s.available_packs}</td><td>{s.location_code.unwrap_or_default()}</td><td>{s.store_id}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <section class="card" aria-labelledby="invoices-heading">
            <h2 id="invoices-heading">"Invoices"</h2>
            <table class="table" data-testid="invoices">
                <thead><tr><th>"Number"</th><th>"Type"</th><th>"Status"</th><th>"Other party"</th><th>"Lines"</th><th>"Store"</th></tr></thead>
                <tbody>
                    {data.invoices.into_iter().map(|i| view! {
                        <tr><td>{i.invoice_number}</td><td>{i.kind}</td><td>{i.status}</td><td>{i.other_party}</td><td>{i.line_count}</td><td>{i.store_id}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
