//! The three `/central/sync` routes. Each one checks, in the reference's order, the version,
//! the credentials (through the V5 central), and for pull/push whether the site's pushed data is
//! still being integrated; `push` buffers per site and integrates in the background on the
//! last batch.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use futures_util::StreamExt;
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::body_budget::{Held, Refused};
use super::error::{Data, V6Error, V6Result};
use super::legacy_auth::Caller;
use super::{V6State, pull, records};
use crate::central_shared::bulk::stored_owners;
use crate::central_shared::integration::integrate_in_background;
use crate::central_shared::ownership::{self, Change, Protocol};
use crate::central_shared::push_buffer;
use crate::central_shared::push_refused::{self, RefusedRecord};
use crate::wire::v5::code;
use crate::wire::v6::{
    Action, PullRequest, PushRequest, PushResult, SUPPORTED_VERSIONS, SiteStatusRequest, SiteStatusResult, SyncBatch,
    SyncV5Settings,
};

/// The caller's address, when the server was started with connect info (always, outside tests
/// that drive the router directly): the peer, or the caller a trusted reverse proxy names in
/// `X-Forwarded-For` (`--trusted-proxy`; otherwise every site behind the proxy would share its
/// failed-login count, and one guesser would lock them all out).
pub struct Peer(Option<IpAddr>);

impl FromRequestParts<V6State> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &V6State) -> Result<Self, Self::Rejection> {
        let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        // Canonical, so an IPv4 caller on a dual-stack listener is keyed as plain IPv4 by the V5 central.
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| state.trusted_proxies.caller(c.0.ip(), forwarded)),
        ))
    }
}

/// Check the version and the credentials (within the failure limit), then parse the body (at
/// most `limit` bytes after decompression) into its typed shape.
///
/// What an unauthenticated caller can cost, in order: an address already locked out is
/// answered 429 at once, its body never read (the answer says `Connection: close`: reading it
/// only to drop it cost a zstd window of up to 128 MiB per connection, outside every budget);
/// otherwise the body is read, up to `limit`, into one buffer (see [`read_body`]); one pass
/// over it keeps only `syncV6Version` and the `syncV5Settings` object ([`Head`]: no tree, no
/// records, whatever the order of the fields; the reference's own client sends `batch` first);
/// then the counted credential check. The batch, whose parsed records take several times the
/// size of their text, is parsed only for a caller the V5 central vouched for. So memory before
/// authentication is the body's bytes (at most `limit`: [`super::MAX_BODY_BYTES`] for a push;
/// twice that for the moment its chunks are joined) plus a few hundred bytes, per request: an
/// 8 MB push with bad credentials raises the peak by 16 MB, where parsing its batch first
/// raised it by 159 MB (`tests/memory`). Together, all bodies read before their credentials are
/// decided hold at most [`super::UNAUTHENTICATED_BODY_BUDGET`], one caller address at most
/// [`super::body_budget::CALLER_SHARE`] of it (counted as they arrive; past either the caller
/// is answered 503), and each body must arrive whole within its deadline
/// ([`super::body_budget`]), so neither many held-back connections nor one address holding
/// them for ever can take the central away from the other sites.
async fn admit<T: DeserializeOwned>(
    state: &V6State,
    peer: Peer,
    body: Body,
    limit: usize,
) -> Result<(T, Caller), V6Error> {
    use crate::ratelimit::{address_key, retry_after_seconds};
    let address = peer.0.map_or("addr:unknown".into(), address_key);
    if let Err(wait) = state.failures.refuse_early(std::slice::from_ref(&address)).await {
        drop(body);
        return Err(V6Error::TooManyAttempts(retry_after_seconds(wait)));
    }
    // The budget's share is held until the credentials are decided (see the doc above).
    let budget = state.unauthenticated_bodies.start(address);
    let (body, _budget) = read_body(body, limit, budget, state.unauthenticated_bodies.deadline(limit)).await?;
    let settings = credentials_of(&body)?;
    let caller = check_credentials(state, peer.0, &settings).await?;
    let request = serde_json::from_slice(&body).map_err(|e| V6Error::BadRequest(format!("bad request body: {e}")))?;
    Ok((request, with_fresh_stores(state, caller).await?))
}

