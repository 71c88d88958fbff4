//! The three `/central/sync` routes. Each one checks, in the reference's order, the version,
//! the credentials (through the V5 central), and for pull/push whether the site's pushed data is
//! still being integrated; `push` buffers per site and integrates in the background on the
//! last batch.

use axum::body::Bytes;
use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::error::{Data, V6Error, V6Result};
use super::legacy_auth::Caller;
use super::{V6State, pull, records};
use crate::central_shared::bulk::stored_owners;
use crate::central_shared::integration::integrate_in_background;
use crate::central_shared::ownership::{self, Change, Protocol};
use crate::central_shared::push_buffer;
use crate::wire::v5::code;
use crate::wire::v6::{
    Action, PullRequest, PushRequest, PushResult, SUPPORTED_VERSIONS, SiteStatusRequest, SiteStatusResult, SyncBatch,
    SyncV5Settings,
};

/// The caller's address, when the server was started with connect info (always, outside tests
/// that drive the router directly).
pub struct Peer(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Canonical, so an IPv4 caller on a dual-stack listener is keyed as plain IPv4 by the V5 central.
        Ok(Peer(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_canonical())))
    }
}

/// The request types that carry the site's V5 credentials (all of them).
trait Credentialed {
    fn settings(&self) -> &SyncV5Settings;
}

impl Credentialed for PullRequest {
    fn settings(&self) -> &SyncV5Settings {
        &self.sync_v5_settings
    }
}

impl Credentialed for PushRequest {
    fn settings(&self) -> &SyncV5Settings {
        &self.sync_v5_settings
    }
}

impl Credentialed for SiteStatusRequest {
    fn settings(&self) -> &SyncV5Settings {
        &self.sync_v5_settings
    }
}

/// Parse the body, check the version and the credentials (within the failure limit).
async fn admit<T: DeserializeOwned + Credentialed>(
    state: &V6State,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Result<(T, Caller), V6Error> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            V6Error::PayloadTooLarge
        } else {
            V6Error::BadRequest(e.body_text())
        }
    })?;
    let request: T = parse_body(&body)?;
    let caller = check_credentials(state, peer.0, request.settings()).await?;
    Ok((request, with_fresh_stores(state, caller).await?))
}

/// The caller's stores as the legacy central has them now (see `legacy_stores`).
async fn with_fresh_stores(state: &V6State, mut caller: Caller) -> Result<Caller, V6Error> {
    state.legacy_stores.refresh(state, caller.vouched_now).await;
    caller.store_ids = super::legacy_stores::stores_of_site(&state.db, caller.site_id).await?;
    Ok(caller)
}

/// Have the V5 central vouch for `settings`, as a counted attempt (see [`crate::ratelimit`]):
/// counted before the V5 central is asked, kept when it refused the name or password.
///
/// The name key includes the hardware id the caller sends, so others guessing a site's name
/// cannot lock out the site itself (which sends its bound id); every guess is still limited by
/// its address here and, per name, by the V5 central, which knows the bound id.
async fn check_credentials(
    state: &V6State,
    peer: Option<IpAddr>,
    settings: &SyncV5Settings,
) -> Result<Caller, V6Error> {
    use crate::ratelimit::{MAX_NAME_BYTES, address_key, retry_after_seconds};
    if settings.username.len() > MAX_NAME_BYTES || settings.site_uuid.len() > MAX_NAME_BYTES {
        return Err(V6Error::BadRequest("site name or hardware id too long".into()));
    }
    let address = peer.map_or("addr:unknown".into(), address_key);
    let keys = [format!("site:{}\0{}", settings.username, settings.site_uuid), address];
    // Vouched for within the TTL: no guess (whoever else guesses), and no call to the V5 central.
    if let Some(caller) = state.legacy.cached(settings) {
        return Ok(caller);
    }
    let too_many = |wait| V6Error::TooManyAttempts(retry_after_seconds(wait));
    state.failures.check(&keys).map_err(too_many)?;
    state
        .failures
        .counted(&keys, async {
            let checked = state.legacy.check(settings, peer).await;
            // Anything else is right, or no guess (the V5 central's own limit, its
            // hardware-id check, no answer): refunded.
            let failed = matches!(&checked, Err(V6Error::LegacyRefused(body))
                if matches!(body.code.as_str(), code::SITE_NAME_NOT_FOUND | code::SITE_INCORRECT_PASSWORD));
            (checked, failed)
        })
        .await
        .map_err(too_many)?
}

