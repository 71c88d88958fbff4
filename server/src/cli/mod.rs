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

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::{central_v5, central_v6, db, demo, serve, site};

pub mod config;

#[derive(Debug, Parser)]
#[command(
    name = "outpost",
    version,
    about = "Outpost: a site server that synchronises supply-chain data with two central servers."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// A TOML file of settings for the role, keys named like the long flags (`data-dir = "…"`);
    /// flags and OUTPOST_* environment variables override it (also OUTPOST_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the role's merged settings (flags > environment > file > defaults; secrets masked) and exit.
    #[arg(long, global = true)]
    pub print_config: bool,
    /// Log lines as `text` (default) or `json` (one object per line, for journald or a log
    /// shipper); the filter is RUST_LOG.
    #[arg(long, global = true, value_name = "FORMAT", env = "OUTPOST_LOG_FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
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

/// HTTPS: serving it, and trusting a private certificate authority when calling a central.
#[derive(Debug, Args, Clone, Default)]
pub struct TlsArgs {
    /// Serve HTTPS with this PEM certificate chain (server certificate first); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Trust this PEM certificate authority too (a ministry's private CA) when reaching a
    /// central over https://; the system's roots are always trusted.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

impl TlsArgs {
    /// Trust `--ca-cert` for this process's clients and load the server certificate, if any.
    pub fn apply(&self) -> anyhow::Result<Option<serve::Tls>> {
        if let Some(ca) = &self.ca_cert {
            crate::wire::client::trust_ca_file(ca)?;
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some(serve::Tls::from_pem_files(cert, key)?)),
            _ => Ok(None),
        }
    }
}

#[derive(Debug, Args)]
pub struct SiteArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Folder for the site's database (default: $STATE_DIRECTORY/site under systemd, else
    /// $XDG_DATA_HOME/outpost/site, else ~/.local/share/outpost/site; never the working folder).
    #[arg(long, env = "OUTPOST_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// The admin password, set on the first start only (later: `outpost site set-admin-password`).
    /// Without one, the first start generates a password and prints it once. At least 12 characters.
    #[arg(long, env = "OUTPOST_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Read the first-start admin password from this file (first line), instead of the command
    /// line where other users of the machine could see it.
    #[arg(long, value_name = "FILE", conflicts_with = "admin_password")]
    pub admin_password_file: Option<PathBuf>,
    /// The URL people use to reach this server, shown with its QR code (default: from the request).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Another host name this server answers to (repeatable; without the flag, the comma-separated
    /// OUTPOST_ALLOWED_HOST). IP addresses, `localhost` and the --public-url host always work; any
    /// other name is refused with 421, so a rebound web page cannot read the site.
    #[arg(long = "allowed-host", value_name = "NAME", env = "OUTPOST_ALLOWED_HOST", value_delimiter = ',')]
    pub allowed_host: Vec<String>,
    /// Serve the browser app from this folder instead of the copy inside the binary
    /// (development: `target/site` after `build_app`).
    #[arg(long, env = "OUTPOST_APP_DIR")]
    pub app_dir: Option<PathBuf>,
    /// Records waiting to be sent before the Sync link in the navigation shows their count.
    #[arg(long, default_value_t = 1)]
    pub sync_badge_threshold: u64,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Without a subcommand the site serves; with one it administers its database.
    #[command(subcommand)]
    pub admin: Option<site::admin::AdminCommand>,
}

#[derive(Debug, Args)]
pub struct CentralDbArgs {
    /// Folder for the central's SQLite database (ignored with --database-url; default as for
    /// the site: $STATE_DIRECTORY/ROLE, else $XDG_DATA_HOME/outpost/ROLE, else ~/.local/share/outpost/ROLE).
    #[arg(long, env = "OUTPOST_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://FILE?mode=rwc or postgres://USER@HOST/DB.
    #[arg(long, env = "OUTPOST_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
}

impl CentralDbArgs {
    fn url(&self, role: &str, file: &str) -> anyhow::Result<String> {
        match &self.database_url {
            Some(url) => Ok(url.clone()),
            None => {
                let dir = match &self.data_dir {
                    Some(dir) => dir.clone(),
                    None => default_data_dir(role)?,
                };
                db::create_private_dir(&dir)?;
                db::create_private_file(&dir.join(file))?;
                Ok(db::sqlite_url(&dir, file))
            }
        }
    }
}

/// No `--data-dir`: an absolute folder, never one relative to the working folder (which is
/// `/` under a service manager). systemd's `StateDirectory=` comes first.
pub fn default_data_dir(role: &str) -> anyhow::Result<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let state = std::env::var("STATE_DIRECTORY").ok().and_then(|v| v.split(':').next().map(PathBuf::from));
    if let Some(state) = state.filter(|p| p.is_absolute()) {
        return Ok(state.join(role));
    }
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").and_then(absolute) {
        return Ok(data.join("outpost").join(role));
    }
    if let Some(home) = std::env::var_os("HOME").and_then(absolute) {
        return Ok(home.join(".local/share/outpost").join(role));
    }
    anyhow::bail!(
        "no --data-dir given and no STATE_DIRECTORY, XDG_DATA_HOME or HOME to put one in (hint: pass --data-dir DIR)"
    )
}

