//! Scenario 2: the same records replicated by PouchDB (pouchdb-server → pouchdb-node), the
//! peer the issue names, on this machine in the same run. The Node script and its locked
//! dependencies live in this crate's `pouchdb/`; they are installed with `npm ci` when
//! missing. When Node or the registry is not there, the scenario is skipped with the reason,
//! never faked.

use std::path::Path;
use std::process::Stdio;

use anyhow::Context;
use tokio::process::Command;

use crate::BenchOptions;
use crate::initial_sync::InitialSync;
use crate::report::{Figure, per_s};
use crate::world::BenchWorld;
use outpost::wire::v5::CentralRecords;

pub async fn run(options: &BenchOptions, world: &BenchWorld, sync: &InitialSync) -> Figure {
    let mut f = Figure::new("peer");
    f.target = "Outpost ≥ 8× PouchDB".into();
    match pouchdb(options, world).await {
        Ok((docs, seconds)) => {
            let theirs = docs as f64 / seconds.max(1e-9);
            let ratio = sync.rate() / theirs.max(1e-9);
            f = f
                .value("pouchdb_docs", docs)
                .value("pouchdb_seconds", seconds)
                .value("pouchdb_docs_per_s", theirs.round())
                .value("outpost_records_per_s", sync.rate().round())
                .value("ratio", (ratio * 100.0).round() / 100.0);
            f.figure = format!("Outpost {} records/s", per_s(sync.rate()));
            f.reference = format!("PouchDB {} docs/s ({docs} docs in {seconds:.2} s)", per_s(theirs));
            f.ratio = format!("{ratio:.1}×");
            f.met = Some(ratio >= 8.0);
        }
        Err(e) => {
            f.figure = "not measured".into();
            f.note = Some(format!("{e:#}"));
        }
    }
    f
}

/// Write the records as PouchDB documents, run the script, return (documents, seconds).
async fn pouchdb(options: &BenchOptions, world: &BenchWorld) -> anyhow::Result<(u64, f64)> {
    let script_dir = options.crate_dir.join("pouchdb");
    anyhow::ensure!(
        script_dir.join("package-lock.json").is_file(),
        "{} has no package-lock.json",
        script_dir.display()
    );
    if !script_dir.join("node_modules/pouchdb-node").is_dir() {
        eprintln!("installing PouchDB (npm ci in {})...", script_dir.display());
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&script_dir)
            .stdout(Stdio::null())
            .status()
            .await
            .context("cannot run npm (is Node installed?)")?;
        anyhow::ensure!(status.success(), "npm ci failed in {}", script_dir.display());
    }
    let work = world.centrals.dir.path().join("pouchdb");
    std::fs::create_dir_all(&work)?;
    let docs_path = work.join("docs.jsonl");
    write_docs(world, &docs_path).await?;
    let out = Command::new("node")
        .arg(script_dir.join("replicate.js"))
        .arg(&docs_path)
        .arg(&work)
        .stderr(Stdio::inherit())
        .output()
        .await
        .context("cannot run node")?;
    anyhow::ensure!(out.status.success(), "the PouchDB script failed ({})", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{')).context("the PouchDB script printed no result")?;
    let v: serde_json::Value = serde_json::from_str(line)?;
    Ok((v["docs"].as_u64().unwrap_or(0), v["seconds"].as_f64().unwrap_or(0.0)))
}

/// One document per record: `_id` is table and id, the legacy record is kept whole.
async fn write_docs(world: &BenchWorld, path: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for page in crate::limit::wire_pages(world).await? {
        let page: CentralRecords = serde_json::from_slice(&page)?;
        for r in page.data {
            let doc = serde_json::json!({"_id": format!("{}:{}", r.table_name, r.record_id), "table": r.table_name, "data": r.record_data});
            serde_json::to_writer(&mut out, &doc)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(())
}
