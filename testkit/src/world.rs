//! A world of centrals for one test (or the bench): the real V5 and V6 centrals in-process on
//! port 0, on SQLite in the world's temporary folder or on a given [`TestDb`] backend,
//! optionally each behind a [`Relay`] that sites talk through (and then restartable on a new
//! port behind the same URL), or behind a bytes-only relay that counts what sites send and
//! receive.
//!
//! ```text
//! let world = World::start().await;                                 // both centrals, SQLite
//! let world = World::builder().database(&db).start().await;         // on db's backend
//! let world = World::builder().relays().start().await;              // sites go through relays
//! let world = World::builder().byte_relays().start().await;         // ... that only count bytes
//! let world = World::builder().database(&pg).replicas(bin, 2).start().await; // see below
//! ```
//!
//! With [`WorldBuilder::replicas`] each central runs as `n` processes of the real binary on one
//! PostgreSQL database, behind relays that send each request to the next replica in turn (the
//! site's relays, and the V6 central's link to the V5 central), as behind a load balancer. The
//! world's `v5_state` and `v6_state` then serve nothing: they are handles on the same
//! databases, for the test's own reads and writes (and the tweaks apply to them only).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use outpost::central_v5::{self, V5State};
use outpost::central_v6::{self, V6State};
use outpost::serve::Running;
use sqlx::Row;
use tempfile::TempDir;

use crate::db::TestDb;
use crate::process::CentralProcess;
use crate::relay::Relay;

/// Port 0 on the loopback interface: the system picks a free port.
pub fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

type V5Tweak = Box<dyn FnOnce(&mut V5State) + Send>;
type V6Tweak = Box<dyn FnOnce(&mut V6State) + Send>;

/// Which relays stand in front of the centrals.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Relays {
    #[default]
    None,
    /// Full relays (HTTP stage, hooks), and one between the V6 and the V5 central.
    Http,
    /// Bytes-only relays in front of the centrals; the V6 central reaches the V5 one directly.
    Bytes,
}

/// How to build a [`World`]; see the module docs.
#[derive(Default)]
pub struct WorldBuilder {
    /// The V5 central's database and the PostgreSQL server it is on (`None`: SQLite); no
    /// database: SQLite files in the world's folder.
    database: Option<(String, Option<String>)>,
    relays: Relays,
    v5_tweak: Option<V5Tweak>,
    v6_tweak: Option<V6Tweak>,
    replicas: Option<ReplicaOptions>,
}

/// How the replicas of a [`WorldBuilder::replicas`] world run.
struct ReplicaOptions {
    bin: PathBuf,
    n: usize,
    lease_secs: f64,
    env: Vec<(String, String)>,
}

/// The integration lease of replica worlds (`--integration-lease-secs`): short, so a test
/// that kills a replica mid-integration sees it taken over within a site's patience.
pub const REPLICA_LEASE_SECS: f64 = 1.5;

impl WorldBuilder {
    /// Run each central as `n` processes of the binary `bin` (a test passes
    /// `env!("CARGO_BIN_EXE_outpost")`) on the database given to [`WorldBuilder::database`],
    /// which must be PostgreSQL, behind round-robin relays (see the module doc).
    pub fn replicas(mut self, bin: &Path, n: usize) -> Self {
        self.relays = Relays::Http;
        self.replicas =
            Some(ReplicaOptions { bin: bin.into(), n: n.max(1), lease_secs: REPLICA_LEASE_SECS, env: Vec::new() });
        self
    }

    /// An environment variable for every replica process (e.g. a central kill point); it is
    /// dropped when a replica is restarted ([`World::restart_replica`]).
    pub fn replica_env(mut self, name: &str, value: &str) -> Self {
        let options = self.replicas.as_mut().expect("call replicas() first");
        options.env.push((name.into(), value.into()));
        self
    }

    /// Put the V5 central on `db` and the V6 central on a fresh database of the same backend.
    pub fn database(mut self, db: &TestDb) -> Self {
        self.database = Some((db.url.clone(), db.server.clone()));
        self
    }

