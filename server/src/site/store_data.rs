//! The Store data API: the site's locations and assets (read and write, through the
//! changelog) and its stock lines and invoices (read-only). (Filled in by the sync-engine issue.)

use axum::Router;

use super::SiteState;

/// Routes under `/api/store-data`.
pub fn routes() -> Router<SiteState> {
    Router::new()
}
