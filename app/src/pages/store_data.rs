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
                    <Editable section=&LOCATIONS rows=d.locations.iter().cloned().map(location_row).collect() stores=d.store_ids.clone() on_change=reload/>
                    <Editable section=&ASSETS rows=d.assets.iter().cloned().map(asset_row).collect() stores=d.store_ids.clone() on_change=reload/>
                    <ReadOnly data=d/>
                }.into_any(),
            }}
        </section>
    }
}

/// What one editable section (locations, assets) shows and sends. Both sections share one
/// component: a form to add or edit (up to three text fields, an optional checkbox, the store)
/// above a table with Edit and Delete on every row.
struct Section {
    /// The API collection, `/api/store-data/{kind}`.
    kind: &'static str,
    noun: &'static str,
    heading: &'static str,
    /// Labels of the text fields, in the order of `Row::texts`.
    fields: &'static [(&'static str, &'static str)],
    /// Label of the checkbox, if the section has one.
    flag: Option<&'static str>,
    /// Column headings of the table (before Store).
    columns: &'static [&'static str],
    /// The request body for a draft.
    body: fn(&Draft) -> Input,
}

/// The request body of either section, sent as the bare input object.
#[derive(Serialize)]
#[serde(untagged)]
enum Input {
    Location(LocationInput),
    Asset(AssetInput),
}

/// One row of a section, and the form's state (`id` None = creating).
#[derive(Clone, Default, PartialEq)]
struct Draft {
    id: Option<String>,
    store_id: String,
    texts: [String; 3],
    flag: bool,
}

const LOCATIONS: Section = Section {
    kind: "locations",
    noun: "location",
    heading: "Locations",
    fields: &[("loc-code", "Code"), ("loc-name", "Name")],
    flag: Some("On hold"),
    columns: &["Code", "Name"],
    body: |d| {
        let input = LocationInput {
            id: None,
            store_id: d.store_id.clone(),
            code: d.texts[0].clone(),
            name: d.texts[1].clone(),
            on_hold: d.flag,
        };
        Input::Location(input)
    },
};

const ASSETS: Section = Section {
    kind: "assets",
    noun: "asset",
    heading: "Assets",
    fields: &[("asset-code", "Code"), ("asset-serial", "Serial number"), ("asset-notes", "Notes")],
    flag: None,
    columns: &["Code", "Serial number", "Notes"],
    body: |d| {
        let input = AssetInput {
            id: None,
            store_id: d.store_id.clone(),
            code: d.texts[0].clone(),
            serial_number: d.texts[1].clone(),
            notes: d.texts[2].clone(),
        };
        Input::Asset(input)
    },
};

fn location_row(l: Location) -> Draft {
    Draft { id: Some(l.id), store_id: l.store_id, texts: [l.code, l.name, String::new()], flag: l.on_hold }
}

fn asset_row(a: Asset) -> Draft {
    Draft { id: Some(a.id), store_id: a.store_id, texts: [a.code, a.serial_number, a.notes], flag: false }
}

#[component]
fn Editable(
    section: &'static Section,
    rows: Vec<Draft>,
    stores: Vec<String>,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let blank = Draft { store_id: stores.first().cloned().unwrap_or_default(), ..Default::default() };
    let draft = RwSignal::new(blank.clone());
    let error = RwSignal::new(None::<Failure>);
    let busy = RwSignal::new(false);
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let d = draft.get_untracked();
        let body = (section.body)(&d);
        busy.set(true);
        spawn_local(async move {
            let kind = section.kind;
            let saved = match &d.id {
                Some(id) => api::put::<_, api::Ignored>(&format!("/api/store-data/{kind}/{id}"), &body).await,
                None => api::post::<_, api::Ignored>(&format!("/api/store-data/{kind}"), &body).await,
            };
            match saved {
                Ok(_) => {
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
            match api::delete(&format!("/api/store-data/{}/{id}", section.kind)).await {
                Ok(()) => on_change(),
                Err(f) => error.set(Some(f)),
            }
        });
    };
    let heading_id = move || format!("{}-heading", section.kind);
    let store_field = move || format!("{}-store", section.noun);
    view! {
        <section class="card" aria-labelledby=heading_id()>
            <h2 id=heading_id()>{section.heading}</h2>
            <form class="inline-form" on:submit=submit data-testid=format!("{}-form", section.noun)>
                {section.fields.iter().enumerate().map(|(i, (id, label))| view! {
                    <div class="field">
                        <label for=*id>{*label}</label>
                        <input id=*id type="text" prop:value=move || draft.get().texts[i].clone() on:input=move |e| draft.update(|d| d.texts[i] = event_target_value(&e))/>
                    </div>
                }).collect_view()}
                <div class="field">
                    <label for=store_field()>"Store"</label>
                    <select id=store_field() prop:value=move || draft.get().store_id on:change=move |e| draft.update(|d| d.store_id = event_target_value(&e))>
                        {stores.iter().map(|s| view! { <option value=s.clone()>{s.clone()}</option> }).collect_view()}
                    </select>
                </div>
                {section.flag.map(|label| view! {
                    <div class="field checkbox"><label><input type="checkbox" prop:checked=move || draft.get().flag on:change=move |e| draft.update(|d| d.flag = event_target_checked(&e))/>{label}</label></div>
                })}
                <button class="button primary" type="submit" disabled=move || busy.get()>
                    {move || format!("{} {}", if draft.get().id.is_some() { "Save" } else { "Add" }, section.noun)}
                </button>
                {move || draft.get().id.is_some().then(|| view! {
                    <button class="button" type="button" on:click=move |_| draft.update(|d| *d = Draft { store_id: d.store_id.clone(), ..Default::default() })>"Cancel"</button>
                })}
            </form>
            {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e.message}</p> })}
            <table class="table" data-testid=section.kind>
                <thead>
                    <tr>
                        {section.columns.iter().map(|c| view! { <th>{*c}</th> }).collect_view()}
                        <th>"Store"</th>
                        {section.flag.map(|label| view! { <th>{label}</th> })}
                        <th><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|row| {
                        let code = row.texts[0].clone();
                        let id = row.id.clone().unwrap_or_default();
                        let edit = row.clone();
                        view! {
                            <tr>
                                {row.texts.iter().take(section.columns.len()).map(|t| view! { <td>{t.clone()}</td> }).collect_view()}
                                <td>{row.store_id.clone()}</td>
                                {section.flag.map(|_| view! { <td>{if row.flag { "Yes" } else { "No" }}</td> })}
                                <td class="actions">
                                    <button class="button small" aria-label=format!("Edit {} {code}", section.noun) on:click=move |_| draft.set(edit.clone())>"Edit"</button>
                                    <button class="button small danger" aria-label=format!("Delete {} {code}", section.noun) on:click=move |_| remove(id.clone())>"Delete"</button>
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