    /// Put a [`Relay`] in front of each central for sites ([`World::site_v5_url`],
    /// [`World::site_v6_url`]), and one between the V6 central and the V5 central, so that
    /// either central can restart on a new port behind the same URLs.
    pub fn relays(mut self) -> Self {
        self.relays = Relays::Http;
        self
    }

    /// Put a bytes-only relay ([`Relay::start_bytes_only`]) in front of each central for sites,
    /// to count what they send and receive ([`World::site_bytes`]) without adding work of its
    /// own; the V6 central reaches the V5 central directly, so its calls are not counted.
    pub fn byte_relays(mut self) -> Self {
        self.relays = Relays::Bytes;
        self
    }

    /// Change the V5 central's state before it serves (e.g. shorter limits).
    pub fn v5_tweak(mut self, tweak: impl FnOnce(&mut V5State) + Send + 'static) -> Self {
        self.v5_tweak = Some(Box::new(tweak));
        self
    }

    /// Change the V6 central's state before it serves.
    pub fn v6_tweak(mut self, tweak: impl FnOnce(&mut V6State) + Send + 'static) -> Self {
        self.v6_tweak = Some(Box::new(tweak));
        self
    }

    pub async fn start(self) -> World {
        let dir = tempfile::tempdir().unwrap();
        let mut dbs = Vec::new();
        let (v5_db, v6_db) = match &self.database {
            None => {
                (outpost::db::sqlite_url(dir.path(), "legacy.db"), outpost::db::sqlite_url(dir.path(), "central.db"))
            }
            Some((url, server)) => {
                let v6 = TestDb::on(server.as_deref()).await;
                let v6_url = v6.url.clone();
                dbs.push(v6);
                (url.clone(), v6_url)
            }
        };
        let mut v5_state = V5State::open(&v5_db).await.unwrap();
        trust_this_machine(&mut v5_state);
        if let Some(tweak) = self.v5_tweak {
            tweak(&mut v5_state);
        }
        if let Some(options) = self.replicas {
            assert!(self.database.as_ref().is_some_and(|d| d.1.is_some()), "replicas need a PostgreSQL database");
            register_v6_central(&v5_state).await;
            return start_replicas(options, dir, dbs, v5_state, v5_db, v6_db, self.v6_tweak).await;
        }
        let v5 = central_v5::serve_state(any_port(), v5_state.clone()).await.unwrap();
        let v5_url = v5.url();
        let (v5_relay, v5_link) = match self.relays {
            Relays::None => (None, None),
            Relays::Http => (Some(Relay::start(&v5_url).await), Some(Relay::start(&v5_url).await)),
            Relays::Bytes => (Some(Relay::start_bytes_only(&v5_url).await), None),
        };
        let legacy_url = v5_link.as_ref().map_or(v5_url.clone(), |r| r.url.clone());
        register_v6_central(&v5_state).await;
        let mut v6_state = v6_state(&v6_db, &legacy_url).await;
        if let Some(tweak) = self.v6_tweak {
            tweak(&mut v6_state);
        }
        let v6 = central_v6::serve_state(any_port(), v6_state.clone()).await.unwrap();
        let v6_url = v6.url();
        let v6_relay = match self.relays {
            Relays::None => None,
            Relays::Http => Some(Relay::start(&v6_url).await),
            Relays::Bytes => Some(Relay::start_bytes_only(&v6_url).await),
        };
        World {
            dir,
            v5: Some(v5),
            v5_state,
            v5_url,
            v6: Some(v6),
            v6_state,
            v6_url,
            v5_relay,
            v6_relay,
            v5_link,
            v5_db,
            v6_db,
            restarts: 0,
            replicas: None,
            _dbs: dbs,
        }
    }
}

/// The replica processes of a [`WorldBuilder::replicas`] world.
pub struct Replicas {
    pub v5: Vec<CentralProcess>,
    pub v6: Vec<CentralProcess>,
    /// The variables a restarted replica runs without.
    drop_env: Vec<String>,
}

