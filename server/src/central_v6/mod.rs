//! The V6 central: our implementation of the Open mSupply central's sync API
//! (`/central/sync/...`, reference sections 3.2 and 3.4), with its own database.
//!
//! - `legacy_auth`: credentials in each body, vouched for by the V5 central, cached briefly;
//! - `legacy_stores`: which site each store is active on, learnt as a V5 client of the legacy
//!   central (its own site there, Pull Central of the `store` records);
//! - `records`: rows and their changelog, plus the library upserts (assets) for demo and tests;
//! - `pull`: the per-site visibility query; `sync`: the routes, push buffer and integration;
//! - `body_budget`: what bodies cost, per caller and in all, before their credentials are checked;
//! - `error`: the one error type, and its mapping to the `{data}|{error}` envelope.

pub mod body_budget;
pub mod error;
pub mod legacy_auth;
pub mod legacy_stores;
pub mod pull;
pub mod records;
pub mod sync;

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{any, post};

use crate::central_shared::activity::Activities;
use crate::db::{self, CentralDb};
use crate::serve::{self, Running};

pub use records::{delete_record, upsert_asset, upsert_record};

pub static MIGRATIONS_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/central_v6/sqlite");
pub static MIGRATIONS_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/central_v6/postgres");

/// Largest pull page, whatever `batchSize` asks for.
pub const MAX_BATCH: u64 = 5000;
/// Largest push body accepted (after gzip decompression); larger ones get 413.
/// A push batch of the usual 500 records is well under 1 MB; the body is held whole while parsed
/// (about twice its size in memory), so this also bounds what one hostile body can cost.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Largest `pull` or `site_status` body: credentials and a few numbers, so a few KB at most.
/// Kept small because these bodies are read before the credentials are checked.
pub const SMALL_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct CentralV6Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// The legacy (V5) central that vouches for sites' credentials.
    pub legacy_url: String,
    /// What one site may hold in the push buffer, in bytes (`--max-push-buffer-mb`).
    pub max_push_buffer_bytes: u64,
    /// Reverse proxies whose `X-Forwarded-For` names the caller (`--trusted-proxy`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// This central's own site at the V5 central, to learn which site each store is on.
    pub legacy_site: Option<legacy_stores::LegacySite>,
    /// The bearer token `/metrics` asks for (`--metrics-token`); `None`: loopback callers only.
    pub metrics_token: Option<String>,
    /// How long a replica's claim on a site lives unrenewed (`--integration-lease-secs`;
    /// see `central_shared::activity`).
    pub integration_lease: std::time::Duration,
}

#[derive(Clone)]
pub struct V6State {
    pub db: CentralDb,
    pub legacy_url: String,
    pub legacy: legacy_auth::LegacyAuth,
    /// The store → site mapping, learnt from the legacy central as its V5 client.
    pub legacy_stores: legacy_stores::LegacyStores,
    /// Which sites' pushes are being integrated: in memory on SQLite, rows every replica sees on
    /// PostgreSQL (`central_shared::activity`).
    pub activity: Activities,
    /// False makes every `/central` route answer 405, as a server that is not the central does.
    pub is_central: bool,
    pub max_batch: u64,
    pub max_body_bytes: usize,
    /// What one site may hold in the push buffer, in bytes.
    pub max_push_buffer_bytes: u64,
    /// Failed logins per site name and per caller address (429 past the limit).
    pub failures: crate::ratelimit::FailureLimiter,
    /// Who may name the caller's address in `X-Forwarded-For` (nobody by default).
    pub trusted_proxies: crate::ratelimit::TrustedProxies,
    /// Bytes of bodies not yet vouched for that all callers together, and each caller address,
    /// may hold, and how long one may take to arrive ([`body_budget`]; see `sync::admit`).
    pub unauthenticated_bodies: body_budget::BodyBudget,
    /// What `/metrics` reports (`central_shared::metrics`).
    pub metrics: crate::central_shared::metrics::Metrics,
}

/// What all bodies read before their credentials are checked may hold together. Without it, a
/// few KB of gzip per connection, held back before its last bytes, kept an 8 MB body each:
/// 512 connections were 4 GB for about 4 MB sent. Past it a caller gets 503 with Retry-After.
/// One caller address may hold [`body_budget::CALLER_SHARE`] of it.
pub const UNAUTHENTICATED_BODY_BUDGET: usize = 64 * 1024 * 1024;