/// The caller's stores as the legacy central has them now (see `legacy_stores`).
async fn with_fresh_stores(state: &V6State, mut caller: Caller) -> Result<Caller, V6Error> {
    state.legacy_stores.refresh(state, caller.vouched_now).await;
    caller.store_ids = super::legacy_stores::stores_of_site(&state.db, caller.site_id).await?;
    Ok(caller)
}

/// The whole body, or [`V6Error::PayloadTooLarge`] as soon as it passes `limit` bytes, or
/// [`V6Error::BodyTooSlow`] when it is not whole by `deadline`. Chunks are kept as they come
/// and joined once, so the peak is about twice the body, never a doubling buffer's three times.
/// Every KiB read is taken from `budget` first (returned with the body, dropped once the caller
/// is decided), or [`V6Error::Busy`] / [`V6Error::CallerBusy`] when it has none left.
async fn read_body(
    body: Body,
    limit: usize,
    mut budget: Held,
    deadline: std::time::Duration,
) -> Result<(Vec<u8>, Held), V6Error> {
    let read = async {
        let mut stream = body.into_data_stream();
        let (mut chunks, mut len) = (Vec::new(), 0);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| V6Error::BadRequest(format!("cannot read the request body: {e}")))?;
            len += chunk.len();
            if len > limit {
                return Err(V6Error::PayloadTooLarge);
            }
            budget.grow_to(len).map_err(|refused| match refused {
                Refused::Full => V6Error::Busy,
                Refused::CallerShare => V6Error::CallerBusy,
            })?;
            chunks.push(chunk);
        }
        Ok(chunks.concat())
    };
    match tokio::time::timeout(deadline, read).await {
        Ok(body) => Ok((body?, budget)),
        Err(_) => Err(V6Error::BodyTooSlow(deadline.as_secs_f64().ceil() as u64)),
    }
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
    state.failures.refuse_early(&keys).await.map_err(too_many)?;
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
        .map_err(V6Error::from)?
}

/// The version first, whatever else the body holds (a newer site gets the mismatch, not a parse
/// error about fields it added), then the credentials; see [`admit`] for why nothing else.
fn credentials_of(body: &[u8]) -> Result<SyncV5Settings, V6Error> {
    let head: Head = serde_json::from_slice(body).map_err(|e| V6Error::BadRequest(format!("body is not JSON: {e}")))?;
    match head.version {
        Some(v) if (SUPPORTED_VERSIONS.0 as u64..=SUPPORTED_VERSIONS.1 as u64).contains(&v) => {}
        other => return Err(V6Error::VersionMismatch(other.map_or(u32::MAX, |v| v.min(u32::MAX as u64) as u32))),
    }
    let settings = head.settings.ok_or_else(|| V6Error::BadRequest("syncV5Settings is missing".into()))?;
    serde_json::from_str(settings.get()).map_err(|e| V6Error::BadRequest(format!("bad syncV5Settings: {e}")))
}

/// The top level of a body as [`credentials_of`] reads it: `syncV6Version` when it is an
/// unsigned integer (0 when the key is missing, as upstream's central reads it; `None` for anything else, or for a body that is not an object: a missing
/// or odd version is a mismatch, not a parse error), and `syncV5Settings` as a slice of the
/// body's text. Every other value is skipped without being built.
struct Head<'a> {
    version: Option<u64>,
    settings: Option<&'a RawValue>,
}

impl<'de> Deserialize<'de> for Head<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(HeadVisitor)
    }
}

struct HeadVisitor;

/// Below the top level: only an unsigned integer is a version.
struct Version(Option<u64>);

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<u64>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(v))
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
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(None)
            }
        }
        d.deserialize_any(V).map(Version)
    }
}

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = Head<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Head { version: None, settings: None })
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Head { version: None, settings: None })
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Head { version: None, settings: None })
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Head { version: None, settings: None })
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Head { version: None, settings: None })
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Head { version: None, settings: None })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Head { version: None, settings: None })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // A body without the key is version 0, as upstream's central reads it.
        let mut head = Head { version: Some(0), settings: None };
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "syncV6Version" => head.version = map.next_value::<Version>()?.0,
                "syncV5Settings" => head.settings = Some(map.next_value::<&'de RawValue>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(head)
    }
}

