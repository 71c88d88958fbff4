//! The physical limit of scenario 1, measured in the same run: the records the site received,
//! as wire JSON pages, parsed and written straight into a fresh site database's tables with
//! their changelog rows, in one transaction, in this process. No HTTP, no sync buffer, no
//! per-record savepoint: what is left is the work the site cannot avoid.

use std::time::Instant;

use sqlx::{AssertSqlSafe, Row};

use super::world::{STORES, World};
use crate::central_v5::data::STORE_TABLES;
use crate::records::{self, ChangeAction, Origin};
use crate::wire::v5::{Action, CentralRecord, CentralRecords};

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

/// The V5 central's records for the bench site, in the order a site integrates them, as
/// `central_records` pages of 500 (the site's default batch).
pub async fn wire_pages(world: &World) -> anyhow::Result<Vec<Vec<u8>>> {
    let pool = &world.v5_state.db.pool;
    let mut all: Vec<CentralRecord> = Vec::new();
    for row in sqlx::query("SELECT id, table_name, record_id, data FROM central_change ORDER BY id").fetch_all(pool).await? {
        let data: Option<String> = row.get(3);
        all.push(CentralRecord {
            id: row.get::<i64, _>(0) as u64,
            table_name: row.get(1),
            record_id: row.get(2),
            action: Action::Update,
            record_data: data.map(|d| serde_json::from_str(&d)).transpose()?,
        });
    }
    let stores = STORES.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(",");
    for table in STORE_TABLES {
        let sql = format!("SELECT record_id, data FROM record WHERE table_name = $1 AND store_id IN ({stores}) ORDER BY record_id");
        for row in sqlx::query(AssertSqlSafe(sql)).bind(table).fetch_all(pool).await? {
            let data: Option<String> = row.get(1);
            all.push(CentralRecord {
                id: all.len() as u64 + 1,
                table_name: table.to_owned(),
                record_id: row.get(0),
                action: Action::Update,
                record_data: data.map(|d| serde_json::from_str(&d)).transpose()?,
            });
        }
    }
    let max_cursor = all.len() as u64;
    all.chunks(500)
        .map(|page| Ok(serde_json::to_vec(&CentralRecords { max_cursor, data: page.to_vec() })?))
        .collect()
}

pub async fn run(world: &World, _site_records: u64) -> anyhow::Result<Limit> {
    let pages = wire_pages(world).await?;
    let db = crate::db::open_sqlite(&world.dir.path().join("limit/site.db"), &crate::site::MIGRATIONS).await?;
    let origin = Origin::sync(Some(crate::central_v5::CENTRAL_SITE_ID));
    let start = Instant::now();
    let mut tx = db.begin().await?;
    let (mut records, mut failed) = (0, 0);
    for page in &pages {
        let page: CentralRecords = serde_json::from_slice(page)?;
        for r in page.data {
            let Ok(table) = records::table_from_v5(&r.table_name) else { continue };
            match records::integrate_v5(&mut tx, table, &r.record_id, ChangeAction::Upsert, r.record_data.as_ref(), origin).await {
                Ok(()) => records += 1,
                Err(_) => failed += 1,
            }
        }
    }
    tx.commit().await?;
    let seconds = start.elapsed().as_secs_f64();
    db.close().await;
    Ok(Limit { records, seconds, failed })
}
