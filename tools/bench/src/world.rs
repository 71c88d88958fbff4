//! The world a bench runs in, built with the test kit (`outpost-testkit`): the V5 and V6
//! centrals in this process (SQLite, temporary folder), each behind a bytes-only relay so the
//! bytes on the wire are counted where they travel, and the site as a child process
//! (`outpost site`, [`SiteProcess`]) so its memory is its own. What is the bench's own here is
//! its data (the seeded records, the site's name and stores) and how it drives the site: over
//! the HTTP API, as a person on the Admin and Sync pages does.
//!
//! The central-scale scenario has a world of its own ([`ReplicatedCentrals`]): no site process,
//! but each central as one or more replicas on one database, behind a round-robin balancer, and
//! a fleet of sites registered in bulk ([`register_fleet`]).

use std::time::{Duration, Instant};

use outpost::central_shared::bulk::expand;
use outpost::central_v5::{self, V5State};
use outpost::central_v6::legacy_stores::LegacySite;
use outpost::central_v6::{self, V6State};
use outpost::db::Backend;
use outpost::serve::Running;
use outpost_api::SyncStatus;
use outpost_testkit::world::{V6_CENTRAL_PASSWORD, V6_CENTRAL_SITE, add_site};
use outpost_testkit::{SiteProcess, TestDb, World, admin_client, any_port};
use serde_json::json;
use sqlx::Row;

use crate::BenchOptions;
use crate::balancer::Balancer;

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

/// The centrals of the central-scale scenario: `replicas` in-process servers of each central on
/// one database per central (the V5 one on `db`, the V6 one a fresh database beside it), each
/// set behind a round-robin [`Balancer`]; the V6 replicas reach the V5 central through its
/// balancer, as they would in a deployment.
pub struct ReplicatedCentrals {
    pub v5_states: Vec<V5State>,
    pub v6_states: Vec<V6State>,
    /// The replicas themselves, for calls that must reach one of them.
    pub v5_urls: Vec<String>,
    pub v6_urls: Vec<String>,
    /// Where sites reach each central: its balancer.
    pub v5: Balancer,
    pub v6: Balancer,
    running: Vec<Running>,
    _v6_db: TestDb,
}

impl ReplicatedCentrals {
    pub async fn start(db: &TestDb, replicas: usize) -> anyhow::Result<ReplicatedCentrals> {
        let mut running = Vec::new();
        let (mut v5_states, mut v5_addrs) = (Vec::new(), Vec::new());
        for _ in 0..replicas {
            // One at a time: the first applies the migrations.
            let mut state = V5State::open(&db.url).await?;
            outpost_testkit::world::trust_this_machine(&mut state);
            let server = central_v5::serve_state(any_port(), state.clone()).await?;
            v5_addrs.push(server.addr);
            running.push(server);
            v5_states.push(state);
        }
        let v5 = Balancer::start(v5_addrs.clone()).await?;
        // The V6 central's own site at the V5 central (it learns the store mapping through it).
        add_site(&v5_states[0], V6_CENTRAL_SITE, V6_CENTRAL_PASSWORD, &[], "").await;
        let v6_db = db.another().await;
        let (mut v6_states, mut v6_addrs) = (Vec::new(), Vec::new());
        for _ in 0..replicas {
            let site = LegacySite {
                name: V6_CENTRAL_SITE.into(),
                password_sha256: outpost::wire::v5::password_sha256(V6_CENTRAL_PASSWORD),
            };
            let state = V6State::open(&v6_db.url, &v5.url).await?.with_legacy_site(site);
            let server = central_v6::serve_state(any_port(), state.clone()).await?;
            v6_addrs.push(server.addr);
            running.push(server);
            v6_states.push(state);
        }
        let v6 = Balancer::start(v6_addrs.clone()).await?;
        let url = |a: &std::net::SocketAddr| format!("http://{a}");
        Ok(ReplicatedCentrals {
            v5_urls: v5_addrs.iter().map(url).collect(),
            v6_urls: v6_addrs.iter().map(url).collect(),
            v5_states,
            v6_states,
            v5,
            v6,
            running,
            _v6_db: v6_db,
        })
    }

