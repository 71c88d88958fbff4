//! Store data: the locations and assets of this site's stores (create, edit, delete — each
//! change becomes a record to push), and its stock lines and invoices (read-only).
//!
//! Locations and assets each have their own form and table, typed after their own records;
//! what the two share (saving and deleting with one failure line, the Add/Save and Cancel
//! buttons, Edit and Delete on a row) are the small pieces after the two sections.

use leptos::prelude::*;
use outpost_api::{Asset, AssetInput, Location, LocationInput, StoreData};

use crate::api::{self, Answer};
use crate::components::form::{BusyButton, CheckField, Field, SelectField, Task};
use crate::i18n::{Key, t, tf};
use crate::refetch::Refetch;

/// Which kind of record a form or a row is about (its buttons say so).
#[derive(Clone, Copy)]
enum Noun {
    Location,
    Asset,
}

#[component]
pub fn StoreDataPage() -> impl IntoView {
    let data = Refetch::new(api::store_data);
    // Only a change of this (not every answer to a refetch) redraws the sections, so a form
    // keeps what is typed in it while the tables update.
    let stores = Memo::new(move |_| match (data.get(), data.failure()) {
        (_, Some(e)) => Err(e.message),
        (d, None) => Ok(d.map(|d| d.store_ids)),
    });
    let on_change = Callback::new(move |()| data.refetch());
    let locations = Signal::derive(move || data.get().map(|d| d.locations).unwrap_or_default());
    let assets = Signal::derive(move || data.get().map(|d| d.assets).unwrap_or_default());
    view! {
        <section class="page store-page">
            <h1>{t(Key::StoreTitle)}</h1>
            {move || match stores.get() {
                Ok(None) => view! { <p class="muted">{t(Key::Loading)}</p> }.into_any(),
                Err(message) => view! { <p class="banner banner-error" role="alert">{message}</p> }.into_any(),
                Ok(Some(stores)) if stores.is_empty() => view! {
                    <p class="banner banner-info" data-testid="no-stores">
                        {t(Key::NoStores)}" "
                        <a href="/admin/sync">{t(Key::AdminSyncLink)}</a>" "{t(Key::NoStoresEnd)}
                    </p>
                }.into_any(),
                Ok(Some(stores)) => view! {
                    <Locations rows=locations stores=stores.clone() on_change=on_change/>
                    <Assets rows=assets stores=stores on_change=on_change/>
                    <ReadOnly data=data.into()/>
                }.into_any(),
            }}
        </section>
    }
}

/// What a section's form is editing: nothing (adding a new record) or the record with this id.
type Editing = RwSignal<Option<String>>;

/// The location form's fields; empty to add a location, filled from a row to edit one.
#[derive(Clone, Copy)]
struct LocationForm {
    editing: Editing,
    store_id: RwSignal<String>,
    code: RwSignal<String>,
    name: RwSignal<String>,
    on_hold: RwSignal<bool>,
}

impl LocationForm {
    fn new(store_id: String) -> Self {
        LocationForm {
            editing: RwSignal::new(None),
            store_id: RwSignal::new(store_id),
            code: RwSignal::new(String::new()),
            name: RwSignal::new(String::new()),
            on_hold: RwSignal::new(false),
        }
    }

    fn edit(self, l: &Location) {
        self.editing.set(Some(l.id.clone()));
        self.store_id.set(l.store_id.clone());
        self.code.set(l.code.clone());
        self.name.set(l.name.clone());
        self.on_hold.set(l.on_hold);
    }

    /// Back to adding, in the same store.
    fn clear(self) {
        self.editing.set(None);
        self.code.set(String::new());
        self.name.set(String::new());
        self.on_hold.set(false);
    }

    fn input(self) -> LocationInput {
        LocationInput {
            id: None,
            store_id: self.store_id.get_untracked(),
            code: self.code.get_untracked(),
            name: self.name.get_untracked(),
            on_hold: self.on_hold.get_untracked(),
        }
    }

    async fn save(self) -> Answer<()> {
        let input = self.input();
        match self.editing.get_untracked() {
            Some(id) => api::update_location(&id, &input).await?,
            None => api::create_location(&input).await?,
        };
        self.clear();
        Ok(())
    }
}

