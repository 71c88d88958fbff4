//! Where the shared real V5 records live (`shared/fixtures/legacy-v5`, beside the checkout).
//! Tests read them from there and never copy them into the repository.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

/// The fixtures folder: `OUTPOST_SHARED_DIR/fixtures/legacy-v5` when set, else the first
/// `shared/fixtures/legacy-v5` found walking up from the checkout, else `/work/shared/...`.
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
        .chain(std::iter::once(PathBuf::from("/work/shared/fixtures/legacy-v5")))
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

#[cfg(test)]
mod tests {
    #[test]
    fn every_fixture_file_loads_with_its_table_and_records() {
        let files = super::load_legacy_v5().unwrap();
        assert!(files.len() >= 10, "{files:?}");
        assert!(files.iter().all(|f| !f.records.is_empty()));
        assert!(files.iter().any(|f| f.table == "transact"));
    }
}
