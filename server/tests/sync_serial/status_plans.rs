//! `GET /api/sync/status` must not get slower as the changelog grows. That is a property of
//! query plans, so it is tested structurally: every SQL statement the status route runs is
//! captured (sqlx reports each one to `tracing`) and its `EXPLAIN QUERY PLAN` must reach every
//! table through an index — no full `SCAN`. The latency with a small and a large changelog is
//! printed for people, never asserted (timings vary with the machine).
//!
//! A process-wide subscriber captures the statements (sqlx runs them on its own worker
//! threads), so this binary holds only tests that serialise on [`crate::ONE_AT_A_TIME`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use outpost::records;
use outpost::site::sync::kv;
use outpost_api::Location;
use outpost_testkit::prelude::*;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

static RECORDING: AtomicBool = AtomicBool::new(false);
static STATEMENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Keeps the SQL of every `sqlx::query` event while [`RECORDING`] is on.
struct CaptureSql;

#[derive(Default)]
struct SqlFields {
    summary: String,
    statement: String,
}

impl Visit for SqlFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" => self.statement = value.to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CaptureSql {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.target() == "sqlx::query"
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if !RECORDING.load(Ordering::SeqCst) {
            return;
        }
        let mut fields = SqlFields::default();
        event.record(&mut fields);
        // sqlx leaves the full statement empty when the summary already is the whole of it.
        let sql = if fields.statement.trim().is_empty() { fields.summary } else { fields.statement.trim().to_owned() };
        STATEMENTS.lock().unwrap().push(sql);
    }
}

fn install_capture() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(CaptureSql))
            .expect("no other subscriber in this test binary");
    });
}

/// An initialised site with one local edit waiting, so the status has something to count.
async fn synced_site(world: &World, name: &str) -> TestSite {
    world.add_site(name, "pw", &[&format!("{name}-store")]).await;
    let site = TestSite::start(fast()).await;
    site.configure(world, name, "pw").await;
    site.state.sync.wait_for_runs(1).await;
    assert_eq!(site.state.sync.latest_error(), None);
    site
}

/// A local edit: it moves the end of the changelog, so the next status recounts.
async fn edit(site: &TestSite, store: &str, n: usize) {
    let location = Location {
        id: format!("edit-{n}"),
        store_id: store.into(),
        code: "E".into(),
        name: "e".into(),
        on_hold: false,
    };
    records::upsert_location(&mut *site.conn().await, &location).await.unwrap();
}

async fn plan(site: &TestSite, sql: &str) -> Vec<String> {
    let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
        .fetch_all(&site.state.db)
        .await
        .unwrap();
    rows.into_iter().map(|r| r.3).collect()
}

#[tokio::test]
async fn every_query_of_the_status_route_reaches_its_tables_through_an_index() {
    let _one = crate::ONE_AT_A_TIME.lock().await;
    install_capture();
    let world = World::start().await;
    let site = synced_site(&world, "plans").await;
    edit(&site, "plans-store", 0).await;

    STATEMENTS.lock().unwrap().clear();
    RECORDING.store(true, Ordering::SeqCst);
    let status = site.status().await;
    RECORDING.store(false, Ordering::SeqCst);
    assert_eq!(status.records_to_push, 1);

    let mut statements = STATEMENTS.lock().unwrap().clone();
    statements.sort();
    statements.dedup();
    assert!(
        statements.iter().any(|s| s.contains("FROM changelog")),
        "the count of records to push was captured: {statements:#?}"
    );
    for sql in &statements {
        let plan = plan(&site, sql).await;
        let scans: Vec<&String> = plan.iter().filter(|d| d.starts_with("SCAN")).collect();
        assert!(scans.is_empty(), "a full scan in the status path:\n{sql}\n{plan:#?}");
    }
}

/// Status latency with the changelog at `rows` rows (most of them history: received rows and
/// local rows already pushed), median of a few calls that each have to recount.
async fn status_latency(world: &World, name: &str, rows: i64) -> Duration {
    let site = synced_site(world, name).await;
    let store = format!("{name}-store");
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO changelog (table_name, record_id, row_action, store_id, is_sync_update)
         SELECT 'location', 'history-' || (i % 5000), 'UPSERT', ?2, i % 2 FROM n",
    )
    .bind(rows)
    .bind(&store)
    .execute(&site.state.db)
    .await
    .unwrap();
    // The local history was pushed long ago: both push cursors are past it.
    let end: i64 = sqlx::query_scalar("SELECT MAX(cursor) + 1 FROM changelog").fetch_one(&site.state.db).await.unwrap();
    kv::set_cursor(&site.state.db, kv::V5_PUSH_CURSOR, end as u64).await.unwrap();
    kv::set_cursor(&site.state.db, kv::V6_PUSH_CURSOR, end as u64).await.unwrap();
    let mut times = Vec::new();
    for n in 0..9 {
        edit(&site, &store, n).await;
        let start = Instant::now();
        let status = site.status().await;
        times.push(start.elapsed());
        assert_eq!(status.records_to_push, n as u64 + 1);
    }
    times.sort();
    times[times.len() / 2]
}

#[tokio::test]
async fn status_latency_with_a_small_and_a_large_changelog_is_printed() {
    let _one = crate::ONE_AT_A_TIME.lock().await;
    let world = World::start().await;
    let small = status_latency(&world, "small", 1_000).await;
    let large = status_latency(&world, "large", 100_000).await;
    eprintln!("GET /api/sync/status (recounting), median: {small:?} with 1k changelog rows, {large:?} with 100k");
}
