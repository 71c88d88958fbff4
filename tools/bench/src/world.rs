//! The world a bench runs in, built with the test kit (`outpost-testkit`): the V5 and V6
//! centrals in this process (SQLite, temporary folder), each behind a bytes-only relay so the
//! bytes on the wire are counted where they travel, and the site as a child process
//! (`outpost site`, [`SiteProcess`]) so its memory is its own. What is the bench's own here is
//! its data (the seeded records, the site's name and stores) and how it drives the site: over
//! the HTTP API, as a person on the Admin and Sync pages does.

use std::time::{Duration, Instant};

use outpost_api::SyncStatus;
use outpost_testkit::{SiteProcess, World, admin_client};
use serde_json::json;

use crate::BenchOptions;

pub const SITE_NAME: &str = "bench-site";
pub const PASSWORD: &str = "bench";
pub const STORES: [&str; 2] = ["bench-store-a", "bench-store-b"];

/// Both centrals with their relays, and the site process.
pub struct BenchWorld {
    /// The centrals; its folder also holds the site's data folder (`site/`).
    pub centrals: World,
    pub site: SiteProcess,
    /// Signed in to the site as its admin.
    pub http: reqwest::Client,
    pub seeded: u64,
}

impl BenchWorld {
    pub async fn start(options: &BenchOptions) -> anyhow::Result<BenchWorld> {
        let centrals = World::builder().byte_relays().start().await;
        centrals.add_site(SITE_NAME, PASSWORD, &STORES).await;
        let stores: Vec<String> = STORES.iter().map(|s| s.to_string()).collect();
        eprintln!("seeding {} records on the V5 central...", options.records);
        let seeded = outpost::central_v5::seed::seed(&centrals.v5_state.db, options.records, &stores).await?.records;
        let site = SiteProcess::start_logging(&options.site_exe, &centrals.dir.path().join("site"), "warn").await;
        let http = admin_client(&site.url).await;
        Ok(BenchWorld { centrals, site, http, seeded })
    }

    /// Bytes the site sent and received through both relays so far (up, down).
    pub fn wire_bytes(&self) -> (u64, u64) {
        self.centrals.site_bytes()
    }

    pub async fn status(&self) -> anyhow::Result<SyncStatus> {
        let reply = self.http.get(format!("{}/api/sync/status", self.site.url)).send().await?;
        anyhow::ensure!(reply.status().is_success(), "status: HTTP {}", reply.status());
        Ok(reply.json().await?)
    }

    /// Save the sync settings (this starts the first run), as a person does on the Admin page.
    pub async fn configure(&self) -> anyhow::Result<()> {
        // Batch sizes are left to the site's defaults: those are what people get.
        let body = json!({"url": self.centrals.site_v5_url(), "siteName": SITE_NAME, "password": PASSWORD,
            "intervalSeconds": 86400, "isDisabled": false});
        let reply = self.http.put(format!("{}/api/settings/sync", self.site.url)).json(&body).send().await?;
        anyhow::ensure!(
            reply.status().is_success(),
            "saving sync settings: HTTP {}: {}",
            reply.status(),
            reply.text().await?
        );
        Ok(())
    }

    /// Press Sync now.
    pub async fn trigger(&self) -> anyhow::Result<()> {
        let reply = self.http.post(format!("{}/api/sync/run", self.site.url)).send().await?;
        anyhow::ensure!(reply.status().is_success(), "sync run: HTTP {}", reply.status());
        Ok(())
    }

    /// Wait (polling every `every`) until a run that started after `since_started` finished;
    /// fails with the run's error.
    pub async fn wait_run_after(
        &self,
        since_started: Option<String>,
        every: Duration,
        limit: Duration,
    ) -> anyhow::Result<SyncStatus> {
        let start = Instant::now();
        loop {
            let status = self.status().await?;
            if let Some(last) = &status.last_sync
                && last.finished.is_some()
                && Some(&last.started) != since_started.as_ref()
                && !status.is_syncing
            {
                if let Some(e) = &status.error {
                    anyhow::bail!("sync failed: {} ({})", e.message, e.full_error);
                }
                return Ok(status);
            }
            anyhow::ensure!(start.elapsed() < limit, "no sync run finished within {limit:?}");
            tokio::time::sleep(every).await;
        }
    }

    pub async fn stop(self) {
        self.site.stop().await;
        let mut centrals = self.centrals;
        centrals.stop_v6().await;
        centrals.stop_v5().await;
    }
}
