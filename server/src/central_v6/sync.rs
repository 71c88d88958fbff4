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
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::Row;

use super::legacy_auth::Caller;
use super::reply::{Reply, TOO_LARGE, internal};
use super::{V6State, pull, records};
use crate::wire::v5::{ErrorBody, code};
use crate::wire::v6::{
    Action, ErrorValue, PullRequest, PushRequest, PushResult, SUPPORTED_VERSIONS, SiteStatusRequest, SiteStatusResult,
    SyncBatch, SyncV5Settings,
};

/// The caller's address, when the server was started with connect info (always, outside tests
/// that drive the router directly).
pub struct Peer(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())))
    }
}

/// Parse the body, check the version and the credentials (within the failure limit).
async fn admit<T: DeserializeOwned>(
    state: &V6State,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Result<(T, Caller), ErrorValue> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ErrorValue::OtherServerError(TOO_LARGE.into())
        } else {
            ErrorValue::OtherServerError(e.body_text())
        }
    })?;
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| ErrorValue::OtherServerError(format!("body is not JSON: {e}")))?;
    let version = value.get("syncV6Version").and_then(Value::as_u64);
    match version {
        Some(v) if (SUPPORTED_VERSIONS.0 as u64..=SUPPORTED_VERSIONS.1 as u64).contains(&v) => {}
        other => {
            let received = other.map_or(u32::MAX, |v| v.min(u32::MAX as u64) as u32);
            return Err(ErrorValue::SyncVersionMismatch(SUPPORTED_VERSIONS.0, SUPPORTED_VERSIONS.1, received));
        }
    }
    let request: T =
        serde_json::from_value(value).map_err(|e| ErrorValue::OtherServerError(format!("bad request body: {e}")))?;
    let settings = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| serde_json::from_value(v.get("syncV5Settings")?.clone()).ok())
        .ok_or_else(|| ErrorValue::OtherServerError("missing syncV5Settings".into()))?;
    let settings: SyncV5Settings = settings;
    let keys = [
        format!("site:{}", settings.username),
        format!("addr:{}", peer.0.map_or("unknown".into(), |ip| ip.to_string())),
    ];
    if let Err(wait) = state.failures.check(&keys) {
        return Err(too_many_attempts(crate::ratelimit::retry_after_seconds(wait)));
    }
    let caller = state.legacy.check(&settings, peer.0).await.inspect_err(|e| {
        if let ErrorValue::LegacyServerError(body) = e
            && matches!(body.code.as_str(), code::SITE_NAME_NOT_FOUND | code::SITE_INCORRECT_PASSWORD)
        {
            state.failures.fail(&keys);
        }
    })?;
    Ok((request, caller))
}

/// The V5 central's lock-out, in its own words, so the site shows the same variant either way.
fn too_many_attempts(seconds: u64) -> ErrorValue {
    ErrorValue::LegacyServerError(ErrorBody {
        code: code::SITE_AUTH_TIMEOUT.into(),
        message: format!("too many failed authentication attempts; retry in {seconds} seconds"),
        data: Some(serde_json::json!({ "retryAfter": seconds })),
    })
}

fn ensure_not_integrating(state: &V6State, caller: &Caller) -> Result<(), ErrorValue> {
    if state.activity.current(caller.site_id).is_some() { Err(ErrorValue::IntegrationInProgress) } else { Ok(()) }
}

pub async fn pull(State(state): State<V6State>, peer: Peer, body: Result<Bytes, BytesRejection>) -> Reply<SyncBatch> {
    Reply(
        async {
            let (request, caller): (PullRequest, _) = admit(&state, peer, body).await?;
            ensure_not_integrating(&state, &caller)?;
            let batch = request.batch_size.clamp(1, state.max_batch as u32) as u64;
            let cursor = request.cursor.min(i64::MAX as u64) as i64;
            pull::page(&state.db, &caller, cursor, batch, request.is_initialised).await.map_err(internal)
        }
        .await,
    )
}

