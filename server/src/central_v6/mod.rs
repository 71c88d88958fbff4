//! The V6 central: our implementation of the Open mSupply central's sync API
//! (`/central/sync/...`, reference sections 3.2 and 3.4), with its own database.

use std::net::SocketAddr;

use axum::routing::get;
use axum::{Json, Router};
use outpost_api::Health;

use crate::db::{self, CentralDb};
use crate::serve::{self, Running};

pub static MIGRATIONS_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/central_v6/sqlite");
pub static MIGRATIONS_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/central_v6/postgres");

#[derive(Debug, Clone)]
pub struct CentralV6Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// The legacy (V5) central that vouches for sites' credentials.
    pub legacy_url: String,
}

#[derive(Clone)]
pub struct V6State {
    pub db: CentralDb,
    pub legacy_url: String,
}

pub async fn open_db(database_url: &str) -> anyhow::Result<CentralDb> {
    db::open_central(database_url, &MIGRATIONS_SQLITE, &MIGRATIONS_POSTGRES).await
}

pub async fn start(config: CentralV6Config) -> anyhow::Result<Running> {
    let db = open_db(&config.database_url).await?;
    serve::start(config.listen, router(V6State { db, legacy_url: config.legacy_url })).await
}

pub fn router(state: V6State) -> Router {
    Router::new().route("/health", get(health)).with_state(state)
}

async fn health() -> Json<Health> {
    Json(Health { status: "ok".into(), role: "central".into(), version: env!("CARGO_PKG_VERSION").into() })
}
