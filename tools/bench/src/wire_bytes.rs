//! Scenario 3: bytes on the wire per record, compressed, in both directions, counted by the
//! bytes-only relays in front of the centrals (so HTTP headers, requests and acknowledgements count
//! too). Down: the initial sync. Up: the site pushing its own records back after they are
//! marked changed. Also, computed the same way for both, the gzip size of `central_records`
//! pages of the real records in `shared/fixtures/legacy-v5` and of the bench's generated
//! records: generated data compresses better than real data, and this says by how much.

use std::io::Write;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::initial_sync::InitialSync;
use crate::report::Figure;
use crate::world::BenchWorld;
use outpost::wire::v5::{Action, CentralRecord, CentralRecords, RawJson};

/// Site-owned records pushed for the "up" figure (more would only time the V5 central).
const PUSH_RECORDS: i64 = 20_000;

pub async fn run(world: &BenchWorld, sync: &InitialSync) -> anyhow::Result<Figure> {
    let down = sync.bytes_down as f64 / sync.records.max(1) as f64;
    let (pushed, up) = push_up(world).await?;
    let generated = gzip_per_record(&crate::limit::wire_pages(world).await?)?;
    // Without the shared fixtures (a clone with no `shared` beside it) the real-data column
    // repeats the generated figure, and the reference says so.
    let fixtures = fixtures_per_record()?;
    let real = fixtures.unwrap_or(generated);
    let worst = down.max(up);
    let mut f = Figure::new("wire")
        .value("down_bytes_per_record", round1(down))
        .value("up_bytes_per_record", round1(up))
        .value("pushed_records", pushed)
        .value("gzip_page_bytes_per_record_generated", round1(generated))
        .value("gzip_page_bytes_per_record_fixtures", round1(real))
        .value("estimated_down_bytes_per_record_real", round1(down * real / generated.max(1e-9)));
    f.figure = format!("down {down:.1} B/record, up {up:.1} B/record (compressed, HTTP included)");
    f.reference = match fixtures {
        Some(_) => format!("real fixtures {real:.1} B/record vs generated {generated:.1} B/record as gzip pages"),
        None => format!("generated {generated:.1} B/record as gzip pages (no shared fixtures here: real = generated)"),
    };
    f.ratio = format!(
        "real data ≈ {:.1}× generated → ≈ {:.0} B/record down",
        real / generated.max(1e-9),
        down * real / generated.max(1e-9)
    );
    f.target = "≤ 60 B/record both ways (bench data)".into();
    f.met = Some(worst <= 60.0);
    Ok(f)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Mark up to [`PUSH_RECORDS`] of the site's own records as locally changed (as edits would),
/// press Sync now and count the bytes sent up while it pushes them.
async fn push_up(world: &BenchWorld) -> anyhow::Result<(u64, f64)> {
    let db =
        outpost::db::open_sqlite(&world.centrals.dir.path().join("site/site.db"), &outpost::site::MIGRATIONS).await?;
    let mut pushed = 0u64;
    let mut tx = db.begin().await?;
    for table in ["location", "stock_line", "invoice", "invoice_line"] {
        let left = PUSH_RECORDS - pushed as i64;
        if left <= 0 {
            break;
        }
        let sql = format!(
            "INSERT INTO changelog (table_name, record_id, row_action, store_id, is_sync_update)
             SELECT '{table}', id, 'UPSERT', store_id, 0 FROM {table} ORDER BY id LIMIT {left}"
        );
        pushed += sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?.rows_affected();
    }
    tx.commit().await?;
    db.close().await;
    let before = world.status().await?.last_sync.map(|l| l.started);
    let (up0, _) = world.wire_bytes();
    world.trigger().await?;
    world.wait_run_after(before, Duration::from_millis(5), Duration::from_secs(3600)).await?;
    let (up1, _) = world.wire_bytes();
    Ok((pushed, (up1 - up0) as f64 / pushed.max(1) as f64))
}

/// gzip (level 6, what the centrals' compression layer uses by default) of each page.
fn gzip_per_record(pages: &[Vec<u8>]) -> anyhow::Result<f64> {
    let (mut bytes, mut records) = (0usize, 0usize);
    for page in pages {
        let parsed: CentralRecords = serde_json::from_slice(page)?;
        records += parsed.data.len();
        let mut gz = GzEncoder::new(Vec::new(), Compression::new(6));
        gz.write_all(page)?;
        bytes += gz.finish()?.len();
    }
    Ok(bytes as f64 / records.max(1) as f64)
}

/// The real V5 records, as one page per fixture file; `None` when they are not here.
fn fixtures_per_record() -> anyhow::Result<Option<f64>> {
    if outpost_testkit::fixtures::legacy_v5_dir().is_err() {
        return Ok(None);
    }
    let mut pages = Vec::new();
    let mut id = 0;
    for file in outpost_testkit::fixtures::load_legacy_v5()? {
        let data = file
            .records
            .iter()
            .map(|r| {
                id += 1;
                CentralRecord {
                    id,
                    table_name: file.table.clone(),
                    record_id: r.get("ID").and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
                    action: Action::Update,
                    record_data: Some(RawJson::from_value(r)),
                }
            })
            .collect();
        pages.push(serde_json::to_vec(&CentralRecords { max_cursor: id, data })?);
    }
    gzip_per_record(&pages).map(Some)
}
