//! The V5 central: our implementation of the legacy mSupply central's sync API
//! (`/sync/v5/...`, reference section 3.1), with its own database.

use std::net::SocketAddr;

use axum::routing::get;
use axum::{Json, Router};
use outpost_api::Health;

use crate::db::{self, CentralDb};
use crate::serve::{self, Running};

pub static MIGRATIONS_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/central_v5/sqlite");
pub static MIGRATIONS_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/central_v5/postgres");

#[derive(Debug, Clone)]
pub struct CentralV5Config {
    pub listen: SocketAddr,
    pub database_url: String,
}

#[derive(Clone)]
pub struct V5State {
    pub db: CentralDb,
}

pub async fn open_db(database_url: &str) -> anyhow::Result<CentralDb> {
    db::open_central(database_url, &MIGRATIONS_SQLITE, &MIGRATIONS_POSTGRES).await
}

pub async fn start(config: CentralV5Config) -> anyhow::Result<Running> {
    let db = open_db(&config.database_url).await?;
    serve::start(config.listen, router(V5State { db })).await
}

pub fn router(state: V5State) -> Router {
    Router::new().route("/health", get(health)).with_state(state)
}

async fn health() -> Json<Health> {
    Json(Health { status: "ok".into(), role: "legacy-central".into(), version: env!("CARGO_PKG_VERSION").into() })
}