async fn start_replicas(
    options: ReplicaOptions,
    dir: TempDir,
    dbs: Vec<TestDb>,
    v5_state: V5State,
    v5_db: String,
    v6_db: String,
    v6_tweak: Option<V6Tweak>,
) -> World {
    let lease = options.lease_secs.to_string();
    let common = |role: &str, db: &str| -> Vec<String> {
        [role, "--database-url", db, "--integration-lease-secs", &lease, "--trusted-proxy", "127.0.0.1"]
            .map(str::to_owned)
            .to_vec()
    };
    let mut v5 = Vec::new();
    for _ in 0..options.n {
        v5.push(CentralProcess::start(&options.bin, &common("legacy-central", &v5_db), &options.env).await);
    }
    let v5_urls: Vec<String> = v5.iter().map(|p| p.url.clone()).collect();
    let (v5_relay, v5_link) = (Relay::start(&v5_urls[0]).await, Relay::start(&v5_urls[0]).await);
    v5_relay.spread(&v5_urls);
    v5_link.spread(&v5_urls);
    let mut v6_args = common("central", &v6_db);
    v6_args.extend(
        [
            "--legacy-url",
            &v5_link.url,
            "--legacy-site-name",
            V6_CENTRAL_SITE,
            "--legacy-site-password",
            V6_CENTRAL_PASSWORD,
        ]
        .map(str::to_owned),
    );
    let mut v6 = Vec::new();
    for _ in 0..options.n {
        v6.push(CentralProcess::start(&options.bin, &v6_args, &options.env).await);
    }
    let v6_urls: Vec<String> = v6.iter().map(|p| p.url.clone()).collect();
    let v6_relay = Relay::start(&v6_urls[0]).await;
    v6_relay.spread(&v6_urls);
    let mut v6_state = v6_state(&v6_db, &v5_link.url).await;
    if let Some(tweak) = v6_tweak {
        tweak(&mut v6_state);
    }
    World {
        dir,
        v5: None,
        v5_state,
        v5_url: v5_urls[0].clone(),
        v6: None,
        v6_state,
        v6_url: v6_urls[0].clone(),
        v5_relay: Some(v5_relay),
        v6_relay: Some(v6_relay),
        v5_link: Some(v5_link),
        v5_db,
        v6_db,
        restarts: 0,
        replicas: Some(Replicas { v5, v6, drop_env: options.env.into_iter().map(|(k, _)| k).collect() }),
        _dbs: dbs,
    }
}

/// Both centrals of one test. Dropping the world stops them.
pub struct World {
    /// The world's folder: SQLite databases, and room for a site's data folder.
    pub dir: TempDir,
    /// The V5 central's server; `None` once stopped.
    pub v5: Option<Running>,
    pub v5_state: V5State,
    /// The V5 central itself (not its relay).
    pub v5_url: String,
    pub v6: Option<Running>,
    pub v6_state: V6State,
    /// The V6 central itself (not its relay).
    pub v6_url: String,
    pub v5_relay: Option<Relay>,
    pub v6_relay: Option<Relay>,
    /// What the V6 central reaches the V5 central through, when relayed.
    v5_link: Option<Relay>,
    v5_db: String,
    v6_db: String,
    /// Central restarts so far.
    pub restarts: u32,
    /// The replica processes, in a [`WorldBuilder::replicas`] world.
    pub replicas: Option<Replicas>,
    _dbs: Vec<TestDb>,
}

impl World {
    /// Both centrals on SQLite, no relays.
    pub async fn start() -> World {
        World::builder().start().await
    }

    pub fn builder() -> WorldBuilder {
        WorldBuilder::default()
    }

    /// Where a site reaches the V5 central: its relay when there is one.
    pub fn site_v5_url(&self) -> String {
        self.v5_relay.as_ref().map_or(self.v5_url.clone(), |r| r.url.clone())
    }

    /// Where a site reaches the V6 central: its relay when there is one.
    pub fn site_v6_url(&self) -> String {
        self.v6_relay.as_ref().map_or(self.v6_url.clone(), |r| r.url.clone())
    }

    /// Bytes sites sent and received through both relays so far: (up, down).
    pub fn site_bytes(&self) -> (u64, u64) {
        [&self.v5_relay, &self.v6_relay]
            .into_iter()
            .flatten()
            .map(Relay::bytes)
            .fold((0, 0), |(u, d), (u1, d1)| (u + u1, d + d1))
    }

