//! A site in-process on port 0 with its data in a temporary folder, and engine knobs for tests.

use std::time::Duration;

use outpost::serve::Running;
use outpost::site::sync::{EngineConfig, kv};
use outpost::site::{self, SiteConfig, SiteState};
use outpost::wire::client::Timeouts;
use outpost_api::{SyncSettings, SyncSettingsInput, SyncStatus};
use tempfile::TempDir;

use crate::world::{World, any_port};

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
            allowed_hosts: Vec::new(),
            app_dir: Some(dir.path().join("no-app")),
            admin_password: Some(crate::admin::ADMIN_PASSWORD.into()),
            sync_badge_threshold: 1,
        };
        let (running, state) = site::start_with(site_config, config).await.unwrap();
        let url = running.url();
        TestSite { dir, running, state, url }
    }

    /// Save sync settings in-process (validated against the V5 central, like the API does).
    pub async fn configure(&self, world: &World, name: &str, password: &str) -> SyncSettings {
        let input = SyncSettingsInput {
            url: world.site_v5_url(),
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
        let reply = crate::http_get(format!("{}/api/sync/status", self.url)).await.unwrap();
        assert!(reply.status().is_success());
        reply.json().await.unwrap()
    }

    /// A client signed in as this site's admin.
    pub async fn admin(&self) -> reqwest::Client {
        crate::admin::admin_client(&self.url).await
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
