//! The real `outpost site` binary as a child process, so a test can `kill -9` it like a power
//! cut would (no destructor, no graceful shutdown, SQLite left with whatever it committed) and
//! start it again on the same data folder, and so the bench can read the site's own memory
//! ([`SiteProcess::rss`]). The caller names the binary (a test passes
//! `env!("CARGO_BIN_EXE_outpost")`, which only Cargo's test harness knows; the bench passes its
//! own executable, which hands `site …` to the `outpost` command line).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::admin::ADMIN_PASSWORD;

pub struct SiteProcess {
    child: Option<Child>,
    pub url: String,
    /// Just before the process was spawned: where "seconds to resume" is measured from.
    pub spawned: Instant,
    pub data_dir: PathBuf,
}

/// A process's resident memory, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rss {
    pub current: u64,
    /// The most it has held since it started (`VmHWM`).
    pub peak: u64,
}

impl SiteProcess {
    /// Spawn `BIN site` on port 0, logging errors only, and wait for its `listening on` line.
    pub async fn start(bin: &Path, data_dir: &Path) -> SiteProcess {
        SiteProcess::start_logging(bin, data_dir, "error").await
    }

    /// [`SiteProcess::start`] with the site's log filter (`OUTPOST_LOG`), e.g. `warn`.
    pub async fn start_logging(bin: &Path, data_dir: &Path, log: &str) -> SiteProcess {
        SiteProcess::start_with(bin, data_dir, &[], &[("OUTPOST_LOG", log)]).await
    }

    /// [`SiteProcess::start_logging`] with extra environment variables (e.g. the crash harness's
    /// `OUTPOST_TEST_KILL_POINT`).
    pub async fn start_with_env(bin: &Path, data_dir: &Path, log: &str, env: &[(&str, &str)]) -> SiteProcess {
        let mut all = env.to_vec();
        all.push(("OUTPOST_LOG", log));
        SiteProcess::start_with(bin, data_dir, &[], &all).await
    }

    /// [`SiteProcess::start`] with extra flags (e.g. `--ca-cert FILE`) and environment
    /// variables (e.g. `HTTPS_PROXY`).
    pub async fn start_with(bin: &Path, data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> SiteProcess {
        let dir = data_dir.to_path_buf();
        let bin = bin.to_path_buf();
        let mut all: Vec<String> = ["site", "--listen", "127.0.0.1:0", "--data-dir"].map(String::from).to_vec();
        all.push(dir.display().to_string());
        all.extend(["--app-dir".to_owned(), dir.join("no-app").display().to_string()]);
        all.extend(["--admin-password".to_owned(), ADMIN_PASSWORD.to_owned()]);
        all.extend(args.iter().map(|a| a.to_string()));
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let spawned = Instant::now();
        let (child, url) = spawn_listening(bin, all, env, "the site").await;
        SiteProcess { child: Some(child), url, spawned, data_dir: dir }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The process's resident memory now and at its peak, from `/proc` (zero where the system
    /// has no `/proc` or the process is gone).
    pub fn rss(&self) -> Rss {
        let status = self.pid().and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok());
        let field = |name: &str| {
            status
                .as_deref()
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        Rss { current: field("VmRSS:"), peak: field("VmHWM:") }
    }

    /// Stop the process gracefully (SIGTERM), as a service manager would; `kill -9` it if it
    /// has not exited within 5 s.
    pub async fn stop(mut self) {
        let Some(mut child) = self.child.take() else { return };
        tokio::task::spawn_blocking(move || {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        })
        .await
        .unwrap();
    }

    /// `kill -9` the process and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let status = Command::new("kill").args(["-9", &child.id().to_string()]).status().unwrap();
            assert!(status.success(), "kill -9 failed");
            let _ = child.wait();
        }
    }
}

impl Drop for SiteProcess {
    /// A failing test must not leave a site running.
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A central (`legacy-central` or `central`) as a child process of the real binary, so a test
/// can run several replicas of it on one PostgreSQL database, `kill -9` one mid-work (no
/// destructor, its connections dropped as a power cut would) and start it again.
pub struct CentralProcess {
    child: Option<Child>,
    /// Where it listens now (a new port after each [`CentralProcess::restart`]).
    pub url: String,
    bin: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl CentralProcess {
    /// Spawn `BIN <args…> --listen 127.0.0.1:0` (args name the role first, e.g.
    /// `["legacy-central", "--database-url", url]`) with `env` added (logging errors only unless
    /// `OUTPOST_LOG` is given), and wait for its `listening on` line.
    pub async fn start(bin: &Path, args: &[String], env: &[(String, String)]) -> CentralProcess {
        let mut process =
            CentralProcess { child: None, url: String::new(), bin: bin.into(), args: args.to_vec(), env: env.to_vec() };
        process.spawn().await;
        process
    }

    async fn spawn(&mut self) {
        let mut args = self.args.clone();
        args.extend(["--listen".to_owned(), "127.0.0.1:0".to_owned()]);
        let (child, url) = spawn_listening(self.bin.clone(), args, self.env.clone(), "the central").await;
        self.child = Some(child);
        self.url = url;
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// `kill -9` the process (if it still runs: a test may have killed it by its id) and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-9", &child.id().to_string()]).stderr(Stdio::null()).status();
            let _ = child.wait();
        }
    }

    /// Start it again (after [`CentralProcess::kill9`]) with the same arguments, without the
    /// environment variables named in `drop_env` (e.g. a kill point), on a new port.
    pub async fn restart(&mut self, drop_env: &[&str]) {
        self.kill9();
        self.env.retain(|(k, _)| !drop_env.contains(&k.as_str()));
        self.spawn().await;
    }
}

impl Drop for CentralProcess {
    /// A failing test must not leave a central running.
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Spawn `bin args…` (logging errors only unless `env` sets `OUTPOST_LOG`) and wait for its
/// `listening on URL` line; its output is read to the end on a thread of its own, so the child
/// never blocks on a full pipe. `what` names it in the panic if it exits before listening.
async fn spawn_listening(
    bin: PathBuf,
    args: Vec<String>,
    mut env: Vec<(String, String)>,
    what: &'static str,
) -> (Child, String) {
    if !env.iter().any(|(k, _)| k == "OUTPOST_LOG") {
        env.push(("OUTPOST_LOG".into(), "error".into()));
    }
    tokio::task::spawn_blocking(move || {
        let mut child =
            Command::new(bin).args(&args).envs(env).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines.next().unwrap_or_else(|| panic!("{what} exited before listening")).unwrap();
            if let Some(rest) = line.strip_prefix("listening on ") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        (child, url)
    })
    .await
    .unwrap()
}
