//! Scenario 7: one central pair serving many sites. 1,000 simulated sites (the wire clients the
//! real engine uses, without a site database) each run one sync: site info, push their new
//! records to V5 (then the final push and the wait for integration), an asset to V6 (and its
//! wait), drain their V5 queue, page the central change log from where they were, and pull V6.
//! Sites sync 50 at a time, like a fleet on staggered intervals; each site authenticated once
//! before the clock starts (a fleet's password checks are cached long before this).
//! Ingest rate is records pushed per second of wall time; the reference figure is the same
//! sites syncing one at a time, in the same run, to show what concurrency costs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;

use crate::BenchOptions;
use crate::latency::percentile;
use crate::report::{Figure, per_s};
use outpost::wire::client::Timeouts;
use outpost::wire::v5::{self, PushAction, PushRecord, PushRequest, SiteStatusCode};
use outpost::wire::v5_client::{V5Client, V5Credentials};
use outpost::wire::v6::{self, BatchRecord, SyncBatch};
use outpost::wire::v6_client::V6Client;
use outpost_testkit::{TestDb, World};

const IN_FLIGHT: usize = 50;
const PASSWORD: &str = "fleet";

pub async fn run(options: &BenchOptions) -> anyhow::Result<Figure> {
    let per_site: u64 = if options.smoke { 5 } else { 20 };
    let db = match &options.postgres_url {
        Some(admin) => TestDb::postgres(admin).await,
        None => TestDb::sqlite(),
    };
    let backend = db.label;
    let mut world = World::builder().database(&db).start().await;
    eprintln!("registering {} sites on the {backend} centrals...", options.sites);
    let mut sites = Vec::new();
    for i in 0..options.sites {
        let name = format!("fleet-{i:04}");
        world.add_site(&name, PASSWORD, &[&format!("{name}-store")]).await;
        sites.push(Arc::new(Site::new(&world.v5_url, &world.v6_url, &name)));
    }
    // Authenticate and initialise every site once, outside the clock.
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut warm = Vec::new();
    for site in &sites {
        let (site, gate) = (site.clone(), gate.clone());
        warm.push(tokio::spawn(async move {
            let _permit = gate.acquire().await?;
            site.v5.site_info().await?;
            site.v5.initialise().await?;
            // The central prepares in the background: wait until it is done with this site.
            while site.v5.site_status().await?.code != outpost::wire::v5::SiteStatusCode::Idle {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            site.v6.site_status().await?;
            anyhow::Ok(())
        }));
    }
    for w in warm {
        w.await??;
    }
    let cursor = outpost::central_v5::changelog::max_cursor(&world.v5_state.db).await? as u64;

    // Reference: the first tenth of the sites, one at a time.
    let alone_n = (sites.len() / 10).max(1);
    let mut alone = Vec::new();
    for site in &sites[..alone_n] {
        let t = Instant::now();
        site.sync(0, per_site, cursor).await?;
        alone.push(t.elapsed().as_secs_f64());
    }
    let alone_p50 = percentile(&mut alone, 0.5);

    eprintln!("{} sites syncing, {IN_FLIGHT} at a time...", sites.len());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for site in &sites {
        let (site, gate) = (site.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await?;
            let t = Instant::now();
            site.sync(1, per_site, cursor).await?;
            anyhow::Ok(t.elapsed().as_secs_f64())
        }));
    }
    let mut times = Vec::new();
    for t in tasks {
        times.push(t.await??);
    }
    let wall = start.elapsed().as_secs_f64();
    let pushed = sites.len() as u64 * (per_site + 1);
    let rate = pushed as f64 / wall;
    let (p50, p95) = (percentile(&mut times, 0.5), percentile(&mut times, 0.95));
    world.stop_v6().await;
    world.stop_v5().await;
    let mut f = Figure::new("central_scale")
        .value("backend", backend)
        .value("sites", sites.len())
        .value("in_flight", IN_FLIGHT)
        .value("records_pushed", pushed)
        .value("records_per_s", rate.round())
        .value("p50_sync_s", (p50 * 1000.0).round() / 1000.0)
        .value("p95_sync_s", (p95 * 1000.0).round() / 1000.0)
        .value("alone_p50_sync_s", (alone_p50 * 1000.0).round() / 1000.0);
    f.figure =
        format!("{} records/s ingested; site sync p95 {:.3} s ({} sites, {backend})", per_s(rate), p95, sites.len());
    f.reference = format!("one site syncing alone: p50 {alone_p50:.3} s");
    f.ratio = format!("p95 = {:.1}× a lone sync", p95 / alone_p50.max(1e-9));
    f.target = "≥ 5,000 records/s and p95 < 1 s (PostgreSQL)".into();
    f.met = Some(rate >= 5000.0 && p95 < 1.0);
    if backend != "postgres" {
        f.note = Some("no --postgres-url: measured on SQLite".into());
    }
    Ok(f)
}

