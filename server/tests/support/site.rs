//! Test helpers for the sync engine: the real V5 and V6 centrals in-process
//! on port 0 with SQLite in a temporary folder, sites started the same way, and small tools
//! (a silent server for timeouts, waiting for a condition instead of sleeping).
#![allow(dead_code)]

#[path = "admin.rs"]
pub mod admin;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use outpost::central_v5::{self, V5State};
use outpost::central_v6::{self, V6State};
use outpost::serve::Running;
use outpost::site::sync::{EngineConfig, kv};
use outpost::site::{self, SiteConfig, SiteState};
use outpost::wire::client::Timeouts;
use outpost_api::{SyncSettings, SyncSettingsInput, SyncStatus};
use tempfile::TempDir;

pub fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// The centrals of one test.
pub struct World {
    pub dir: TempDir,
    pub v5: Option<Running>,
    pub v5_url: String,
    pub v5_state: V5State,
    pub v6_url: String,
    pub v6_state: V6State,
}

impl World {
    pub async fn start() -> World {
        let dir = tempfile::tempdir().unwrap();
        let v5_state = V5State::open(&outpost::db::sqlite_url(dir.path(), "legacy.db")).await.unwrap();
        let v5 = central_v5::serve_state(any_port(), v5_state.clone()).await.unwrap();
        let v5_url = v5.url();
        let (v6_url, v6_state) = start_v6(dir.path(), &v5_url).await;
        World { dir, v5: Some(v5), v5_url, v5_state, v6_url, v6_state }
    }

    /// Register a site with its stores; it is told the V6 central's URL.
    pub async fn add_site(&self, name: &str, password: &str, stores: &[&str]) -> i64 {
        self.add_site_with_v6(name, password, stores, &self.v6_url.clone()).await
    }

    pub async fn add_site_with_v6(&self, name: &str, password: &str, stores: &[&str], v6_url: &str) -> i64 {
        let new = central_v5::admin::NewSite {
            name: name.into(),
            password: password.into(),
            store_ids: stores.iter().map(|s| s.to_string()).collect(),
            central_v6_url: v6_url.into(),
            site_id: None,
        };
        central_v5::admin::add_site(&self.v5_state.db, &new).await.unwrap().site_id
    }

    /// Take the V5 central down (its data stays).
    pub async fn stop_v5(&mut self) {
        if let Some(v5) = self.v5.take() {
            v5.stop().await;
        }
    }
}

/// The V6 central. Until `central_v6` serves its sync API this is a minimal stand-in that
/// keeps what sites push and returns it on an initialising pull, so the engine's side can be
/// tested; it is replaced by the real central as soon as that lands.
/// The real V6 central, in-process on port 0, vouching for sites through the V5 central.
async fn start_v6(dir: &std::path::Path, legacy_url: &str) -> (String, V6State) {
    let state = V6State::open(&outpost::db::sqlite_url(dir, "central.db"), legacy_url).await.unwrap();
    let running = central_v6::serve_state(any_port(), state.clone()).await.unwrap();
    let url = running.url();
    // The central lives as long as the test process; tests that need it down use their own.
    std::mem::forget(running);
    (url, state)
}

/// Engine knobs for tests: short polls, no run at start, quick failure on a dead link.
pub fn fast() -> EngineConfig {
    EngineConfig {
        stall_timeout: Duration::from_secs(20),
        timeouts: Timeouts { connect: vec![Duration::from_millis(500); 3], idle_read: Duration::from_secs(10) },
        prepare_poll: Duration::from_millis(50),
        push_poll: Duration::from_millis(50),
        push_wait: Duration::from_secs(10),
        run_at_start: false,
        ..EngineConfig::default()
    }
}

pub struct TestSite {
    pub dir: TempDir,
    pub running: Running,
    pub state: SiteState,
    pub url: String,
}

impl TestSite {
    pub async fn start(config: EngineConfig) -> TestSite {
        let dir = tempfile::tempdir().unwrap();
        TestSite::start_in(dir, config).await
    }

    pub async fn start_in(dir: TempDir, config: EngineConfig) -> TestSite {
        let site_config = SiteConfig {
            listen: any_port(),
            data_dir: dir.path().to_path_buf(),
            public_url: None,
            app_dir: dir.path().join("no-app"),
            admin_password: Some(admin::ADMIN_PASSWORD.into()),
        };
        let (running, state) = site::start_with(site_config, config).await.unwrap();
        let url = running.url();
        TestSite { dir, running, state, url }
    }

    /// Save sync settings in-process (validated against the V5 central, like the API does).
    pub async fn configure(&self, world: &World, name: &str, password: &str) -> SyncSettings {
        let input = SyncSettingsInput {
            url: world.v5_url.clone(),
            site_name: name.into(),
            password: password.into(),
            interval_seconds: 3600,
            batch_size_push: Some(2),
            batch_size_pull: Some(3),
            is_disabled: false,
        };
        site::settings::save(&self.state, input).await.unwrap()
    }

    /// Run once and return the run's error, if any.
    pub async fn sync(&self) -> Option<outpost_api::SyncError> {
        self.state.sync.sync_and_wait().await
    }

    pub async fn status(&self) -> SyncStatus {
        let reply = reqwest::get(format!("{}/api/sync/status", self.url)).await.unwrap();
        assert!(reply.status().is_success());
        reply.json().await.unwrap()
    }

    /// A client signed in as this site's admin.
    pub async fn admin(&self) -> reqwest::Client {
        admin::admin_client(&self.url).await
    }

    pub async fn set_kv_string(&self, key: &str, value: &str) {
        kv::set_string(&self.state.db, key, value).await.unwrap();
    }

    pub async fn conn(&self) -> sqlx::pool::PoolConnection<sqlx::Sqlite> {
        self.state.db.acquire().await.unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&self.state.db).await.unwrap()
    }
}

/// Records the V5 central holds for a table (what sites pushed or the central wrote).
pub async fn v5_count(world: &World, table: &str) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) FROM record WHERE table_name = $1")
        .bind(table)
        .fetch_one(&world.v5_state.db.pool)
        .await
        .unwrap()
        .get::<i64, _>(0)
}

/// Records the V6 central holds for a table.
pub async fn v6_count(world: &World, table: &str) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) FROM record WHERE table_name = $1")
        .bind(table)
        .fetch_one(&world.v6_state.db.pool)
        .await
        .unwrap()
        .get::<i64, _>(0)
}

/// Poll `check` every 20 ms until it holds, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "condition not met within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A server that accepts connections and never answers (a stalled link).
pub async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(any_port()).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}
