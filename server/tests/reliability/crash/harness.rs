//! The crash-and-resume world (issue 6): both centrals in-process (SQLite in a temporary
//! folder, port 0) behind a relay each, and the real `outpost site` binary as a child process
//! ([`SiteProcess`]) that a test kills with `kill -9` at a moment a relay's hold picks,
//! restarts on the same data folder, and checks once sync is quiet again.

use std::time::{Duration, Instant};

use outpost::central_v5;
use outpost::central_v6;
use outpost_api::SyncStatus;
use outpost_testkit::process::SiteProcess;
use outpost_testkit::{Relay, World, admin_client};
use serde_json::json;

pub const STORE: &str = "crash-store";
pub const SITE: &str = "crash-site";
const PASSWORD: &str = "crash-pw";

/// How much data a test starts with.
pub struct Seed {
    /// Central items (Pull Central), written in one central transaction.
    pub items: usize,
    /// Invoices of the site's store with `lines` lines each (Pull Remote).
    pub invoices: usize,
    pub lines: usize,
    /// Assets of the site's store on the V6 central (Pull V6).
    pub assets: usize,
    pub batch_push: u32,
    pub batch_pull: u32,
}

/// The centrals (each behind a relay the site talks through) and the data they start with.
pub struct CrashWorld {
    pub centrals: World,
    pub seed: Seed,
}

/// The real binary, which only Cargo's test harness can name.
pub const BIN: &str = env!("CARGO_BIN_EXE_outpost");

impl CrashWorld {
    pub async fn start(seed: Seed) -> CrashWorld {
        let centrals = World::builder().relays().start().await;
        centrals.add_site(SITE, PASSWORD, &[STORE]).await;
        let world = CrashWorld { centrals, seed };
        world.seed_centrals().await;
        world
    }

    /// The relay between the site and the V5 central.
    pub fn v5_gate(&self) -> &Relay {
        self.centrals.v5_relay()
    }

    /// The relay between the site and the V6 central.
    pub fn v6_gate(&self) -> &Relay {
        self.centrals.v6_relay()
    }

    /// Start (or restart) the site process on the world's site folder.
    pub async fn start_site(&self) -> SiteProcess {
        SiteProcess::start(BIN.as_ref(), &self.site_dir()).await
    }

    async fn seed_centrals(&self) {
        let mut tx = central_v5::data::begin(&self.centrals.v5_state.db).await.unwrap();
        let put = |table: &'static str, v: serde_json::Value| (table, v);
        let mut rows =
            vec![put("unit", json!({"ID": "u1", "units": "tab"})), put("name", json!({"ID": "n1", "name": "Clinic"}))];
        rows.extend((0..self.seed.items).map(|i| {
            put("item", json!({"ID": format!("i{i:05}"), "item_name": format!("Item {i}"), "unit_ID": "u1"}))
        }));
        for n in 0..self.seed.invoices {
            let id = format!("inv{n:04}");
            rows.push(put(
                "transact",
                json!({"ID": id, "name_ID": "n1", "store_ID": STORE, "type": "ci", "status": "fn", "invoice_num": n}),
            ));
            rows.extend((0..self.seed.lines).map(|l| {
                put("trans_line", json!({"ID": format!("{id}-l{l}"), "transaction_ID": id, "item_ID": "i00000"}))
            }));
        }
        for (table, row) in rows {
            central_v5::data::central_upsert(&mut tx, table, &row).await.unwrap();
        }
        tx.commit().await.unwrap();
        for n in 0..self.seed.assets {
            let asset = json!({"id": format!("ca{n:03}"), "store_id": STORE, "notes": format!("central {n}"), "asset_number": format!("CA{n}"),
                               "created_datetime": "2024-01-01T00:00:00", "modified_datetime": "2024-01-01T00:00:00"});
            central_v6::upsert_asset(&self.centrals.v6_state.db, &asset, None).await.unwrap();
        }
    }

    pub fn site_dir(&self) -> std::path::PathBuf {
        self.centrals.dir.path().join("site")
    }

    /// Save the sync settings as the admin (this starts the first run).
    pub async fn configure(&self, site: &SiteProcess) {
        let admin = admin_client(&site.url).await;
        let input = json!({"url": self.centrals.site_v5_url(), "siteName": SITE, "password": PASSWORD, "intervalSeconds": 3600,
                           "batchSizePush": self.seed.batch_push, "batchSizePull": self.seed.batch_pull, "isDisabled": false});
        let r = admin.put(format!("{}/api/settings/sync", site.url)).json(&input).send().await.unwrap();
        assert!(r.status().is_success(), "saving settings: {}", r.text().await.unwrap());
    }

    /// Site changes for the push steps: locations (V5) and assets (V6), interleaved so every
    /// push batch holds some of each, or (`grouped`) all assets first, so the last push
    /// batches hold nothing for the V6 central.
    pub async fn site_changes(&self, site: &SiteProcess, each: usize, grouped: bool) {
        let admin = admin_client(&site.url).await;
        let api = format!("{}/api/store-data", site.url);
        let mut writes = Vec::new();
        for n in 0..each {
            writes.push(("locations", json!({"id": format!("sl{n:03}"), "storeId": STORE, "code": format!("S{n}"), "name": format!("site {n}")})));
            writes.push(("assets", json!({"id": format!("sa{n:03}"), "storeId": STORE, "code": format!("A{n}"), "serialNumber": "", "notes": format!("site {n}")})));
        }
        if grouped {
            writes.sort_by_key(|(kind, _)| *kind != "assets");
        }
        for (kind, body) in writes {
            let r = admin.post(format!("{api}/{kind}")).json(&body).send().await.unwrap();
            assert!(r.status().is_success(), "site {kind}: {}", r.text().await.unwrap());
        }
    }

    pub fn set_generation(&self, g: u32) {
        self.v5_gate().set_generation(g);
        self.v6_gate().set_generation(g);
    }
}

pub async fn status(site: &SiteProcess) -> SyncStatus {
    outpost_testkit::http_get(format!("{}/api/sync/status", site.url)).await.unwrap().json().await.unwrap()
}

/// Ask for a run (Sync now!).
pub async fn trigger(site: &SiteProcess) {
    let admin = admin_client(&site.url).await;
    let r = admin.post(format!("{}/api/sync/run", site.url)).send().await.unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
}

/// Wait until a run that started after `after` (a `last_sync.started` value, or none) finished
/// without error and nothing is left to push; returns that status.
pub async fn wait_quiet(site: &SiteProcess, after: Option<&str>, limit: Duration) -> SyncStatus {
    let start = Instant::now();
    loop {
        let s = status(site).await;
        let newer = s.last_sync.as_ref().is_some_and(|l| after != Some(l.started.as_str()) && l.finished.is_some());
        if newer && !s.is_syncing && s.error.is_none() && s.records_to_push == 0 {
            return s;
        }
        assert!(start.elapsed() < limit, "sync never went quiet: {s:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Run once more and wait for it (returns when that run is quiet).
pub async fn sync_again(site: &SiteProcess) -> SyncStatus {
    let before = status(site).await.last_sync.map(|l| l.started);
    trigger(site).await;
    wait_quiet(site, before.as_deref(), Duration::from_secs(30)).await
}
