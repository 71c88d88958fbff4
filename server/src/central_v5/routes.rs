//! The seven routes of the legacy sync API (reference section 3.1), and nothing else: the V6
//! central learns which site each store is on as a V5 client, as the reference's does. Handlers
//! only translate between the wire and the modules that do the work.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::auth::AuthSite;
use super::error::{V5Error, V5Result};
use super::{CENTRAL_SITE_ID, V5State, data, push, queue, sites};
use crate::central_shared::INTEGRATION_WAIT;
use crate::central_shared::activity::{Activity, BusyGuard, ClaimLost};
use crate::wire::v5::{
    Acknowledge, CentralRecords, InitialiseResponse, PushRequest, PushResponse, QueuedRecords, SiteInfo, SiteStatus,
    SiteStatusCode,
};

/// A JSON body whose rejections (bad JSON, too large) use the legacy error envelope. Read
/// whatever the `Content-Type`, or without one: the reference's client sets none (§3.1). The
/// body is bounded (the route's limit, after gzip decompression) before it is parsed.
pub struct V5Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for V5Json<T> {
    type Rejection = V5Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(req, state).await.map_err(bytes_rejection)?;
        serde_json::from_slice(&body)
            .map(V5Json)
            .map_err(|e| V5Error::BadRequest(format!("body is not the expected JSON: {e}")))
    }
}

fn bytes_rejection(e: BytesRejection) -> V5Error {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        V5Error::PayloadTooLarge
    } else {
        V5Error::BadRequest(e.body_text())
    }
}

fn query_rejection(e: QueryRejection) -> V5Error {
    V5Error::BadRequest(e.body_text())
}

/// What `site_id` is busy with (on PostgreSQL: on any replica). Work orphaned by a replica
/// that died is taken over here, by whichever replica the site asks next (see
/// `central_shared::activity`), and reported as running until it ends.
async fn busy_with(state: &V5State, site_id: i64) -> V5Result<Option<Activity>> {
    let Some(busy) = state.activity.current(site_id).await? else { return Ok(None) };
    if !busy.orphaned {
        return Ok(Some(busy.activity));
    }
    tracing::warn!(site_id, activity = ?busy.activity, "taking over work whose replica is gone");
    match busy.activity {
        Activity::Integrating => match push::start_integration(state, site_id).await {
            Ok(()) | Err(V5Error::SyncIsRunning(_)) => {}
            Err(e) => return Err(e),
        },
        Activity::Initialising => match start_preparation(state, site_id).await {
            Ok(_) | Err(V5Error::SyncIsRunning(_)) => {}
            Err(e) => return Err(e),
        },
    }
    Ok(state.activity.current(site_id).await?.map(|b| b.activity))
}

async fn ensure_idle(state: &V5State, site_id: i64) -> V5Result<()> {
    match busy_with(state, site_id).await? {
        None => Ok(()),
        Some(Activity::Initialising) => Err(V5Error::SyncIsRunning("initialisation")),
        Some(Activity::Integrating) => Err(V5Error::SyncIsRunning("integration")),
    }
}

fn clamp_limit(state: &V5State, limit: Option<u64>) -> u64 {
    limit.unwrap_or(500).clamp(1, state.limits.max_limit)
}

pub async fn site(State(_): State<V5State>, AuthSite(site): AuthSite) -> Json<SiteInfo> {
    Json(SiteInfo {
        id: site.site_uuid.clone(),
        site_id: site.site_id,
        code: site.code.clone(),
        name: site.name.clone(),
        initialisation_status: site.status(),
        is_om_supply_central_server: false,
        om_supply_central_server_url: site.om_supply_central_server_url.clone(),
        m_supply_central_site_id: CENTRAL_SITE_ID,
    })
}

/// While nothing runs for the site, a failure of its last integration is answered as the
/// reference's `integration_error` code (until its next integration starts), so the site shows
/// `INTEGRATION_ERROR` rather than believing its push applied; otherwise the records its last
/// integration refused are answered in `data.refused` (`central_shared::push_refused`).
pub async fn site_status(State(state): State<V5State>, AuthSite(site): AuthSite) -> V5Result<Json<SiteStatus>> {
    let (code, message) = match busy_with(&state, site.site_id).await? {
        None => {
            let mut conn = state.db.pool.acquire().await?;
            if let Some(why) = crate::central_shared::push_refused::failure(&mut conn, site.site_id).await? {
                return Err(V5Error::IntegrationFailed(why));
            }
            let refused = crate::central_shared::push_refused::list(&mut conn, site.site_id).await?;
            // Outpost extension in the status's free `data` (a reference site ignores it): the
            // records of the last push refused at integration.
            let data = (!refused.is_empty()).then(|| serde_json::json!({ "refused": refused }));
            return Ok(Json(SiteStatus { code: SiteStatusCode::Idle, message: "Idle".into(), data }));
        }
        Some(Activity::Initialising) => (SiteStatusCode::InitialisationInProgress, "Initialisation in progress"),
        Some(Activity::Integrating) => (SiteStatusCode::IntegrationInProgress, "Integration in progress"),
    };
    Ok(Json(SiteStatus { code, message: message.into(), data: None }))
}