    /// Argon2 verifications the V5 replicas have run so far.
    pub fn argon2_runs(&self) -> u64 {
        self.v5_states.iter().map(|s| s.auth.argon2_runs()).sum()
    }

    pub async fn stop(self) {
        for server in self.running {
            server.stop().await;
        }
    }
}

/// Register a fleet of sites in service on the V5 central in bulk: each `(name, hardware id)`
/// with one store (`NAME-store`), already bound to its hardware id and initialised (a new store
/// has nothing to prepare); rows written directly, a thousand sites a statement, all with one
/// Argon2 hash of `password`.
///
/// A bench shortcut, not the admin path (`central_v5::admin::add_site`, one site, one fresh
/// salt and hash each, ≈ 10,000 × an Argon2 hash for a fleet, then a sign-in and an
/// initialisation per site, another Argon2 verification each): it writes what those write (the
/// site row; the store's name and store records, the store active on its site; one change-log
/// row each, so the V6 central learns the store). Every site sharing one salt is acceptable only
/// because these passwords protect nothing.
pub async fn register_fleet(
    state: &V5State,
    fleet: &[(String, String)],
    password: &str,
    v6_url: &str,
) -> anyhow::Result<()> {
    let db = &state.db;
    let hash = outpost::central_v5::auth::hash_password_sha256(&outpost::wire::v5::password_sha256(password))?;
    let mut tx = outpost::central_v5::data::begin(db).await?;
    let first = sqlx::query("SELECT COALESCE(MAX(site_id), 0) FROM site WHERE site_id <> $1")
        .bind(central_v5::CENTRAL_SITE_ID)
        .fetch_one(&mut *tx)
        .await?
        .get::<i64, _>(0)
        + 1;
    let bigint = |col: &str| match db.backend {
        Backend::Postgres => format!("{col}::bigint"),
        Backend::Sqlite => col.to_owned(),
    };
    let mut next = first;
    for chunk in fleet.chunks(1000) {
        let (mut sites, mut records, mut changes) = (Vec::new(), Vec::new(), Vec::new());
        for (name, hardware_id) in chunk {
            if next == central_v5::CENTRAL_SITE_ID {
                next += 1;
            }
            let site_id = next;
            next += 1;
            let uuid = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
            sites.push(json!([site_id, uuid, name, name.to_uppercase(), hash, v6_url, hardware_id]));
            let store = format!("{name}-store");
            let name_id = format!("{store}_name");
            let name_record = json!({"ID": name_id, "name": store, "code": store.to_uppercase(), "type": "store",
                "customer": true, "supplier": true, "manufacturer": false, "isDeleted": false})
            .to_string();
            let store_record = json!({"ID": store, "name": store, "code": store.to_uppercase(), "name_ID": name_id,
                "sync_id_remote_site": site_id, "store_mode": "store", "disabled": false, "tags": ""})
            .to_string();
            records.push(json!(["name", name_id, null, null, name_record]));
            records.push(json!(["store", store, null, site_id, store_record]));
            changes.push(json!(["name", name_id, name_record]));
            changes.push(json!(["store", store, store_record]));
        }
        let statements = [
            (
                format!(
                    "INSERT INTO site (site_id, site_uuid, name, code, password_hash, om_supply_central_server_url,
                     hardware_id, initialisation_status)
                     SELECT {}, c1, c2, c3, c4, c5, c6, 'completed' FROM {}",
                    bigint("c0"),
                    expand(db.backend, 7)
                ),
                sites,
            ),
            (
                format!(
                    "INSERT INTO record (table_name, record_id, store_id, active_site_id, data)
                     SELECT c0, c1, c2, {}, c4 FROM {}",
                    bigint("c3"),
                    expand(db.backend, 5)
                ),
                records,
            ),
            (
                format!(
                    "INSERT INTO central_change (table_name, record_id, action, data)
                     SELECT c0, c1, 'insert', c2 FROM {}",
                    expand(db.backend, 3)
                ),
                changes,
            ),
        ];
        for (sql, rows) in statements {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(serde_json::Value::Array(rows).to_string())
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
