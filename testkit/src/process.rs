//! The real `outpost site` binary as a child process, so a test can `kill -9` it like a power
//! cut would (no destructor, no graceful shutdown, SQLite left with whatever it committed) and
//! start it again on the same data folder. The caller names the binary (a test passes
//! `env!("CARGO_BIN_EXE_outpost")`, which only Cargo's test harness knows).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::admin::ADMIN_PASSWORD;

pub struct SiteProcess {
    child: Option<Child>,
    pub url: String,
    /// Just before the process was spawned: where "seconds to resume" is measured from.
    pub spawned: Instant,
    pub data_dir: PathBuf,
}

impl SiteProcess {
    /// Spawn `BIN site` on port 0 and wait for its `listening on` line.
    pub async fn start(bin: &Path, data_dir: &Path) -> SiteProcess {
        let dir = data_dir.to_path_buf();
        let bin = bin.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let spawned = Instant::now();
            let mut child = Command::new(bin)
                .args(["site", "--listen", "127.0.0.1:0", "--data-dir"])
                .arg(&dir)
                .args(["--admin-password", ADMIN_PASSWORD])
                .env("OUTPOST_LOG", "error")
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let url = loop {
                let line = lines.next().expect("the site exited before listening").unwrap();
                if let Some(rest) = line.strip_prefix("listening on ") {
                    break rest.split_whitespace().next().unwrap().to_owned();
                }
            };
            // Keep reading so the child never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            SiteProcess { child: Some(child), url, spawned, data_dir: dir }
        })
        .await
        .unwrap()
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
