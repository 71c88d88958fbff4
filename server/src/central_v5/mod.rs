//! The V5 central: our implementation of the legacy mSupply central's sync API
//! (`/sync/v5/...`, reference section 3.1), with its own database (SQLite or PostgreSQL).
//!
//! - `auth`: version header, Basic credentials against Argon2id, hardware-id binding;
//! - `data`: the record table, the central change log and the queues, written together;
//! - `changelog`, `queue`, `push`: what the routes page through, drain and receive (the push
//!   buffer, busy sites and background integration are `central_shared`'s);
//! - `error`: the one error type, and its mapping to a status and the legacy envelope;
//! - `admin`, `seed`: the `legacy-central` subcommands, also callable in-process.

pub mod admin;
pub mod auth;
mod bulk;
pub mod changelog;
pub mod data;
pub mod error;
pub mod push;
pub mod queue;
mod queue_length;
mod routes;
pub mod seed;
pub mod sites;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::{get, post};

use crate::db::{self, CentralDb};
use crate::serve::{self, Running};

pub static MIGRATIONS_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/central_v5/sqlite");
pub static MIGRATIONS_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/central_v5/postgres");

/// The legacy central's own site id, reported as `mSupplyCentralSiteId`. Sites are numbered
/// from 1 and never get this id.
pub const CENTRAL_SITE_ID: i64 = 1000;
/// Largest page `central_records` and `queued_records` return, whatever `limit` asks for.
pub const MAX_LIMIT: u64 = 5000;
/// Largest request body accepted (after gzip decompression); larger ones get 413.
/// A push batch of the usual 500 records is well under 1 MB; the body is held whole while parsed
/// (about twice its size in memory), so this also bounds what one hostile body can cost.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Largest body of the routes that carry no records (`initialise`, `acknowledged_records`: at
/// most a page of sync ids).
pub const SMALL_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct CentralV5Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// Peers whose forwarded caller address is believed (`--trusted-proxy`; see `auth`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// What one site may hold in the push buffer, in bytes.
    pub max_push_buffer_bytes: u64,
    /// The bearer token `/metrics` asks for (`--metrics-token`); `None`: loopback callers only.
    pub metrics_token: Option<String>,
    /// How long a replica's claim on a site lives unrenewed (`--integration-lease-secs`;
    /// see `central_shared::activity`).
    pub integration_lease: std::time::Duration,
}

#[derive(Clone)]
pub struct V5State {
    pub db: CentralDb,
    pub auth: auth::AuthCache,
    pub activity: crate::central_shared::activity::Activities,
    pub limits: Limits,
    /// Failed logins per site name and per source address (429 past the limit).
    pub failures: crate::ratelimit::FailureLimiter,
    /// Who may name the source address in a forwarded header (nobody by default).
    pub trusted_proxies: crate::ratelimit::TrustedProxies,
    /// A pause before each chunk of a site's preparation: zero, except in tests that need a
    /// preparation slower than a site's patience.
    pub prepare_pause: std::time::Duration,
    /// What `/metrics` reports (`central_shared::metrics`).
    pub metrics: crate::central_shared::metrics::Metrics,
}

/// Caps on what one request may ask for or send; tests lower them to prove they hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_limit: u64,
    pub max_body_bytes: usize,
    /// What one site may hold in the push buffer, in bytes (`--max-push-buffer-mb`).
    pub max_push_buffer_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_limit: MAX_LIMIT,
            max_body_bytes: MAX_BODY_BYTES,
            max_push_buffer_bytes: crate::central_shared::push_buffer::DEFAULT_MAX_BYTES,
        }
    }
}

impl V5State {
    pub fn new(db: CentralDb) -> Self {
        V5State {
            activity: crate::central_shared::activity::Activities::for_database(
                &db,
                crate::central_shared::activity::DEFAULT_LEASE,
            ),
            failures: crate::ratelimit::FailureLimiter::for_database(&db),
            db,
            auth: Default::default(),
            limits: Limits::default(),
            trusted_proxies: Default::default(),
            prepare_pause: std::time::Duration::ZERO,
            metrics: Default::default(),
        }
    }

    pub async fn open(database_url: &str) -> anyhow::Result<Self> {
        Ok(Self::new(open_db(database_url).await?))
    }
}

/// This central's SQLite database as `backup` and `restore` see it: sites keep `central_change`
/// ids as their pull cursor and `sync_out` ids to acknowledge their queue.
pub fn database(path: &std::path::Path) -> crate::backup::Database<'_> {
    crate::backup::Database {
        path,
        role: "legacy-central",
        sequences: &["central_change", "sync_out"],
        marker: "central_change",
    }
}

pub async fn open_db(database_url: &str) -> anyhow::Result<CentralDb> {
    db::open_central(database_url, &MIGRATIONS_SQLITE, &MIGRATIONS_POSTGRES).await
}

/// Open the database and serve, over HTTPS when `tls` is given.
pub async fn start(config: CentralV5Config, tls: Option<serve::Tls>) -> anyhow::Result<Running> {
    let limits = db::SessionLimits::for_lease(config.integration_lease);
    let mut state = V5State::new(
        db::open_central_with(&config.database_url, &MIGRATIONS_SQLITE, &MIGRATIONS_POSTGRES, limits).await?,
    );
    state.trusted_proxies = crate::ratelimit::TrustedProxies::new(config.trusted_proxies);
    state.limits.max_push_buffer_bytes = config.max_push_buffer_bytes;
    state.activity = crate::central_shared::activity::Activities::for_database(&state.db, config.integration_lease);
    state.metrics = crate::central_shared::metrics::Metrics::new(config.metrics_token.as_deref());
    serve::start_tls(config.listen, router(state), tls).await
}

/// Serve an existing state (tests keep a clone to pause integration or inspect the database).
pub async fn serve_state(listen: SocketAddr, state: V5State) -> anyhow::Result<Running> {
    serve::start(listen, router(state)).await
}

pub fn router(state: V5State) -> Router {
    let max_body = state.limits.max_body_bytes;
    // Each route's own limit, counted after decompression (the outer layer's limit is the push's).
    let small = axum::extract::DefaultBodyLimit::max(SMALL_BODY_BYTES.min(max_body));
    let sync = Router::new()
        .route("/site", get(routes::site))
        .route("/site_status", get(routes::site_status))
        .route("/initialise", post(routes::initialise).layer(small))
        .route("/central_records", get(routes::central_records))
        .route("/queued_records", get(routes::queued_records).post(routes::push_records))
        .route("/acknowledged_records", post(routes::acknowledged_records).layer(small));
    let (db, metrics) = (state.db.clone(), state.metrics.clone());
    let routes = Router::new().nest("/sync/v5", sync).with_state(state);
    crate::central_shared::finish_router(routes, "legacy-central", db, metrics, max_body)
}