/// Whether `site_id`'s push is being integrated (on PostgreSQL: by any replica). An
/// integration orphaned by a replica that died is taken over here, by whichever replica the
/// site asks next (see `central_shared::activity`), and reported as running.
async fn integrating(state: &V6State, site_id: i64) -> Result<bool, V6Error> {
    let Some(busy) = state.activity.current(site_id).await.map_err(anyhow::Error::from)? else { return Ok(false) };
    if busy.orphaned {
        tracing::warn!(site_id, "taking over an integration whose replica is gone");
        match start_integration(state, site_id).await {
            // Another request took it over first (on any replica): it runs, which is the answer.
            Ok(()) | Err(V6Error::IntegrationInProgress) => {}
            Err(e) => return Err(e),
        }
        // A small buffer is integrated by now (the wait of `integrate_in_background`).
        return Ok(state.activity.current(site_id).await.map_err(anyhow::Error::from)?.is_some());
    }
    Ok(true)
}

async fn ensure_not_integrating(state: &V6State, caller: &Caller) -> Result<(), V6Error> {
    if integrating(state, caller.site_id).await? { Err(V6Error::IntegrationInProgress) } else { Ok(()) }
}

/// Integrate `site_id`'s push buffer in the background; `IntegrationInProgress` when it is
/// already being integrated (on any replica).
async fn start_integration(state: &V6State, site_id: i64) -> Result<(), V6Error> {
    let owned = state.clone();
    let job = async move {
        // Ownership is asked again against the stores as they are when integration starts
        // (learnt here, outside the transaction: it asks the legacy central over the network).
        owned.legacy_stores.refresh(&owned, true).await;
        crate::central_shared::integration::retry_while_site_locked(site_id, || integrate(&owned, site_id)).await
    };
    integrate_in_background(&state.activity, &state.metrics, &state.db, site_id, "central", job)
        .await
        .map_err(anyhow::Error::from)?
        .map_err(|_| V6Error::IntegrationInProgress)
}

pub async fn pull(State(state): State<V6State>, peer: Peer, body: Body) -> V6Result<SyncBatch> {
    let (request, caller): (PullRequest, _) = admit(&state, peer, body, state.small_body_bytes()).await?;
    ensure_not_integrating(&state, &caller).await?;
    let batch = request.batch_size.clamp(1, state.max_batch as u32) as u64;
    let cursor = request.cursor.min(i64::MAX as u64) as i64;
    if cursor == 0 && !request.is_initialised {
        // A site pulling from the start, not initialised: a new database, whose changelog
        // cursors (the versions of what it pushes) start again from the beginning.
        let mut conn = state.db.pool.acquire().await.map_err(anyhow::Error::from)?;
        push_buffer::forget_versions(&mut conn, caller.site_id).await.map_err(anyhow::Error::from)?;
    }
    let page = pull::page(&state.db, &caller, cursor, batch, request.is_initialised).await?;
    state.metrics.pulled(caller.site_id, page.records.len());
    Ok(Data(page))
}

pub async fn site_status(State(state): State<V6State>, peer: Peer, body: Body) -> V6Result<SiteStatusResult> {
    let (_, caller): (SiteStatusRequest, _) = admit(&state, peer, body, state.small_body_bytes()).await?;
    let is_integrating = integrating(&state, caller.site_id).await?;
    // Only once idle: an integration running now replaces them.
    let mut conn = state.db.pool.acquire().await.map_err(anyhow::Error::from)?;
    let refused = if is_integrating {
        Vec::new()
    } else {
        push_refused::list(&mut conn, caller.site_id).await.map_err(anyhow::Error::from)?
    };
    let integration_error = push_refused::failure(&mut conn, caller.site_id).await.map_err(anyhow::Error::from)?;
    Ok(Data(SiteStatusResult { is_integrating, integration_error, refused }))
}

