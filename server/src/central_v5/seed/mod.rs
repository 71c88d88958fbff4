//! Generated central data of realistic shape and mix, for demos and load: units, items, names,
//! a few spare stores, and for each given store its locations, name links, stock lines and
//! invoices with lines. Everything goes through the same write path as admin upserts, so it
//! reaches sites through the change log and the queues like real data.
//!
//! Realistic content too, not only shape: every record carries its table's full V5 field set
//! ([`fields`]), ids are 32 hex digits as 4D makes them, and names, addresses, dates, prices and
//! notes vary ([`words`] and a seeded RNG). Wire and compression figures measured on this data
//! are meant to hold for a real store's: the bench compares its gzip size per record with the
//! real fixtures' (`tools/bench`, scenario `wire`). The output is deterministic: the same `n`,
//! stores and central contents give the same records (the RNG's seed is derived from them, so
//! seeding the same central twice adds new records rather than overwriting the first ones).

mod fields;
mod generator;
mod words;

use indicatif::ProgressBar;
use serde_json::Value;

use generator::Generator;

use super::data;
use crate::db::CentralDb;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedSummary {
    pub records: u64,
    pub central: u64,
    pub store_data: u64,
}

/// Seed `n` records without showing progress.
pub async fn seed(db: &CentralDb, n: u64, site_store_ids: &[String]) -> anyhow::Result<SeedSummary> {
    seed_with_progress(db, n, site_store_ids, &ProgressBar::hidden()).await
}

/// Seed `n` records, advancing `bar` by one per record.
pub async fn seed_with_progress(
    db: &CentralDb,
    n: u64,
    site_store_ids: &[String],
    bar: &ProgressBar,
) -> anyhow::Result<SeedSummary> {
    bar.set_length(n);
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM record").fetch_one(&db.pool).await?;
    let plan = plan(n, site_store_ids);
    let mut generator = Generator::new(rng_seed(n, site_store_ids, existing as u64));
    let mut summary = SeedSummary::default();
    let mut tx = data::begin(db).await?;
    for (i, (table, store)) in plan.iter().enumerate() {
        for (table, record) in generator.make(table, store.as_deref()) {
            data::central_upsert(&mut tx, table, &record).await?;
            summary.records += 1;
            if store.is_some() {
                summary.store_data += 1
            } else {
                summary.central += 1
            }
            bar.inc(1);
        }
        // Commit in slices so a big seed neither holds one huge transaction nor blocks sync.
        if i % 500 == 499 {
            tx.commit().await?;
            tx = data::begin(db).await?;
        }
    }
    tx.commit().await?;
    bar.finish();
    Ok(summary)
}

/// The records [`seed`] writes for `n` and `stores`, with the RNG seeded by `seed`, in the
/// order they are written, without a database: for the bench's compression references and the
/// dictionary training script.
pub fn generate(n: u64, stores: &[String], seed: u64) -> Vec<(&'static str, Value)> {
    let mut generator = Generator::new(seed);
    plan(n, stores).iter().flat_map(|(kind, store)| generator.make(kind, store.as_deref())).collect()
}

/// A stable seed from what is asked and what the central already holds (FNV-1a: the standard
/// library's hasher is randomised per process).
fn rng_seed(n: u64, stores: &[String], existing: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(&n.to_le_bytes());
    eat(&existing.to_le_bytes());
    for s in stores {
        eat(s.as_bytes());
        eat(&[0]);
    }
    h
}

/// What to generate, in dependency order; invoices count as themselves plus their lines.
fn plan(n: u64, stores: &[String]) -> Vec<(&'static str, Option<String>)> {
    let mut plan = Vec::new();
    let units = (n * 3 / 100).max(1);
    let items = (n * 15 / 100).max(1);
    let names = (n * 10 / 100).max(1);
    let spare_stores = n / 200;
    let mut left = n.saturating_sub(units + items + names + spare_stores * 2);
    plan.extend(std::iter::repeat_n(("unit", None), units as usize));
    plan.extend(std::iter::repeat_n(("item", None), items as usize));
    plan.extend(std::iter::repeat_n(("name", None), names as usize));
    plan.extend(std::iter::repeat_n(("spare_store", None), spare_stores as usize));
    if stores.is_empty() {
        plan.extend(std::iter::repeat_n(("item", None), left as usize));
        return plan;
    }
    // Per store, in rounds: a location, two name links, three stock lines, one invoice (+4 lines).
    let round: [(&str, u64); 4] = [("Location", 1), ("name_store_join", 1), ("item_line", 1), ("invoice", 5)];
    'fill: loop {
        for store in stores {
            for (kind, cost) in round {
                for _ in 0..if kind == "item_line" {
                    3
                } else if kind == "name_store_join" {
                    2
                } else {
                    1
                } {
                    if left == 0 {
                        break 'fill;
                    }
                    let kind = if cost > left { "item_line" } else { kind };
                    left -= if kind == "invoice" { cost } else { 1 };
                    plan.push((kind, Some(store.clone())));
                }
            }
        }
    }
    plan
}
