//! Command line: one subcommand per role. Each role binds `--listen` (port 0 picks a free
//! port), keeps its data under `--data-dir` (or `--database-url` for a central), prints
//! `listening on http://ADDR`, and stops gracefully on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::{bench, central_v5, central_v6, db, demo, serve, site};

#[derive(Debug, Parser)]
#[command(
    name = "outpost",
    version,
    about = "Outpost: a site server that synchronises supply-chain data with two central servers."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the site server: the site's database, the Sync page and the sync engine.
    Site(SiteArgs),
    /// Run the V5 central (the legacy mSupply central sync API, /sync/v5/...).
    LegacyCentral(LegacyCentralArgs),
    /// Run the V6 central (the Open mSupply central sync API, /central/sync/...).
    Central(CentralArgs),
    /// Run a seeded site and both centrals in one process, ready to click.
    Demo(DemoArgs),
    /// Measure sync speed, wire bytes, memory, latency and scale on this machine (issue 7).
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Records seeded on the central for the initial sync.
    #[arg(long, default_value_t = 100_000)]
    pub records: u64,
    /// One million records (overrides --records).
    #[arg(long)]
    pub million: bool,
    /// Scenarios to run, comma-separated (default: all): initial_sync, peer, wire, memory,
    /// latency, status_api, central_scale.
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// Tiny sizes: only checks that every scenario still works.
    #[arg(long)]
    pub smoke: bool,
    /// PostgreSQL server for the central-scale scenario (`bash scripts/postgres.sh` prints one).
    #[arg(long, env = "OUTPOST_BENCH_POSTGRES_URL")]
    pub postgres_url: Option<String>,
    /// Simulated sites of the central-scale scenario.
    #[arg(long, default_value_t = 1000)]
    pub sites: u64,
}

#[derive(Debug, Args)]
pub struct SiteArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Folder for the site's database.
    #[arg(long, default_value = "outpost-data/site", global = true)]
    pub data_dir: PathBuf,
    /// The admin password, set on the first start only (later: `outpost site set-admin-password`).
    /// Without one, the first start generates a password and prints it once.
    #[arg(long, env = "OUTPOST_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// The URL people use to reach this server, shown with its QR code (default: from the request).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Folder of the built browser app (default: target/site of the checkout).
    #[arg(long)]
    pub app_dir: Option<PathBuf>,
    /// Without a subcommand the site serves; with one it administers its database.
    #[command(subcommand)]
    pub admin: Option<SiteAdmin>,
}

/// Administration of a site's database (works while it serves).
#[derive(Debug, Subcommand)]
pub enum SiteAdmin {
    /// Replace the admin password (only its Argon2id hash is stored) and end every admin session.
    SetAdminPassword {
        /// The new password (else OUTPOST_ADMIN_PASSWORD, else one line read from stdin).
        #[arg(long, env = "OUTPOST_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct CentralDbArgs {
    /// Folder for the central's SQLite database (ignored with --database-url).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://FILE?mode=rwc or postgres://USER@HOST/DB.
    #[arg(long, env = "OUTPOST_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
}

impl CentralDbArgs {
    fn url(&self, default_dir: &str, file: &str) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => {
                let dir = self.data_dir.clone().unwrap_or_else(|| PathBuf::from(default_dir));
                let _ = std::fs::create_dir_all(&dir);
                db::sqlite_url(&dir, file)
            }
        }
    }
}

#[derive(Debug, Args)]
pub struct LegacyCentralArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8001")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: CentralDbArgs,
    /// Without a subcommand the legacy central serves; with one it administers its database.
    #[command(subcommand)]
    pub admin: Option<LegacyAdmin>,
}

