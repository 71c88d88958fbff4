//! `outpost demo`: the V5 central, the V6 central and a site in one process, on the default
//! addresses, seeded so the Sync page works on the first click.
//!
//! The site `demo-site` (password `demo`) is registered on the V5 central with two stores;
//! both centrals hold data for it (central records, store data in its V5 queue, assets on V6),
//! and the site is configured but not yet initialised: the first Sync now! restores its data.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use outpost_api::SyncSettingsInput;
use serde_json::json;

use crate::central_v5::{self, V5State, admin};
use crate::central_v6::{self, V6State};
use crate::ratelimit::TrustedProxies;
use crate::site::{self, settings};
use crate::{db, serve};

mod slow_link;

pub const SITE_NAME: &str = "demo-site";
pub const SITE_PASSWORD: &str = "demo";
pub const STORES: [&str; 2] = ["demo_main_store", "demo_ward_store"];

/// The demo's documented admin password (README; at least [`site::admin::MIN_PASSWORD_CHARS`]
/// characters like every admin password). A demo folder reused with `--data-dir` keeps
/// whatever password it has.
pub const DEMO_ADMIN_PASSWORD: &str = "outpost-admin";

/// The flags of `outpost demo`.
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
    /// Serve the browser app from this folder instead of the copy inside the binary.
    #[arg(long, env = "OUTPOST_APP_DIR")]
    pub app_dir: Option<PathBuf>,
    /// Records of generated data the V5 central holds for the demo site (first start only).
    #[arg(long, default_value_t = 2000)]
    pub seed_records: u64,
    /// Delay every request from the site to the centrals by this much, like a slow link.
    #[arg(long, default_value_t = 0)]
    pub link_delay_ms: u64,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let signals = serve::Signals::install()?;
    // Without --data-dir every start is a fresh world; the temporary folder goes when we stop.
    let (data_dir, _temp): (PathBuf, Option<tempfile::TempDir>) = match args.data_dir {
        Some(dir) => (dir, None),
        None => {
            let temp = tempfile::Builder::new().prefix("outpost-demo-").tempdir()?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    std::fs::create_dir_all(&data_dir)?;
    println!("demo data in {}", data_dir.display());

    let mut legacy_state = V5State::open(&db::sqlite_url(&data_dir, "legacy-central.db")).await?;
    // The V6 central (in this process) checks its callers through the V5 central from this
    // machine, naming each caller: believe it, so each caller's failures count for that caller.
    let loopback = [IpAddr::from([127, 0, 0, 1]), IpAddr::from(std::net::Ipv6Addr::LOCALHOST)];
    let own = Some(args.legacy_listen.ip()).filter(|ip| !ip.is_unspecified());
    legacy_state.trusted_proxies = TrustedProxies::new(loopback.into_iter().chain(own));
    let legacy = central_v5::serve_state(args.legacy_listen, legacy_state.clone()).await?;
    let central_site = register_central(&legacy_state).await?;
    let central_state =
        V6State::open(&db::sqlite_url(&data_dir, "central.db"), &legacy.url()).await?.with_legacy_site(central_site);
    let central = central_v6::serve_state(args.central_listen, central_state.clone()).await?;

    // With --link-delay-ms the site reaches both centrals through relays that slow every
    // request down, like a cellular line; the centrals talk to each other directly.
    let delay = Duration::from_millis(args.link_delay_ms);
    let relays = if delay.is_zero() {
        None
    } else {
        Some((slow_link::start(legacy.addr, delay).await?, slow_link::start(central.addr, delay).await?))
    };
    let (v5_url, v6_url) = match &relays {
        Some((v5, v6)) => (v5.url(), v6.url()),
        None => (legacy.url(), central.url()),
    };

    seed_centrals(&legacy_state, &central_state, &v6_url, args.seed_records).await?;

    let site_config = site::SiteConfig {
        listen: args.listen,
        data_dir: data_dir.join("site"),
        public_url: None,
        allowed_hosts: Vec::new(),
        app_dir: args.app_dir,
        admin_password: Some(DEMO_ADMIN_PASSWORD.into()),
        sync_badge_threshold: 1,
    };
    // The site is configured before its listener binds: whoever opens the page (or polls
    // /api/health) as soon as the port answers sees a configured site, never "not configured".
    let site_state = site::open(&site_config, site::sync::EngineConfig::default()).await?;
    let stored = settings::load(&site_state.db).await?;
    if stored.is_none_or(|s| s.url != v5_url) {
        let input = SyncSettingsInput {
            url: v5_url,
            site_name: SITE_NAME.into(),
            password: SITE_PASSWORD.into(),
            interval_seconds: 300,
            ..Default::default()
        };
        settings::store(&site_state, input)
            .await
            .map_err(|e| anyhow::anyhow!("cannot configure the demo site: {e}"))?;
    }

    let site = site::serve(&site_config, site_state, None).await?;
    serve::announce(&legacy, Some("legacy-central"));
    serve::announce(&central, Some("central"));
    serve::announce(&site, Some("site"));
    println!(
        "open {} in a browser and press Sync now! (site {SITE_NAME}, password {SITE_PASSWORD}; admin password {DEMO_ADMIN_PASSWORD})",
        site.url()
    );
    serve::run_until_signal(signals, vec![site, central, legacy]).await
}

/// The V6 central's own site at the V5 central: no stores; it signs in with it to learn which
/// site each store is on (README, "Registering the V6 central"). Registered once per data folder.
pub const CENTRAL_SITE_NAME: &str = "demo-central";
pub const CENTRAL_SITE_PASSWORD: &str = "demo-central";

async fn register_central(legacy: &V5State) -> anyhow::Result<central_v6::legacy_stores::LegacySite> {
    let sites = admin::list_sites(&legacy.db).await?;
    if !sites.iter().any(|s| s.site.name == CENTRAL_SITE_NAME) {
        let new = admin::NewSite {
            name: CENTRAL_SITE_NAME.into(),
            password: CENTRAL_SITE_PASSWORD.into(),
            store_ids: Vec::new(),
            central_v6_url: String::new(),
            site_id: None,
        };
        admin::add_site(&legacy.db, &new).await?;
    }
    Ok(central_v6::legacy_stores::LegacySite {
        name: CENTRAL_SITE_NAME.into(),
        password_sha256: crate::wire::v5::password_sha256(CENTRAL_SITE_PASSWORD),
    })
}

/// Register `demo-site` and give both centrals data for it, once per data folder. The V6 URL
/// the V5 central advertises is kept current, since ports can change between starts.
async fn seed_centrals(legacy: &V5State, central: &V6State, v6_url: &str, records: u64) -> anyhow::Result<()> {
    let sites = admin::list_sites(&legacy.db).await?;
    if let Some(existing) = sites.iter().find(|s| s.site.name == SITE_NAME) {
        if existing.site.om_supply_central_server_url != v6_url {
            admin::set_central_v6_url(&legacy.db, SITE_NAME, v6_url).await?;
        }
        return Ok(());
    }
    let stores: Vec<String> = STORES.iter().map(|s| s.to_string()).collect();
    let site = admin::add_site(
        &legacy.db,
        &admin::NewSite {
            name: SITE_NAME.into(),
            password: SITE_PASSWORD.into(),
            store_ids: stores.clone(),
            central_v6_url: v6_url.into(),
            site_id: None,
        },
    )
    .await
    .context("cannot register the demo site")?;
    central_v5::seed::seed(&legacy.db, records, &stores).await.context("cannot seed the V5 central")?;
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    for (i, (store, notes)) in
        [(STORES[0], "Vaccine fridge, cold room"), (STORES[0], "Ice-lined refrigerator"), (STORES[1], "Freezer, ward")]
            .into_iter()
            .enumerate()
    {
        let asset = json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "store_id": store,
            "asset_number": format!("CCE-{:03}", i + 1),
            "serial_number": format!("SN-{}", 4_000 + i),
            "notes": notes,
            "created_datetime": now,
            "modified_datetime": now,
        });
        // Assets the site made before: the V6 central gives them back on initialisation.
        central_v6::upsert_asset(&central.db, &asset, Some(site.site_id)).await?;
    }
    Ok(())
}
