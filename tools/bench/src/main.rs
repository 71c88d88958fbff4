//! The `outpost-bench` binary (`bash scripts/bench.sh` builds and runs it): parses the flags
//! into [`BenchOptions`] and runs the scenarios. One JSON line per scenario and a table go to
//! stdout.

use std::process::ExitCode;

use clap::Parser;
use outpost_bench::BenchOptions;

#[derive(Debug, Parser)]
#[command(
    name = "outpost-bench",
    version,
    about = "Measure sync speed, wire bytes, memory, latency and scale of Outpost on this machine (issue 7)."
)]
struct BenchArgs {
    /// Records seeded on the central for the initial sync.
    #[arg(long, default_value_t = 100_000)]
    records: u64,
    /// One million records (overrides --records).
    #[arg(long)]
    million: bool,
    /// Scenarios to run, comma-separated (default: all): initial_sync, peer, wire, realistic,
    /// memory, latency, status_api, central_scale, cellular.
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Tiny sizes: only checks that every scenario still works.
    #[arg(long)]
    smoke: bool,
    /// PostgreSQL server for the central-scale scenario (`bash scripts/postgres.sh` prints one).
    #[arg(long, env = "OUTPOST_BENCH_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Simulated sites of the central-scale scenario.
    #[arg(long, default_value_t = 10_000)]
    sites: u64,
    /// Replicas of each central in the central-scale scenario, comma-separated: one
    /// measurement each, on fresh databases (replicas share their central's database and sit
    /// behind a round-robin balancer).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2])]
    replicas: Vec<usize>,
    /// Central scale: sign each site in on every replica before the clock starts, so the
    /// measured syncs find their passwords cached.
    #[arg(long)]
    warm_credentials: bool,
    /// Run the site process as `EXE site …` instead of this executable (e.g. a script that
    /// runs this executable under a heap profiler; BENCHMARKS.md shows how).
    #[arg(long, env = "OUTPOST_BENCH_SITE_EXE")]
    site_exe: Option<std::path::PathBuf>,
    /// Records synced over the cellular scenario's 1 Mbit/s line (minutes for the default).
    #[arg(long, default_value_t = 100_000)]
    cellular_records: u64,
}

fn main() -> ExitCode {
    // The site under measurement runs in a child process, so that its memory is its own. That
    // child is this executable again, started as `outpost-bench site …`, which hands over to
    // the `outpost` command line (the entry point of the `outpost` binary): the same code as
    // `outpost site …`, without a second binary to build and find.
    if std::env::args_os().nth(1).is_some_and(|arg| arg == "site") {
        return outpost::cli::main();
    }
    let args = BenchArgs::parse();
    outpost::cli::init_logging();
    outpost::cli::block_on(run(args))
}

async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let exe = match args.site_exe {
        Some(exe) => exe,
        None => std::env::current_exe()?,
    };
    let records = if args.million { 1_000_000 } else { args.records };
    let mut options = if args.smoke { BenchOptions::smoke(exe) } else { BenchOptions::new(records, exe) };
    options.scenarios = args.scenarios;
    options.postgres_url = args.postgres_url;
    if !args.smoke {
        options.sites = args.sites;
        options.cellular_records = args.cellular_records;
    }
    options.replicas = args.replicas;
    options.warm_credentials |= args.warm_credentials;
    outpost_bench::run(&options).await.map(|_| ())
}