pub async fn site_status(
    State(state): State<V6State>,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Reply<SiteStatusResult> {
    Reply(
        async {
            let (_, caller): (SiteStatusRequest, _) = admit(&state, peer, body).await?;
            Ok(SiteStatusResult { is_integrating: state.activity.current(caller.site_id).is_some() })
        }
        .await,
    )
}

pub async fn push(State(state): State<V6State>, peer: Peer, body: Result<Bytes, BytesRejection>) -> Reply<PushResult> {
    Reply(
        async {
            let (request, caller): (PushRequest, _) = admit(&state, peer, body).await?;
            ensure_not_integrating(&state, &caller)?;
            let pushed = buffer(&state, &caller, &request).await?;
            if request.batch.is_last_batch {
                // Like the V5 central, answer once integrated (or after a short while), so the
                // site's first status poll usually finds it done.
                let finished = start_integration(&state, caller.site_id)?;
                let _ = tokio::time::timeout(crate::central_shared::INTEGRATION_WAIT, finished).await;
            }
            Ok(PushResult { records_pushed: pushed })
        }
        .await,
    )
}

/// Keep the batch in the site's buffer, refusing rows of stores that are not the site's.
async fn buffer(state: &V6State, caller: &Caller, request: &PushRequest) -> Result<u64, ErrorValue> {
    let mut tx = state.db.begin_write().await.map_err(internal)?;
    for item in &request.batch.records {
        let r = &item.record;
        let store = records::store_of(&r.record_data);
        let previous = records::stored_store(&mut tx, &r.table_name, &r.record_id).await.map_err(internal)?.flatten();
        // A row of no store is the central's own: no site may write or delete it.
        if store.is_none() && previous.is_none() {
            return Err(ErrorValue::OtherServerError(format!(
                "{} {}: a record of no store belongs to the central; site {} may only push its stores' records",
                r.table_name, r.record_id, caller.site_id
            )));
        }
        for s in store.iter().chain(previous.iter()) {
            if !caller.store_ids.contains(s) {
                return Err(ErrorValue::OtherServerError(format!(
                    "{} {}: store {s} is not active on site {}",
                    r.table_name, r.record_id, caller.site_id
                )));
            }
        }
        let action = if r.action == Action::Delete { "delete" } else { "upsert" };
        sqlx::query(
            "INSERT INTO sync_buffer (site_id, table_name, record_id, action, store_id, data) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (site_id, table_name, record_id) DO UPDATE SET action = excluded.action,
             store_id = excluded.store_id, data = excluded.data",
        )
        .bind(caller.site_id)
        .bind(&r.table_name)
        .bind(&r.record_id)
        .bind(action)
        .bind(store)
        .bind(r.record_data.to_string())
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    }
    tx.commit().await.map_err(internal)?;
    Ok(request.batch.records.len() as u64)
}

/// Integrate in the background; the receiver resolves when the site is no longer busy.
fn start_integration(state: &V6State, site_id: i64) -> Result<tokio::sync::oneshot::Receiver<()>, ErrorValue> {
    let guard = state
        .activity
        .begin(site_id, crate::central_shared::activity::Activity::Integrating)
        .map_err(|_| ErrorValue::IntegrationInProgress)?;
    let state = state.clone();
    let (done, finished) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let busy = guard;
        let _permit = state.activity.integration_permit().await;
        if let Err(e) = integrate(&state, site_id).await {
            tracing::error!(site_id, error = %format!("{e:#}"), "integration of pushed V6 records failed");
        }
        drop(busy);
        let _ = done.send(());
    });
    Ok(finished)
}

/// Apply the site's buffer in one transaction, stamping each change with the site as source.
pub async fn integrate(state: &V6State, site_id: i64) -> anyhow::Result<usize> {
    let mut tx = records::begin(&state.db).await?;
    let rows = sqlx::query(
        "SELECT table_name, record_id, action, data FROM sync_buffer WHERE site_id = $1 ORDER BY table_name, record_id",
    )
    .bind(site_id)
    .fetch_all(&mut *tx)
    .await?;
    for r in &rows {
        let (table, id, action): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        if action == "delete" {
            records::delete(&mut tx, &table, &id, Some(site_id)).await?;
        } else {
            let data: Value = serde_json::from_str(&r.get::<Option<String>, _>(3).unwrap_or_default())?;
            records::upsert(&mut tx, &table, &id, &data, Some(site_id)).await?;
        }
    }
    sqlx::query("DELETE FROM sync_buffer WHERE site_id = $1").bind(site_id).execute(&mut *tx).await?;
    tx.commit().await?;
    tracing::info!(site_id, records = rows.len(), "integrated pushed V6 records");
    Ok(rows.len())
}