/// One simulated site: its two clients.
struct Site {
    name: String,
    v5: V5Client,
    v6: V6Client,
}

impl Site {
    fn new(v5_url: &str, v6_url: &str, name: &str) -> Site {
        let creds = V5Credentials {
            url: v5_url.to_owned(),
            site_name: name.to_owned(),
            password_sha256: v5::password_sha256(PASSWORD),
            hardware_id: format!("hw-{name}"),
            api_version: v5::API_VERSION,
        };
        let timeouts = Timeouts { connect: vec![Duration::from_secs(10)], idle_read: Duration::from_secs(120) };
        let v6 = V6Client::new(v6_url, &creds, v6::SYNC_V6_VERSION, &timeouts, None);
        Site { name: name.to_owned(), v5: V5Client::new(creds, &timeouts, None), v6 }
    }

    /// One sync carrying `records` new locations and one asset; `round` keeps ids unique.
    async fn sync(&self, round: u32, records: u64, central_cursor: u64) -> anyhow::Result<()> {
        let store = format!("{}-store", self.name);
        self.v5.site_info().await?;
        let data: Vec<PushRecord> = (0..records)
            .map(|i| {
                let id = format!("{}-r{round}-loc{i}", self.name);
                PushRecord {
                    sync_out_id: (i + 1).to_string(),
                    table_name: "Location".into(),
                    record_id: id.clone(),
                    action: PushAction::Update,
                    record_data: Some(
                        json!({"ID": id, "code": format!("L{i}"), "Description": "Shelf", "store_ID": store,
                        "hold": false, "Comment": "", "Volume": 0, "type_ID": "", "parent_id": "", "priority": 0}),
                    ),
                }
            })
            .collect();
        self.v5.push(&PushRequest { queue_length: records, data }).await?;
        let end = self.v5.push(&PushRequest { queue_length: 0, data: vec![] }).await?;
        anyhow::ensure!(end.integration_started, "V5 integration did not start");
        let asset_id = format!("{}-r{round}-asset", self.name);
        let asset = json!({"id": asset_id, "store_id": store, "asset_number": "A1", "notes": "",
            "created_datetime": "2024-01-01T00:00:00", "modified_datetime": "2024-01-01T00:00:00"});
        let record = v6::Record {
            table_name: "asset".into(),
            record_id: asset_id,
            action: v6::Action::Update,
            record_data: asset,
        };
        self.v6
            .push(SyncBatch {
                end_cursor: 1,
                total_records: 1,
                records: vec![BatchRecord { cursor: 1, record }],
                is_last_batch: true,
            })
            .await?;
        wait(|| async { Ok(self.v5.site_status().await?.code == SiteStatusCode::Idle) }).await?;
        wait(|| async { Ok(!self.v6.site_status().await?.is_integrating) }).await?;
        loop {
            let page = self.v5.queued_records(500).await?;
            if page.data.is_empty() {
                break;
            }
            self.v5.acknowledge(page.data.iter().map(|r| r.sync_out_id.clone()).collect()).await?;
        }
        let mut cursor = central_cursor;
        loop {
            let page = self.v5.central_records(cursor, 500).await?;
            match page.data.iter().map(|r| r.id).max() {
                Some(last) => cursor = last,
                None => break,
            }
        }
        let mut v6_cursor = 0;
        loop {
            let batch = self.v6.pull(v6_cursor, 500, true).await?;
            v6_cursor = batch.end_cursor + 1;
            if batch.is_last_batch {
                break;
            }
        }
        Ok(())
    }
}

/// Poll every 5 ms (the engine's push wait) until `done`.
async fn wait<F, Fut>(mut done: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let start = Instant::now();
    while !done().await? {
        anyhow::ensure!(start.elapsed() < Duration::from_secs(60), "central still integrating after 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}
