//! `/api/sync`: the status the Sync page polls, the Sync now button, and the quarantine of
//! records integration could not apply and of records a central refused.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use outpost_api::{QuarantinedRecord, RunQueued, SyncRun, SyncStatus};

use super::{buffer, refusals, run_log};
use crate::site::SiteState;
use crate::site::error::ApiError;
use crate::site::session::Admin;
use crate::site::settings;

pub fn routes() -> Router<SiteState> {
    Router::new()
        .route("/status", get(status))
        .route("/run", post(run))
        .route("/history", get(history))
        .route("/quarantine", get(quarantine))
        .route("/quarantine/retry", post(retry))
}

async fn status(State(state): State<SiteState>) -> Result<Json<SyncStatus>, ApiError> {
    Ok(Json(state.sync.status().await?))
}

async fn run(State(state): State<SiteState>) -> Result<(StatusCode, Json<RunQueued>), ApiError> {
    match settings::load(&state.db).await? {
        None => Err(ApiError::NotConfigured(
            "Sync is not configured yet: save the central server URL, site name and password in the sync settings first."
                .into(),
        )),
        Some(s) if s.is_disabled => {
            Err(ApiError::Conflict("Sync is disabled in the sync settings; enable it to sync.".into()))
        }
        Some(_) => Ok((StatusCode::ACCEPTED, Json(RunQueued { queued: state.sync.trigger() }))),
    }
}

/// How many runs the history shows.
const HISTORY_RUNS: u32 = 20;

/// The last runs, newest first (`GET /api/sync/history`).
async fn history(State(state): State<SiteState>) -> Result<Json<Vec<SyncRun>>, ApiError> {
    Ok(Json(run_log::history(&state.db, HISTORY_RUNS).await?))
}

/// Incoming records integration set aside, then outgoing records a central refused.
async fn quarantine(State(state): State<SiteState>) -> Result<Json<Vec<QuarantinedRecord>>, ApiError> {
    let mut list = buffer::quarantined(&state.db).await?;
    list.extend(refusals::list(&state.db).await?);
    Ok(Json(list))
}

/// Integrate the quarantined records again now (they are also retried by every run).
async fn retry(_: Admin, State(state): State<SiteState>) -> Result<(StatusCode, Json<RunQueued>), ApiError> {
    let running = state.sync.is_running();
    state.sync.retry_quarantine();
    Ok((StatusCode::ACCEPTED, Json(RunQueued { queued: running })))
}
