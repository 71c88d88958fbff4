//! The site server: the database of one site, its JSON API, the browser app, and (in `sync`)
//! the engine that synchronises it with the two centrals.

pub mod admin;
pub mod app;
pub mod error;
pub mod host;
pub mod http;
pub mod server_info;
pub mod session;
pub mod settings;
pub mod store_data;
pub mod sync;

use std::net::SocketAddr;
use std::path::PathBuf;

use sqlx::SqlitePool;

use crate::serve::{self, Running};

pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/site");

/// The site's database as `backup` and `restore` see it: its pushes carry `changelog` cursors
/// as versions.
pub fn database(path: &std::path::Path) -> crate::backup::Database<'_> {
    crate::backup::Database { path, role: "site", sequences: &["changelog"], marker: "sync_log" }
}

/// How to start a site server.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    pub listen: SocketAddr,
    /// Folder holding `site.db`.
    pub data_dir: PathBuf,
    /// The URL people use to reach this server (shown with its QR code). When absent, the
    /// request's `Host` header decides.
    pub public_url: Option<String>,
    /// Host names the site answers to besides IP literals, `localhost` and the public URL's
    /// host (`--allowed-host`); any other `Host` gets 421 ([`host`]).
    pub allowed_hosts: Vec<String>,
    /// A folder holding the built browser app (index.html, pkg/, style/), for development;
    /// `None` serves the app built into the binary ([`app`]).
    pub app_dir: Option<PathBuf>,
    /// The admin password to set on first start (ignored once one is stored). `None` on a
    /// first start generates one and prints it once.
    pub admin_password: Option<String>,
    /// Records waiting to be sent before the Sync link in the app's navigation shows their
    /// count (`--sync-badge-threshold`, default 1).
    pub sync_badge_threshold: u64,
}

/// What every request handler can reach.
#[derive(Clone)]
pub struct SiteState {
    pub db: SqlitePool,
    pub public_url: Option<String>,
    /// Served over HTTPS (`--tls-cert`): the address shown without --public-url says https://.
    pub https: bool,
    pub sync_badge_threshold: u64,
    /// The sync engine (its driver runs in the background).
    pub sync: sync::SyncEngine,
    /// Failed admin logins per source address.
    pub login_failures: crate::ratelimit::FailureLimiter,
}

/// Open the database, apply migrations, start the sync engine, and serve the API and the app
/// in the background.
pub async fn start(config: SiteConfig) -> anyhow::Result<Running> {
    Ok(start_with(config, sync::EngineConfig::default()).await?.0)
}

/// Like [`start`], with the engine's knobs, returning the state too, so a caller in the same
/// process can configure sync ([`settings::save`]) or watch the engine.
pub async fn start_with(config: SiteConfig, engine: sync::EngineConfig) -> anyhow::Result<(Running, SiteState)> {
    start_tls(config, engine, None).await
}

/// Like [`start_with`], serving HTTPS when `tls` is given.
pub async fn start_tls(
    config: SiteConfig,
    engine: sync::EngineConfig,
    tls: Option<serve::Tls>,
) -> anyhow::Result<(Running, SiteState)> {
    let state = open(&config, engine).await?;
    let running = serve(&config, state.clone(), tls).await?;
    Ok((running, state))
}

/// The site without its listener: the database (migrated), the admin password and the sync
/// engine. A caller that must prepare the site before anyone can reach it (the demo configures
/// sync first) then calls [`serve`].
pub async fn open(config: &SiteConfig, engine: sync::EngineConfig) -> anyhow::Result<SiteState> {
    let db = crate::db::open_sqlite(&config.data_dir.join("site.db"), &MIGRATIONS).await?;
    if let Some(generated) = admin::ensure_password(&db, config.admin_password.as_deref()).await? {
        // Deliberately stdout, not the log: shown once to whoever started the server.
        println!("admin password (generated, shown only this once): {generated}");
    }
    let sync = sync::SyncEngine::start(db.clone(), engine).await?;
    let state = SiteState {
        db,
        public_url: config.public_url.clone(),
        https: false,
        sync_badge_threshold: config.sync_badge_threshold,
        sync,
        login_failures: Default::default(),
    };
    Ok(state)
}

/// Bind the listener and serve the API and the app for an [`open`]ed site.
pub async fn serve(config: &SiteConfig, state: SiteState, tls: Option<serve::Tls>) -> anyhow::Result<Running> {
    let hosts = host::AllowedHosts::new(config.public_url.as_deref(), &config.allowed_hosts);
    let state = SiteState { https: tls.is_some(), ..state };
    serve::start_tls(config.listen, http::router(state, config.app_dir.as_deref(), hosts), tls).await
}