#[component]
fn Locations(rows: Signal<Vec<Location>>, stores: Vec<String>, on_change: Callback<()>) -> impl IntoView {
    let form = LocationForm::new(stores.first().cloned().unwrap_or_default());
    let actions = Actions::new(on_change);
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        actions.save(form.save());
    };
    view! {
        <section class="card" aria-labelledby="locations-heading">
            <h2 id="locations-heading">{t(Key::Locations)}</h2>
            <form class="inline-form" on:submit=submit data-testid="location-form">
                <Field id="loc-code" label=t(Key::ColCode) value=form.code/>
                <Field id="loc-name" label=t(Key::ColName) value=form.name/>
                <SelectField id="location-store" label=t(Key::ColStore) options=stores value=form.store_id/>
                <CheckField label=t(Key::ColOnHold) value=form.on_hold/>
                <FormButtons noun=Noun::Location editing=form.editing saving=actions.saving on_cancel=move || form.clear()/>
            </form>
            {actions.failure_line()}
            <table class="table" data-testid="locations">
                <thead>
                    <tr><th>{t(Key::ColCode)}</th><th>{t(Key::ColName)}</th><th>{t(Key::ColStore)}</th><th>{t(Key::ColOnHold)}</th><th><span class="visually-hidden">{t(Key::ColActions)}</span></th></tr>
                </thead>
                <tbody>
                    {move || rows.get().into_iter().map(|l| {
                        let (id, row) = (l.id.clone(), l.clone());
                        view! {
                            <tr>
                                <td>{l.code.clone()}</td>
                                <td>{l.name}</td>
                                <td>{l.store_id}</td>
                                <td>{t(if l.on_hold { Key::Yes } else { Key::No })}</td>
                                <RowActions
                                    noun=Noun::Location
                                    code=l.code
                                    deleting=actions.deleting
                                    on_edit=move || form.edit(&row)
                                    on_delete=move || {
                                        let id = id.clone();
                                        actions.delete(async move { api::delete_location(&id).await })
                                    }
                                />
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// The asset form's fields; empty to add an asset, filled from a row to edit one.
#[derive(Clone, Copy)]
struct AssetForm {
    editing: Editing,
    store_id: RwSignal<String>,
    code: RwSignal<String>,
    serial_number: RwSignal<String>,
    notes: RwSignal<String>,
}

impl AssetForm {
    fn new(store_id: String) -> Self {
        AssetForm {
            editing: RwSignal::new(None),
            store_id: RwSignal::new(store_id),
            code: RwSignal::new(String::new()),
            serial_number: RwSignal::new(String::new()),
            notes: RwSignal::new(String::new()),
        }
    }

    fn edit(self, a: &Asset) {
        self.editing.set(Some(a.id.clone()));
        self.store_id.set(a.store_id.clone());
        self.code.set(a.code.clone());
        self.serial_number.set(a.serial_number.clone());
        self.notes.set(a.notes.clone());
    }

    /// Back to adding, in the same store.
    fn clear(self) {
        self.editing.set(None);
        self.code.set(String::new());
        self.serial_number.set(String::new());
        self.notes.set(String::new());
    }

    fn input(self) -> AssetInput {
        AssetInput {
            id: None,
            store_id: self.store_id.get_untracked(),
            code: self.code.get_untracked(),
            serial_number: self.serial_number.get_untracked(),
            notes: self.notes.get_untracked(),
        }
    }

    async fn save(self) -> Answer<()> {
        let input = self.input();
        match self.editing.get_untracked() {
            Some(id) => api::update_asset(&id, &input).await?,
            None => api::create_asset(&input).await?,
        };
        self.clear();
        Ok(())
    }
}

#[component]
fn Assets(rows: Signal<Vec<Asset>>, stores: Vec<String>, on_change: Callback<()>) -> impl IntoView {
    let form = AssetForm::new(stores.first().cloned().unwrap_or_default());
    let actions = Actions::new(on_change);
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        actions.save(form.save());
    };
    view! {
        <section class="card" aria-labelledby="assets-heading">
            <h2 id="assets-heading">{t(Key::Assets)}</h2>
            <form class="inline-form" on:submit=submit data-testid="asset-form">
                <Field id="asset-code" label=t(Key::ColCode) value=form.code/>
                <Field id="asset-serial" label=t(Key::ColSerial) value=form.serial_number/>
                <Field id="asset-notes" label=t(Key::ColNotes) value=form.notes/>
                <SelectField id="asset-store" label=t(Key::ColStore) options=stores value=form.store_id/>
                <FormButtons noun=Noun::Asset editing=form.editing saving=actions.saving on_cancel=move || form.clear()/>
            </form>
            {actions.failure_line()}
            <table class="table" data-testid="assets">
                <thead>
                    <tr><th>{t(Key::ColCode)}</th><th>{t(Key::ColSerial)}</th><th>{t(Key::ColNotes)}</th><th>{t(Key::ColStore)}</th><th><span class="visually-hidden">{t(Key::ColActions)}</span></th></tr>
                </thead>
                <tbody>
                    {move || rows.get().into_iter().map(|a| {
                        let (id, row) = (a.id.clone(), a.clone());
                        view! {
                            <tr>
                                <td>{a.code.clone()}</td>
                                <td>{a.serial_number}</td>
                                <td>{a.notes}</td>
                                <td>{a.store_id}</td>
                                <RowActions
                                    noun=Noun::Asset
                                    code=a.code
                                    deleting=actions.deleting
                                    on_edit=move || form.edit(&row)
                                    on_delete=move || {
                                        let id = id.clone();
                                        actions.delete(async move { api::delete_asset(&id).await })
                                    }
                                />
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// The changes one section sends: saving its form and deleting a row, one failure line for
/// both (the latest action's), and the page told after each success so the tables refresh.
#[derive(Clone, Copy)]
struct Actions {
    saving: Task,
    deleting: Task,
    failure: RwSignal<Option<api::Failure>>,
    on_change: Callback<()>,
}

impl Actions {
    fn new(on_change: Callback<()>) -> Self {
        let failure = RwSignal::new(None);
        Actions { saving: Task::reporting_to(failure), deleting: Task::reporting_to(failure), failure, on_change }
    }

    fn save(self, job: impl Future<Output = Answer<()>> + 'static) {
        self.saving.run(self.then_refresh(job));
    }

    fn delete(self, job: impl Future<Output = Answer<()>> + 'static) {
        self.deleting.run(self.then_refresh(job));
    }

    async fn then_refresh(self, job: impl Future<Output = Answer<()>>) -> Answer<()> {
        job.await?;
        self.on_change.run(());
        Ok(())
    }

    fn failure_line(self) -> impl IntoView {
        move || self.failure.get().map(|e| view! { <p class="error-text" role="alert">{e.message}</p> })
    }
}

/// Add (or Save, while editing) and Cancel.
#[component]
fn FormButtons(noun: Noun, editing: Editing, saving: Task, #[prop(into)] on_cancel: Callback<()>) -> impl IntoView {
    let label = Signal::derive(move || {
        let editing = editing.get().is_some();
        t(match noun {
            Noun::Location if editing => Key::SaveLocation,
            Noun::Location => Key::AddLocation,
            Noun::Asset if editing => Key::SaveAsset,
            Noun::Asset => Key::AddAsset,
        })
        .to_owned()
    });
    view! {
        <BusyButton class="button primary" submit=true busy=saving label=label busy_label=t(Key::Saving)/>
        {move || editing.get().is_some().then(|| view! {
            <button class="button" type="button" on:click=move |_| on_cancel.run(())>{t(Key::Cancel)}</button>
        })}
    }
}

/// Edit and Delete at the end of a row; their names say which record, for screen readers.
#[component]
fn RowActions(
    noun: Noun,
    code: String,
    deleting: Task,
    #[prop(into)] on_edit: Callback<()>,
    #[prop(into)] on_delete: Callback<()>,
) -> impl IntoView {
    let (edit, delete) = match noun {
        Noun::Location => (Key::EditLocation, Key::DeleteLocation),
        Noun::Asset => (Key::EditAsset, Key::DeleteAsset),
    };
    view! {
        <td class="actions">
            <button class="button small" aria-label=tf(edit, &[("code", &code)]) on:click=move |_| on_edit.run(())>{t(Key::Edit)}</button>
            <button
                class="button small danger"
                aria-label=tf(delete, &[("code", &code)])
                disabled=move || deleting.running()
                on:click=move |_| on_delete.run(())
            >
                {t(Key::Delete)}
            </button>
        </td>
    }
}

/// The two tables are wide: on a phone each scrolls sideways in its card, which can take the
/// focus so a keyboard can scroll it too.
#[component]
fn ReadOnly(data: Signal<Option<StoreData>>) -> impl IntoView {
    move || {
        data.get().map(|data| view! {
            <section class="card" aria-labelledby="stock-heading" tabindex="0">
                <h2 id="stock-heading">{t(Key::StockLines)}</h2>
                <table class="table" data-testid="stock-lines">
                    <thead><tr><th>{t(Key::ColItem)}</th><th>{t(Key::ColBatch)}</th><th>{t(Key::ColExpiry)}</th><th>{t(Key::ColPacks)}</th><th>{t(Key::ColLocation)}</th><th>{t(Key::ColStore)}</th></tr></thead>
                    <tbody>
                        {data.stock_lines.into_iter().map(|s| view! {
                            <tr><td>{s.item_name}</td><td>{s.batch}</td><td>{s.expiry_date.unwrap_or_default()}</td><td>{s.available_packs}</td><td>{s.location_code.unwrap_or_default()}</td><td>{s.store_id}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
            <section class="card" aria-labelledby="invoices-heading" tabindex="0">
                <h2 id="invoices-heading">{t(Key::Invoices)}</h2>
                <table class="table" data-testid="invoices">
                    <thead><tr><th>{t(Key::ColNumber)}</th><th>{t(Key::ColType)}</th><th>{t(Key::ColStatus)}</th><th>{t(Key::ColOtherParty)}</th><th>{t(Key::ColLines)}</th><th>{t(Key::ColStore)}</th></tr></thead>
                    <tbody>
                        {data.invoices.into_iter().map(|i| view! {
                            <tr><td>{i.invoice_number}</td><td>{i.kind}</td><td>{i.status}</td><td>{i.other_party}</td><td>{i.line_count}</td><td>{i.store_id}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        })
    }
}
