//! The Store data API under `/api/store-data`: the site's locations and assets (read and
//! write, every write through the changelog so the next sync pushes it) and its stock lines and
//! invoices (read-only). Only the site's own stores are visible or writable: other stores' data
//! belongs to other sites, and an edit here would be pushed as if this site owned it.
//! Reading is open like the Sync page; every write needs an admin session.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use outpost_api::{Asset, AssetInput, Invoice, Location, LocationInput, StockLine, StoreData};
use sqlx::SqliteConnection;

use super::SiteState;
use super::error::{ApiError, ApiJson};
use super::session::Admin;
use crate::records::{self, RecordError};

/// Routes under `/api/store-data`.
pub fn routes() -> Router<SiteState> {
    Router::new()
        .route("/", get(list))
        .route("/locations", post(create::<Location>))
        .route("/locations/{id}", put(update::<Location>).delete(delete::<Location>))
        .route("/assets", post(create::<Asset>))
        .route("/assets/{id}", put(update::<Asset>).delete(delete::<Asset>))
}

/// The site's stores, as a subquery: `store.site_id` = this site's id; bind `SITE_ID_KEY`.
macro_rules! own_stores {
    () => {
        "(SELECT id FROM store WHERE site_id = (SELECT value_int FROM key_value_store WHERE id = ?))"
    };
}

async fn list(State(state): State<SiteState>) -> Result<Json<StoreData>, ApiError> {
    // One read transaction, so the lists agree with each other.
    let mut tx = state.db.begin().await?;
    let store_ids = records::own_store_ids(&mut tx).await?;
    let locations = sqlx::query_as::<_, (String, String, String, String, bool)>(concat!(
        "SELECT id, store_id, COALESCE(code, ''), COALESCE(name, ''), COALESCE(on_hold, 0) FROM location ",
        "WHERE store_id IN ",
        own_stores!(),
        " ORDER BY store_id, code, id"
    ))
    .bind(records::SITE_ID_KEY)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(location)
    .collect();
    let assets = sqlx::query_as::<_, (String, String, String, String, String)>(concat!(
        "SELECT id, store_id, COALESCE(code, ''), COALESCE(serial_number, ''), COALESCE(notes, '') FROM asset ",
        "WHERE store_id IN ",
        own_stores!(),
        " ORDER BY store_id, code, id"
    ))
    .bind(records::SITE_ID_KEY)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(asset)
    .collect();
    let stock_lines =
        sqlx::query_as::<_, (String, String, String, String, Option<String>, f64, Option<String>)>(concat!(
            "SELECT sl.id, sl.store_id, COALESCE(i.name, ''), COALESCE(sl.batch, ''), sl.expiry_date, ",
            "COALESCE(sl.available_number_of_packs, 0), l.code ",
            "FROM stock_line sl JOIN item i ON i.id = sl.item_id LEFT JOIN location l ON l.id = sl.location_id ",
            "WHERE sl.store_id IN ",
            own_stores!(),
            " ORDER BY sl.store_id, i.name, sl.expiry_date, sl.id"
        ))
        .bind(records::SITE_ID_KEY)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|(id, store_id, item_name, batch, expiry_date, available_packs, location_code)| StockLine {
            id,
            store_id,
            item_name,
            batch,
            expiry_date,
            available_packs,
            location_code,
        })
        .collect();
    let invoices = sqlx::query_as::<_, (String, String, i64, String, String, String, i64)>(concat!(
        "SELECT inv.id, inv.store_id, COALESCE(inv.invoice_number, 0), COALESCE(inv.type, ''), ",
        "COALESCE(inv.status, ''), COALESCE(n.name, ''), ",
        "(SELECT COUNT(*) FROM invoice_line il WHERE il.invoice_id = inv.id) ",
        "FROM invoice inv JOIN name n ON n.id = inv.name_id ",
        "WHERE inv.store_id IN ",
        own_stores!(),
        " ORDER BY inv.store_id, inv.invoice_number DESC, inv.id"
    ))
    .bind(records::SITE_ID_KEY)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|(id, store_id, invoice_number, kind, status, other_party, line_count)| Invoice {
        id,
        store_id,
        invoice_number,
        kind,
        status,
        other_party,
        line_count,
    })
    .collect();
    tx.commit().await?;
    Ok(Json(StoreData { store_ids, locations, assets, stock_lines, invoices }))
}