    /// The V5 central's relay (the world was built with [`WorldBuilder::relays`]).
    pub fn v5_relay(&self) -> &Relay {
        self.v5_relay.as_ref().expect("a world built with relays()")
    }

    pub fn v6_relay(&self) -> &Relay {
        self.v6_relay.as_ref().expect("a world built with relays()")
    }

    /// Register a site with its stores; it is told [`World::site_v6_url`].
    pub async fn add_site(&self, name: &str, password: &str, stores: &[&str]) -> i64 {
        self.add_site_with_v6(name, password, stores, &self.site_v6_url()).await
    }

    pub async fn add_site_with_v6(&self, name: &str, password: &str, stores: &[&str], v6_url: &str) -> i64 {
        add_site(&self.v5_state, name, password, stores, v6_url).await
    }

    /// Take the V5 central down (its data stays).
    pub async fn stop_v5(&mut self) {
        if let Some(v5) = self.v5.take() {
            v5.stop().await;
        }
    }

    /// Take the V6 central down (its data stays).
    pub async fn stop_v6(&mut self) {
        if let Some(v6) = self.v6.take() {
            v6.stop().await;
        }
    }

    /// The replica processes of one central (`v5`: the legacy central).
    pub fn replicas_of(&mut self, v5: bool) -> &mut Vec<CentralProcess> {
        let replicas = self.replicas.as_mut().expect("a world built with replicas()");
        if v5 { &mut replicas.v5 } else { &mut replicas.v6 }
    }

    /// Point the relays of one central at its replicas that run (a load balancer's health check).
    fn spread(&mut self, v5: bool) {
        let urls: Vec<String> = self.replicas_of(v5).iter().filter(|p| p.is_running()).map(|p| p.url.clone()).collect();
        if v5 {
            self.v5_relay().spread(&urls);
            self.v5_link.as_ref().expect("relays").spread(&urls);
        } else {
            self.v6_relay().spread(&urls);
        }
    }

    /// `kill -9` replica `i` of one central and take it out of its relays.
    pub fn kill_replica(&mut self, v5: bool, i: usize) {
        self.replicas_of(v5)[i].kill9();
        self.spread(v5);
    }

    /// Start replica `i` of one central again (killed or not), without the replica
    /// environment variables, and put it back in its relays.
    pub async fn restart_replica(&mut self, v5: bool, i: usize) {
        let drop_env = self.replicas.as_ref().expect("a world built with replicas()").drop_env.clone();
        let drop_env: Vec<&str> = drop_env.iter().map(String::as_str).collect();
        self.replicas_of(v5)[i].kill9();
        self.spread(v5);
        self.replicas_of(v5)[i].restart(&drop_env).await;
        self.spread(v5);
    }

    /// Restart a central: new process state (auth cache, who is integrating) on the same
    /// database, a new port behind the same relays; the old server stops without being waited
    /// for. Needs a world built with [`WorldBuilder::relays`]. In a replica world: `kill -9`
    /// one of its replicas (the next in turn) and start it again.
    pub async fn restart(&mut self, v5: bool) {
        self.restarts += 1;
        if self.replicas.is_some() {
            let i = self.restarts as usize % self.replicas_of(v5).len();
            self.restart_replica(v5, i).await;
            return;
        }
        if v5 {
            let mut state = V5State::open(&self.v5_db).await.unwrap();
            trust_this_machine(&mut state);
            let running = central_v5::serve_state(any_port(), state.clone()).await.unwrap();
            self.v5_url = running.url();
            self.v5_relay().retarget(&self.v5_url);
            self.v5_link.as_ref().expect("a world built with relays()").retarget(&self.v5_url);
            if let Some(old) = self.v5.replace(running) {
                tokio::spawn(old.stop());
            }
            self.v5_state = state;
        } else {
            let legacy = self.v5_link.as_ref().expect("a world built with relays()").url.clone();
            let state = v6_state(&self.v6_db, &legacy).await;
            let running = central_v6::serve_state(any_port(), state.clone()).await.unwrap();
            self.v6_url = running.url();
            self.v6_relay().retarget(&self.v6_url);
            if let Some(old) = self.v6.replace(running) {
                tokio::spawn(old.stop());
            }
            self.v6_state = state;
        }
    }

