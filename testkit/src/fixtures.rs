//! Where the shared real V5 records live (`shared/fixtures/legacy-v5`, beside the checkout).
//! Tests read them from there and never copy them into the repository.
//!
//! A clone with no `shared` folder beside it still passes its tests: a test whose assertions
//! depend on that data asks [`legacy_v5_or_skip`], which says loudly on stderr that those
//! assertions were skipped (and fails instead when `OUTPOST_REQUIRE_FIXTURES=1`, for a CI that
//! has the data).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

/// The fixtures folder: `OUTPOST_SHARED_DIR/fixtures/legacy-v5` when set, else the first
/// `shared/fixtures/legacy-v5` found walking up from the checkout (a `shared` folder beside
/// it or above it). No machine-specific fallback: without the data, the answer says so.
pub fn legacy_v5_dir() -> anyhow::Result<PathBuf> {
    if let Some(shared) = std::env::var_os("OUTPOST_SHARED_DIR") {
        let dir = Path::new(&shared).join("fixtures/legacy-v5");
        anyhow::ensure!(dir.is_dir(), "OUTPOST_SHARED_DIR has no fixtures/legacy-v5: {}", dir.display());
        return Ok(dir);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared/fixtures/legacy-v5"))
        .find(|d| d.is_dir())
        .context("cannot find shared/fixtures/legacy-v5; set OUTPOST_SHARED_DIR")
}

/// One fixture file: its legacy table name and its records.
#[derive(Debug, Clone)]
pub struct FixtureFile {
    pub file: String,
    pub table: String,
    pub records: Vec<Value>,
}

/// Every fixture file, sorted by file name.
pub fn load_legacy_v5() -> anyhow::Result<Vec<FixtureFile>> {
    let dir = legacy_v5_dir()?;
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)?;
            let v: Value = serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
            let table = v["table"].as_str().context("fixture without \"table\"")?.to_owned();
            let records = v["records"].as_array().context("fixture without \"records\"")?.clone();
            let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            Ok(FixtureFile { file, table, records })
        })
        .collect()
}

/// The real fixtures, or `None` after a loud note that `test`'s assertions on them were
/// skipped because this checkout has no `shared` folder beside it.
pub fn legacy_v5_or_skip(test: &str) -> Option<Vec<FixtureFile>> {
    match legacy_v5_dir() {
        Ok(_) => Some(load_legacy_v5().expect("the shared fixtures load")),
        Err(e) if std::env::var("OUTPOST_REQUIRE_FIXTURES").is_ok_and(|v| v == "1") => {
            panic!("OUTPOST_REQUIRE_FIXTURES=1 but {e}")
        }
        Err(e) => {
            // Straight to stderr: the test harness captures `eprintln!`, and this must be seen.
            let note = format!(
                "\n!!! SKIPPED: {test}: its assertions on the real V5 fixtures did not run ({e}). \
                 Put the shared folder beside the checkout or set OUTPOST_SHARED_DIR. !!!\n"
            );
            let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_fixture_file_loads_with_its_table_and_records() {
        let Some(files) = super::legacy_v5_or_skip("every_fixture_file_loads_with_its_table_and_records") else {
            return;
        };
        assert!(files.len() >= 10, "{files:?}");
        assert!(files.iter().all(|f| !f.records.is_empty()));
        assert!(files.iter().any(|f| f.table == "transact"));
    }
}