pub async fn push(State(state): State<V6State>, peer: Peer, body: Body) -> V6Result<PushResult> {
    let (request, caller): (PushRequest, _) = admit(&state, peer, body, state.max_body_bytes).await?;
    ensure_not_integrating(&state, &caller).await?;
    let pushed = buffer(&state, &caller, &request).await?;
    if request.batch.is_last_batch {
        start_integration(&state, caller.site_id).await?;
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
            // Led by the V5 code, so a site knows a refusal from other server errors; the
            // answer names one record only (`otherServerError` is text), and the site finds
            // any others by splitting the batch.
            V6Error::RecordRejected(format!(
                "{}: {} {}: {why} (site {})",
                code::SYNC_RECORD_REJECTED,
                r.table_name,
                r.record_id,
                caller.site_id
            ))
        })?;
        let action = if change_of(r.action) == Change::Delete { "delete" } else { "upsert" };
        checked.push((r, item.cursor, action, store));
    }
    let rows = checked
        .iter()
        .map(|(r, cursor, action, store)| {
            let version = i64::try_from(*cursor).unwrap_or(0);
            (
                r.table_name.as_str(),
                r.record_id.as_str(),
                *action,
                store.as_deref(),
                Some(r.record_data.to_string()),
                version,
            )
        })
        .collect();
    push_buffer::put(&mut tx, state.db.backend, caller.site_id, rows, state.max_push_buffer_bytes).await?;
    tx.commit().await?;
    state.metrics.pushed(caller.site_id, request.batch.records.len());
    Ok(request.batch.records.len() as u64)
}

/// A `Merge` takes the merged-away row (its `recordId`) out: the V6 tables a site writes have no
/// rows pointing at each other to re-point, so what is left of a merge is that delete, checked
/// against the ownership rule like any other.
fn change_of(action: Action) -> Change {
    if action.is_upsert() { Change::Upsert } else { Change::Delete }
}

/// Apply the site's push buffer in one transaction, stamping each change with the site as source.
/// Each record meets the ownership rule again, against the rows as they are now and the site's
/// stores as last learnt from the legacy central (`legacy_stores`), both read once the site's
/// lock is held (a takeover may wait for it: stores read before the wait could be stale): a
/// record refused here is skipped and kept for the site (`push_refused`, answered by
/// `site_status`); the others apply.
///
/// The site's lock comes before the change log's, so an integration that waits for its site
/// (a takeover, see `integration::lock_site`) holds up no other site's; every integration takes
/// them in that order.
pub async fn integrate(state: &V6State, site_id: i64) -> anyhow::Result<usize> {
    let backend = state.db.backend;
    let mut tx = state.db.begin_write().await?;
    crate::central_shared::integration::lock_site(&mut tx, backend, site_id).await?;
    crate::central_shared::lock_change_log(&mut tx, backend, records::CHANGE_LOG).await?;
    let site_stores = &super::legacy_stores::stores_of_site_in(&mut tx, site_id).await?;
    let read = push_buffer::read(&mut tx, site_id).await?;
    let rows = &read.rows;
    let keys = rows.iter().map(|r| (r.0.as_str(), r.1.as_str()));
    let owners = stored_owners(&mut tx, state.db.backend, keys).await?;
    let mut applied = 0;
    let mut refused = Vec::new();
    for (table, id, action, store, data, _) in rows {
        let change = if action == "delete" { Change::Delete } else { Change::Upsert };
        let stored = owners.get(&(table.clone(), id.clone())).map(Option::as_deref);
        // The buffered store was read from the record's data when it was buffered.
        if let Err(why) = ownership::decide(site_stores, Protocol::V6, table, change, stored, store.as_deref()) {
            tracing::warn!(site_id, table = %table, id = %id, reason = %why, "pushed V6 record refused at integration; not applied");
            refused.push(RefusedRecord {
                table_name: table.clone(),
                record_id: id.clone(),
                store_id: store.clone(),
                reason: format!("refused at integration: {why}"),
            });
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
    push_refused::replace(&mut tx, site_id, &refused).await?;
    crate::central_shared::kill_point::reached("central-integrating").await;
    push_buffer::settle(&mut tx, state.db.backend, site_id, &read).await?;
    tx.commit().await?;
    tracing::info!(site_id, records = rows.len(), applied, stale = read.stale, "integrated pushed V6 records");
    Ok(applied)
}