/// `POST initialise`: start preparing the site's queue and answer at once, as soon as the
/// preparation ends or after [`INTEGRATION_WAIT`] at most (then `queueLength` is 0 and the site
/// learns the outcome the way it would anyway: `site_status` until idle, then the site info's
/// `initialisationStatus`).
///
/// Why not answer when done, as the reference does: a large site's preparation outlasts the
/// site's patience for one call (its idle-read timeout); the site then gave up, asked again,
/// met `sync_is_running`, and its run failed; every run after that did the same. The preparation
/// runs on its own task, so neither a dropped connection nor the answer cancels it half-way.
/// A site already being prepared is answered `sync_is_running`, and polls.
pub async fn initialise(State(state): State<V5State>, AuthSite(site): AuthSite) -> V5Result<Json<InitialiseResponse>> {
    // Deviation (README): refused here only, not on every call as the legacy central may, since
    // the V6 central's own site has no store and must still sign in and pull central records.
    {
        let mut conn = state.db.pool.acquire().await?;
        if data::stores_of_site(&mut conn, site.site_id).await?.is_empty() {
            return Err(V5Error::SiteHasNoStore);
        }
    }
    {
        // Before answering: a site that polls right away sees "started", never a stale status.
        // Set before the claim, so a site answered "busy" never finds an older status after.
        let mut conn = state.db.pool.acquire().await?;
        if state.activity.current(site.site_id).await?.is_some_and(|b| !b.orphaned) {
            return Err(V5Error::SyncIsRunning("initialisation"));
        }
        sites::set_status(&mut conn, site.site_id, "started").await?;
    }
    start_preparation(&state, site.site_id).await.map(|queue_length| Json(InitialiseResponse { queue_length }))
}

/// Prepare `site_id`'s queue on its own task (a claim on the site, see `activity`), and wait
/// up to [`INTEGRATION_WAIT`] for it: the queue length, or 0 while it still runs.
async fn start_preparation(state: &V5State, site_id: i64) -> V5Result<u64> {
    let busy = state
        .activity
        .begin(site_id, Activity::Initialising)
        .await?
        .map_err(|_| V5Error::SyncIsRunning("initialisation"))?;
    let state = state.clone();
    let work = tokio::spawn(async move {
        let outcome = {
            let _permit = state.activity.integration_permit().await;
            prepare_queue(&state, site_id, &busy).await
        };
        busy.release().await;
        outcome
    });
    match tokio::time::timeout(INTEGRATION_WAIT, work).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => Err(V5Error::Internal(anyhow::anyhow!("site preparation task failed: {e}"))),
        Err(_still_running) => Ok(0),
    }
}

/// Prepare the queue under `busy`'s claim: every chunk, and the status written at the end, is
/// fenced by it (`BusyGuard::fence`), so a replica whose preparation was taken over (its lease
/// ran out while it still ran) stops at its next chunk and writes no status: the replica that
/// took over decides both the queue and the outcome.
async fn prepare_queue(state: &V5State, site_id: i64, busy: &BusyGuard) -> V5Result<u64> {
    let outcome = queue::initialise(&state.db, site_id, state.prepare_pause, busy).await;
    if let Err(e) = &outcome
        && let Some(lost) = e.downcast_ref::<ClaimLost>()
    {
        tracing::warn!(site_id, "{lost}");
        return Ok(0);
    }
    let status = if outcome.is_ok() { "completed" } else { "error" };
    let written = async {
        let mut tx = state.db.begin_write().await?;
        busy.fence(&mut tx).await?;
        sites::set_status(&mut tx, site_id, status).await?;
        tx.commit().await?;
        anyhow::Ok(())
    }
    .await;
    match outcome {
        Ok(queue_length) => {
            written?;
            tracing::info!(site_id, queue_length, "site queue initialised");
            Ok(queue_length)
        }
        Err(e) => {
            // Logged here, not only in the answer: the site that asked may be gone by now.
            tracing::error!(site_id, error = %format!("{e:#}"), "site queue preparation failed");
            if let Err(w) = written {
                tracing::error!(site_id, error = %format!("{w:#}"), "could not record the failed preparation");
            }
            Err(V5Error::Internal(e))
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CentralQuery {
    cursor: Option<u64>,
    limit: Option<u64>,
}

pub async fn central_records(
    State(state): State<V5State>,
    AuthSite(site): AuthSite,
    query: Result<Query<CentralQuery>, QueryRejection>,
) -> V5Result<Json<CentralRecords>> {
    let Query(q) = query.map_err(query_rejection)?;
    let cursor = q.cursor.unwrap_or(0).min(i64::MAX as u64) as i64;
    let limit = clamp_limit(&state, q.limit);
    let records = super::changelog::page(&state.db, cursor, limit).await?;
    state.metrics.pulled(site.site_id, records.data.len());
    Ok(Json(records))
}

#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    limit: Option<u64>,
}

pub async fn queued_records(
    State(state): State<V5State>,
    AuthSite(site): AuthSite,
    query: Result<Query<QueueQuery>, QueryRejection>,
) -> V5Result<Json<QueuedRecords>> {
    let Query(q) = query.map_err(query_rejection)?;
    ensure_idle(&state, site.site_id).await?;
    let mut conn = state.db.pool.acquire().await?;
    let records = queue::read(&mut conn, site.site_id, clamp_limit(&state, q.limit)).await?;
    state.metrics.pulled(site.site_id, records.data.len());
    Ok(Json(records))
}

pub async fn acknowledged_records(
    State(state): State<V5State>,
    AuthSite(site): AuthSite,
    V5Json(ack): V5Json<Acknowledge>,
) -> V5Result<StatusCode> {
    ensure_idle(&state, site.site_id).await?;
    queue::acknowledge(&state.db, site.site_id, &ack.sync_ids).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn push_records(
    State(state): State<V5State>,
    AuthSite(site): AuthSite,
    V5Json(request): V5Json<PushRequest>,
) -> V5Result<Json<PushResponse>> {
    ensure_idle(&state, site.site_id).await?;
    Ok(Json(push::receive(&state, &site, request).await?))
}
