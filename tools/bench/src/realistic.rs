//! Is the generated data realistic? Its gzip size per record against the real fixtures'
//! (`shared/fixtures/legacy-v5`, read from there, never copied), measured the same way on both:
//! per table, `central_records` pages of as many records as that table's fixture file holds
//! (so both pay the same for keys repeated within a page), gzip level 6 (the centrals'
//! default), and the per-table figures weighted by the fixtures' mix of tables. Tables the
//! seed does not generate (assets, location types, master lists) are left out of both sides.
//!
//! A generator whose records compress far better than real ones (short ids, few fields, values
//! repeated) makes every wire figure look better than a real line would see: issue 14 measured
//! 8× once. The bench reports this beside the wire figures, and a test keeps it within 25 %.

use std::collections::BTreeMap;
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;

use crate::report::Figure;
use crate::world::BenchWorld;
use outpost::wire::v5::{Action, CentralRecord, CentralRecords, RawJson};

/// Generated pages measured per table: enough to average out the RNG, few enough to be quick.
const MAX_PAGES_PER_TABLE: usize = 200;

/// The two figures, in bytes of gzip per record.
#[derive(Debug, Clone, PartialEq)]
pub struct SameShape {
    pub fixtures: f64,
    pub generated: f64,
    /// The tables compared, each with (fixture, generated) bytes per record.
    pub tables: BTreeMap<String, (f64, f64)>,
}

impl SameShape {
    /// generated ÷ fixtures.
    pub fn ratio(&self) -> f64 {
        self.generated / self.fixtures.max(1e-9)
    }
}

/// The `realistic` scenario: the records this run synced, against the fixtures.
pub async fn run(world: &BenchWorld) -> anyhow::Result<Figure> {
    let mut records = Vec::new();
    for page in crate::limit::wire_pages(world).await? {
        let page: CentralRecords = serde_json::from_slice(&page)?;
        records.extend(page.data.into_iter().filter_map(|r| Some((r.table_name, r.record_data?.to_value()))));
    }
    let mut f = Figure::new("realistic");
    f.target = "generated gzip per record within 25 % of the real fixtures' (same page shapes)".into();
    match compare(&records)? {
        Some(same) => {
            let ratio = same.ratio();
            f = f
                .value("gzip_bytes_per_record_generated", same.generated)
                .value("gzip_bytes_per_record_fixtures", same.fixtures)
                .value("ratio", (ratio * 100.0).round() / 100.0);
            for (table, (real, ours)) in &same.tables {
                f = f.value(&format!("table_{table}"), serde_json::json!([real, ours]));
            }
            f.figure = format!("generated {} B/record (gzip, fixture page shapes)", same.generated);
            f.reference = format!("real fixtures {} B/record", same.fixtures);
            f.ratio = format!("{ratio:.2}×");
            f.met = Some((0.75..=1.25).contains(&ratio));
        }
        None => {
            f.figure = "skipped".into();
            f.reference = "no shared fixtures here".into();
            f.ratio = "—".into();
            f.note = Some("fixture comparison skipped: no shared/fixtures/legacy-v5".into());
        }
    }
    Ok(f)
}

/// Compare `generated` (table name, record) with the fixtures; `None` when the fixtures are not
/// here (a clone with no `shared` folder beside it).
pub fn compare(generated: &[(String, Value)]) -> anyhow::Result<Option<SameShape>> {
    if outpost_testkit::fixtures::legacy_v5_dir().is_err() {
        return Ok(None);
    }
    let mut by_table: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for (table, record) in generated {
        by_table.entry(table.as_str()).or_default().push(record);
    }
    let (mut fixture_bytes, mut generated_bytes, mut weight) = (0.0, 0.0, 0.0);
    let mut tables = BTreeMap::new();
    for file in outpost_testkit::fixtures::load_legacy_v5()? {
        let Some(mine) = by_table.get(file.table.as_str()) else { continue };
        let k = file.records.len().max(1);
        let real = gzip_page(&file.table, &file.records.iter().collect::<Vec<_>>())? as f64 / k as f64;
        let (mut bytes, mut records) = (0usize, 0usize);
        for page in mine.chunks(k).filter(|p| p.len() == k).take(MAX_PAGES_PER_TABLE) {
            bytes += gzip_page(&file.table, page)?;
            records += page.len();
        }
        if records == 0 {
            continue;
        }
        let ours = bytes as f64 / records as f64;
        tables.insert(file.table.clone(), (round1(real), round1(ours)));
        fixture_bytes += real * k as f64;
        generated_bytes += ours * k as f64;
        weight += k as f64;
    }
    anyhow::ensure!(weight > 0.0, "no generated table matches a fixture file");
    Ok(Some(SameShape {
        fixtures: round1(fixture_bytes / weight),
        generated: round1(generated_bytes / weight),
        tables,
    }))
}

/// gzip (level 6) of one `central_records` page of `records`, in bytes.
fn gzip_page(table: &str, records: &[&Value]) -> anyhow::Result<usize> {
    let data = records
        .iter()
        .enumerate()
        .map(|(i, r)| CentralRecord {
            id: i as u64 + 1,
            table_name: table.to_owned(),
            record_id: r.get("ID").and_then(Value::as_str).unwrap_or_default().to_owned(),
            action: Action::Update,
            record_data: Some(RawJson::from_value(r)),
        })
        .collect::<Vec<_>>();
    let page = serde_json::to_vec(&CentralRecords { max_cursor: data.len() as u64, data })?;
    let mut gz = GzEncoder::new(Vec::new(), Compression::new(6));
    gz.write_all(&page)?;
    Ok(gz.finish()?.len())
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_records_compress_within_a_quarter_of_the_real_fixtures() {
        let stores = vec!["store-a".to_owned(), "store-b".to_owned()];
        let generated: Vec<(String, Value)> = outpost::central_v5::seed::generate(20_000, &stores, 7)
            .into_iter()
            .map(|(t, r)| (t.to_owned(), r))
            .collect();
        let Some(same) = compare(&generated).unwrap() else {
            eprintln!("no shared fixtures here: the comparison with real data is skipped");
            return;
        };
        eprintln!("{same:#?}");
        assert!(
            (0.75..=1.25).contains(&same.ratio()),
            "generated {} B/record against the fixtures' {} B/record (gzip, same page shapes): {:?}",
            same.generated,
            same.fixtures,
            same.tables
        );
    }

    #[test]
    fn the_generator_is_deterministic() {
        let stores = vec!["store-a".to_owned()];
        let a = outpost::central_v5::seed::generate(500, &stores, 3);
        assert_eq!(a, outpost::central_v5::seed::generate(500, &stores, 3));
        assert_ne!(a, outpost::central_v5::seed::generate(500, &stores, 4));
    }
}
