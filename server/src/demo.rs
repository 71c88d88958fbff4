//! `outpost demo`: the V5 central, the V6 central and a site in one process, on the default
//! addresses, so the Sync page works on the first click.

use std::path::PathBuf;

use crate::cli::DemoArgs;
use crate::{central_v5, central_v6, db, serve, site};

/// The demo's documented admin password (README). A demo folder reused with `--data-dir` keeps
/// whatever password it has.
pub const DEMO_ADMIN_PASSWORD: &str = "admin";

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
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

    let legacy = central_v5::start(central_v5::CentralV5Config {
        listen: args.legacy_listen,
        database_url: db::sqlite_url(&data_dir, "legacy-central.db"),
    })
    .await?;
    let central = central_v6::start(central_v6::CentralV6Config {
        listen: args.central_listen,
        database_url: db::sqlite_url(&data_dir, "central.db"),
        legacy_url: legacy.url(),
    })
    .await?;
    let site = site::start(site::SiteConfig {
        listen: args.listen,
        data_dir: data_dir.join("site"),
        public_url: None,
        app_dir: args.app_dir.unwrap_or_else(site::default_app_dir),
        admin_password: Some(DEMO_ADMIN_PASSWORD.into()),
    })
    .await?;
    serve::announce(&legacy, Some("legacy-central"));
    serve::announce(&central, Some("central"));
    serve::announce(&site, Some("site"));
    println!("open {} in a browser", site.url());
    serve::run_until_signal(vec![site, central, legacy]).await
}
