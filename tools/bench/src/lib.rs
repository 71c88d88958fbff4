//! `outpost-bench`: builds a world on this machine (both centrals and a site, on loopback, each
//! with its own database in a temporary folder) and measures the figures of issue 7.
//!
//! A crate of its own, beside the `outpost` library rather than inside it: the bench is
//! tooling, so neither the production library nor the `outpost` binary carries it.
//!
//! Why ratios: the machines this runs on are small and shared, so a bare timing says little.
//! Every scenario reports its figure next to a reference measured in the same run (the raw
//! write speed of the same records, PouchDB on the same data, one bare round trip), and the
//! report prints both, plus whether the target of the issue is met.
//!
//! One file per scenario; [`world`] holds what they share, built with the test kit
//! (`outpost-testkit`: its `World` of centrals, bytes-only relays, `SiteProcess`), so the bench
//! and the tests build their worlds one way. The site runs as a child process (`site …` handed
//! to the `outpost` command line) so its peak RSS is its own, not the bench's.

pub mod balancer;
pub mod cellular;
pub mod central_scale;
pub mod initial_sync;
pub mod latency;
pub mod limit;
pub mod peer;
pub mod realistic;
pub mod report;
pub mod status_api;
pub mod wire_bytes;
pub mod world;

use std::path::PathBuf;

pub use report::{Figure, Report};

/// Every scenario, in the order they run.
pub const SCENARIOS: [&str; 9] =
    ["initial_sync", "peer", "wire", "realistic", "memory", "latency", "status_api", "central_scale", "cellular"];

/// What to run and how big.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Records the central is seeded with for the initial sync.
    pub records: u64,
    /// Scenario names to run (empty: all).
    pub scenarios: Vec<String>,
    /// The executable the site process runs as `EXE site --listen …`: the `outpost` binary, or
    /// `outpost-bench` itself, which hands a `site` command line to the `outpost` CLI (the
    /// binary's default; tests pass Cargo's path of `outpost-bench`, since a test's own
    /// executable is neither).
    pub site_exe: PathBuf,
    /// PostgreSQL server for the central-scale scenario (SQLite when absent).
    pub postgres_url: Option<String>,
    /// Simulated sites of the central-scale scenario.
    pub sites: u64,
    /// Replicas of each central the central-scale scenario runs with, one measurement each.
    pub replicas: Vec<usize>,
    /// Central scale: each site signs in on every replica before the clock starts, so the
    /// measured syncs find their passwords cached (default: not, as in a fleet whose sync
    /// interval outlives the credential caches).
    pub warm_credentials: bool,
    /// Tiny sizes and short durations: only checks that every scenario still works.
    pub smoke: bool,
    /// Records of the cellular scenario (its own world: a 1 Mbit/s line takes minutes for 100k).
    pub cellular_records: u64,
    /// The folder holding `pouchdb/` (the peer's Node script): this crate's.
    pub crate_dir: PathBuf,
}

impl BenchOptions {
    pub fn new(records: u64, site_exe: PathBuf) -> Self {
        BenchOptions {
            records,
            scenarios: vec![],
            site_exe,
            postgres_url: None,
            sites: 10_000,
            replicas: vec![1, 2],
            warm_credentials: false,
            smoke: false,
            cellular_records: 100_000,
            crate_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        }
    }

    /// Tiny N, a few sites, short polls: for CI.
    pub fn smoke(site_exe: PathBuf) -> Self {
        BenchOptions {
            smoke: true,
            sites: 5,
            warm_credentials: true,
            cellular_records: 300,
            ..BenchOptions::new(300, site_exe)
        }
    }

    pub fn wants(&self, scenario: &str) -> bool {
        self.scenarios.is_empty() || self.scenarios.iter().any(|s| s == scenario)
    }
}

/// Run the selected scenarios; figures are printed as they come (table rows on stderr, one
/// JSON line per scenario on stdout) and returned.
pub async fn run(options: &BenchOptions) -> anyhow::Result<Report> {
    for s in &options.scenarios {
        anyhow::ensure!(SCENARIOS.contains(&s.as_str()), "unknown scenario {s:?} (known: {})", SCENARIOS.join(", "));
    }
    let mut report = Report::new(options);
    let needs_site = ["initial_sync", "peer", "wire", "realistic", "memory", "latency", "status_api"]
        .iter()
        .any(|s| options.wants(s));
    if needs_site {
        let world = world::BenchWorld::start(options).await?;
        let sync = initial_sync::run(options, &world).await?;
        if options.wants("initial_sync") {
            let limit = limit::run(&world, sync.records).await?;
            report.add(initial_sync::figure(&sync, &limit));
        }
        if options.wants("memory") {
            report.add(initial_sync::memory_figure(options, &sync));
        }
        if options.wants("wire") {
            report.add(wire_bytes::run(&world, &sync).await?);
        }
        if options.wants("realistic") {
            report.add(realistic::run(&world).await?);
        }
        if options.wants("peer") {
            report.add(peer::run(options, &world, &sync).await);
        }
        if options.wants("latency") {
            report.add(latency::run(options, &world).await?);
        }
        if options.wants("status_api") {
            report.add(status_api::run(options, &world).await?);
        }
        world.stop().await;
    }
    if options.wants("central_scale") {
        for figure in central_scale::run(options).await? {
            report.add(figure);
        }
    }
    if options.wants("cellular") {
        report.add(cellular::run(options).await?);
    }
    report.finish();
    Ok(report)
}