/// Administration of the legacy central's database (works while it serves).
#[derive(Debug, Subcommand)]
pub enum LegacyAdmin {
    /// Register a site with its password and the stores active on it.
    AddSite {
        #[arg(long)]
        name: String,
        #[arg(long)]
        password: String,
        /// A store to make active on the site (repeat for several); missing stores are created.
        #[arg(long = "store")]
        stores: Vec<String>,
        /// The V6 central URL the site is told about.
        #[arg(long, default_value = "http://127.0.0.1:8002")]
        central_url: String,
        /// The numeric site id (default: the next free one).
        #[arg(long)]
        site_id: Option<i64>,
    },
    /// Unbind a site's hardware id, so the next device that syncs binds it.
    ResetHardwareId {
        #[arg(long)]
        name: String,
    },
    /// List sites, their stores, hardware ids and initialisation status (JSON lines).
    ListSites,
    /// Upsert one central record (legacy JSON with an "ID").
    Upsert {
        /// Legacy table name: unit, item, name, store, name_store_join, Location, item_line, transact, trans_line, ...
        #[arg(long)]
        table: String,
        /// The record as JSON.
        #[arg(long)]
        json: String,
    },
    /// Delete one central record.
    Delete {
        #[arg(long)]
        table: String,
        #[arg(long)]
        id: String,
    },
    /// Generate N records of realistic shape and mix (with a progress bar).
    Seed {
        n: u64,
        /// Stores to give stock and invoices (default: every store active on a site).
        #[arg(long = "store")]
        stores: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct CentralArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8002")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: CentralDbArgs,
    /// The V5 central that checks sites' credentials.
    #[arg(long, default_value = "http://127.0.0.1:8001")]
    pub legacy_url: String,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's data here (default: a fresh temporary folder on every start).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:8001")]
    pub legacy_listen: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:8002")]
    pub central_listen: SocketAddr,
    /// Folder of the built browser app (default: target/site of the checkout).
    #[arg(long)]
    pub app_dir: Option<PathBuf>,
    /// Records of generated data the V5 central holds for the demo site (first start only).
    #[arg(long, default_value_t = 2000)]
    pub seed_records: u64,
    /// Delay every request from the site to the centrals by this much, like a slow link.
    #[arg(long, default_value_t = 0)]
    pub link_delay_ms: u64,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("OUTPOST_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Site(args) => {
            if let Some(SiteAdmin::SetAdminPassword { password }) = args.admin {
                return set_admin_password(&args.data_dir, password).await;
            }
            let signals = serve::Signals::install()?;
            let running = site::start(site::SiteConfig {
                listen: args.listen,
                data_dir: args.data_dir,
                public_url: args.public_url,
                app_dir: args.app_dir.unwrap_or_else(site::default_app_dir),
                admin_password: args.admin_password,
            })
            .await?;
            serve::announce(&running, None);
            serve::run_until_signal(signals, vec![running]).await
        }
        Command::LegacyCentral(args) => {
            let url = args.db.url("outpost-data/legacy-central", "legacy-central.db");
            if let Some(admin) = args.admin {
                return central_v5::admin::run_command(&url, admin).await;
            }
            let signals = serve::Signals::install()?;
            let running =
                central_v5::start(central_v5::CentralV5Config { listen: args.listen, database_url: url }).await?;
            serve::announce(&running, None);
            serve::run_until_signal(signals, vec![running]).await
        }
        Command::Central(args) => {
            let url = args.db.url("outpost-data/central", "central.db");
            let signals = serve::Signals::install()?;
            let running = central_v6::start(central_v6::CentralV6Config {
                listen: args.listen,
                database_url: url,
                legacy_url: args.legacy_url,
            })
            .await?;
            serve::announce(&running, None);
            serve::run_until_signal(signals, vec![running]).await
        }
        Command::Demo(args) => demo::run(args).await,
        Command::Bench(args) => {
            let exe = std::env::current_exe()?;
            let records = if args.million { 1_000_000 } else { args.records };
            let mut options =
                if args.smoke { bench::BenchOptions::smoke(exe) } else { bench::BenchOptions::new(records, exe) };
            options.scenarios = args.scenarios;
            options.postgres_url = args.postgres_url;
            if !args.smoke {
                options.sites = args.sites;
            }
            bench::run(&options).await.map(|_| ())
        }
    }
}

async fn set_admin_password(data_dir: &std::path::Path, password: Option<String>) -> anyhow::Result<()> {
    let password = match password {
        Some(p) => p,
        None => {
            eprintln!("new admin password (one line):");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let db = db::open_sqlite(&data_dir.join("site.db"), &site::MIGRATIONS).await?;
    site::admin::set_password(&db, &password).await?;
    println!("admin password changed; every admin session was ended");
    Ok(())
}
