//! Sync settings: `GET` and `PUT /api/settings/sync`. (Filled in by the sync-engine issue.)

use axum::Router;

use super::SiteState;

/// Routes under `/api/settings`.
pub fn routes() -> Router<SiteState> {
    Router::new()
}
