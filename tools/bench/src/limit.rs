//! The physical limit of scenario 1, measured in the same run: the records the site received,
//! as wire JSON pages, parsed and written straight into a fresh site database's tables with
//! their changelog rows, in one transaction, in this process, on the site's SQLite settings.
//! No HTTP, no sync buffer, no parent lookups, no per-record checks: each run of records of one
//! table becomes as few multi-row inserts as SQLite's variable limit allows, plus multi-row
//! changelog inserts (`records::write_unchecked`). That is the work a site cannot avoid, done the fastest straightforward
//! way, so "% of the limit" says how close the full sync gets to what the machine can do.

use std::time::Instant;

use serde_json::{Map, Value};
use sqlx::{AssertSqlSafe, Row};

use crate::world::{BenchWorld, STORES};
use outpost::central_v5::data::STORE_TABLES;
use outpost::records::{self, Origin};
use outpost::wire::v5::{Action, CentralRecord, CentralRecords, RawJson};

#[derive(Debug, Clone)]
pub struct Limit {
    pub records: u64,
    pub seconds: f64,
    pub failed: u64,
}

impl Limit {
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.seconds.max(1e-9)
    }
}

/// Records per wire page: the most a V5 central sends at once (`central_v5::MAX_LIMIT`).
const PAGE: usize = outpost::central_v5::MAX_LIMIT as usize;

/// The V5 central's records for the bench site, in the order a site integrates them, as
/// `central_records` pages of [`PAGE`].
pub async fn wire_pages(world: &BenchWorld) -> anyhow::Result<Vec<Vec<u8>>> {
    let pool = &world.centrals.v5_state.db.pool;
    let mut all: Vec<CentralRecord> = Vec::new();
    for row in
        sqlx::query("SELECT id, table_name, record_id, data FROM central_change ORDER BY id").fetch_all(pool).await?
    {
        let data: Option<String> = row.get(3);
        all.push(CentralRecord {
            id: row.get::<i64, _>(0) as u64,
            table_name: row.get(1),
            record_id: row.get(2),
            action: Action::Update,
            record_data: data.map(RawJson::from_string).transpose()?,
        });
    }
    let stores = STORES.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(",");
    for table in STORE_TABLES {
        let sql = format!(
            "SELECT record_id, data FROM record WHERE table_name = $1 AND store_id IN ({stores}) ORDER BY record_id"
        );
        for row in sqlx::query(AssertSqlSafe(sql)).bind(table).fetch_all(pool).await? {
            let data: Option<String> = row.get(1);
            all.push(CentralRecord {
                id: all.len() as u64 + 1,
                table_name: table.to_owned(),
                record_id: row.get(0),
                action: Action::Update,
                record_data: data.map(RawJson::from_string).transpose()?,
            });
        }
    }
    let max_cursor = all.len() as u64;
    all.chunks(PAGE).map(|page| Ok(serde_json::to_vec(&CentralRecords { max_cursor, data: page.to_vec() })?)).collect()
}

/// A `central_records` page with every record parsed into a tree: the limit parses each
/// record's fields as integration must, whatever shape the site's wire types keep them in.
#[derive(serde::Deserialize)]
struct ParsedPage {
    data: Vec<ParsedRecord>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParsedRecord {
    table_name: String,
    record_id: String,
    #[serde(default)]
    record_data: Option<Value>,
}

pub async fn run(world: &BenchWorld, _site_records: u64) -> anyhow::Result<Limit> {
    let pages = wire_pages(world).await?;
    let db =
        outpost::db::open_sqlite(&world.centrals.dir.path().join("limit/site.db"), &outpost::site::MIGRATIONS).await?;
    let origin = Origin::sync(Some(outpost::central_v5::CENTRAL_SITE_ID));
    // The connection Integrate writes with: the same page cache (`db::with_writer_cache`).
    let (records, seconds) =
        outpost::db::with_writer_cache(&db, async |conn| write_all(conn, &pages, origin).await).await??;
    db.close().await;
    Ok(Limit { records, seconds, failed: 0 })
}

/// The pages, parsed and written in one transaction; (records written, seconds).
async fn write_all(conn: &mut sqlx::SqliteConnection, pages: &[Vec<u8>], origin: Origin) -> anyhow::Result<(u64, f64)> {
    let start = Instant::now();
    let mut tx = sqlx::Connection::begin(conn).await?;
    let mut records = 0;
    for page in pages {
        let page: ParsedPage = serde_json::from_slice(page)?;
        let mut rest = &page.data[..];
        while let Some(first) = rest.first() {
            let run = rest.iter().take_while(|r| r.table_name == first.table_name).count();
            let (same_table, tail) = rest.split_at(run);
            rest = tail;
            if let Ok(table) = records::table_from_v5(&first.table_name) {
                let objects: Vec<(&str, &Map<String, Value>)> = same_table
                    .iter()
                    .filter_map(|r| Some((r.record_id.as_str(), r.record_data.as_ref()?.as_object()?)))
                    .collect();
                records += records::write_unchecked(&mut tx, table, &objects, origin).await?;
            }
        }
    }
    tx.commit().await?;
    Ok((records, start.elapsed().as_secs_f64()))
}
