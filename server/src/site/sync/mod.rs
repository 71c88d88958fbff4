//! The site's sync engine. (Filled in by the sync-engine issue.)

use axum::Router;

use super::SiteState;

/// Routes under `/api/sync`.
pub fn routes() -> Router<SiteState> {
    Router::new()
}