#[derive(Debug, Args)]
pub struct LegacyCentralArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8001")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: CentralDbArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// A peer allowed to name the real caller in the forwarded-address header (repeatable; none
    /// by default). Give it the V6 central's address as this central sees it (e.g. 127.0.0.1 on
    /// one machine): otherwise every failed login made through the V6 central counts against
    /// the V6 central's own address, and ten of them lock every site out of V6 for a while.
    #[arg(long = "trusted-proxy", value_name = "ADDR")]
    pub trusted_proxy: Vec<IpAddr>,
    #[command(flatten)]
    pub push_buffer: PushBufferArgs,
    #[command(flatten)]
    pub replicas: ReplicaArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
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
    #[command(flatten)]
    pub tls: TlsArgs,
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
    #[command(flatten)]
    pub replicas: ReplicaArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// Without a subcommand the central serves; with one it backs up or restores its database.
    #[command(subcommand)]
    pub admin: Option<crate::backup::BackupCommand>,
}

#[derive(Debug, Args)]
pub struct PushBufferArgs {
    /// Most MB of pushed records one site may have waiting for integration; a push past it is
    /// refused (`push_buffer_full`) and kept by the site, so no site can fill this disk.
    #[arg(long, value_name = "MB", default_value_t = crate::central_shared::push_buffer::DEFAULT_MAX_BYTES / (1024 * 1024))]
    pub max_push_buffer_mb: u64,
}

/// Running several replicas of a central on one PostgreSQL database (README, "Several replicas").
#[derive(Debug, Args)]
pub struct ReplicaArgs {
    /// Seconds a replica's claim on a site (its integration, its preparation) lives without
    /// being renewed: a replica that dies is taken over by another this long after at most.
    /// PostgreSQL only (a SQLite central is one process).
    #[arg(long, value_name = "SECS", default_value_t = crate::central_shared::activity::DEFAULT_LEASE.as_secs_f64(), env = "OUTPOST_INTEGRATION_LEASE_SECS")]
    pub integration_lease_secs: f64,
}

impl ReplicaArgs {
    fn lease(&self) -> anyhow::Result<std::time::Duration> {
        std::time::Duration::try_from_secs_f64(self.integration_lease_secs)
            .ok()
            .filter(|d| *d >= std::time::Duration::from_millis(300))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--integration-lease-secs must be at least 0.3 (hint: the default, {} s, suits most deployments)",
                    crate::central_shared::activity::DEFAULT_LEASE.as_secs()
                )
            })
    }
}

/// Who may read `GET /metrics` (see the README, "Metrics").
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// A bearer token a Prometheus scraper presents to read /metrics from any address; without
    /// it /metrics answers callers on this machine (loopback) only.
    #[arg(long, env = "OUTPOST_METRICS_TOKEN", hide_env_values = true, conflicts_with = "metrics_token_file")]
    pub metrics_token: Option<String>,
    /// Read --metrics-token from this file (first line).
    #[arg(long, value_name = "FILE", env = "OUTPOST_METRICS_TOKEN_FILE")]
    pub metrics_token_file: Option<PathBuf>,
}

impl MetricsArgs {
    fn token(&self) -> anyhow::Result<Option<String>> {
        let token = match &self.metrics_token_file {
            Some(file) => Some(crate::secrets::read_file(file)?),
            None => self.metrics_token.clone(),
        };
        if token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            anyhow::bail!(
                "the metrics token is empty (hint: give a long random one, e.g. from `openssl rand -hex 32`)"
            );
        }
        Ok(token)
    }
}

impl PushBufferArgs {
    fn bytes(&self) -> u64 {
        self.max_push_buffer_mb.saturating_mul(1024 * 1024)
    }
}

pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let command = match config::prepare(Cli::command(), &args) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let matches = command.clone().get_matches_from(&args);
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    keep_the_stronger_admin_password(&mut cli, &matches);
    if cli.print_config {
        print!("{}", config::print(&command, &matches));
        return ExitCode::SUCCESS;
    }
    init_logging_as(cli.log_format.as_deref());
    block_on(run(cli))
}

/// `--admin-password` and `--admin-password-file` conflict, but clap checks conflicts only
/// between values that were given, not the config file's (defaults to clap): with one from the
/// file and the other from a flag or the environment, both arrive. The stronger source wins
/// (flags > environment > file), as for every other setting.
fn keep_the_stronger_admin_password(cli: &mut Cli, matches: &clap::ArgMatches) {
    let (Command::Site(args), Some(("site", sub))) = (&mut cli.command, matches.subcommand()) else { return };
    if args.admin_password.is_none() || args.admin_password_file.is_none() {
        return;
    }
    if sub.value_source("admin_password") >= sub.value_source("admin_password_file") {
        args.admin_password_file = None;
    } else {
        args.admin_password = None;
    }
}