/// The version first, whatever else the body holds (a newer site gets the mismatch, not a parse
/// error about fields it added), then the body once into its typed shape. The version probe
/// skips everything else without building it, so no body is ever held as a `serde_json::Value`
/// tree (many times the size of its text).
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, V6Error> {
    let VersionProbe(version) =
        serde_json::from_slice(body).map_err(|e| V6Error::BadRequest(format!("body is not JSON: {e}")))?;
    match version {
        Some(v) if (SUPPORTED_VERSIONS.0 as u64..=SUPPORTED_VERSIONS.1 as u64).contains(&v) => {}
        other => return Err(V6Error::VersionMismatch(other.map_or(u32::MAX, |v| v.min(u32::MAX as u64) as u32))),
    }
    serde_json::from_slice(body).map_err(|e| V6Error::BadRequest(format!("bad request body: {e}")))
}

/// `syncV6Version` when the body is an object holding it as an unsigned integer (0 when the key
/// is missing); `None` for any other JSON (as an odd version is a mismatch, not a parse error).
struct VersionProbe(Option<u64>);

impl<'de> Deserialize<'de> for VersionProbe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ProbeVisitor { top: true }).map(VersionProbe)
    }
}

/// At the top level it looks for the key; below (the key's value) it keeps only an unsigned integer.
struct ProbeVisitor {
    top: bool,
}

struct Version(Option<u64>);

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ProbeVisitor { top: false }).map(Version)
    }
}

