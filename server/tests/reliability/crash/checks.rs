//! What must hold once a killed and restarted site has synced to quiescence: the site and the
//! centrals agree record for record, nothing arrived or was integrated twice, no invoice lacks a
//! line, every queue and buffer is drained, and the killed run is stored as failed with a
//! variant and the step it died in. The site's database is read directly (it is a file).

use std::collections::BTreeSet;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::{AssertSqlSafe, Row};

use super::harness::{CrashWorld, STORE};

/// The site's own database, opened beside the running (or dead) site process.
pub async fn site_db(world: &CrashWorld) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(world.site_dir().join("site.db"))
        .busy_timeout(std::time::Duration::from_secs(10));
    SqlitePool::connect_with(options).await.unwrap()
}

async fn ids(pool: &SqlitePool, sql: &str) -> BTreeSet<String> {
    sqlx::query_scalar::<_, String>(AssertSqlSafe(sql.to_owned())).fetch_all(pool).await.unwrap().into_iter().collect()
}

async fn count(pool: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(AssertSqlSafe(sql.to_owned())).fetch_one(pool).await.unwrap()
}

async fn central_ids(db: &outpost::db::CentralDb, table: &str) -> BTreeSet<String> {
    let rows = sqlx::query("SELECT record_id FROM record WHERE table_name = $1")
        .bind(table)
        .fetch_all(&db.pool)
        .await
        .unwrap();
    rows.iter().map(|r| r.get::<String, _>(0)).collect()
}

async fn central_count(db: &outpost::db::CentralDb, sql: &str) -> i64 {
    sqlx::query(AssertSqlSafe(sql.to_owned())).fetch_one(&db.pool).await.unwrap().get::<i64, _>(0)
}

/// The latest run the site stored: (id, finished, error code, error step).
pub async fn latest_run(pool: &SqlitePool) -> (i64, Option<String>, Option<String>, Option<String>) {
    sqlx::query_as("SELECT id, finished_datetime, error_code, error_step FROM sync_log ORDER BY id DESC LIMIT 1")
        .fetch_one(pool)
        .await
        .unwrap()
}

pub async fn run_by_id(pool: &SqlitePool, id: i64) -> (i64, Option<String>, Option<String>, Option<String>) {
    sqlx::query_as("SELECT id, finished_datetime, error_code, error_step FROM sync_log WHERE id = ?")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Rows on the centrals that a needless re-send or an echo would add to.
pub async fn central_activity(world: &CrashWorld) -> (i64, i64, i64) {
    (
        central_count(&world.centrals.v5_state.db, "SELECT COUNT(*) FROM central_change").await,
        central_count(&world.centrals.v5_state.db, "SELECT COUNT(*) FROM sync_out").await,
        central_count(&world.centrals.v6_state.db, "SELECT COUNT(*) FROM changelog").await,
    )
}

/// Every invariant; `site_changes` is how many locations and assets the site made.
pub async fn problems(world: &CrashWorld, site: &SqlitePool, site_changes: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let mut same = |what: &str, site: BTreeSet<String>, central: BTreeSet<String>| {
        if site != central {
            let only_site: Vec<_> = site.difference(&central).take(5).collect();
            let only_central: Vec<_> = central.difference(&site).take(5).collect();
            problems.push(format!(
                "{what}: site has {} and central {}; only on site {only_site:?}, only on central {only_central:?}",
                site.len(),
                central.len()
            ));
        }
    };
    same("items", ids(site, "SELECT id FROM item").await, central_ids(&world.centrals.v5_state.db, "item").await);
    same(
        "invoices",
        ids(site, "SELECT id FROM invoice").await,
        central_ids(&world.centrals.v5_state.db, "transact").await,
    );
    same(
        "invoice lines",
        ids(site, "SELECT id FROM invoice_line").await,
        central_ids(&world.centrals.v5_state.db, "trans_line").await,
    );
    same(
        "locations",
        ids(site, &format!("SELECT id FROM location WHERE store_id = '{STORE}'")).await,
        central_ids(&world.centrals.v5_state.db, "Location").await,
    );
    same(
        "assets",
        ids(site, &format!("SELECT id FROM asset WHERE store_id = '{STORE}'")).await,
        central_ids(&world.centrals.v6_state.db, "asset").await,
    );
    let lines = world.seed.lines as i64;
    let short = count(site, &format!("SELECT COUNT(*) FROM invoice i WHERE (SELECT COUNT(*) FROM invoice_line l WHERE l.invoice_id = i.id) <> {lines}")).await;
    if short != 0 {
        problems.push(format!("{short} invoices without exactly their {lines} lines"));
    }
    // Each site asset was created once, so the V6 central integrated it once: a batch sent
    // twice and integrated twice would log it twice.
    let logged = central_count(
        &world.centrals.v6_state.db,
        "SELECT COUNT(*) FROM changelog WHERE table_name = 'asset' AND source_site_id IS NOT NULL",
    )
    .await;
    if logged != site_changes as i64 {
        problems.push(format!("V6 central logged {logged} site asset changes for {site_changes} assets made once"));
    }
    for (what, n) in [
        ("V5 queue not drained", central_count(&world.centrals.v5_state.db, "SELECT COUNT(*) FROM sync_out").await),
        (
            "V5 push buffer not integrated",
            central_count(&world.centrals.v5_state.db, "SELECT COUNT(*) FROM push_buffer").await,
        ),
        (
            "V6 push buffer not integrated",
            central_count(&world.centrals.v6_state.db, "SELECT COUNT(*) FROM push_buffer").await,
        ),
        (
            "site records pending or quarantined",
            count(
                site,
                "SELECT COUNT(*) FROM sync_buffer WHERE integration_datetime IS NULL OR integration_error IS NOT NULL",
            )
            .await,
        ),
    ] {
        if n != 0 {
            problems.push(format!("{what}: {n}"));
        }
    }
    problems
}
