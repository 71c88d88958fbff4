//! Command line: one subcommand per role. Each role binds `--listen` (port 0 picks a free
//! port), keeps its data under `--data-dir` (or `--database-url` for a central), prints
//! `listening on http://ADDR`, and stops gracefully on Ctrl-C or SIGTERM.
//!
//! This is the top floor: it parses arguments and starts one role. The admin subcommands of a
//! role and the demo's flags are defined by that role (`site::admin`, `central_v5::admin`,
//! `demo`) and only mounted here, so nothing below ever imports the CLI.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::{central_v5, central_v6, db, demo, serve, site};

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
    Demo(demo::DemoArgs),
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
    /// Without one, the first start generates a password and prints it once. At least 12 characters.
    #[arg(long, env = "OUTPOST_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// The URL people use to reach this server, shown with its QR code (default: from the request).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Another host name this server answers to (repeatable; without the flag, the comma-separated
    /// OUTPOST_ALLOWED_HOST). IP addresses, `localhost` and the --public-url host always work; any
    /// other name is refused with 421, so a rebound web page cannot read the site.
    #[arg(long = "allowed-host", value_name = "NAME", env = "OUTPOST_ALLOWED_HOST", value_delimiter = ',')]
    pub allowed_host: Vec<String>,
    /// Folder of the built browser app (default: target/site of the checkout).
    #[arg(long)]
    pub app_dir: Option<PathBuf>,
    /// Records waiting to be sent before the Sync link in the navigation shows their count.
    #[arg(long, default_value_t = 1)]
    pub sync_badge_threshold: u64,
    /// Without a subcommand the site serves; with one it administers its database.
    #[command(subcommand)]
    pub admin: Option<site::admin::AdminCommand>,
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
    /// A peer allowed to name the real caller in the forwarded-address header (repeatable; none
    /// by default). Give it the V6 central's address as this central sees it (e.g. 127.0.0.1 on
    /// one machine): otherwise every failed login made through the V6 central counts against
    /// the V6 central's own address, and ten of them lock every site out of V6 for a while.
    #[arg(long = "trusted-proxy", value_name = "ADDR")]
    pub trusted_proxy: Vec<IpAddr>,
    #[command(flatten)]
    pub push_buffer: PushBufferArgs,
    /// Without a subcommand the legacy central serves; with one it administers its database.
    #[command(subcommand)]
    pub admin: Option<central_v5::admin::AdminCommand>,
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
    /// A reverse proxy in front of this central whose `X-Forwarded-For` names the real caller
    /// (repeatable; none by default), so failed logins count per caller, not per proxy.
    #[arg(long = "trusted-proxy", value_name = "ADDR")]
    pub trusted_proxy: Vec<IpAddr>,
    /// This central's own site at the V5 central (registered there with no stores), through
    /// which it learns which site each store is on, as the reference's central does.
    #[arg(long, env = "OUTPOST_LEGACY_SITE_NAME")]
    pub legacy_site_name: Option<String>,
    /// The password of that site.
    #[arg(long, env = "OUTPOST_LEGACY_SITE_PASSWORD", hide_env_values = true)]
    pub legacy_site_password: Option<String>,
    #[command(flatten)]
    pub push_buffer: PushBufferArgs,
}

#[derive(Debug, Args)]
pub struct PushBufferArgs {
    /// Most MB of pushed records one site may have waiting for integration; a push past it is
    /// refused (`push_buffer_full`) and kept by the site, so no site can fill this disk.
    #[arg(long, value_name = "MB", default_value_t = crate::central_shared::push_buffer::DEFAULT_MAX_BYTES / (1024 * 1024))]
    pub max_push_buffer_mb: u64,
}

impl PushBufferArgs {
    fn bytes(&self) -> u64 {
        self.max_push_buffer_mb.saturating_mul(1024 * 1024)
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    block_on(run(cli))
}

/// Run a binary's `main` future on a multi-thread runtime; its error, with its causes, is the
/// last line printed and makes the exit code a failure. Public for tools with their own binary
/// (the bench).
pub fn block_on(main: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `OUTPOST_LOG` (default: info, quieter for sqlx and tower-http).
/// Public so that tools running roles in their own process (the bench) log the same way.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("OUTPOST_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Site(args) => {
            if let Some(admin) = args.admin {
                return site::admin::run_command(&args.data_dir, admin).await;
            }
            let signals = serve::Signals::install()?;
            let running = site::start(site::SiteConfig {
                listen: args.listen,
                data_dir: args.data_dir,
                public_url: args.public_url,
                allowed_hosts: args.allowed_host,
                app_dir: args.app_dir.unwrap_or_else(site::default_app_dir),
                admin_password: args.admin_password,
                sync_badge_threshold: args.sync_badge_threshold,
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
            let running = central_v5::start(central_v5::CentralV5Config {
                listen: args.listen,
                database_url: url,
                trusted_proxies: args.trusted_proxy,
                max_push_buffer_bytes: args.push_buffer.bytes(),
            })
            .await?;
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
                max_push_buffer_bytes: args.push_buffer.bytes(),
                trusted_proxies: args.trusted_proxy,
                legacy_site: match (args.legacy_site_name, args.legacy_site_password) {
                    (Some(name), Some(password)) => Some(central_v6::legacy_stores::LegacySite {
                        name,
                        password_sha256: crate::wire::v5::password_sha256(&password),
                    }),
                    (None, None) => None,
                    _ => anyhow::bail!("give both --legacy-site-name and --legacy-site-password, or neither"),
                },
            })
            .await?;
            serve::announce(&running, None);
            serve::run_until_signal(signals, vec![running]).await
        }
        Command::Demo(args) => demo::run(args).await,
    }
}