impl V6State {
    pub fn new(db: CentralDb, legacy_url: &str) -> Self {
        V6State {
            db: db.clone(),
            legacy_url: legacy_url.to_owned(),
            legacy: legacy_auth::LegacyAuth::new(legacy_url),
            legacy_stores: legacy_stores::LegacyStores::new(None),
            activity: Activities::for_database(&db, crate::central_shared::activity::DEFAULT_LEASE),
            is_central: true,
            max_batch: MAX_BATCH,
            max_body_bytes: MAX_BODY_BYTES,
            max_push_buffer_bytes: crate::central_shared::push_buffer::DEFAULT_MAX_BYTES,
            failures: crate::ratelimit::FailureLimiter::for_database(&db),
            trusted_proxies: Default::default(),
            unauthenticated_bodies: body_budget::BodyBudget::new(
                UNAUTHENTICATED_BODY_BUDGET,
                body_budget::CALLER_SHARE,
            ),
            metrics: Default::default(),
        }
    }

    /// The limit of the `pull` and `site_status` bodies (never above the push's).
    pub fn small_body_bytes(&self) -> usize {
        SMALL_BODY_BYTES.min(self.max_body_bytes)
    }

    pub async fn open(database_url: &str, legacy_url: &str) -> anyhow::Result<Self> {
        Ok(Self::new(open_db(database_url).await?, legacy_url))
    }

    /// Sign in to the legacy central as `site` (this central's own site there) to learn which
    /// site each store is active on. Without it no site owns a store here.
    pub fn with_legacy_site(mut self, site: legacy_stores::LegacySite) -> Self {
        self.legacy_stores = legacy_stores::LegacyStores::new(Some(site));
        self
    }
}

/// This central's SQLite database as `backup` and `restore` see it: sites keep `changelog`
/// cursors as their pull cursor.
pub fn database(path: &std::path::Path) -> crate::backup::Database<'_> {
    crate::backup::Database { path, role: "central", sequences: &["changelog"], marker: "legacy_store" }
}

pub async fn open_db(database_url: &str) -> anyhow::Result<CentralDb> {
    db::open_central(database_url, &MIGRATIONS_SQLITE, &MIGRATIONS_POSTGRES).await
}

/// Open the database, start learning the store mapping, and serve, over HTTPS when `tls` is given.
pub async fn start(config: CentralV6Config, tls: Option<serve::Tls>) -> anyhow::Result<Running> {
    let limits = db::SessionLimits::for_lease(config.integration_lease);
    let db = db::open_central_with(&config.database_url, &MIGRATIONS_SQLITE, &MIGRATIONS_POSTGRES, limits).await?;
    let mut state = V6State::new(db, &config.legacy_url);
    state.max_push_buffer_bytes = config.max_push_buffer_bytes;
    state.activity = Activities::for_database(&state.db, config.integration_lease);
    state.metrics = crate::central_shared::metrics::Metrics::new(config.metrics_token.as_deref());
    state.trusted_proxies = crate::ratelimit::TrustedProxies::new(config.trusted_proxies);
    match config.legacy_site {
        Some(site) => {
            state = state.with_legacy_site(site);
            // Learn the store mapping now rather than at the first site's call, which would wait.
            let first = state.clone();
            tokio::spawn(async move { first.legacy_stores.refresh(&first, true).await });
        }
        None => tracing::warn!(
            "no --legacy-site-name/--legacy-site-password: this central cannot learn which site each store is on, so sites see central data only and cannot push store data"
        ),
    }
    serve::start_tls(config.listen, router(state), tls).await
}

/// Serve an existing state (tests keep a clone to pause integration or inspect the database).
pub async fn serve_state(listen: SocketAddr, state: V6State) -> anyhow::Result<Running> {
    serve::start(listen, router(state)).await
}

pub fn router(state: V6State) -> Router {
    let max_body = state.max_body_bytes;
    // Each route reads its body itself, within its own limit counted after decompression (see
    // `sync::admit`); the outer layer's limit is the push's.
    let central = if state.is_central {
        Router::new()
            .route("/central/sync/pull", post(sync::pull))
            .route("/central/sync/push", post(sync::push))
            .route("/central/sync/site_status", post(sync::site_status))
    } else {
        Router::new().route("/central/{*rest}", any(not_central))
    };
    let (db, metrics) = (state.db.clone(), state.metrics.clone());
    crate::central_shared::finish_router(central.with_state(state), "central", db, metrics, max_body)
}

async fn not_central() -> (StatusCode, &'static str) {
    (StatusCode::METHOD_NOT_ALLOWED, "Method only allowed on central server.")
}
