//! The world a bench runs in: the V5 and V6 centrals in this process (SQLite, temporary
//! folder), each behind a byte-counting TCP proxy so the bytes on the wire are measured where
//! they travel, and the site as a child process (`outpost site`) so its memory is its own.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use outpost_api::SyncStatus;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

use crate::BenchOptions;
use outpost::central_v5::{self, V5State};
use outpost::central_v6::{self, V6State};
use outpost::serve::Running;

pub const SITE_NAME: &str = "bench-site";
pub const PASSWORD: &str = "bench";
pub const STORES: [&str; 2] = ["bench-store-a", "bench-store-b"];

/// Bytes that crossed a proxy: `up` from the site to the central, `down` back.
#[derive(Debug, Default)]
pub struct Counter {
    pub up: AtomicU64,
    pub down: AtomicU64,
}

impl Counter {
    pub fn snapshot(&self) -> (u64, u64) {
        (self.up.load(Ordering::Relaxed), self.down.load(Ordering::Relaxed))
    }
}

/// Forward every connection on a loopback port to `target`, counting bytes each way.
pub async fn counting_proxy(target: std::net::SocketAddr, counter: Arc<Counter>) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                if let Ok((up, down)) = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await {
                    counter.up.fetch_add(up, Ordering::Relaxed);
                    counter.down.fetch_add(down, Ordering::Relaxed);
                }
            });
        }
    });
    Ok(url)
}

/// Both centrals, their proxies, and the site process.
pub struct World {
    pub dir: tempfile::TempDir,
    pub v5: Running,
    pub v5_state: V5State,
    pub v6: Running,
    pub v6_state: V6State,
    /// What the site is told: the proxies' URLs.
    pub v5_url: String,
    pub v5_bytes: Arc<Counter>,
    pub v6_bytes: Arc<Counter>,
    pub site: SiteProcess,
    pub http: reqwest::Client,
    pub seeded: u64,
}

impl World {
    pub async fn start(options: &BenchOptions) -> anyhow::Result<World> {
        let dir = tempfile::Builder::new().prefix("outpost-bench-").tempdir()?;
        let v5_state = V5State::open(&outpost::db::sqlite_url(dir.path(), "legacy-central.db")).await?;
        let v5 = central_v5::serve_state("127.0.0.1:0".parse()?, v5_state.clone()).await?;
        let v5_bytes = Arc::new(Counter::default());
        let v5_url = counting_proxy(v5.addr, v5_bytes.clone()).await?;
        // The V6 central checks credentials with the V5 central directly, not through the proxy.
        let v6_state = V6State::open(&outpost::db::sqlite_url(dir.path(), "central.db"), &v5.url()).await?;
        let v6 = central_v6::serve_state("127.0.0.1:0".parse()?, v6_state.clone()).await?;
        let v6_bytes = Arc::new(Counter::default());
        let v6_url = counting_proxy(v6.addr, v6_bytes.clone()).await?;
        let new = central_v5::admin::NewSite {
            name: SITE_NAME.into(),
            password: PASSWORD.into(),
            store_ids: STORES.iter().map(|s| s.to_string()).collect(),
            central_v6_url: v6_url,
            site_id: None,
        };
        central_v5::admin::add_site(&v5_state.db, &new).await?;
        let stores: Vec<String> = STORES.iter().map(|s| s.to_string()).collect();
        eprintln!("seeding {} records on the V5 central...", options.records);
        let seeded = central_v5::seed::seed(&v5_state.db, options.records, &stores).await?.records;
        let site = SiteProcess::start(&options.site_exe, dir.path().join("site")).await?;
        let http = admin_client(&site.url).await?;
        Ok(World { dir, v5, v5_state, v6, v6_state, v5_url, v5_bytes, v6_bytes, site, http, seeded })
    }

    /// Bytes through both proxies so far (up, down).
    pub fn wire_bytes(&self) -> (u64, u64) {
        let (u5, d5) = self.v5_bytes.snapshot();
        let (u6, d6) = self.v6_bytes.snapshot();
        (u5 + u6, d5 + d6)
    }

    pub async fn status(&self) -> anyhow::Result<SyncStatus> {
        let reply = self.http.get(format!("{}/api/sync/status", self.site.url)).send().await?;
        anyhow::ensure!(reply.status().is_success(), "status: HTTP {}", reply.status());
        Ok(reply.json().await?)
    }

    /// Save the sync settings (this starts the first run), as a person does on the Admin page.
    pub async fn configure(&self) -> anyhow::Result<()> {
        // Batch sizes are left to the site's defaults: those are what people get.
        let body = json!({"url": self.v5_url, "siteName": SITE_NAME, "password": PASSWORD, "intervalSeconds": 86400,
            "isDisabled": false});
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
        self.v6.stop().await;
        self.v5.stop().await;
    }
}

/// `outpost site` in a child process, started from [`BenchOptions::site_exe`](crate::BenchOptions).
pub struct SiteProcess {
    pub child: Child,
    pub pid: u32,
    pub url: String,
}

impl SiteProcess {
    pub async fn start(exe: &std::path::Path, data_dir: PathBuf) -> anyhow::Result<SiteProcess> {
        let mut child = Command::new(exe)
            .args(["site", "--listen", "127.0.0.1:0", "--admin-password", ADMIN_PASSWORD, "--data-dir"])
            .arg(&data_dir)
            .arg("--app-dir")
            .arg(data_dir.join("no-app"))
            .env("OUTPOST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let pid = child.id().context("site exited at once")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.strip_prefix("listening on ") {
                    return Ok(rest.trim().to_owned());
                }
            }
            anyhow::bail!("the site exited before listening")
        })
        .await
        .context("the site did not start within 30 s")??;
        // Keep draining its stdout so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(SiteProcess { child, pid, url })
    }

    /// (current RSS, peak RSS) in bytes, from /proc.
    pub fn rss(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    pub async fn stop(mut self) {
        // SIGTERM first: the site stops gracefully; kill only if it does not.
        let _ = Command::new("kill").arg(self.pid.to_string()).status().await;
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// The admin password of the bench's site (settings and store-data writes need the admin).
const ADMIN_PASSWORD: &str = "bench-admin";

/// A client signed in as the site's admin: its session cookie and the CSRF header go with every
/// request, as the browser app sends them.
async fn admin_client(site_url: &str) -> anyhow::Result<reqwest::Client> {
    let login = reqwest::Client::builder().no_proxy().build()?;
    let reply = login.post(format!("{site_url}/api/session")).json(&json!({"password": ADMIN_PASSWORD})).send().await?;
    anyhow::ensure!(reply.status().is_success(), "admin login: HTTP {}", reply.status());
    let cookie = reply
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .context("the login set no session cookie")?
        .to_owned();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, reqwest::header::HeaderValue::from_str(&cookie)?);
    headers.insert(outpost_api::CSRF_HEADER, reqwest::header::HeaderValue::from_static("1"));
    Ok(reqwest::Client::builder().no_proxy().pool_max_idle_per_host(1024).default_headers(headers).build()?)
}