fn location((id, store_id, code, name, on_hold): (String, String, String, String, bool)) -> Location {
    Location { id, store_id, code, name, on_hold }
}

fn asset((id, store_id, code, serial_number, notes): (String, String, String, String, String)) -> Asset {
    Asset { id, store_id, code, serial_number, notes }
}

async fn get_location(conn: &mut SqliteConnection, id: &str) -> Result<Option<Location>, ApiError> {
    let row = sqlx::query_as(
        "SELECT id, store_id, COALESCE(code, ''), COALESCE(name, ''), COALESCE(on_hold, 0) FROM location WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(location))
}

async fn get_asset(conn: &mut SqliteConnection, id: &str) -> Result<Option<Asset>, ApiError> {
    let row = sqlx::query_as(
        "SELECT id, store_id, COALESCE(code, ''), COALESCE(serial_number, ''), COALESCE(notes, '') FROM asset WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(asset))
}

/// What the create, update and delete handlers need of a kind of record people edit here
/// (locations, assets): one set of handlers serves both.
trait Editable: serde::Serialize + Sized + Send + 'static {
    type Input: serde::de::DeserializeOwned + Send + 'static;
    /// The record's name in messages ("location").
    const NOUN: &'static str;
    fn store_id(&self) -> &str;
    fn requested_id(input: &Self::Input) -> Option<&str>;
    fn get(conn: &mut SqliteConnection, id: &str) -> impl Future<Output = Result<Option<Self>, ApiError>> + Send;
    /// The validated record to write, or a 422 naming the first bad field.
    fn check(
        conn: &mut SqliteConnection,
        id: String,
        input: Self::Input,
    ) -> impl Future<Output = Result<Self, ApiError>> + Send;
    /// Write it (and its changelog row, in one transaction).
    fn write(conn: &mut SqliteConnection, row: &Self) -> impl Future<Output = Result<(), RecordError>> + Send;
    fn remove(conn: &mut SqliteConnection, id: &str) -> impl Future<Output = Result<bool, RecordError>> + Send;
}

impl Editable for Location {
    type Input = LocationInput;
    const NOUN: &'static str = "location";
    fn store_id(&self) -> &str {
        &self.store_id
    }
    fn requested_id(input: &LocationInput) -> Option<&str> {
        input.id.as_deref()
    }
    async fn get(conn: &mut SqliteConnection, id: &str) -> Result<Option<Location>, ApiError> {
        get_location(conn, id).await
    }
    async fn check(conn: &mut SqliteConnection, id: String, input: LocationInput) -> Result<Location, ApiError> {
        check_location(conn, id, input).await
    }
    async fn write(conn: &mut SqliteConnection, row: &Location) -> Result<(), RecordError> {
        records::upsert_location(conn, row).await
    }
    async fn remove(conn: &mut SqliteConnection, id: &str) -> Result<bool, RecordError> {
        records::delete_location(conn, id).await
    }
}

impl Editable for Asset {
    type Input = AssetInput;
    const NOUN: &'static str = "asset";
    fn store_id(&self) -> &str {
        &self.store_id
    }
    fn requested_id(input: &AssetInput) -> Option<&str> {
        input.id.as_deref()
    }
    async fn get(conn: &mut SqliteConnection, id: &str) -> Result<Option<Asset>, ApiError> {
        get_asset(conn, id).await
    }
    async fn check(conn: &mut SqliteConnection, id: String, input: AssetInput) -> Result<Asset, ApiError> {
        check_asset(conn, id, input).await
    }
    async fn write(conn: &mut SqliteConnection, row: &Asset) -> Result<(), RecordError> {
        records::upsert_asset(conn, row).await
    }
    async fn remove(conn: &mut SqliteConnection, id: &str) -> Result<bool, RecordError> {
        records::delete_asset(conn, id).await
    }
}

async fn create<T: Editable>(
    _: Admin,
    State(state): State<SiteState>,
    ApiJson(input): ApiJson<T::Input>,
) -> Result<(StatusCode, Json<T>), ApiError> {
    let mut conn = state.db.acquire().await?;
    let id = new_id(T::requested_id(&input));
    if T::get(&mut conn, &id).await?.is_some() {
        let message = format!("There is already a {} with id {id:?}.", T::NOUN);
        return Err(ApiError::invalid("id", "id-taken", &[("id", id.clone())], message));
    }
    let row = T::check(&mut conn, id, input).await?;
    T::write(&mut conn, &row).await.map_err(record_error)?;
    Ok((StatusCode::CREATED, Json(row)))
}

async fn update<T: Editable>(
    _: Admin,
    State(state): State<SiteState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<T::Input>,
) -> Result<Json<T>, ApiError> {
    let mut conn = state.db.acquire().await?;
    let existing = T::get(&mut conn, &id).await?;
    require_own(&mut conn, existing.as_ref().map(T::store_id), T::NOUN, &id).await?;
    let row = T::check(&mut conn, id, input).await?;
    T::write(&mut conn, &row).await.map_err(record_error)?;
    Ok(Json(row))
}

async fn delete<T: Editable>(
    _: Admin,
    State(state): State<SiteState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut conn = state.db.acquire().await?;
    let existing = T::get(&mut conn, &id).await?;
    require_own(&mut conn, existing.as_ref().map(T::store_id), T::NOUN, &id).await?;
    T::remove(&mut conn, &id).await.map_err(record_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The validated location to write, or a 422 naming the first bad field.
async fn check_location(conn: &mut SqliteConnection, id: String, input: LocationInput) -> Result<Location, ApiError> {
    check_store(conn, &input.store_id).await?;
    let code = required(&input.code, "code", "location-code", "A location needs a code.")?;
    let name = required(&input.name, "name", "location-name", "A location needs a name.")?;
    // Codes identify locations on shelves and labels, so they are unique within a store.
    let clash: Option<String> =
        sqlx::query_scalar("SELECT id FROM location WHERE store_id = ? AND code = ? AND id <> ? LIMIT 1")
            .bind(&input.store_id)
            .bind(&code)
            .bind(&id)
            .fetch_optional(&mut *conn)
            .await?;
    if clash.is_some() {
        let message = format!("Another location of this store already has the code {code:?}.");
        return Err(ApiError::invalid("code", "location-code-taken", &[("code", code.clone())], message));
    }
    Ok(Location { id, store_id: input.store_id, code, name, on_hold: input.on_hold })
}

async fn check_asset(conn: &mut SqliteConnection, id: String, input: AssetInput) -> Result<Asset, ApiError> {
    check_store(conn, &input.store_id).await?;
    let code = required(&input.code, "code", "asset-number", "An asset needs an asset number.")?;
    Ok(Asset {
        id,
        store_id: input.store_id,
        code,
        serial_number: input.serial_number.trim().to_owned(),
        notes: input.notes,
    })
}

async fn check_store(conn: &mut SqliteConnection, store_id: &str) -> Result<(), ApiError> {
    if store_id.trim().is_empty() {
        return Err(ApiError::invalid("storeId", "store", &[], "Choose a store."));
    }
    if !records::own_store_ids(conn).await?.iter().any(|s| s == store_id) {
        let message = format!("Store {store_id:?} is not one of this site's stores.");
        return Err(ApiError::invalid("storeId", "store-not-here", &[("store", store_id.to_owned())], message));
    }
    Ok(())
}

/// A record that is absent, or belongs to another site's store, is not found: this site may
/// neither see nor change it.
async fn require_own(
    conn: &mut SqliteConnection,
    store_id: Option<&str>,
    what: &str,
    id: &str,
) -> Result<(), ApiError> {
    let own = match store_id {
        Some(store_id) => records::own_store_ids(conn).await?.iter().any(|s| s == store_id),
        None => false,
    };
    if own { Ok(()) } else { Err(ApiError::NotFound(format!("There is no {what} {id:?} in this site's stores."))) }
}

fn required(value: &str, field: &str, code: &'static str, message: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() { Err(ApiError::invalid(field, code, &[], message)) } else { Ok(value.to_owned()) }
}

fn new_id(given: Option<&str>) -> String {
    match given.map(str::trim) {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

fn record_error(e: RecordError) -> ApiError {
    match e {
        RecordError::MissingParent { .. } => ApiError::validation("storeId", e.to_string()),
        RecordError::Refused(_) => ApiError::Conflict(e.to_string()),
        RecordError::Malformed(_) | RecordError::UnknownTable(_) => ApiError::BadRequest(e.to_string()),
        RecordError::Db(e) => ApiError::Internal(e.into()),
    }
}