/// Run a binary's `main` future on a multi-thread runtime; its error, with its causes, is the
/// last line printed and makes the exit code a failure. Public for tools with their own binary
/// (the bench).
pub fn block_on(main: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    crate::wire::client::install_crypto_provider();
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

/// Logs to stderr, filtered by `RUST_LOG` (`OUTPOST_LOG`, its older name, still works; default:
/// info, quieter for sqlx and tower-http), as text or as JSON lines when `OUTPOST_LOG_FORMAT` is
/// `json` (for journald or a log shipper). Colours only when stderr is a terminal, so log
/// files and the journal get plain text. Public so that tools running roles in their own
/// process (the bench) log the same way.
pub fn init_logging() {
    init_logging_as(None);
}

/// [`init_logging`] with `--log-format` (`text` or `json`; `None`: `OUTPOST_LOG_FORMAT`).
pub fn init_logging_as(format: Option<&str>) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_from_env("OUTPOST_LOG"))
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let format = format.map(str::to_owned).or_else(|| std::env::var("OUTPOST_LOG_FORMAT").ok());
    if format.is_some_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

/// Held while a central on SQLite serves, so a restore of its file is refused meanwhile.
fn lock_central(
    url: &str,
    database: fn(&std::path::Path) -> crate::backup::Database<'_>,
) -> anyhow::Result<Option<crate::backup::DbLock>> {
    db::sqlite_path(url).map(|path| crate::backup::lock(database(&path))).transpose()
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Site(args) => {
            let data_dir = match args.data_dir {
                Some(dir) => dir,
                None => default_data_dir("site")?,
            };
            if let Some(admin) = args.admin {
                return site::admin::run_command(&data_dir, admin).await;
            }
            let tls = args.tls.apply()?;
            // Held until the process ends: a restore or a second site on this folder is refused.
            let _lock = crate::backup::lock(site::database(&data_dir.join("site.db")))?;
            let signals = serve::Signals::install()?;
            let config = site::SiteConfig {
                listen: args.listen,
                data_dir,
                public_url: args.public_url,
                allowed_hosts: args.allowed_host,
                app_dir: args.app_dir,
                admin_password: match &args.admin_password_file {
                    Some(file) => Some(crate::secrets::read_file(file)?),
                    None => args.admin_password,
                },
                sync_badge_threshold: args.sync_badge_threshold,
            };
            let (running, _) = site::start_tls(config, site::sync::EngineConfig::default(), tls).await?;
            serve::announce(&running, None);
            serve::run_until_signal(signals, vec![running]).await
        }
        Command::LegacyCentral(args) => {
            let url = args.db.url("legacy-central", "legacy-central.db")?;
            if let Some(admin) = args.admin {
                return central_v5::admin::run_command(&url, admin).await;
            }
            let tls = args.tls.apply()?;
            let _lock = lock_central(&url, central_v5::database)?;
            let signals = serve::Signals::install()?;
            let config = central_v5::CentralV5Config {
                listen: args.listen,
                database_url: url,
                trusted_proxies: args.trusted_proxy,
                max_push_buffer_bytes: args.push_buffer.bytes(),
                metrics_token: args.metrics.token()?,
                integration_lease: args.replicas.lease()?,
            };
            let running = central_v5::start(config, tls).await?;
            serve::announce(&running, None);
            serve::run_until_signal(signals, vec![running]).await
        }
        Command::Central(args) => {
            let url = args.db.url("central", "central.db")?;
            if let Some(command) = args.admin {
                return crate::backup::run_central(&url, central_v6::database, command).await;
            }
            let tls = args.tls.apply()?;
            let _lock = lock_central(&url, central_v6::database)?;
            let signals = serve::Signals::install()?;
            let config = central_v6::CentralV6Config {
                listen: args.listen,
                database_url: url,
                legacy_url: args.legacy_url,
                max_push_buffer_bytes: args.push_buffer.bytes(),
                metrics_token: args.metrics.token()?,
                integration_lease: args.replicas.lease()?,
                trusted_proxies: args.trusted_proxy,
                legacy_site: match (args.legacy_site_name, args.legacy_site_password) {
                    (Some(name), Some(password)) => Some(central_v6::legacy_stores::LegacySite {
                        name,
                        password_sha256: crate::wire::v5::password_sha256(&password),
                    }),
                    (None, None) => None,
                    _ => anyhow::bail!("give both --legacy-site-name and --legacy-site-password, or neither"),
                },
            };
            let running = central_v6::start(config, tls).await?;
            serve::announce(&running, None);
            serve::run_until_signal(signals, vec![running]).await
        }
        Command::Demo(args) => demo::run(args).await,
    }
}