impl<'de> Visitor<'de> for ProbeVisitor {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok((!self.top).then_some(v))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // A body without the key is version 0, as upstream's central reads it.
        let mut found = self.top.then_some(0);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if self.top && key == "syncV6Version" {
                found = map.next_value::<Version>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

fn ensure_not_integrating(state: &V6State, caller: &Caller) -> Result<(), V6Error> {
    if state.activity.current(caller.site_id).is_some() { Err(V6Error::IntegrationInProgress) } else { Ok(()) }
}

pub async fn pull(
    State(state): State<V6State>,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> V6Result<SyncBatch> {
    let (request, caller): (PullRequest, _) = admit(&state, peer, body).await?;
    ensure_not_integrating(&state, &caller)?;
    let batch = request.batch_size.clamp(1, state.max_batch as u32) as u64;
    let cursor = request.cursor.min(i64::MAX as u64) as i64;
    Ok(Data(pull::page(&state.db, &caller, cursor, batch, request.is_initialised).await?))
}

pub async fn site_status(
    State(state): State<V6State>,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> V6Result<SiteStatusResult> {
    let (_, caller): (SiteStatusRequest, _) = admit(&state, peer, body).await?;
    Ok(Data(SiteStatusResult { is_integrating: state.activity.current(caller.site_id).is_some() }))
}

pub async fn push(
    State(state): State<V6State>,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> V6Result<PushResult> {
    let (request, caller): (PushRequest, _) = admit(&state, peer, body).await?;
    ensure_not_integrating(&state, &caller)?;
    let pushed = buffer(&state, &caller, &request).await?;
    if request.batch.is_last_batch {
        let (owned, site_id) = (state.clone(), caller.site_id);
        let job = async move {
            // Ownership is asked again against the stores as they are when integration starts.
            owned.legacy_stores.refresh(&owned, true).await;
            let stores = super::legacy_stores::stores_of_site(&owned.db, site_id).await?;
            integrate(&owned, site_id, &stores).await
        };
        integrate_in_background(&state.activity, caller.site_id, "central", job)
            .await
            .map_err(|_| V6Error::IntegrationInProgress)?;
    }
    Ok(Data(PushResult { records_pushed: pushed }))
}

/// Keep the batch in the site's push buffer; a record the ownership rule refuses refuses the batch.
async fn buffer(state: &V6State, caller: &Caller, request: &PushRequest) -> Result<u64, V6Error> {
    let mut tx = state.db.begin_write().await?;
    // What the batch's records belong to today, looked up once for the whole batch (records
    // earlier in this batch are only buffered, so this is what a lookup per record would see).
    let keys =
        request.batch.records.iter().map(|item| (item.record.table_name.as_str(), item.record.record_id.as_str()));
    let owners = stored_owners(&mut tx, state.db.backend, keys).await?;
    let mut checked = Vec::with_capacity(request.batch.records.len());
    for item in &request.batch.records {
        let r = &item.record;
        let store = records::store_of(&r.record_data);
        let stored = owners.get(&(r.table_name.clone(), r.record_id.clone())).map(Option::as_deref);
        ownership::decide(
            &caller.store_ids,
            Protocol::V6,
            &r.table_name,
            change_of(r.action),
            stored,
            store.as_deref(),
        )
        .map_err(|why| {
            V6Error::RecordRejected(format!("{} {}: {why} (site {})", r.table_name, r.record_id, caller.site_id))
        })?;
        let action = if change_of(r.action) == Change::Delete { "delete" } else { "upsert" };
        checked.push((r, action, store));
    }
    let rows = checked
        .iter()
        .map(|(r, action, store)| {
            (r.table_name.as_str(), r.record_id.as_str(), *action, store.as_deref(), Some(r.record_data.to_string()))
        })
        .collect();
    push_buffer::put(&mut tx, state.db.backend, caller.site_id, rows).await?;
    tx.commit().await?;
    Ok(request.batch.records.len() as u64)
}

/// A `Merge` takes the merged-away row (its `recordId`) out: the V6 tables a site writes have no
/// rows pointing at each other to re-point, so what is left of a merge is that delete, checked
/// against the ownership rule like any other.
fn change_of(action: Action) -> Change {
    if action.is_upsert() { Change::Upsert } else { Change::Delete }
}

/// Apply the site's push buffer in one transaction, stamping each change with the site as source.
/// Each record meets the ownership rule again, against the rows as they are now and the stores
/// `site_stores` (the site's stores as the legacy central has them when integration starts):
/// a record refused here is logged with its reason and skipped; the others apply.
pub async fn integrate(state: &V6State, site_id: i64, site_stores: &[String]) -> anyhow::Result<usize> {
    let mut tx = records::begin(&state.db).await?;
    let rows = push_buffer::read(&mut tx, site_id).await?;
    let keys = rows.iter().map(|r| (r.0.as_str(), r.1.as_str()));
    let owners = stored_owners(&mut tx, state.db.backend, keys).await?;
    let mut applied = 0;
    for (table, id, action, store, data) in &rows {
        let change = if action == "delete" { Change::Delete } else { Change::Upsert };
        let stored = owners.get(&(table.clone(), id.clone())).map(Option::as_deref);
        // The buffered store was read from the record's data when it was buffered.
        if let Err(why) = ownership::decide(site_stores, Protocol::V6, table, change, stored, store.as_deref()) {
            tracing::warn!(site_id, table = %table, id = %id, reason = %why, "pushed V6 record refused at integration; not applied");
            continue;
        }
        if change == Change::Delete {
            records::delete(&mut tx, table, id, Some(site_id)).await?;
        } else {
            let data: Value = serde_json::from_str(data.as_deref().unwrap_or_default())?;
            records::upsert(&mut tx, table, id, &data, Some(site_id)).await?;
        }
        applied += 1;
    }
    push_buffer::clear(&mut tx, site_id).await?;
    tx.commit().await?;
    tracing::info!(site_id, records = rows.len(), applied, "integrated pushed V6 records");
    Ok(applied)
}