    /// A second V5 and a second V6 central in this process on this world's databases: replicas
    /// as two processes would be (state of their own, only the database shared), in process so
    /// a test can read their counters. The second V6 central calls the second V5 central.
    pub async fn second_replicas(&self) -> ((Running, V5State), (Running, V6State)) {
        let mut v5_state = V5State::open(&self.v5_db).await.unwrap();
        trust_this_machine(&mut v5_state);
        let v5 = central_v5::serve_state(any_port(), v5_state.clone()).await.unwrap();
        let v6_state = v6_state(&self.v6_db, &v5.url()).await;
        let v6 = central_v6::serve_state(any_port(), v6_state.clone()).await.unwrap();
        ((v5, v5_state), (v6, v6_state))
    }

    /// Records the V5 central holds for a table (what sites pushed or the central wrote).
    pub async fn v5_count(&self, table: &str) -> i64 {
        count_records(&self.v5_state.db, table).await
    }

    /// Records the V6 central holds for a table.
    pub async fn v6_count(&self, table: &str) -> i64 {
        count_records(&self.v6_state.db, table).await
    }
}

async fn count_records(db: &outpost::db::CentralDb, table: &str) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM record WHERE table_name = $1")
        .bind(table)
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .get::<i64, _>(0)
}

/// As a deployment must (`--trusted-proxy`): the V5 central believes the caller address the
/// V6 central names, and in a world every server (and relay) is on this machine.
pub fn trust_this_machine(state: &mut V5State) {
    state.trusted_proxies = outpost::ratelimit::TrustedProxies::new([std::net::IpAddr::from([127, 0, 0, 1])]);
}

/// The V5 central alone on port 0 against `db`, with the state the test may inspect or pause.
pub async fn start_v5(db: &TestDb) -> (Running, V5State) {
    start_v5_with(db, |_| {}).await
}

pub async fn start_v5_with(db: &TestDb, tweak: impl FnOnce(&mut V5State)) -> (Running, V5State) {
    let mut state = V5State::open(&db.url).await.unwrap();
    tweak(&mut state);
    let running = central_v5::serve_state(any_port(), state.clone()).await.unwrap();
    (running, state)
}

/// Register a site with stores on the V5 central; it is told `v6_url`.
/// The V6 central's own site at the V5 central (no stores), through which it learns which site
/// each store is on, as the reference's central does (README, "Registering the V6 central").
pub const V6_CENTRAL_SITE: &str = "outpost-central";
pub const V6_CENTRAL_PASSWORD: &str = "outpost-central-password";

/// Once per V5 database (a world may be started again on the same one).
async fn register_v6_central(v5: &V5State) {
    let sites = central_v5::admin::list_sites(&v5.db).await.unwrap();
    if !sites.iter().any(|s| s.site.name == V6_CENTRAL_SITE) {
        add_site(v5, V6_CENTRAL_SITE, V6_CENTRAL_PASSWORD, &[], "").await;
    }
}

async fn v6_state(db: &str, legacy_url: &str) -> V6State {
    let site = central_v6::legacy_stores::LegacySite {
        name: V6_CENTRAL_SITE.into(),
        password_sha256: outpost::wire::v5::password_sha256(V6_CENTRAL_PASSWORD),
    };
    V6State::open(db, legacy_url).await.unwrap().with_legacy_site(site)
}

pub async fn add_site(state: &V5State, name: &str, password: &str, stores: &[&str], v6_url: &str) -> i64 {
    let new = central_v5::admin::NewSite {
        name: name.into(),
        password: password.into(),
        store_ids: stores.iter().map(|s| s.to_string()).collect(),
        central_v6_url: v6_url.into(),
        site_id: None,
    };
    central_v5::admin::add_site(&state.db, &new).await.unwrap().site_id
}
